set terminal svg size 860,520 dynamic enhanced font 'sans,11' background rgb 'white'
set output 'timers_iteration-nowait.svg'
set title "timers: one no-wait iteration with T idle timers (no tick)"
set xlabel "T timers (log)"
set ylabel "ns (log)"
set logscale x
set xrange [714.286:140000]
set logscale y
set format y '10^{%L}'
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set key outside right top
set datafile missing 'NaN'
plot 'timers_iteration-nowait.dat' using 1:2 with linespoints lw 2 lc rgb '#000000' dt 1 pt 7 ps 0.9 title 'floor', \
     'timers_iteration-nowait.dat' using 1:3 with linespoints lw 2 lc rgb '#d62728' dt 1 pt 5 ps 0.9 title 'vevent-epoll', \
     'timers_iteration-nowait.dat' using 1:4 with linespoints lw 2 lc rgb '#ff7f0e' dt 2 pt 5 ps 0.9 title 'vevent-poll', \
     'timers_iteration-nowait.dat' using 1:5 with linespoints lw 2 lc rgb '#1f77b4' dt 1 pt 11 ps 0.9 title 'libev', \
     'timers_iteration-nowait.dat' using 1:6 with linespoints lw 2 lc rgb '#2ca02c' dt 1 pt 4 ps 0.9 title 'libevent', \
     'timers_iteration-nowait.dat' using 1:7 with linespoints lw 2 lc rgb '#9467bd' dt 1 pt 6 ps 0.9 title 'libuv', \
     'timers_iteration-nowait.dat' using 1:8 with linespoints lw 2 lc rgb '#17becf' dt 1 pt 8 ps 0.9 title 'glib'
