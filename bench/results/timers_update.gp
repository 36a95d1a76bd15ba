set terminal svg size 860,520 dynamic enhanced font 'sans,11' background rgb 'white'
set output 'timers_update.svg'
set title "timers: update, per timer"
set xlabel "T timers (log)"
set ylabel "ns (log)"
set logscale x
set xrange [714.286:140000]
set logscale y
set format y '10^{%L}'
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set key outside right top
set datafile missing 'NaN'
plot 'timers_update.dat' using 1:2 with linespoints lw 2 lc rgb '#000000' dt 1 pt 7 ps 0.9 title 'floor', \
     'timers_update.dat' using 1:3 with linespoints lw 2 lc rgb '#d62728' dt 1 pt 5 ps 0.9 title 'vevent-epoll', \
     'timers_update.dat' using 1:4 with linespoints lw 2 lc rgb '#ff7f0e' dt 2 pt 5 ps 0.9 title 'vevent-poll', \
     'timers_update.dat' using 1:5 with linespoints lw 2 lc rgb '#e377c2' dt 3 pt 9 ps 0.9 title 'vevent-compat', \
     'timers_update.dat' using 1:6 with linespoints lw 2 lc rgb '#8c564b' dt 1 pt 13 ps 0.9 title 'libvirt', \
     'timers_update.dat' using 1:7 with linespoints lw 2 lc rgb '#1f77b4' dt 1 pt 11 ps 0.9 title 'libev', \
     'timers_update.dat' using 1:8 with linespoints lw 2 lc rgb '#2ca02c' dt 1 pt 4 ps 0.9 title 'libevent', \
     'timers_update.dat' using 1:9 with linespoints lw 2 lc rgb '#9467bd' dt 1 pt 6 ps 0.9 title 'libuv', \
     'timers_update.dat' using 1:10 with linespoints lw 2 lc rgb '#17becf' dt 1 pt 8 ps 0.9 title 'glib'
