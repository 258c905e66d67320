#!/usr/bin/env bash
# Install the Debian packages CNN Studio uses when they are missing and this user can (root or
# password-less sudo): `chromium` for the browser tests (Playwright drives it; no download) and
# `dataset-fashion-mnist` for full Fashion-MNIST offline. When a package cannot be installed, say
# how to get it and carry on (chromium is required in CI, whose browser tests need it).
# Usage: scripts/ensure-packages.sh PACKAGE...
set -uo pipefail

present() {
  case "$1" in
    chromium) command -v chromium >/dev/null 2>&1 ;;
    dataset-fashion-mnist) [ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] ;;
    *) dpkg -s "$1" >/dev/null 2>&1 ;;
  esac
}

missing=()
for package in "$@"; do present "$package" || missing+=("$package"); done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "Missing Debian packages: ${missing[*]}; this user cannot install them: run 'sudo apt-get install ${missing[*]}'." >&2
  [ "${CI:-}" = "true" ] && [[ " ${missing[*]} " == *" chromium "* ]] && exit 1
  exit 0
fi
echo "Installing Debian packages: ${missing[*]} ..."
$SUDO apt-get update -qq || echo "apt-get update failed; trying the install anyway" >&2
for package in "${missing[@]}"; do
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$package" >/dev/null; then
    echo "Could not install $package; run 'sudo apt-get install $package' later." >&2
    [ "${CI:-}" = "true" ] && [ "$package" = chromium ] && exit 1
  fi
done
exit 0
