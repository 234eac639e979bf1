#!/bin/bash
# submit.sh - submit the job array and its dependent combine step.
#   ./submit.sh [extra sbatch options for both jobs]
set -euo pipefail
cd "$(dirname "$0")"
first=$(sbatch --parsable "$@" c-array.sh)
second=$(sbatch --parsable "$@" --dependency=afterok:"${first%%;*}" c-array-combine.sh)
echo "submitted array job ${first%%;*} and combine job ${second%%;*} (runs after it succeeds)"
