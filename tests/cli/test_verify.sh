#!/usr/bin/env bash
# glassbox verify as a user runs it: input forms, exit status, JSON fields.
# usage: test_verify.sh GLASSBOX VECTORS_DIR
set -u
gb=$1 dir=$2/aws-nitro
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"

doc=$dir/nautilus-20250415a-prod.cbor
pcr0=cbe1afb6ed0ff89f10295af0b802247ec5670da8f886e71a4226373b032c322f4e42c9c98288e7211682b258684505a2
base64 -w 76 "$doc" > "$tmp/doc.b64"
od -An -v -tx1 "$doc" | tr -d ' \n' > "$tmp/doc.hex"; echo >> "$tmp/doc.hex"
printf 'not a document' > "$tmp/garbage"
: > "$tmp/empty"
head -c 100000 /dev/zero | tr '\0' 'a' > "$tmp/big-text"
{ cat "$doc"; head -c 20000 /dev/zero; } > "$tmp/big-cbor"

check raw-json 0 '"valid": true' -- "$gb" verify --json --at document "$doc"
check json-pcr0 0 "\"0\": \"$pcr0\"" -- "$gb" verify --json --at document "$doc"
check json-null-nonce 0 '"nonce": null' -- "$gb" verify --json --at document "$doc"
check base64 0 '^valid: i-06e4b98c6549ff803' -- "$gb" verify --at document "$tmp/doc.b64"
check hex 0 '^valid: i-06e4b98c6549ff803' -- "$gb" verify --at document "$tmp/doc.hex"
check stdin 0 '^valid:' -- sh -c "\"$gb\" verify --at document - < \"$doc\""
check at-ms 0 '^valid:' -- "$gb" verify --at 1744683923696 "$doc"
check at-rfc3339 0 '^valid:' -- "$gb" verify --at 2025-04-15T02:25:23Z "$doc"
check now-expired 1 'cert_expired' -- "$gb" verify "$doc"
check json-rejected 1 '"reason": "cert_expired"' -- "$gb" verify --json "$doc"
check expect-pcr 0 '^valid:' -- "$gb" verify --at document --expect-pcr "0=$pcr0" "$doc"
check expect-pcr-bad 1 'unknown_measurement' -- "$gb" verify --at document --expect-pcr "2=$pcr0" "$doc"
check nonce-missing 1 'nonce_mismatch' -- "$gb" verify --at document --nonce 00ff "$doc"
check debug 1 'debug_mode' -- "$gb" verify --at document "$dir/sui-20241114-debug.cbor"
check debug-json 1 '"debug": true' -- "$gb" verify --json --at document "$dir/sui-20241114-debug.cbor"
check allow-debug 0 'debug mode' -- "$gb" verify --at document --allow-debug "$dir/sui-20241114-debug.cbor"
check wrong-root 1 'untrusted_root' -- "$gb" verify --at document --root "$dir/root-g1.pem" "$dir/NEG-marlin-mock-20241213.cbor"
check root-der 0 '^valid:' -- "$gb" verify --at document --root "$dir/root-g1.der" "$doc"
check garbage 1 'malformed' -- "$gb" verify "$tmp/garbage"
# Any input refused as a document is a rejection (exit 1, malformed), not a
# usage error: empty, too large as text, too large as CBOR.
check empty 1 'malformed: the input is empty' -- "$gb" verify "$tmp/empty"
check big-text 1 'malformed: .*too large' -- "$gb" verify "$tmp/big-text"
check big-text-json 1 '"reason": "malformed"' -- "$gb" verify --json "$tmp/big-text"
check big-cbor 1 'malformed: .*too large' -- "$gb" verify "$tmp/big-cbor"
check at-negative 2 'bad --at' -- "$gb" verify --at -5 "$doc"
check at-int64-min 2 'bad --at' -- "$gb" verify --at -9223372036854775808 "$doc"
check at-before-1970 2 'bad --at' -- "$gb" verify --at 1969-12-31T23:59:59Z "$doc"
check no-file 2 'glassbox verify' -- "$gb" verify "$tmp/none"
check bad-at 2 'bad --at' -- "$gb" verify --at yesterday "$doc"
check bad-pcr 2 'bad --expect-pcr' -- "$gb" verify --expect-pcr 32=00 "$doc"
check no-doc 2 'expected one document' -- "$gb" verify
check help 0 'usage: glassbox verify' -- "$gb" verify --help
check unknown-cmd 2 'unknown command' -- "$gb" frobnicate

# NitroTPM (EC2 instance) documents: the same checks, their registers under
# nitrotpm_pcrs with kind nitrotpm; --kind and --expect-pcr on them; edits
# of one (tests/fuzz/corpus/seed-nitrotpm-*) refused with stable reasons.
tpm=$dir/NEG-nitrotpm-20260201.cbor
tpm4=1a1f166e1995c1e1bfdf1c1d13b1ebc9d5d4e44397501655c911a2062d92063483ca9e17f0264efe336d4b61c5b98d1e
seeds=$(dirname "$0")/../fuzz/corpus
for f in "$dir"/NEG-nitrotpm-*.cbor; do
  check "tpm-$(basename "$f")" 0 '^valid: i-.*-tpm0000000000000000 .*(NitroTPM instance)' -- "$gb" verify --at document "$f"
done
check tpm-json-kind 0 '"kind": "nitrotpm"' -- "$gb" verify --json --at document "$tpm"
check tpm-json-regs 0 "\"4\": \"$tpm4\"" -- "$gb" verify --json --at document "$tpm"
check tpm-json-no-pcrs 0 '"nitrotpm_pcrs": {' -- "$gb" verify --json --at document "$tpm"
if "$gb" verify --json --at document "$tpm" | grep -q '"pcrs"'; then
  echo "FAIL tpm-json: an instance's registers under \"pcrs\""; fail=$((fail + 1))
fi
check tpm-json-debug 0 '"debug": false' -- "$gb" verify --json --at document "$tpm"
check enclave-json-kind 0 '"kind": "enclave"' -- "$gb" verify --json --at document "$doc"
check tpm-now-expired 1 'cert_expired' -- "$gb" verify "$tpm"
check tpm-expect-pcr4 0 '^valid:' -- "$gb" verify --at document --expect-pcr "4=$tpm4" "$tpm"
check tpm-expect-pcr4-bad 1 'unknown_measurement: NitroTPM PCR4' -- "$gb" verify --at document --expect-pcr "4=$pcr0" "$tpm"
check tpm-kind 0 '^valid:' -- "$gb" verify --at document --kind nitrotpm "$tpm"
check tpm-kind-enclave 1 'unknown_measurement: .*instance NitroTPM' -- "$gb" verify --at document --kind enclave "$tpm"
check enclave-kind-tpm 1 'unknown_measurement: .*an enclave' -- "$gb" verify --at document --kind nitrotpm "$doc"
check bad-kind 2 'bad --kind' -- "$gb" verify --kind vm "$tpm"
check tpm-changed-pcr4 1 'bad_signature' -- "$gb" verify --at document "$seeds/seed-nitrotpm-changed-pcr4"
check tpm-no-registers 1 'bad_field: pcrs: missing' -- "$gb" verify --at document "$seeds/seed-nitrotpm-renamed"
check tpm-both 1 'bad_field: pcrs: present beside nitrotpm_pcrs' -- "$gb" verify --at document "$seeds/seed-nitrotpm-both"
check tpm-23 1 'bad_field: nitrotpm_pcrs: 23 registers' -- "$gb" verify --at document "$seeds/seed-nitrotpm-23-registers"
check tpm-25 1 'bad_field: nitrotpm_pcrs: key is not an index 0..23' -- "$gb" verify --at document "$seeds/seed-nitrotpm-25-registers"
check tpm-32-bytes 1 'bad_field: nitrotpm_pcrs: PCR0 is not a byte string of 48' -- "$gb" verify --at document "$seeds/seed-nitrotpm-32-byte-register"
check tpm-not-a-map 1 'bad_field: nitrotpm_pcrs: not a map' -- "$gb" verify --json --at document "$seeds/seed-nitrotpm-not-a-map"

finish
