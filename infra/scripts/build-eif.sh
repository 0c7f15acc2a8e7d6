#!/usr/bin/env bash
# Builds the enclave image and the release statement to sign:
#   1. docker build of infra/enclave/Dockerfile (from the repository root);
#   2. nitro-cli build-enclave, optionally signed (PCR8);
#   3. glassbox eif measure recomputes PCR0/1/2(/8) from the file and must
#      agree with nitro-cli;
#   4. pcr-values.json {name, version, pcrs} is written, ready for
#      `gpg --armor --detach-sign` (publish-release.sh does it).
#
# usage: build-eif.sh [options] NAME VERSION
#   --out DIR          where app.eif, nitro-build.json and pcr-values.json go
#                      (default ./release-NAME-VERSION)
#   --repo DIR         the Glassbox checkout (default: two levels up)
#   --sign-cert PEM    sign the image (PCR8) with this certificate ...
#   --sign-key PEM     ... and its private key
#   --docker-uri URI   use this image instead of building one
# Needs docker and nitro-cli (on the parent instance, or any Linux with
# both), and glassbox on PATH (or GLASSBOX=/path/to/glassbox).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

repo=$(cd "$(dirname "$0")/../.." && pwd)
out="" cert="" key="" uri=""
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --repo) repo=$2; shift 2 ;;
    --sign-cert) cert=$2; shift 2 ;;
    --sign-key) key=$2; shift 2 ;;
    --docker-uri) uri=$2; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "build-eif: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || usage
name=$1 version=$2
case $name$version in
  *[!A-Za-z0-9._+-]*) echo "build-eif: NAME and VERSION: letters, digits, . _ + -" >&2; exit 2 ;;
esac
if { [ -n "$cert" ] && [ -z "$key" ]; } || { [ -z "$cert" ] && [ -n "$key" ]; }; then
  echo "build-eif: --sign-cert and --sign-key go together" >&2
  exit 2
fi
glassbox=${GLASSBOX:-glassbox}
for tool in nitro-cli jq "$glassbox"; do
  command -v "$tool" >/dev/null || { echo "build-eif: $tool is not installed" >&2; exit 2; }
done
out=${out:-./release-$name-$version}
mkdir -p "$out"

if [ -z "$uri" ]; then
  command -v docker >/dev/null || { echo "build-eif: docker is not installed" >&2; exit 2; }
  uri="glassbox-enclave:$version"
  docker build -t "$uri" -f "$repo/infra/enclave/Dockerfile" "$repo"
fi

args=(--docker-uri "$uri" --output-file "$out/app.eif")
[ -n "$cert" ] && args+=(--signing-certificate "$cert" --private-key "$key")
nitro-cli build-enclave "${args[@]}" >"$out/nitro-build.json"

# The image, measured again by Glassbox: both must say the same.
"$glassbox" eif measure --json "$out/app.eif" >"$out/describe-eif.json"
for pcr in PCR0 PCR1 PCR2 PCR8; do
  a=$(jq -r --arg p "$pcr" '.Measurements[$p] // ""' "$out/nitro-build.json")
  b=$(jq -r --arg p "$pcr" '.Measurements[$p] // ""' "$out/describe-eif.json")
  if [ "$a" != "$b" ]; then
    echo "build-eif: $pcr differs: nitro-cli says ${a:-nothing}, glassbox eif measure says ${b:-nothing}" >&2
    exit 1
  fi
done

jq --arg name "$name" --arg version "$version" '{name: $name, version: $version,
    pcrs: (.Measurements | to_entries | map(select(.key | test("^PCR[0-9]+$")))
           | map({key: (.key | ltrimstr("PCR")), value: .value}) | from_entries)}' \
  "$out/describe-eif.json" >"$out/pcr-values.json"

echo "build-eif: $out/app.eif"
jq -r '.pcrs | to_entries[] | "  PCR\(.key): \(.value)"' "$out/pcr-values.json"
echo "build-eif: sign and publish $out/pcr-values.json with publish-release.sh"
