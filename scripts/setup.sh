#!/usr/bin/env bash
# Installs the Debian 12 packages Glassbox needs to build and test, when any
# is missing. Runs apt-get as root (directly, or through sudo).
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libcbor-dev libssl-dev nettle-dev libgmp-dev
  libsqlite3-dev libjansson-dev libgpgme-dev zlib1g-dev
  libyaml-dev libmicrohttpd-dev libcurl4-openssl-dev
  gnupg sqlite3 openssl python3 python3-cryptography curl jq
  python3-jsonschema python3-prometheus-client wrk
  chromium
  shellcheck nginx systemd logrotate
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

# The npm packages the tests use, at the versions package-lock.json pins:
# playwright-core (no browser download: the tests use /usr/bin/chromium) and
# @cdktf/hcl2json.
for dir in tests/web tests/infra; do
  d="$(dirname "$0")/../$dir"
  if [ ! -f "$d/node_modules/.package-lock.json" ] ||
     [ "$d/package-lock.json" -nt "$d/node_modules/.package-lock.json" ]; then
    echo "setup: npm ci in $dir" >&2
    npm ci --prefix "$d" --no-audit --no-fund --loglevel=error >/dev/null
  fi
done

# moto_server and the AWS CLI (tests/infra): on these machines they come
# with the Python in PATH; without them, the infra test says so and fails.
command -v moto_server >/dev/null && command -v aws >/dev/null ||
  echo "setup: moto_server or aws is missing: tests/infra will fail" >&2
