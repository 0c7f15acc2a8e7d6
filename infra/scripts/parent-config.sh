#!/usr/bin/env bash
# Writes glassbox-parent's configuration for a region into DIR (setup-parent.sh
# runs it with /etc/glassbox; tests/infra runs it into a scratch folder):
#   parent.conf   the bridge to the enclave, health, and the enclave's one
#                 way out: vsock port KMS_PORT to kms.REGION.amazonaws.com:443
#                 (what AWS's vsock-proxy does for the KMS tool), nowhere else;
#   outbound.yaml the allowlist, vsock-proxy's format, with that endpoint
#                 only (glassbox-parent refuses to start if the outbound
#                 target is not on it);
#   parent.env    GLASSBOX_PARENT_FLAGS for the unit: the enclave's
#                 credentials and sealed-key service (--credentials, on vsock
#                 port CREDS_PORT) and where the sealed blob is kept
#                 (--sealed-file), which are flags, not --config names.
# Existing files are kept (an upgrade does not undo local edits) unless
# --force is given.
#
# usage: parent-config.sh [--force] DIR REGION
# environment: GLASSBOX_BRIDGE_PORT (6300), GLASSBOX_ENCLAVE_PORT (5000),
#   GLASSBOX_ENCLAVE_CID (16), GLASSBOX_KMS_PORT (8000),
#   GLASSBOX_CREDS_PORT (8001), GLASSBOX_SEALED_FILE
#   (/var/lib/glassbox/sealed/signer.json)
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

force=0
if [ "${1:-}" = --force ]; then
  force=1
  shift
fi
[ $# -eq 2 ] || usage
dir=$1 region=$2
# AWS region names: letters, digits and dashes (eu-west-1, us-gov-west-1,
# cn-north-1); the KMS endpoint of the China regions ends in .com.cn.
case $region in
  ''|*[!a-z0-9-]*) echo "parent-config: not a region name: $region" >&2; exit 2 ;;
esac
case $region in
  cn-*) kms=kms.$region.amazonaws.com.cn ;;
  *) kms=kms.$region.amazonaws.com ;;
esac
bridge=${GLASSBOX_BRIDGE_PORT:-6300}
eport=${GLASSBOX_ENCLAVE_PORT:-5000}
cid=${GLASSBOX_ENCLAVE_CID:-16}
kport=${GLASSBOX_KMS_PORT:-8000}
cport=${GLASSBOX_CREDS_PORT:-8001}
sealed=${GLASSBOX_SEALED_FILE:-/var/lib/glassbox/sealed/signer.json}
[ -d "$dir" ] || { echo "parent-config: no folder $dir" >&2; exit 2; }

write() {   # write FILE: standard input into DIR/FILE unless it exists
  if [ -e "$dir/$1" ] && [ "$force" -eq 0 ]; then
    cat >/dev/null
    echo "parent-config: keeping $dir/$1"
    return
  fi
  cat >"$dir/$1.new"
  mv "$dir/$1.new" "$dir/$1"
}

write parent.conf <<EOF
# glassbox-parent --help; SIGHUP (systemctl reload) reads it again.
forward = tcp:0.0.0.0:$bridge=vsock:$cid:$eport
health = 127.0.0.1:8081
enclave-name = glassbox
# The enclave's only way out: TLS to KMS in $region, which the enclave
# ends itself (the parent sees ciphertext). glassbox-enclave --kms-proxy
# vsock:3:$kport.
outbound = vsock:$kport=$kms:443
allowlist = $dir/outbound.yaml
EOF

write outbound.yaml <<EOF
# glassbox-parent --allowlist (vsock-proxy's format): where the enclave
# may connect through the parent. KMS in $region only.
allowlist:
- {address: $kms, port: 443}
EOF

write parent.env <<EOF
# Flags for glassbox-parent.service (not --config names): the enclave's
# credentials (the instance role's, from IMDSv2, never written to disk)
# and its sealed signer key, served on vsock port $cport
# (glassbox-enclave --parent vsock:3:$cport --sealed parent). The sealed
# blob holds nothing secret; keep a copy (docs/deploy.md).
GLASSBOX_PARENT_FLAGS=--credentials vsock:$cport --sealed-file $sealed
EOF
echo "parent-config: $dir/parent.conf, outbound.yaml, parent.env for $kms"
