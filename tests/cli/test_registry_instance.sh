#!/usr/bin/env bash
# glassbox registry with releases of EC2 instance images ("kind":
# "nitrotpm", docs/registry.md "Kind"): what such a release must declare
# (PCR4 and PCR12, nothing of PCR0..3 or past PCR23), its leaf, its key
# register (PCR4: unique, and what a revocation names), refusals that leave
# the log as it was, --eif refused, and an audit that passes.
# usage: test_registry_instance.sh GLASSBOX
set -u
gb=$1
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
with_gpg_home
cd "$tmp" || exit 2
db=$tmp/reg.db
reg() { "$gb" registry --db "$db" "$@"; }
hex96() { printf "%0.s$1" $(seq 48); }
size() { reg checkpoint | sed -n 2p; }

gpg --batch --passphrase '' --quick-gen-key "RM <rm@example.com>" ed25519 sign 1y 2>/dev/null
gpg --armor --export rm@example.com > rm.asc 2>/dev/null
reg init --origin instance.test/log > /dev/null && reg key add rm.asc > /dev/null

# stmt FILE JSON: the statement, signed.
stmt() {
  printf '%s' "$2" > "$1"
  gpg --batch --yes --armor --local-user rm@example.com --detach-sign "$1" 2>/dev/null
}
# refused NAME CODE PATTERN JSON: publishing it fails with CODE, and the
# log does not grow.
refused() {
  local before
  before=$(size)
  stmt "r-$1.json" "$4"
  check "$1" 1 "$2: .*$3" -- reg publish "r-$1.json" "r-$1.json.asc"
  if [ "$(size)" = "$before" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL $1: the log grew"; fi
}

p4=$(hex96 4a) p7=$(hex96 7b) p12=$(hex96 00)
refused pcr0 bad_pcr 'firmware' \
  "{\"kind\":\"nitrotpm\",\"name\":\"ami\",\"version\":\"1\",\"pcrs\":{\"0\":\"$(hex96 11)\",\"4\":\"$p4\",\"12\":\"$p12\"}}"
refused pcr3 bad_pcr 'firmware' \
  "{\"kind\":\"nitrotpm\",\"name\":\"ami\",\"version\":\"1\",\"pcrs\":{\"3\":\"$(hex96 11)\",\"4\":\"$p4\",\"12\":\"$p12\"}}"
refused no-pcr4 bad_pcr 'PCR4 .* is required' \
  "{\"kind\":\"nitrotpm\",\"name\":\"ami\",\"version\":\"1\",\"pcrs\":{\"7\":\"$p7\",\"12\":\"$p12\"}}"
refused no-pcr12 bad_pcr 'PCR12 .* is required' \
  "{\"kind\":\"nitrotpm\",\"name\":\"ami\",\"version\":\"1\",\"pcrs\":{\"4\":\"$p4\",\"7\":\"$p7\"}}"
refused pcr24 bad_pcr 'PCR24: a NitroTPM has PCR0..PCR23' \
  "{\"kind\":\"nitrotpm\",\"name\":\"ami\",\"version\":\"1\",\"pcrs\":{\"4\":\"$p4\",\"12\":\"$p12\",\"24\":\"$p7\"}}"
refused zero-pcr4 bad_pcr 'PCR4 is all zeros' \
  "{\"kind\":\"nitrotpm\",\"name\":\"ami\",\"version\":\"1\",\"pcrs\":{\"4\":\"$(hex96 00)\",\"12\":\"$p12\"}}"
refused no-pcrs bad_pcr 'declares PCR4 and PCR12' \
  "{\"kind\":\"nitrotpm\",\"name\":\"ami\",\"version\":\"1\",\"pcrs\":{}}"
refused kind-other bad_statement 'kind is' \
  "{\"kind\":\"vm\",\"name\":\"ami\",\"version\":\"1\",\"pcrs\":{\"4\":\"$p4\",\"12\":\"$p12\"}}"
refused kind-not-text bad_statement 'kind is' \
  "{\"kind\":1,\"name\":\"ami\",\"version\":\"1\",\"pcrs\":{\"4\":\"$p4\",\"12\":\"$p12\"}}"
# An enclave release keeps its rules: PCR0 required.
refused enclave-no-pcr0 bad_pcr 'PCR0 is required' \
  "{\"kind\":\"enclave\",\"name\":\"app\",\"version\":\"1\",\"pcrs\":{\"4\":\"$p4\"}}"

stmt ami1.json "{\"kind\":\"nitrotpm\",\"name\":\"ami\",\"version\":\"1\",\"pcrs\":{\"4\":\"$p4\",\"7\":\"$p7\",\"12\":\"$p12\"}}"
check publish 0 'published: entry 1' -- reg publish ami1.json ami1.json.asc
check leaf-kind 0 '"kind":"nitrotpm"' -- reg show 1
check list 0 'ami +1 +4a4a4a4a4a4a4a4a' -- reg list
# nitro-tpm-pcr-compute's shape, named, with the kind beside it.
stmt ami2.json "{\"kind\":\"nitrotpm\",\"ImageName\":\"ami\",\"ImageVersion\":\"2\",\"Measurements\":{\"HashAlgorithm\":\"SHA384\",\"PCR4\":\"$(hex96 4c)\",\"PCR12\":\"$p12\"}}"
check publish-measurements 0 'published: entry 2' -- reg publish ami2.json ami2.json.asc
# PCR4 is the key: a second instance release with it conflicts, and so
# does an enclave release whose PCR0 is that value.
refused same-pcr4 conflict '' \
  "{\"kind\":\"nitrotpm\",\"name\":\"ami\",\"version\":\"3\",\"pcrs\":{\"4\":\"$p4\",\"12\":\"$(hex96 01)\"}}"
refused enclave-pcr0-is-pcr4 conflict '' \
  "{\"name\":\"app\",\"version\":\"1\",\"pcrs\":{\"0\":\"$p4\",\"1\":\"$(hex96 b2)\",\"2\":\"$(hex96 c3)\"}}"
# An explicit enclave kind is the default: its leaf says no kind.
stmt app1.json "{\"kind\":\"enclave\",\"name\":\"app\",\"version\":\"1\",\"pcrs\":{\"0\":\"$(hex96 a1)\",\"1\":\"$(hex96 b2)\",\"2\":\"$(hex96 c3)\"}}"
check publish-enclave 0 'published: entry 3' -- reg publish app1.json app1.json.asc
if reg show 3 | grep -q '"kind"'; then
  fail=$((fail + 1)); echo "FAIL enclave-leaf: an enclave release's leaf names a kind"
else pass=$((pass + 1)); fi

# --eif: an instance release is not measured from an enclave image.
printf KERNEL > kernel; printf RAMDISK > rd
"$gb" eif build --kernel kernel --cmdline c --ramdisk rd --output s.eif > /dev/null 2>&1
stmt ami4.json "{\"kind\":\"nitrotpm\",\"name\":\"ami\",\"version\":\"4\",\"pcrs\":{\"4\":\"$(hex96 4d)\",\"12\":\"$p12\"}}"
check eif 1 'eif_mismatch: .*instance image' -- reg publish ami4.json ami4.json.asc --eif s.eif

# Revoked by its key register, PCR4.
printf '{"action":"revoke","origin":"instance.test/log","pcr0":"%s","reason":"old AMI"}' "$p4" > rev.json
gpg --batch --yes --armor --local-user rm@example.com --detach-sign rev.json 2>/dev/null
check revoke 0 'revoked' -- reg revoke rev.json rev.json.asc
check audit 0 'audit passed: 5 entries' -- reg audit

finish
