#!/usr/bin/env bash
# System packages the test suite needs beyond Python and node: Debian's Chromium for the browser
# tests (Playwright cannot download its own browser here). Idempotent; needs root or sudo once.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "installing Debian chromium for the browser tests ..."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
