# scaling.gp - median speedup against n_jobs, one line per backend, with
# the min-max spread of each row as error bars (the speedups of its slowest
# and fastest run), rows marked noise drawn hollow and left off the lines,
# the ideal line and the CPU count. Called by demo.sh with -e setting dat,
# png, cpus, nb (number of backends), names (space-separated) and rounds.
set terminal pngcairo size 900,560 font ",11" noenhanced
set output png
set title sprintf("fib(5000..9999), loop algorithm: speedup over the serial run (%d CPUs, medians of %d rounds)", cpus, rounds)
set xlabel "n_jobs (workers)"
set ylabel "speedup (bars: slowest to fastest run)"
set logscale x 2
set xrange [0.8:40]
set yrange [0:*]
set key bottom right
set grid
set arrow from cpus, graph 0 to cpus, graph 1 nohead dashtype 2 lc rgb "gray40"
set label sprintf("CPUs = %d", cpus) at cpus, graph 0.95 offset 1,0
ideal(x) = x < cpus ? x : cpus
plot ideal(x) title "ideal (linear up to the CPUs)" lc rgb "gray60" lw 2, \
     for [i=0:nb-1] dat index i using 1:($5 == 0 ? $2 : NaN):3:4 \
         with yerrorlines lw 2 pt 7 lc i+1 title word(names, i+1), \
     for [i=0:nb-1] dat index i using 1:($5 == 1 ? $2 : NaN):3:4 \
         with yerrorbars pt 6 ps 1.6 lc i+1 notitle, \
     NaN with points pt 6 ps 1.6 lc rgb "black" title "noise: the machine was busy (not a result)"
