#!/bin/bash
# c-array-combine.sh - the final step after c-array.sh: runs only when every
# array element succeeded (--dependency=afterok:ARRAY_JOB_ID), checks that
# the parts hold every position exactly once, in order, and joins them.
#
#SBATCH --job-name=fib-array-combine
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --mem-per-cpu=1G
#SBATCH --time=00:05:00
#SBATCH --output=%x-%j.out
#
# Site-specific lines: delete one '#' and put your cluster's value.
##SBATCH --clusters=CLUSTER        # the cluster, on multi-cluster sites
##SBATCH --partition=PARTITION     # e.g. debug or general-compute
##SBATCH --qos=QOS                 # often named like the partition
##SBATCH --account=ACCOUNT         # the allocation your group charges to
##SBATCH --mail-type=END,FAIL      # mail when the job ends or fails
##SBATCH --mail-user=YOU@EXAMPLE.EDU
set -euo pipefail

lo=${FIB_LO:-5000}
hi=${FIB_HI:-10000}
parts=${FIB_NPARTS:-4}
dir=${FIB_PARTS:-${SLURM_SUBMIT_DIR:-$PWD}}
all=$dir/fib-all.txt

files=()
for id in $(seq 0 $((parts - 1))); do
    f=$dir/fib-part-$id.txt
    [ -f "$f" ] || { echo "combine: missing $f" >&2; exit 1; }
    files+=("$f")
done
cat "${files[@]}" > "$all.tmp"

# Every position lo..hi-1 once, in order, each with a value.
expected=$(seq "$lo" $((hi - 1)))
got=$(sed -n 's/^Fibonacci number at position \([0-9]*\) is: [0-9][0-9]*$/\1/p' "$all.tmp")
if [ "$got" != "$expected" ]; then
    echo "combine: the parts do not hold positions $lo..$((hi - 1)) once each, in order" >&2
    rm -f "$all.tmp"
    exit 1
fi
mv "$all.tmp" "$all"
echo "combined $parts parts: $(wc -l < "$all") values, positions $lo..$((hi - 1)), in $all"
