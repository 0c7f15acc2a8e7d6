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
#   --kms-key ARN      keep the enclave's signer key sealed under this KMS
#                      key: one more image layer whose CMD gives
#                      glassbox-enclave --kms-key ARN --kms-region REGION
#                      --sealed parent --parent vsock:3:8001 --kms-proxy
#                      vsock:3:8000 (the ports parent-config.sh sets), so
#                      the key is part of the measured image
#   --require-sealed   with --kms-key: the enclave refuses to start without
#                      the sealed blob, instead of making a new key (for
#                      every release after the first: a parent that
#                      withholds the blob cannot then make the enclave
#                      seal a key of its choosing; docs/deploy.md step 8)
#   --kms-proxy-port P, --creds-port P   other parent vsock ports
# Needs docker and nitro-cli (on the parent instance, or any Linux with
# both), and glassbox on PATH (or GLASSBOX=/path/to/glassbox).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

repo=$(cd "$(dirname "$0")/../.." && pwd)
out="" cert="" key="" uri="" kms="" kport=8000 cport=8001 require=""
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --repo) repo=$2; shift 2 ;;
    --sign-cert) cert=$2; shift 2 ;;
    --sign-key) key=$2; shift 2 ;;
    --docker-uri) uri=$2; shift 2 ;;
    --kms-key) kms=$2; shift 2 ;;
    --require-sealed) require=1; shift ;;
    --kms-proxy-port) kport=$2; shift 2 ;;
    --creds-port) cport=$2; shift 2 ;;
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

if [ -n "$require" ] && [ -z "$kms" ]; then
  echo "build-eif: --require-sealed goes with --kms-key" >&2
  exit 2
fi
if [ -n "$kms" ]; then
  # arn:PARTITION:kms:REGION:ACCOUNT:key/ID, never an alias: an alias
  # resolves in the account of the credentials the parent hands over
  # (glassbox-enclave refuses one too). The region names the endpoint.
  if [[ ! $kms =~ ^arn:(aws|aws-cn|aws-us-gov):kms:([a-z0-9-]+):[0-9]{12}:key/[A-Za-z0-9-]+$ ]]; then
    echo "build-eif: --kms-key is a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias: $kms" >&2
    exit 2
  fi
  region=${BASH_REMATCH[2]}
  if [[ ! $kport$cport =~ ^[0-9]+$ ]]; then
    echo "build-eif: --kms-proxy-port and --creds-port are port numbers" >&2
    exit 2
  fi
  command -v docker >/dev/null || { echo "build-eif: docker is not installed" >&2; exit 2; }
  base=$uri
  uri="$base-kms"
  # The options as the image's CMD (appended to its ENTRYPOINT).
  printf 'FROM %s
CMD ["--kms-key", "%s", "--kms-region", "%s", "--sealed", "parent", "--parent", "vsock:3:%s", "--kms-proxy", "vsock:3:%s"%s]
' \
    "$base" "$kms" "$region" "$cport" "$kport" "${require:+, \"--require-sealed\"}" >"$out/Dockerfile.kms"
  docker build -t "$uri" - <"$out/Dockerfile.kms"
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
