#!/usr/bin/env bash
# Install headless Chromium and its WebDriver (Debian's packages) for the leaderboard browser tests
# (tests/leaderboard, marker `browser`). Idempotent and quiet: a no-op when /usr/bin/chromium and
# /usr/bin/chromedriver already exist; apt's output is shown only when the install fails.
# Usage: scripts/install-browser.sh   (as root, or as a user who can sudo)
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-browser.sh: need root (or sudo) to apt-get install chromium chromium-driver" >&2
        exit 1
    fi
fi

log="$(mktemp -t install-browser.XXXXXX)"
trap 'rm -f "$log"' EXIT
if ! { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            chromium chromium-driver; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-browser.sh: apt-get install chromium chromium-driver failed" >&2
    exit 1
fi

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    echo "install-browser.sh: /usr/bin/chromium or /usr/bin/chromedriver still missing after the install" >&2
    exit 1
fi
