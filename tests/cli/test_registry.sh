#!/usr/bin/env bash
# glassbox registry as release managers and auditors use it, with real gpg:
# keys made here in a temporary GNUPGHOME, statements signed with
# gpg --armor --detach-sign. Every refusal must leave the log as it was, and
# a database edited behind the registry's back must fail the audit.
# usage: test_registry.sh GLASSBOX
set -u
gb=$1
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
with_gpg_home
db=$tmp/reg.db
reg() { "$gb" registry --db "$db" "$@"; }


size() { reg checkpoint | sed -n 2p; }
# check_unchanged NAME: the log has as many entries as before the last check.
check_unchanged() {
  local now; now=$(size)
  if [ "$now" = "$before" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL $1: the log grew from $before to $now"; fi
}

genkey() {  # genkey UID [EXPIRE [FAKED_TIME]]
  gpg --batch --passphrase '' ${3:+--faked-system-time "$3"} \
    --quick-gen-key "$1" ed25519 sign "${2:-1y}" 2>/dev/null
}
sign() {    # sign UID FILE: FILE.asc
  gpg --batch --yes --armor --local-user "$1" --detach-sign "$2" 2>/dev/null
}
hex96() { printf "%0.s$1" $(seq 48); }

# A statement in the seed format: statement FILE NAME VERSION PCR0 [PCR1 PCR2]
statement() {
  cat > "$1" <<EOF
{
  "version": "$3",
  "build_date": "2025-12-18",
  "platform": "aws-nitro",
  "instance_type": "c5.2xlarge",
  "pcrs": { "0": "$4", "1": "${5:-$(hex96 b2)}", "2": "${6:-$(hex96 c3)}" },
  "enclave_config": { "memory_mib": 1024, "cpu_count": 2, "debug_mode": false },
  "docker_image": { "name": "$2", "tag": "latest", "digest": "sha256:00" }
}
EOF
}

genkey "Release Manager <rm@example.com>"
genkey "Stranger <stranger@example.com>"
genkey "Old Key <old@example.com>" 1d 20200101T000000
genkey "Gone Key <gone@example.com>"
# Revoke it the OpenPGP way, with the certificate gpg stored at creation.
gone_fpr=$(gpg --with-colons --fingerprint gone@example.com | awk -F: '/^fpr/ {print $10; exit}')
sed 's/^:-----BEGIN/-----BEGIN/' "$GNUPGHOME/openpgp-revocs.d/$gone_fpr.rev" | gpg --batch --import 2>/dev/null
gpg --armor --export gone@example.com > "$tmp/gone.asc" 2>/dev/null
gpg --armor --export rm@example.com > "$tmp/rm.asc" 2>/dev/null
gpg --armor --export old@example.com > "$tmp/old.asc" 2>/dev/null
gpg --armor --export stranger@example.com > "$tmp/stranger.asc" 2>/dev/null
cat "$tmp/rm.asc" "$tmp/stranger.asc" > "$tmp/two.asc"
gpg --batch --passphrase '' --pinentry-mode loopback --armor \
  --export-secret-keys rm@example.com > "$tmp/secret.asc"
rm_fpr=$(gpg --with-colons --fingerprint rm@example.com | awk -F: '/^fpr/ {print $10; exit}')

check init 0 'log verifier key: glassbox.test/log\+' -- reg init --origin glassbox.test/log
check init-again 1 'exists' -- reg init
check key-mode 0 '^-rw-------' -- ls -l "$db.key"
check key-add 0 'key added: entry 0' -- reg key add "$tmp/rm.asc"
check key-add-again 0 'already there: entry 0' -- reg key add "$tmp/rm.asc"
before=$(size)
check key-secret 1 'bad_key: this is a private key' -- reg key add "$tmp/secret.asc"
check key-two 1 'bad_key: the file holds more than one key' -- reg key add "$tmp/two.asc"
check key-expired 1 'key_expired' -- reg key add "$tmp/old.asc"
check key-pgp-revoked 1 'key_revoked: key .* is revoked' -- reg key add "$tmp/gone.asc"
check key-garbage 1 'bad_key' -- reg key add "$db.key"
check_unchanged key-refusals
check key-list 0 "^$rm_fpr  added at 0" -- reg key list
check key-list-json 0 "\"fingerprint\": \"$rm_fpr\"" -- reg --json key list

# Publishing, in both formats.
statement "$tmp/a.json" demo-app 1.0.0 "$(hex96 a1)"
sign rm@example.com "$tmp/a.json"
check publish 0 'published: entry 1, release [0-9a-f]{16}; log size 2' -- \
  reg publish "$tmp/a.json" "$tmp/a.json.asc"
check publish-again 0 'already there: entry 1' -- reg publish "$tmp/a.json" "$tmp/a.json.asc"
cat > "$tmp/eif.json" <<EOF
{ "EifVersion": 4, "Measurements": { "HashAlgorithm": "Sha384 { ... }",
  "PCR0": "$(hex96 d4)", "PCR1": "$(hex96 e5)", "PCR2": "$(hex96 f6)" },
  "IsSigned": false, "CheckCRC": true, "ImageName": "eif-app", "ImageVersion": "2.1" }
EOF
sign rm@example.com "$tmp/eif.json"
check publish-eif 0 'published: entry 2' -- reg publish "$tmp/eif.json" "$tmp/eif.json.asc"
check list 0 'eif-app +2.1 +d4d4' -- reg list
check list-json 0 '"name": "demo-app"' -- reg --json list

# Refusals: each leaves the log as it was.
before=$(size)
cp "$tmp/a.json" "$tmp/a2.json"; sed -i 's/c5.2xlarge/c5.4xlarge/' "$tmp/a2.json"
check altered 1 'bad_signature: the signature does not match these bytes' -- \
  reg publish "$tmp/a2.json" "$tmp/a.json.asc"
check other-bytes 1 'bad_signature' -- reg publish "$tmp/a.json" "$tmp/eif.json.asc"
check not-a-sig 1 'bad_signature: not a detached OpenPGP signature' -- \
  reg publish "$tmp/a.json" "$tmp/a.json"
statement "$tmp/s.json" stranger-app 1.0.0 "$(hex96 a9)"
sign stranger@example.com "$tmp/s.json"
check unknown-key 1 'unknown_key: signed by key .* not in the registry' -- \
  reg publish "$tmp/s.json" "$tmp/s.json.asc"
statement "$tmp/c.json" demo-app 1.0.1 "$(hex96 a1)"
sign rm@example.com "$tmp/c.json"
check same-pcr0 1 'conflict: another statement was already published for this PCR0' -- \
  reg publish "$tmp/c.json" "$tmp/c.json.asc"
statement "$tmp/d.json" demo-app 1.0.0 "$(hex96 a7)"
sign rm@example.com "$tmp/d.json"
check same-version 1 'conflict: demo-app 1.0.0 was already published' -- \
  reg publish "$tmp/d.json" "$tmp/d.json.asc"
statement "$tmp/dbg.json" debug-app 1.0.0 "$(hex96 00)" "$(hex96 00)" "$(hex96 00)"
sign rm@example.com "$tmp/dbg.json"
check debug-build 1 'debug_build: PCR0 is all zeros' -- reg publish "$tmp/dbg.json" "$tmp/dbg.json.asc"
statement "$tmp/short.json" short-app 1.0.0 "a1a1"
sign rm@example.com "$tmp/short.json"
check short-pcr 1 'bad_pcr: PCR0 is not 96 hex digits' -- reg publish "$tmp/short.json" "$tmp/short.json.asc"
printf '{"Measurements": {"PCR0": "%s"}}' "$(hex96 ab)" > "$tmp/noname.json"
sign rm@example.com "$tmp/noname.json"
check unnamed 1 'unnamed_release: .* lacks the name and the version \(ImageName, ImageVersion\)' -- \
  reg publish "$tmp/noname.json" "$tmp/noname.json.asc"
printf '{"pcrs": {"1": "%s"}, "version": "1", "name": "x"}' "$(hex96 ab)" > "$tmp/nopcr0.json"
sign rm@example.com "$tmp/nopcr0.json"
check no-pcr0 1 'bad_pcr: PCR0 is required' -- reg publish "$tmp/nopcr0.json" "$tmp/nopcr0.json.asc"
printf 'not json' > "$tmp/junk.json"
sign rm@example.com "$tmp/junk.json"
check junk 1 'bad_statement' -- reg publish "$tmp/junk.json" "$tmp/junk.json.asc"
statement "$tmp/w.json" weak-app 1.0.0 "$(hex96 a6)"
for algo in SHA1 MD5 SHA224; do
  gpg --batch --yes --armor --local-user rm@example.com --digest-algo "$algo" \
    --allow-weak-digest-algos --detach-sign -o "$tmp/w-$algo.asc" "$tmp/w.json" 2>/dev/null
  check "weak-$algo" 1 "weak_signature: the signature uses the $algo digest" -- \
    reg publish "$tmp/w.json" "$tmp/w-$algo.asc"
done
gpg --batch --yes --armor --local-user rm@example.com --digest-algo SHA384 \
  --detach-sign -o "$tmp/w-SHA384.asc" "$tmp/w.json" 2>/dev/null
# ... and SHA-384 passes (on a copy: the numbering below stays).
rm -rf "$tmp/c"; mkdir "$tmp/c"
cp "$db" "$tmp/c/reg.db"; cp "$db.key" "$tmp/c/reg.db.key"; cp -r "$db.gnupg" "$tmp/c/reg.db.gnupg"
check strong-SHA384 0 'published: entry 3' -- \
  "$gb" registry --db "$tmp/c/reg.db" publish "$tmp/w.json" "$tmp/w-SHA384.asc"
check missing-file 2 'cannot read' -- reg publish "$tmp/none.json" "$tmp/a.json.asc"
check_unchanged publish-refusals

# Release revocation is a signed statement too.
printf '{"action": "revoke", "origin": "glassbox.test/log", "pcr0": "%s", "reason": "CVE-2026-0001"}\n' "$(hex96 a1)" > "$tmp/rev.json"
sign rm@example.com "$tmp/rev.json"
sign stranger@example.com "$tmp/rev.json"; mv "$tmp/rev.json.asc" "$tmp/rev-stranger.asc"
sign rm@example.com "$tmp/rev.json"
# A revocation names the log it is for: one signed for another log that
# trusts the same key, or for no log, is refused here.
printf '{"action": "revoke", "origin": "other.test/log", "pcr0": "%s", "reason": "CVE-2026-0001"}\n' "$(hex96 a1)" > "$tmp/rev-other.json"
sign rm@example.com "$tmp/rev-other.json"
printf '{"action": "revoke", "pcr0": "%s", "reason": "CVE-2026-0001"}\n' "$(hex96 a1)" > "$tmp/rev-nolog.json"
sign rm@example.com "$tmp/rev-nolog.json"
# Digests weaker than SHA-256 are refused, whatever gpg accepts.
gpg --batch --yes --armor --local-user rm@example.com --digest-algo SHA1 \
  --detach-sign -o "$tmp/rev-sha1.asc" "$tmp/rev.json" 2>/dev/null
before=$(size)
check revoke-stranger 1 'unknown_key' -- reg revoke "$tmp/rev.json" "$tmp/rev-stranger.asc"
check revoke-other-log 1 'wrong_log: the revocation is for the log "other.test/log", not this one' -- \
  reg revoke "$tmp/rev-other.json" "$tmp/rev-other.json.asc"
check revoke-no-log 1 'wrong_log: the revocation does not name the log' -- \
  reg revoke "$tmp/rev-nolog.json" "$tmp/rev-nolog.json.asc"
check revoke-sha1 1 'weak_signature: the signature uses the SHA1 digest' -- \
  reg revoke "$tmp/rev.json" "$tmp/rev-sha1.asc"
check_unchanged revoke-refused
check revoke 0 'revoked: entry 3, release' -- reg revoke "$tmp/rev.json" "$tmp/rev.json.asc"
check revoke-again 1 'already_revoked' -- reg revoke "$tmp/rev.json" "$tmp/rev.json.asc"
check list-revoked 0 'demo-app .*REVOKED' -- reg list
printf '{"action": "revoke", "origin": "glassbox.test/log", "pcr0": "%s", "reason": "x"}\n' "$(hex96 99)" > "$tmp/rev2.json"
sign rm@example.com "$tmp/rev2.json"
check revoke-unknown 1 'not_found: no release has this PCR0' -- reg revoke "$tmp/rev2.json" "$tmp/rev2.json.asc"

# Inspection and proofs.
check show-index 0 '"type":"release_published"' -- reg show 1
check show-json 0 '"index": 2' -- reg --json show 2
id=$(reg --json list | sed -n 's/.*"id": "\([0-9a-f]*\)".*/\1/p' | head -1)
check show-id 0 "entry 1" -- reg show "$id"
check show-none 1 'not_found' -- reg show 99
check prove-inclusion 0 '"size": 4' -- reg --json prove inclusion "$id"
check prove-old-size 0 '"size": 2' -- reg --json prove inclusion 1 --size 2
check prove-out 1 'out_of_range' -- reg prove inclusion 3 --size 3
check prove-consistency 0 '"size2": 4' -- reg --json prove consistency 2 4
check prove-consistency-bad 1 'out_of_range' -- reg prove consistency 0 4
reg checkpoint > "$tmp/cp4"
check checkpoint 0 '^— glassbox.test/log ' -- cat "$tmp/cp4"

# Key revocation: the key's entries stay, it signs nothing new.
check key-revoke-noreason 2 'needs --reason' -- reg key revoke "$rm_fpr"
check key-revoke 0 'key revoked: entry 4' -- reg key revoke "$rm_fpr" --reason "laptop lost"
statement "$tmp/e.json" demo-app 1.1.0 "$(hex96 a2)"
sign rm@example.com "$tmp/e.json"
before=$(size)
check revoked-key 1 'key_revoked' -- reg publish "$tmp/e.json" "$tmp/e.json.asc"
check key-readd 1 'key_revoked' -- reg key add "$tmp/rm.asc"
check_unchanged revoked-key-refusals
check audit 0 'audit passed: 5 entries' -- reg audit
check audit-since 0 'audit passed' -- reg audit --since "$tmp/cp4"

# The log key must stay private.
chmod 644 "$db.key"
check key-perms 2 'bad_permissions' -- reg key add "$tmp/stranger.asc"
chmod 600 "$db.key"

# A database edited behind the registry's back fails the audit, naming
# what is wrong. Each edit is made on a copy.
tamper() {  # tamper NAME PATTERN SQL...
  local name=$1 pattern=$2; shift 2
  rm -rf "$tmp/t"; mkdir "$tmp/t"
  cp "$db" "$tmp/t/reg.db"; cp "$db.key" "$tmp/t/reg.db.key"
  cp -r "$db.gnupg" "$tmp/t/reg.db.gnupg"
  for sql in "$@"; do sqlite3 "$tmp/t/reg.db" "$sql"; done
  check "tamper-$name" 1 "$pattern" -- "$gb" registry --db "$tmp/t/reg.db" audit
}
tamper leaf-body 'entry 2: its stored hash is not the hash of its body' \
  "UPDATE leaves SET body = replace(body, 'eif-app', 'eif-apq') WHERE idx = 2"
tamper release-row 'the releases table does not match the log' \
  "UPDATE releases SET name = 'evil' WHERE leaf = 2"
tamper unrevoke 'the releases table does not match the log' \
  "UPDATE releases SET revoked = NULL"
tamper key-row 'the keys table does not match the log' \
  "UPDATE keys SET revoked = NULL"
tamper node 'stored tree node' "UPDATE nodes SET hash = zeroblob(32) WHERE level = 1 AND idx = 0"
tamper checkpoint 'the checkpoint of size 5 is not signed by the log key' \
  "UPDATE checkpoints SET note = replace(note, char(10) || '5' || char(10), char(10) || '6' || char(10)) WHERE size = 5"
tamper truncate 'does not match' "DELETE FROM leaves WHERE idx = 4"
tamper checkpoint-gone 'the checkpoint of size 2 is missing' "DELETE FROM checkpoints WHERE size = 2"
tamper checkpoint-moved 'the checkpoint of size 2 is not a checkpoint of this log at that size' \
  "UPDATE checkpoints SET note = (SELECT note FROM checkpoints WHERE size = 3) WHERE size = 2"
# A rewritten history, consistent with itself and re-signed, is caught by
# --since: the copy loses its last entry and grows another one.
rm -rf "$tmp/h"; mkdir "$tmp/h"
cp "$db" "$tmp/h/reg.db"; cp "$db.key" "$tmp/h/reg.db.key"; cp -r "$db.gnupg" "$tmp/h/reg.db.gnupg"
reg checkpoint > "$tmp/cp5"
sqlite3 "$tmp/h/reg.db" "DELETE FROM leaves WHERE idx = 4; DELETE FROM checkpoints WHERE size = 5;
  DELETE FROM nodes WHERE (level = 0 AND idx = 4); UPDATE keys SET revoked = NULL"
check rewrite-audit 0 'audit passed: 4 entries' -- "$gb" registry --db "$tmp/h/reg.db" audit
check rewrite-since 1 'was truncated' -- "$gb" registry --db "$tmp/h/reg.db" audit --since "$tmp/cp5"
"$gb" registry --db "$tmp/h/reg.db" key revoke "$rm_fpr" --reason "other words" > /dev/null
check rewrite-grown 1 'did not grow from the --since checkpoint' -- \
  "$gb" registry --db "$tmp/h/reg.db" audit --since "$tmp/cp5"

# The attack without --since: entry 0 edited with the sqlite3 CLI, the
# tree recomputed and the latest checkpoint re-signed with the log's own key
# (tests/cli/rewrite_log.py). The older signed checkpoints the registry
# keeps contradict the new tree: the first one is named.
rewrite() {  # rewrite DIR: a copy of the registry with entry 0 edited
  rm -rf "$1"; mkdir "$1"
  cp "$db" "$1/reg.db"; cp "$db.key" "$1/reg.db.key"; cp -r "$db.gnupg" "$1/reg.db.gnupg"
  sqlite3 "$1/reg.db" "UPDATE leaves SET body = replace(body, '\"time_ms\":', '\"time_ms\":1') WHERE idx = 0"
}
rewrite "$tmp/r"
python3 "$here/rewrite_log.py" "$tmp/r/reg.db" "$tmp/r/reg.db.key"
check rewrite-edited 0 '"time_ms":1' -- "$gb" registry --db "$tmp/r/reg.db" show 0
check rewrite-latest-good 0 '^— glassbox.test/log ' -- "$gb" registry --db "$tmp/r/reg.db" checkpoint
check rewrite-resigned 1 'audit_failed: the checkpoint of size 1, signed by the log key, contradicts the leaves' -- \
  "$gb" registry --db "$tmp/r/reg.db" audit
# With every checkpoint re-signed too, only a checkpoint kept outside the
# registry tells (and this shows the re-signing itself is sound).
rewrite "$tmp/r"
python3 "$here/rewrite_log.py" "$tmp/r/reg.db" "$tmp/r/reg.db.key" --all
check rewrite-all-resigned 0 'audit passed: 5 entries' -- "$gb" registry --db "$tmp/r/reg.db" audit
check rewrite-all-since 1 'did not grow from the --since checkpoint' -- \
  "$gb" registry --db "$tmp/r/reg.db" audit --since "$tmp/cp4"

check no-db 2 'no_registry' -- "$gb" registry --db "$tmp/none.db" list
check usage 2 'unknown command' -- reg frobnicate
check help 0 'usage: glassbox registry' -- "$gb" registry --help

finish
