#!/usr/bin/env bash
# System packages the test suite needs beyond Python and node: Debian's Chromium for the browser
# tests (Playwright cannot download its own browser here), a Redis server for the cache tests
# (used when one already listens on 127.0.0.1:6379, otherwise the tests start their own) and
# Debian's prometheus for its promtool (tests/deploy/test_observability.py checks the Prometheus
# config and runs the alert rules' unit tests; installed without its recommended node exporter.
# Only promtool is used: on a host run by systemd the package also starts a server on :9090,
# `systemctl disable --now prometheus` stops it).
# Idempotent; needs root or sudo the first time.
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

missing=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
bare=()  # installed without their Recommends
command -v promtool >/dev/null 2>&1 || bare+=(prometheus)
all=("${missing[@]}" "${bare[@]}")
if [ ${#all[@]} -gt 0 ]; then
  echo "installing Debian packages for the tests: ${all[*]} ..."
  $SUDO apt-get update -qq
  [ ${#missing[@]} -eq 0 ] || $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  [ ${#bare[@]} -eq 0 ] ||
    $SUDO apt-get install -y -qq --no-install-recommends "${bare[@]}" >/dev/null
fi
