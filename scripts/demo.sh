#!/usr/bin/env bash
# Quick start: the whole trust chain on this machine, on 127.0.0.1.
#
# Installs what is missing, builds, then
#   1. builds a synthetic enclave image and measures it (glassbox eif);
#   2. as a release manager with a throwaway gpg key, signs its
#      pcr-values.json and publishes it in a new registry;
#   3. starts glassbox-enclave with the simulated NSM, booted "from" that
#      image, on a Unix socket (standing in for vsock);
#   4. starts glassbox-parent forwarding a TCP port to it;
#   5. starts glassbox-verifier with the registry and the simulator's root;
#   6. runs a client once (challenge, sign through the parent, verify) and
#      prints the web page's URL and the same three steps as curl lines.
# Ctrl-C stops everything. Everything lives in one folder (shown; made anew
# each run): GB_DEMO_DIR, default .glassbox/demo in the checkout.
#
# scripts/demo.sh --sealed: the enclave's signing key is sealed with KMS
# (issue 17, docs/enclave.md "The sealed key") against the KMS test double
# (tests/kms_double: HTTPS with a test CA, attestation checked against the
# simulator's root, the key policy `glassbox kms-policy` writes for the
# release) and a fake IMDSv2; the parent relays KMS (--outbound) and the
# role's credentials (--credentials) and keeps the sealed blob. The enclave
# is restarted once to show that it comes back with the same public key.
#
# scripts/demo.sh --replicated: the replicated form (issue 18) beside it: a
# witness (glassbox witness) that cosigns every checkpoint of the log, and
# a second verifier that mirrors the primary's log from its tiles
# (--mirror .../tlog) and answers verify from its own verified copy; the
# client's check is asked of both. The flags combine.
# Ports: GB_DEMO_VERIFIER_PORT (8080), GB_DEMO_PARENT_PORT (6300),
# GB_DEMO_HEALTH_PORT (8081), GB_DEMO_WITNESS_PORT (8091),
# GB_DEMO_MIRROR_PORT (8082); tests/e2e/test_demo.py runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
sealed='' replicated=''
for arg in "$@"; do
  case $arg in
    --sealed) sealed=1 ;;
    --replicated) replicated=1 ;;
    *) echo "usage: scripts/demo.sh [--sealed] [--replicated]" >&2; exit 2 ;;
  esac
done

# GB_BUILD_DIR (default build); GB_DEMO_PREBUILT=1 uses the programs
# already built there (the quick start's own test does).
bin=$top/${GB_BUILD_DIR:-build}
if [ -z "${GB_DEMO_PREBUILT:-}" ]; then
  scripts/setup.sh
  cmake -S . -B "$bin" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$bin" -j"$(nproc)" --target glassbox glassbox-enclave \
    glassbox-parent glassbox-verifier >/dev/null
fi
gb=$bin/cli/glassbox

data=${GB_DEMO_DIR:-$top/.glassbox/demo}
vport=${GB_DEMO_VERIFIER_PORT:-8080}
pport=${GB_DEMO_PARENT_PORT:-6300}
hport=${GB_DEMO_HEALTH_PORT:-8081}
policy=()
wport=${GB_DEMO_WITNESS_PORT:-8091}
mport=${GB_DEMO_MIRROR_PORT:-8082}
# Made anew each run; but only a folder an earlier demo made is removed.
if [ -e "$data" ] && [ ! -e "$data/.glassbox-demo" ]; then
  echo "demo: $data exists and is not a demo folder; choose another GB_DEMO_DIR" >&2
  exit 2
fi
rm -rf "$data"
mkdir -p "$data/logs"
chmod 700 "$data"
touch "$data/.glassbox-demo"
cd "$data"

pids=()
# shellcheck disable=SC2317  # called by the traps below
stop() {
  trap - INT TERM EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
  if [ -d "$data/gnupg" ]; then
    gpgconf --homedir "$data/gnupg" --kill gpg-agent 2>/dev/null || true
  fi
  echo
  echo "demo: stopped. Data and logs are kept in $data"
}
trap stop EXIT
trap 'exit 0' INT TERM

fail() {
  echo "demo: $*" >&2
  echo "demo: logs are in $data/logs" >&2
  exit 1
}

# Starts a program in the background; waits for its first line on stdout
# (each prints where it listens). Bounded: 10 s.
start() {
  local name=$1
  shift
  "$@" >"logs/$name.out" 2>"logs/$name.log" &
  pids+=($!)
  for _ in $(seq 100); do
    [ -s "logs/$name.out" ] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || fail "$name did not start: $(tail -n3 "logs/$name.log")"
    sleep 0.1
  done
  fail "$name printed nothing within 10 s"
}

echo "demo: everything lives in $data"

# 1. The image: synthetic parts in the EIF layout (not bootable), measured.
head -c 65536 /dev/urandom >kernel
head -c 32768 /dev/urandom >init.cpio
head -c 32768 /dev/urandom >app.cpio
# Metadata in nitro-cli's shape, so that describe-eif reads it too.
jq -n --arg t "$(date -u +%Y-%m-%dT%H:%M:%S.000000+00:00)" '{ImageName: "demo-app",
  ImageVersion: "1.0.0", BuildMetadata: {BuildTime: $t, BuildTool: "glassbox demo",
  BuildToolVersion: "1", OperatingSystem: "Linux", KernelVersion: "synthetic"},
  DockerInfo: {}, CustomMetadata: {}}' >metadata.json
"$gb" eif build --kernel kernel --cmdline "console=ttyS0 glassbox-demo" \
  --ramdisk init.cpio --ramdisk app.cpio --metadata metadata.json \
  --output app.eif >/dev/null
"$gb" eif measure --json app.eif >describe-eif.json
jq '{name: "demo-app", version: "1.0.0",
     pcrs: {"0": .Measurements.PCR0, "1": .Measurements.PCR1,
            "2": .Measurements.PCR2}}' describe-eif.json >pcr-values.json

# 2. The release manager: a throwaway key, the registry, the signed release.
export GNUPGHOME=$data/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key \
  "Glassbox demo release manager <demo@glassbox.invalid>" ed25519 sign 1d 2>/dev/null
gpg --batch --quiet --armor --export demo@glassbox.invalid >release-manager.asc
gpg --batch --quiet --yes --armor --detach-sign pcr-values.json
db=$data/registry.db
"$gb" registry --db "$db" init --origin demo.glassbox.local/log >/dev/null
"$gb" registry --db "$db" key add release-manager.asc >/dev/null
log_vkey=$("$gb" registry --db "$db" --json checkpoint | jq -r .vkey)
if [ -n "$replicated" ]; then
  # A witness of the log: every checkpoint from here on is cosigned.
  "$gb" witness --db witness.db init demo.glassbox.local/witness >/dev/null
  "$gb" witness --db witness.db log add "$log_vkey" >/dev/null
  start witness "$gb" witness --db witness.db serve --listen "127.0.0.1:$wport"
  W=$(sed -n 's/.*listening on //p' logs/witness.out | tr -d '\r' | sed 's:/$::')
  wvkey=$("$gb" witness --db witness.db vkey)
  "$gb" registry --db "$db" witness add "$W" "$wvkey" \
    >/dev/null 2>&1 || fail "the witness could not be added"
  # The policy (C2SP tlog-policy) the verifiers and the page enforce: the
  # log's key, and the witness's cosignature required.
  printf 'log %s\nwitness demo-witness %s %s\nquorum demo-witness\n' \
    "$log_vkey" "$wvkey" "$W" >log.policy
  policy=(--policy log.policy)
fi
"$gb" registry --db "$db" publish pcr-values.json pcr-values.json.asc \
  --eif app.eif >/dev/null 2>>logs/registry.log ||
  fail "publishing the release failed: $(tail -n2 logs/registry.log)"
head -c 24 /dev/urandom | base64 >token
chmod 600 token

# 3. The enclave, with the simulated NSM, "booted" from app.eif.
enclave=("$bin/enclave/glassbox-enclave" --nsm sim --state nsm --eif app.eif
  --listen "unix:$data/enclave.sock")
parent_kms=()
if [ -n "$sealed" ]; then
  # The simulator's chain (its root is what the KMS double trusts) is
  # made by a first start without KMS.
  start boot "${enclave[@]}"
  kill -TERM "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
  unset 'pids[-1]'
  rm -f "$data/enclave.sock"
  role=arn:aws:iam::111122223333:role/glassbox-enclave-role
  release=$("$gb" registry --db "$db" --json list | jq -r '.[0].id')
  # The policy for the release, with kms:GenerateDataKey beside Decrypt:
  # the first start asks for a data key to seal with.
  "$gb" kms-policy --db "$db" --release "$release" --role-arn "$role" |
    jq '(.Statement[] | select(.Action | tostring | test("kms:Decrypt"))
         .Action) |= ((if type == "array" then . else [.] end) +
         ["kms:GenerateDataKey"] | unique)' >kms-policy.json
  mkdir -m 700 kms
  start kms python3 "$top/tests/kms_double/kms_double.py" --root nsm/level0.der \
    --policy kms-policy.json --dir kms --role-arn "$role"
  kms_port=$(jq -r .kms_port logs/kms.out)
  imds_port=$(jq -r .imds_port logs/kms.out)
  kms_key=$(jq -r .key logs/kms.out)
  printf 'allowlist:\n- {address: 127.0.0.1, port: %s}\n' "$kms_port" >kms-allowlist.yaml
  # The double listens on 127.0.0.1 (in AWS the relay goes to KMS's
  # public address): hence --outbound-allow-special.
  parent_kms=(--outbound "unix:$data/kms.sock=127.0.0.1:$kms_port"
    --allowlist kms-allowlist.yaml --outbound-allow-special
    --credentials "unix:$data/credentials.sock"
    --imds "http://127.0.0.1:$imds_port" --sealed-file "$data/sealed-key.json")
  enclave+=(--kms-key "$kms_key" --sealed parent --parent "unix:$data/credentials.sock"
    --kms-proxy "unix:$data/kms.sock" --kms-ca kms/ca.pem)
else
  start enclave "${enclave[@]}"
fi

# 4. The parent: TCP to the enclave's socket, health from a describe file
# shaped like `nitro-cli describe-enclaves`.
jq -n --slurpfile m describe-eif.json '[{EnclaveName: "glassbox-demo",
  EnclaveID: "i-0000000000demo-enc0000000000demo", ProcessID: 0,
  EnclaveCID: 16, NumberOfCPUs: 2, CPUIDs: [1, 3], MemoryMiB: 512,
  State: "RUNNING", Flags: "NONE", Measurements: $m[0].Measurements}]' \
  >describe-enclaves.json
start parent "$bin/parent/glassbox-parent" \
  --forward "tcp:127.0.0.1:$pport=unix:$data/enclave.sock" \
  --health "127.0.0.1:$hport" --describe-cmd "cat '$data/describe-enclaves.json'" \
  "${parent_kms[@]}"
sealed_note=
if [ -n "$sealed" ]; then
  # First start: a new key, sealed under a KMS data key, the blob kept by
  # the parent; then a restart opens it (KMS Decrypt with the attestation).
  start enclave "${enclave[@]}"
  key1=$(curl -sf --unix-socket "$data/enclave.sock" http://enclave/health) ||
    fail "the sealed enclave does not answer"
  kill -TERM "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
  unset 'pids[-1]'
  rm -f "$data/enclave.sock"
  start enclave "${enclave[@]}"
  key2=$(curl -sf --unix-socket "$data/enclave.sock" http://enclave/health) ||
    fail "the restarted enclave does not answer"
  if [ "$(jq -r .key <<<"$key1")" != new-sealed ] || [ "$(jq -r .key <<<"$key2")" != sealed ] ||
    [ "$(jq -r .public_key <<<"$key1")" != "$(jq -r .public_key <<<"$key2")" ]; then
    fail "the sealed key did not survive the restart: $key1 / $key2"
  fi
  sealed_note="
  The signing key is sealed with KMS (test double on 127.0.0.1:$kms_port,
  key $kms_key); the enclave was restarted and kept
  its public key $(jq -r .public_key <<<"$key2" | cut -c1-16)... (blob: $data/sealed-key.json)."
fi

# 5. The verifier: the registry, and the simulator's root instead of AWS's.
start verifier "$bin/verifier/glassbox-verifier" --db "$db" \
  --root nsm/level0.der --listen "127.0.0.1:$vport" --token-file token \
  "${policy[@]}"
V=http://127.0.0.1:$vport
P=http://127.0.0.1:$pport
# No verdict before the verifier's first audit of the log (503 not_ready).
for _ in $(seq 300); do
  curl -s "$V/readyz" | grep -q pending || break
  sleep 0.1
done

replicated_note=
if [ -n "$replicated" ]; then
  # The mirror: its own database, the primary's tiles, the log key pinned.
  start mirror "$bin/verifier/glassbox-verifier" --db mirror.db \
    --mirror "$V/tlog" --log-key "$log_vkey" --root nsm/level0.der \
    --listen "127.0.0.1:$mport" "${policy[@]}"
  M=http://127.0.0.1:$mport
  for _ in $(seq 300); do
    curl -sf "$M/readyz" >/dev/null && break
    sleep 0.1
  done
  curl -sf "$M/readyz" >/dev/null || fail "the mirror is not ready: $(curl -s "$M/readyz")"
  cosigned=$(curl -sf "$V/tlog/checkpoint" | grep -c "^— demo.glassbox.local/witness " || true)
  [ "$cosigned" = 1 ] || fail "the checkpoint carries no cosignature of the witness"
fi

# 6. A client, once: challenge, sign through the parent, verify.
payload=$(printf 'hello from the enclave' | base64)
N=$(curl -sf -X POST "$V/api/v1/challenge" | jq -r .nonce) ||
  fail "the challenge failed"
S=$(curl -sf -X POST "$P/sign" -H 'Content-Type: application/json' \
  -d "{\"payload\":\"$payload\",\"nonce\":\"$N\"}") ||
  fail "signing through the parent failed"
verdict=$(curl -sf -X POST "$V/api/v1/verify" -H 'Content-Type: application/json' \
  -d "$(jq -c --arg n "$N" --arg r "$payload" \
    '{document, signature, result: $r, nonce: $n}' <<<"$S")" |
  jq -r '"\(.reason) (release \(.release.name) \(.release.version))"') ||
  fail "the verifier did not answer"
case $verdict in
  ok*) ;;
  *) fail "the demo's own check was refused: $verdict" ;;
esac
if [ -n "$replicated" ]; then
  # The same question of the mirror (a challenge of its own).
  N=$(curl -sf -X POST "$M/api/v1/challenge" | jq -r .nonce) ||
    fail "the mirror's challenge failed"
  S=$(curl -sf -X POST "$P/sign" -H 'Content-Type: application/json' \
    -d "{\"payload\":\"$payload\",\"nonce\":\"$N\"}") ||
    fail "signing through the parent failed"
  mverdict=$(curl -sf -X POST "$M/api/v1/verify" -H 'Content-Type: application/json' \
    -d "$(jq -c --arg n "$N" --arg r "$payload" \
      '{document, signature, result: $r, nonce: $n}' <<<"$S")" |
    jq -r '"\(.reason) (release \(.release.name) \(.release.version))"') ||
    fail "the mirror did not answer"
  [ "$mverdict" = "$verdict" ] || fail "the mirror says $mverdict, the primary $verdict"
  replicated_note="
  Replicated: witness $W cosigns every checkpoint ($V/tlog/checkpoint),
  and both verifiers and the page require its cosignature (log.policy);
  the mirror $M follows $V/tlog and said the same: $mverdict."
fi

cat <<EOF

  Glassbox is running on 127.0.0.1:
    enclave (simulated NSM)  unix:$data/enclave.sock
    parent bridge            $P  (health: http://127.0.0.1:$hport/health)
    verifier                 $V
EOF
if [ -n "$replicated" ]; then
  cat <<EOF
    witness                  $W
    mirror (read-only)       $M
EOF
fi
cat <<EOF

  The auditors' page:  $V/

  A client checked it once: $verdict.$sealed_note$replicated_note
  Do it yourself, in another shell (needs curl and jq):

    N=\$(curl -s -X POST $V/api/v1/challenge | jq -r .nonce)
    S=\$(curl -s -X POST $P/sign -H 'Content-Type: application/json' -d "{\"payload\":\"$payload\",\"nonce\":\"\$N\"}")
    curl -s -X POST $V/api/v1/verify -H 'Content-Type: application/json' -d "\$(jq -c --arg n "\$N" '{document, signature, nonce: \$n, result: "$payload"}' <<<"\$S")" | jq '{trusted, reason, release: .release.name}'

  Data, keys and logs: $data
  Ctrl-C stops everything.
EOF

wait -n "${pids[@]}" 2>/dev/null || true
fail "a process stopped on its own"
