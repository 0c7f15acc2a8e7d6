#!/usr/bin/env bash
# glassbox eif measure|build against values computed here with openssl:
# EIF.md's synthetic image (650 bytes, CRC 0xac0e49e8), a signed image and
# its PCR8, a CRC mismatch, the describe-eif JSON, and registry publish
# --eif refusing a statement that does not match the image.
# usage: test_eif.sh GLASSBOX
set -u
gb=$1
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
check image-name 0 '"ImageName": "demo"' -- "$gb" eif measure --json signed.eif

# A changed byte: the CRC says so (exit 1), and the PCRs change.
cp s.eif bad.eif; printf 'X' | dd of=bad.eif bs=1 seek=560 conv=notrunc 2>/dev/null
check crc-mismatch 1 'CRC mismatch' -- "$gb" eif measure bad.eif
check crc-json 1 '"CheckCRC": false' -- "$gb" eif measure --json bad.eif
# shellcheck disable=SC2016  # $0 is expanded by the inner sh
check empty 1 'empty' -- sh -c ': > e.eif; "$0" eif measure e.eif' "$gb"
# shellcheck disable=SC2016
check truncated 1 'ends inside' -- sh -c 'head -c 600 s.eif > t.eif; "$0" eif measure t.eif' "$gb"
check missing 2 'cannot' -- "$gb" eif measure nothing.eif
check usage 2 'usage' -- "$gb" eif build --kernel kernel

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
finish
