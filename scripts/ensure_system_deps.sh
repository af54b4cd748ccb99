#!/usr/bin/env bash
# System packages the test suite needs beyond Python and node: Debian's Chromium for the browser
# tests (Playwright cannot download its own browser here) and a Redis server for the cache tests
# (used when one already listens on 127.0.0.1:6379, otherwise the tests start their own).
# Idempotent; needs root or sudo the first time.
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

missing=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages for the tests: ${missing[*]} ..."
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
