#!/usr/bin/env bash
# glassbox check-verdict as a client runs it, on real verdicts: a registry
# made here with real gpg keys publishes the measurements of a real AWS
# document, a glassbox-verifier on 127.0.0.1 judges it at its own time, and
# the answer is checked offline against keys pinned from files. Then each
# way the inputs can differ from what was signed must be refused with its
# reason, and usage mistakes exit 2.
# usage: test_check_verdict.sh GLASSBOX VERIFIER VECTORS_DIR
set -u
gb=$1 verifier=$2 dir=$3/aws-nitro
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
with_gpg_home
vpid=
trap '[ -n "$vpid" ] && kill "$vpid" 2>/dev/null; wait 2>/dev/null
  gpgconf --homedir "$GNUPGHOME" --kill gpg-agent 2>/dev/null; rm -rf "$tmp"' EXIT
db=$tmp/reg.db
doc=$dir/nautilus-20250415a-prod.cbor
other=$dir/evervault-20221013-prod.cbor
reg() { "$gb" registry --db "$db" "$@"; }

gpg --batch --passphrase '' --quick-gen-key "RM <rm@example.com>" ed25519 sign 1y 2>/dev/null
gpg --armor --export rm@example.com > "$tmp/rm.asc" 2>/dev/null
reg init --origin cli.glassbox/log >/dev/null
reg key add "$tmp/rm.asc" >/dev/null
"$gb" verify --json --at document "$doc" |
  jq '{version: "1.0", pcrs: {"0": .pcrs["0"], "1": .pcrs["1"], "2": .pcrs["2"]},
       docker_image: {name: "nautilus", tag: "x", digest: "sha256:0"}}' > "$tmp/rel.json"
gpg --batch --yes --armor --local-user rm@example.com --detach-sign "$tmp/rel.json" 2>/dev/null
reg publish "$tmp/rel.json" "$tmp/rel.json.asc" >/dev/null || { echo "publish failed"; exit 1; }

"$verifier" --db "$db" --listen 127.0.0.1:0 --threads 1 --audit-interval 0 \
  --verdict-ttl 60 > "$tmp/verifier.out" 2> "$tmp/verifier.log" &
vpid=$!
for _ in $(seq 100); do
  grep -q 'listening on' "$tmp/verifier.out" 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$tmp/verifier.out" | sed 's#/$##')
[ -n "$url" ] || { echo "the verifier did not start"; cat "$tmp/verifier.log"; exit 1; }

curl -sf "$url/.well-known/glassbox" > "$tmp/wk.json"
jq .verdict_key "$tmp/wk.json" > "$tmp/jwk.json"
jq -r .log_key "$tmp/wk.json" > "$tmp/log.vkey"
verify() {  # verify FILE > answer: the CBOR form, at the document's time
  curl -sf -X POST -H 'Content-Type: application/cbor' --data-binary "@$1" \
    "$url/api/v1/verify?at=document"
}
verify "$doc" > "$tmp/answer.json"
verify "$other" > "$tmp/other-answer.json"
jq -r .verdict "$tmp/answer.json" > "$tmp/verdict.jws"
jq -r .tlog_proof "$tmp/answer.json" > "$tmp/proof"
od -An -v -tx1 "$doc" | tr -d ' \n' > "$tmp/doc.hex"
now=$(date +%s)
# The answers are about the document's own time: the client says so (--at),
# as it asked.
cv() { "$gb" check-verdict --verdict-key "$tmp/jwk.json" --log-key "$tmp/log.vkey" --at document "$@"; }
cv_now() { "$gb" check-verdict --verdict-key "$tmp/jwk.json" --log-key "$tmp/log.vkey" "$@"; }

check answer-trusted 0 '"reason":"ok"' -- jq -c '{reason}' "$tmp/answer.json"
check good 0 '^valid: affirmed for this document at document; release nautilus 1.0' -- cv "$tmp/answer.json" "$doc"
# A document of 2025 whose chain has expired, judged at its own time: a
# client that asked about now (the default) must not take that for "valid
# now", and one that asked another time neither.
check asked-now 1 'verdict_mismatch \(glassbox.at\)' -- cv_now "$tmp/answer.json" "$doc"
check asked-now-explicitly 1 'verdict_mismatch \(glassbox.at\)' -- cv_now --at now "$tmp/answer.json" "$doc"
check asked-a-time 1 'verdict_mismatch \(glassbox.at\)' -- cv_now --at 2025-04-15T00:00:00Z "$tmp/answer.json" "$doc"
check bad-at 2 'bad --at' -- cv_now --at soon "$tmp/answer.json" "$doc"
check good-json 0 '"valid": true' -- cv --json "$tmp/answer.json" "$doc"
check good-hex-doc 0 '^valid:' -- cv "$tmp/answer.json" "$tmp/doc.hex"
check bare-jws 0 '^valid:' -- cv --proof "$tmp/proof" "$tmp/verdict.jws" "$doc"
check keys-from-well-known 0 '^valid:' -- "$gb" check-verdict --verdict-key "$tmp/wk.json" \
  --log-key "$tmp/wk.json" --at document "$tmp/answer.json" "$doc"
check bare-jws-no-proof 1 'bad_proof' -- cv "$tmp/verdict.jws" "$doc"
check another-document 1 'verdict_mismatch \(glassbox.document.sha256\)' -- cv "$tmp/answer.json" "$other"
check another-document-json 1 '"claim": "glassbox.document.sha256"' -- cv --json "$tmp/answer.json" "$other"
check a-nonce 1 'verdict_mismatch \(eat_nonce\)' -- cv --nonce 00ff "$tmp/answer.json" "$doc"
printf 'a result' > "$tmp/result"
check a-result 1 'verdict_mismatch \(glassbox.result_sha256\)' -- cv --result "$tmp/result" "$tmp/answer.json" "$doc"
check expired 1 'verdict_expired' -- cv --now $((now + 3600)) "$tmp/answer.json" "$doc"
check not-yet-expired 0 '^valid:' -- cv --now $((now + 30)) "$tmp/answer.json" "$doc"
# One character of the signature changed, to another base64url digit.
jws=$(cat "$tmp/verdict.jws"); c=${jws: -20:1}; [ "$c" = A ] && d=B || d=A
printf '%s%s%s' "${jws:0:${#jws}-20}" "$d" "${jws: -19}" > "$tmp/flipped.jws"
check flipped-signature 1 'bad_verdict_signature' -- cv --proof "$tmp/proof" "$tmp/flipped.jws" "$doc"
sed 's/^index .*/index 0/' "$tmp/proof" > "$tmp/proof-index"
check proof-index 1 'bad_proof' -- cv --proof "$tmp/proof-index" "$tmp/answer.json" "$doc"
check unknown-measurement 1 '^glassbox check-verdict: unknown_measurement' -- cv "$tmp/other-answer.json" "$other"
check no-keys 2 'are required' -- "$gb" check-verdict "$tmp/answer.json" "$doc"
check bad-now 2 'bad --now' -- cv --now -5 "$tmp/answer.json" "$doc"
check bad-nonce 2 'bad --nonce' -- cv --nonce xyz "$tmp/answer.json" "$doc"
check jwk-not-a-key 2 'not an Ed25519 JWK' -- "$gb" check-verdict --verdict-key "$tmp/log.vkey" \
  --log-key "$tmp/log.vkey" "$tmp/answer.json" "$doc"
check missing-answer 2 'glassbox check-verdict' -- cv "$tmp/none" "$doc"
check one-operand 2 'expected ANSWER and DOC' -- cv "$tmp/answer.json"
check help 0 'usage: glassbox check-verdict' -- "$gb" check-verdict --help
check listed 0 'check-verdict' -- "$gb" --help

finish
