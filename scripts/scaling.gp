# scaling.gp - speedup against n_jobs, one line per backend, with the ideal
# line and the CPU count marked. Called by demo.sh with -e setting
# dat, png, cpus and nb (number of backends) and names (space-separated).
set terminal pngcairo size 900,560 font ",11" noenhanced
set output png
set title sprintf("fib(5000..9999), loop algorithm: speedup over the serial run (%d CPUs)", cpus)
set xlabel "n_jobs (workers)"
set ylabel "speedup"
set logscale x 2
set xrange [0.8:40]
set yrange [0:*]
set key bottom right
set grid
set arrow from cpus, graph 0 to cpus, graph 1 nohead dashtype 2 lc rgb "gray40"
set label sprintf("CPUs = %d", cpus) at cpus, graph 0.95 offset 1,0
ideal(x) = x < cpus ? x : cpus
plot ideal(x) title "ideal (linear up to the CPUs)" lc rgb "gray60" lw 2, \
     for [i=0:nb-1] dat index i using 1:2 with linespoints lw 2 title word(names, i+1)
