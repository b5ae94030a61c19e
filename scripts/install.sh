#!/usr/bin/env bash
# Install benchbed and the plugins in this repository into the current Python environment.
# Usage: scripts/install.sh [EXTRAS]   e.g. scripts/install.sh test,ray
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
spec="."
[ -n "$extras" ] && spec=".[$extras]"
python3 -m pip install --quiet --disable-pip-version-check \
    -e "$spec" \
    -e plugins/benchbed-digits-zoo \
    -e plugins/benchbed-aa-example
