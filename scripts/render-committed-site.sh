#!/usr/bin/env bash
# Re-render the committed leaderboard site (leaderboards/site/) from the committed result records
# (leaderboards/results/). Run it after adding or re-running results, then commit both folders;
# tests/leaderboard/test_committed_site.py fails while the committed pages are stale.
# Usage: scripts/render-committed-site.sh   (from anywhere inside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."
exec python -c 'import sys; from benchbed.cli import main; sys.exit(main(sys.argv[1:]))' \
    leaderboard --results leaderboards/results --out leaderboards/site "$@"
