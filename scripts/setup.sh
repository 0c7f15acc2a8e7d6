#!/usr/bin/env bash
# Installs the Debian 12 packages Glassbox needs to build and test, when any
# is missing. Runs apt-get as root (directly, or through sudo).
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libcbor-dev libssl-dev nettle-dev libgmp-dev
  libsqlite3-dev libcivetweb-dev libjansson-dev libgpgme-dev zlib1g-dev
  libyaml-dev
  gnupg sqlite3 openssl python3 python3-cryptography curl jq
  chromium
)
# The browser tests drive chromium with playwright-core from npm.
command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# playwright-core at the version package-lock.json pins (no browser
# download: the tests use /usr/bin/chromium).
web="$(dirname "$0")/../tests/web"
if [ ! -f "$web/node_modules/playwright-core/package.json" ] ||
   [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
  echo "setup: npm ci in tests/web" >&2
  npm ci --prefix "$web" --no-audit --no-fund --loglevel=error >/dev/null
fi
