#!/usr/bin/env bash
# Replaces the running enclave with a new image: terminates the enclave of
# the same name, starts EIF with a fixed CID (so glassbox-parent's
# vsock:CID:PORT stays right and needs no restart), and waits until
# nitro-cli reports it RUNNING.
#
# usage: run-enclave.sh [options] EIF
#   --name NAME        enclave name (default glassbox; $GLASSBOX_ENCLAVE_NAME)
#   --cpus N           vCPUs (default 2; $GLASSBOX_ENCLAVE_CPUS)
#   --memory MIB       memory (default 2048; $GLASSBOX_ENCLAVE_MIB)
#   --cid CID          enclave CID (default 16; $GLASSBOX_ENCLAVE_CID)
#   --wait SECONDS     how long to wait for RUNNING (default 60)
#   --debug-mode       start in debug mode: PCRs read as zeros, and every
#                      verifier refuses it (debug_mode). Never in production.
#   --restart-parent   also restart glassbox-parent (if the CID changed)
# Exit status: 0 running, 1 it did not start, 2 usage.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

name=${GLASSBOX_ENCLAVE_NAME:-glassbox}
cpus=${GLASSBOX_ENCLAVE_CPUS:-2}
memory=${GLASSBOX_ENCLAVE_MIB:-2048}
cid=${GLASSBOX_ENCLAVE_CID:-16}
wait_s=60 debug=() restart=0
while [ $# -gt 0 ]; do
  case $1 in
    --name) name=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --memory) memory=$2; shift 2 ;;
    --cid) cid=$2; shift 2 ;;
    --wait) wait_s=$2; shift 2 ;;
    --debug-mode) debug=(--debug-mode); shift ;;
    --restart-parent) restart=1; shift ;;
    -h|--help) usage ;;
    -*) echo "run-enclave: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || usage
eif=$1
for n in "$cpus" "$memory" "$cid" "$wait_s"; do
  case $n in ''|*[!0-9]*) echo "run-enclave: not a number: '$n'" >&2; exit 2 ;; esac
done
[ -r "$eif" ] || { echo "run-enclave: cannot read $eif" >&2; exit 2; }

# The enclaves of this name, by ID.
ids() {
  nitro-cli describe-enclaves | jq -r --arg n "$name" '.[] | select(.EnclaveName == $n) | .EnclaveID'
}

state() {
  nitro-cli describe-enclaves | jq -r --arg n "$name" '[.[] | select(.EnclaveName == $n)][0].State // "NONE"'
}

for id in $(ids); do
  echo "run-enclave: terminating $name ($id)"
  nitro-cli terminate-enclave --enclave-id "$id" >/dev/null
done

[ ${#debug[@]} -gt 0 ] && echo "run-enclave: DEBUG MODE: no verifier will trust this enclave" >&2
nitro-cli run-enclave --eif-path "$eif" --cpu-count "$cpus" --memory "$memory" \
  --enclave-cid "$cid" --enclave-name "$name" "${debug[@]}" >/dev/null

for ((i = 0; i < wait_s; i++)); do
  s=$(state)
  if [ "$s" = RUNNING ]; then
    echo "run-enclave: $name is RUNNING with CID $cid"
    if [ "$restart" -eq 1 ]; then
      systemctl try-restart glassbox-parent.service
    fi
    exit 0
  fi
  sleep 1
done
echo "run-enclave: $name is not RUNNING after ${wait_s}s (state: $(state))" >&2
exit 1
