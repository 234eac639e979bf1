# compare.gp - time against n_jobs, one line per system, log scales.
# Called by compare.py with -e setting dat, png, cpus, nb and names.
set terminal pngcairo size 960,600 font ",11" noenhanced
set output png
set title sprintf("fib(5000..9999), loop algorithm: time against n_jobs (%d CPUs)", cpus)
set xlabel "n_jobs (workers)"
set ylabel "seconds (median)"
set logscale xy 2
set xrange [0.8:40]
set key outside right
set grid
set arrow from cpus, graph 0 to cpus, graph 1 nohead dashtype 2 lc rgb "gray40"
set label sprintf("CPUs = %d", cpus) at cpus, graph 0.96 offset 1,0
plot for [i=0:nb-1] dat index i using 1:2 with linespoints lw 2 title word(names, i+1)
