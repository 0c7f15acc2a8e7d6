#!/usr/bin/env bash
# glassbox eif measure|build against values computed here with openssl:
# EIF.md's synthetic image (650 bytes, CRC 0xac0e49e8), a signed image and
# its PCR8, a CRC mismatch, and registry publish --eif refusing a statement
# that does not match the image. The describe-eif JSON is compared byte for
# byte with what eif_nitro.py (nitro-cli's rules, written from the upstream
# sources) says nitro-cli prints for the same images: unsigned, signed,
# a swapped certificate, a tampered signature, a signature over another
# PCR0, and an image re-signed the way nitro-cli sign-eif does it (the
# header's size table left stale).
# usage: test_eif.sh GLASSBOX
set -u
gb=$1
nitro="python3 $(cd "$(dirname "$0")" && pwd)/eif_nitro.py"
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
with_gpg_home
cd "$tmp" || exit 2

# extend(x) = SHA384(48 zero bytes || SHA384(x)), by openssl.
extend() { { head -c 48 /dev/zero; openssl dgst -sha384 -binary; } | openssl dgst -sha384 -r | cut -d' ' -f1; }

printf KERNEL > kernel; printf BOOTRAMDISK > rd1; printf APPRAMDISK > rd2
check build 0 'not bootable' -- "$gb" eif build --kernel kernel --cmdline console=ttyS0 \
  --ramdisk rd1 --ramdisk rd2 --output s.eif
check size 0 '^650$' -- sh -c 'wc -c < s.eif'
check crc-bytes 0 '^ac0e49e8$' -- sh -c 'od -An -tx1 -j544 -N4 s.eif | tr -d " \n"; echo'
pcr0=$(printf KERNELconsole=ttyS0BOOTRAMDISKAPPRAMDISK | extend)
pcr1=$(printf KERNELconsole=ttyS0BOOTRAMDISK | extend)
pcr2=$(printf APPRAMDISK | extend)
check pcr0 0 "^PCR0  $pcr0\$" -- "$gb" eif measure s.eif
check pcr1 0 "^PCR1  $pcr1\$" -- "$gb" eif measure s.eif
check pcr2 0 "^PCR2  $pcr2\$" -- "$gb" eif measure s.eif
check json 0 "\"PCR0\": \"$pcr0\"" -- "$gb" eif measure --json s.eif
check json-crc 0 '"CheckCRC": true' -- "$gb" eif measure --json s.eif
check json-unsigned 0 '"IsSigned": false' -- "$gb" eif measure --json s.eif
# One ramdisk: PCR2 is extend(empty), the value EIF.md gives.
"$gb" eif build --kernel kernel --cmdline c --ramdisk rd1 --output one.eif > /dev/null
check pcr2-empty 0 '^PCR2  21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a$' \
  -- "$gb" eif measure one.eif

# Metadata is read; a signed image has PCR8 = extend(DER of its certificate).
printf '{"ImageName":"demo","ImageVersion":"1.2"}' > meta.json
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout sign.key \
  -out sign.pem -days 30 -subj /CN=glassbox-test 2>/dev/null
"$gb" eif build --kernel kernel --cmdline console=ttyS0 --ramdisk rd1 --ramdisk rd2 \
  --metadata meta.json --sign-cert sign.pem --sign-key sign.key --output signed.eif > /dev/null
pcr8=$(openssl x509 -in sign.pem -outform DER | extend)
check pcr8 0 "^PCR8  $pcr8\$" -- "$gb" eif measure signed.eif
check signed-pcr0 0 "^PCR0  $pcr0\$" -- "$gb" eif measure signed.eif
check signed-json 0 '"IsSigned": true' -- "$gb" eif measure --json signed.eif
# ImageName and ImageVersion alone are not nitro-cli's metadata (it stops
# with an error): the description leaves them out and says why.
check image-name 0 "metadata_not_described: the metadata's BuildMetadata is missing" -- "$gb" eif measure --json signed.eif

# A changed byte: the CRC says so (exit 1), and the PCRs change.
cp s.eif bad.eif; printf 'X' | dd of=bad.eif bs=1 seek=560 conv=notrunc 2>/dev/null
check crc-mismatch 1 'crc_mismatch: CRC mismatch' -- "$gb" eif measure bad.eif
check crc-json 1 '"CheckCRC": false' -- "$gb" eif measure --json bad.eif
# shellcheck disable=SC2016  # $0 is expanded by the inner sh
check empty 1 'empty' -- sh -c ': > e.eif; "$0" eif measure e.eif' "$gb"
# shellcheck disable=SC2016
check truncated 1 'bad_eif: the file ends inside' -- sh -c 'head -c 600 s.eif > t.eif; "$0" eif measure t.eif' "$gb"
check missing 2 'cannot' -- "$gb" eif measure nothing.eif
check usage 2 'usage' -- "$gb" eif build --kernel kernel
check help 0 'measure \[--json\] \[--check-signature\]' -- "$gb" eif --help
check help-reasons 0 'bad_eif, crc_mismatch, bad_signature, unsigned' -- "$gb" eif --help

# describe-eif, byte for byte. same NAME WANT_STATUS SIGCHECK IMAGE: the
# JSON Glassbox prints is the one eif_nitro.py derives for the image.
same() {
  local name=$1 want=$2 sigcheck=$3 img=$4 status
  $nitro expect "$img" "$sigcheck" > "$name.want" || { fail=$((fail + 1)); echo "FAIL $name: eif_nitro.py"; return; }
  "$gb" eif measure --json "$img" > "$name.got" 2> "$name.err"; status=$?
  if [ "$status" -eq "$want" ] && cmp -s "$name.want" "$name.got"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    printf 'FAIL %s: status %s (want %s)\n' "$name" "$status" "$want"
    diff "$name.want" "$name.got"; cat "$name.err"
  fi
}
# nitro-cli's metadata (as its build-enclave writes it) with DockerInfo's
# keys out of order and CustomMetadata flattened in, numbers of each kind,
# escapes, and a custom key that repeats a fixed one (serde writes both).
cat > nmeta.json <<'EOF'
{"ImageName":"hello \"enclave\"","ImageVersion":"1.0","BuildMetadata":{"BuildTime":"2026-11-30T12:00:00.000000+00:00","BuildTool":"nitro-cli","BuildToolVersion":"1.4.2","OperatingSystem":"Linux","KernelVersion":"6.1.102"},
 "DockerInfo":{"RepoTags":["hello:latest"],"Id":"sha256:5e8d","Config":{"Env":["PATH=/bin"],"Cmd":null,"Labels":{}},"Architecture":"amd64","Size":0},
 "CustomMetadata":{"zone":"eu\tw\u0001","BuildTime":"repeated","n":[1,-2,100.0,1.5,0.0001,2.5e-5,1e-7,1e16,1e15,123.456e3,-0.0,-0,-9223372036854775808,18446744073709551616],"a/b":{"y":true,"x":false}}}
EOF
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout n1.key -out n1.pem \
  -days 30 -sha384 -subj '/C=US/O=Glassbox "QA"/OU=one/OU=two/CN=nitro test' 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout n2.key -out n2.pem \
  -days 3 -sha384 -subj '/CN=n2' 2>/dev/null
"$gb" eif build --kernel kernel --cmdline console=ttyS0 --ramdisk rd1 --ramdisk rd2 \
  --metadata nmeta.json --output nu.eif > /dev/null
"$gb" eif build --kernel kernel --cmdline console=ttyS0 --ramdisk rd1 --ramdisk rd2 \
  --metadata nmeta.json --sign-cert n1.pem --sign-key n1.key --output ns.eif > /dev/null
same describe-unsigned 0 - nu.eif
same describe-signed 0 true ns.eif
check signed-ok 0 '^signature ok$' -- "$gb" eif measure --check-signature ns.eif
check unsigned-check 1 'unsigned: the image has no signature section' -- "$gb" eif measure --check-signature nu.eif
# The certificate swapped: signed with n1's key, n2's certificate carried.
"$gb" eif build --kernel kernel --cmdline console=ttyS0 --ramdisk rd1 --ramdisk rd2 \
  --metadata nmeta.json --sign-cert n2.pem --sign-key n1.key --output swapped.eif > /dev/null
same describe-swapped 0 false swapped.eif
check swapped-check 1 'bad_signature: the signature does not verify' -- "$gb" eif measure --check-signature swapped.eif
check swapped-text 0 '^signature BAD$' -- "$gb" eif measure swapped.eif
# Signatures made here (eif_nitro.py, as sign-eif makes them): one byte of
# r flipped; a good signature over another PCR0 (nitro-cli's own false).
$nitro resign ns.eif n2.pem n2.key tampered.eif --flip
same describe-tampered 0 false tampered.eif
check tampered-check 1 'bad_signature: the signature does not verify' -- "$gb" eif measure --check-signature tampered.eif
$nitro resign ns.eif n2.pem n2.key otherpcr0.eif --pcr0 "$pcr1"
same describe-other-pcr0 0 false otherpcr0.eif
check other-pcr0-check 1 "bad_signature: the signature verifies but does not sign this image's PCR0" \
  -- "$gb" eif measure --check-signature otherpcr0.eif
# Re-signed by sign-eif: a new certificate of another size, the size table
# stale (eif_nitro.py asserts it), the CRC updated. Measured and checked.
$nitro resign ns.eif n2.pem n2.key resigned.eif
same describe-resigned 0 true resigned.eif
check resigned-check 0 'size table is stale for the signature section' -- "$gb" eif measure --check-signature resigned.eif
pcr8n2=$(openssl x509 -in n2.pem -outform DER | extend)
check resigned-pcr8 0 "^PCR8  $pcr8n2\$" -- "$gb" eif measure resigned.eif
# A stale size for any other section is still refused.
cp resigned.eif stale.eif; printf '\377' | dd of=stale.eif bs=1 seek=$((284 + 8 * 3 + 7)) conv=notrunc 2>/dev/null
check stale-ramdisk 1 'bad_eif: section 3 says' -- "$gb" eif measure stale.eif
# Metadata nitro-cli cannot read ({}: no ImageName...): described without
# it, and said so.
check describe-no-metadata 0 'metadata_not_described: the metadata has no ImageName' -- "$gb" eif measure --json s.eif
same describe-minimal 0 - s.eif

# registry publish --eif: the statement's PCRs must be the image's.
gpg --batch --passphrase '' --quick-gen-key "RM <rm@example.com>" ed25519 sign 1y 2>/dev/null
gpg --armor --export rm@example.com > rm.asc 2>/dev/null
"$gb" registry --db reg.db init > /dev/null && "$gb" registry --db reg.db key add rm.asc > /dev/null
printf '{"version":"1","pcrs":{"0":"%s","1":"%s","2":"%s"},"docker_image":{"name":"demo"}}' \
  "$pcr0" "$pcr1" "$pcr2" > good.json
printf '{"version":"2","pcrs":{"0":"%s","1":"%s","2":"%s"},"docker_image":{"name":"demo"}}' \
  "$pcr0" "$pcr2" "$pcr1" > swapped.json
for f in good.json swapped.json; do gpg --batch --yes --armor --detach-sign "$f" 2>/dev/null; done
check publish-eif-mismatch 1 'eif_mismatch: PCR1' -- "$gb" registry --db reg.db publish swapped.json swapped.json.asc --eif s.eif
check publish-eif-crc 1 'bad_eif' -- "$gb" registry --db reg.db publish good.json good.json.asc --eif bad.eif
check publish-eif 0 'published: entry 1' -- "$gb" registry --db reg.db publish good.json good.json.asc --eif s.eif
# A signed image whose signature does not verify is refused, even with a
# statement of its own PCR0/1/2/8; the same for the well-signed image is
# published.
for f in tampered ns; do
  "$gb" eif measure $f.eif | awk -v v=$f 'BEGIN { printf "{\"version\":\"%s\",\"pcrs\":{", v }
    /^PCR[0-9]+ / { printf "%s\"%s\":\"%s\"", n++ ? "," : "", substr($1, 4), $2 }
    END { print "},\"docker_image\":{\"name\":\"signed\"}}" }' > $f.json
  gpg --batch --yes --armor --detach-sign $f.json 2>/dev/null
done
"$gb" registry --db reg2.db init > /dev/null && "$gb" registry --db reg2.db key add rm.asc > /dev/null
check publish-eif-bad-signature 1 "bad_eif: tampered.eif: the image's signature does not verify" \
  -- "$gb" registry --db reg2.db publish tampered.json tampered.json.asc --eif tampered.eif
check publish-eif-signed 0 'published: entry 1' -- "$gb" registry --db reg2.db publish ns.json ns.json.asc --eif ns.eif
finish
