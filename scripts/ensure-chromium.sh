#!/usr/bin/env bash
# Make sure Debian's chromium is installed for the browser tests (Playwright drives it; no download).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "chromium is not installed and this user cannot install it: run 'sudo apt-get install chromium'." >&2
  [ "${CI:-}" = "true" ] && exit 1 || exit 0
fi
echo "Installing Debian's chromium for the browser tests..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
command -v chromium
