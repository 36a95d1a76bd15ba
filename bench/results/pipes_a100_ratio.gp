set terminal svg size 860,520 dynamic enhanced font 'sans,11' background rgb 'white'
set output 'pipes_a100_ratio.svg'
set title "pipes: A = 100, time per round relative to the floor (backends within 5× of it)"
set xlabel "N watched descriptors (log)"
set ylabel "ratio to the floor"
set logscale x
set xrange [71.4286:27860]
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set key outside right top
set datafile missing 'NaN'
set yrange [0:*]
plot 'pipes_a100_ratio.dat' using 1:2 with linespoints lw 2 lc rgb '#000000' dt 1 pt 7 ps 0.9 title 'floor', \
     'pipes_a100_ratio.dat' using 1:3 with linespoints lw 2 lc rgb '#d62728' dt 1 pt 5 ps 0.9 title 'vevent-epoll', \
     'pipes_a100_ratio.dat' using 1:4 with linespoints lw 2 lc rgb '#e377c2' dt 3 pt 9 ps 0.9 title 'vevent-compat', \
     'pipes_a100_ratio.dat' using 1:5 with linespoints lw 2 lc rgb '#1f77b4' dt 1 pt 11 ps 0.9 title 'libev', \
     'pipes_a100_ratio.dat' using 1:6 with linespoints lw 2 lc rgb '#2ca02c' dt 1 pt 4 ps 0.9 title 'libevent', \
     'pipes_a100_ratio.dat' using 1:7 with linespoints lw 2 lc rgb '#9467bd' dt 1 pt 6 ps 0.9 title 'libuv'
