#!/usr/bin/env bash
# Publish: recompute the committed result records (leaderboards/results/) and re-render the committed site
# (leaderboards/site/) from them; then commit both folders. `benchbed run` writes into the ignored scratch
# folder leaderboards/local/ by default, so only this script (or an explicit --out) touches what is committed.
# tests/leaderboard/test_committed_site.py fails while the committed pages are stale.
# Usage: scripts/render-committed-site.sh            re-render the pages from the committed records
#        scripts/render-committed-site.sh --rerun    first recompute every record (benchbed run --force)
#        scripts/render-committed-site.sh --studies  first recompute the zoo's energy and generation studies
#        (from anywhere inside the repository; other arguments go to `benchbed leaderboard`)
# Published numbers are computed at 1 CPU thread per unit, the units side by side in worker processes (as many
# as the idle CPUs allow): energies and FIDs move in their last digits with a unit's thread count, never with
# how many units run beside it, so `benchbed run --force --threads 1` reproduces them to the last digit on any
# number of cores of the same CPU kind -- as does the plain quick start wherever it picks 1 thread per unit.
set -euo pipefail
cd "$(dirname "$0")/.."
bb() { python -c 'import sys; from benchbed.cli import main; sys.exit(main(sys.argv[1:]))' "$@"; }
OUT=leaderboards/results
ZOO="standard pgdat trades weat weat-nat jem dat"
if [[ "${1:-}" == "--rerun" ]]; then
    shift
    for track in digits-linf digits-joint; do
        bb run --track "$track" --force --out "$OUT" --no-leaderboard --compare none --threads 1
    done
fi
if [[ "${1:-}" == "--studies" ]]; then
    shift
    for m in $ZOO; do
        bb study eps --model "digits-cnn-$m" --out "$OUT" --no-leaderboard --threads 1
        bb study attacks --model "digits-cnn-$m" --out "$OUT" --no-leaderboard --threads 1
    done
    for m in pgdat trades; do
        bb study dynamics --model "digits-cnn-$m" --out "$OUT" --no-leaderboard --threads 1
    done
    for m in dat jem standard; do
        bb study generation --model "digits-cnn-$m" --out "$OUT" --no-leaderboard
    done
fi
bb leaderboard --results "$OUT" --out leaderboards/site "$@"
