#!/usr/bin/env bash
# Install everything the test suite needs -- Debian's chromium for the browser tests, benchbed with
# its test, ray and docs extras, the plugins of this repository (RobustBench adapter included) -- then
# run it. Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-browser.sh
bash scripts/install.sh test,ray,docs
python3 -m pip install --quiet --disable-pip-version-check -e plugins/benchbed-robustbench -e plugins/benchbed-joint-models
exec python3 -m pytest "$@"
