#!/usr/bin/env bash
# Build the API reference from the docstrings into docs/_build/api (or $1); fails on a broken
# cross-reference. Needs the docs extra: pip install -e '.[docs]'.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/build_api_docs.py "$@"
