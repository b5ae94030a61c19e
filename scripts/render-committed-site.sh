#!/usr/bin/env bash
# Publish: recompute the committed result records (leaderboards/results/) and re-render the committed site
# (leaderboards/site/) from them; then commit both folders. `benchbed run` writes into the ignored scratch
# folder leaderboards/local/ by default, so only this script (or an explicit --out) touches what is committed.
# tests/leaderboard/test_committed_site.py fails while the committed pages are stale.
# Usage: scripts/render-committed-site.sh            re-render the pages from the committed records
#        scripts/render-committed-site.sh --rerun    first recompute every record (benchbed run --force)
#        (from anywhere inside the repository; other arguments go to `benchbed leaderboard`)
set -euo pipefail
cd "$(dirname "$0")/.."
bb() { python -c 'import sys; from benchbed.cli import main; sys.exit(main(sys.argv[1:]))' "$@"; }
if [[ "${1:-}" == "--rerun" ]]; then
    shift
    bb run --force --out leaderboards/results --no-leaderboard --compare none
fi
bb leaderboard --results leaderboards/results --out leaderboards/site "$@"
