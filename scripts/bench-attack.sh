#!/usr/bin/env bash
# Benchmark of a well-behaved client's latency while the services are
# abused (tracker issue 16 item 2's measure; not a test: it prints figures
# and asserts nothing about time). Traffic only on 127.0.0.x.
#
# It starts glassbox-verifier and glassbox-enclave (--nsm sim) from a
# Release build on their defaults (only --listen 127.0.0.1:0, the registry,
# the simulator's state and, for the verifier, the simulator's root
# differ), over a real registry (a gpg key made in a temporary GNUPGHOME,
# one release published whose PCRs the simulator boots with). Then, for
# each service in turn, tests/bench/abuse.py runs a well-behaved client
# from 127.0.0.3 (new connections, paced):
#   verifier  4 x GET /healthz, then a challenge -> verify round trip
#             (POST /api/v1/challenge, the enclave's /attestation with that
#             nonce, not timed, POST /api/v1/verify, trusted)
#   enclave   4 x GET /health, GET /attestation?nonce=
# without attack, while an attacker from 127.0.0.2 holds 500 idle
# connections, 500 slow-header senders and 500 slow-body senders (a byte
# every 2 s; reopened when the service closes them at its deadlines),
# streams oversized bodies and floods challenges (the enclave, which has
# none, gets a GET /health flood), and without attack again. It prints
# p50/p99 per request kind and p99 under attack / p99 without (target
# <= 2). The client's address differs from the attacker's so that the
# verifier's per-client challenge limit (--challenge-rate) does not count
# the flood against it.
#
#   GB_ATTACK_ROUNDS   client rounds per phase (default 150)
#   GB_FLOOD_RATE      flood requests per second (default 2000)
#   GB_BENCH_BUILD     build directory (default build-bench, Release)
#   GB_NO_BUILD=1      use the build directory as it is
#   GB_ATTACK_JSON     write every latency to this file
set -euo pipefail
cd "$(dirname "$0")/.."
bld=${GB_BENCH_BUILD:-build-bench}
for t in gpg python3; do
  command -v "$t" >/dev/null || { echo "bench-attack: $t is missing (scripts/setup.sh)" >&2; exit 2; }
done
if [ "${GB_NO_BUILD:-0}" != 1 ]; then
  cmake -S . -B "$bld" -DCMAKE_BUILD_TYPE=Release -DGB_BENCH=ON -DGB_WERROR=ON >/dev/null
  cmake --build "$bld" -j"$(nproc)" --target glassbox glassbox-verifier glassbox-enclave >/dev/null
fi
gb=$bld/cli/glassbox
verifier=$bld/verifier/glassbox-verifier
enclave=$bld/enclave/glassbox-enclave
# The attacker and the services need about 1600 descriptors each.
ulimit -n "$(ulimit -Hn)"

tmp=$(mktemp -d)
pids=()
cleanup() {
  if [ ${#pids[@]} -gt 0 ]; then
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  gpgconf --homedir "$tmp/gnupg" --kill gpg-agent 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

export GNUPGHOME=$tmp/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key "Bench <bench@glassbox.invalid>" \
  ed25519 sign 1d 2>/dev/null
gpg --batch --quiet --armor --export bench@glassbox.invalid > "$tmp/rm.asc"
"$gb" registry --db "$tmp/reg.db" init --origin bench.glassbox.invalid/log >/dev/null
"$gb" registry --db "$tmp/reg.db" key add "$tmp/rm.asc" >/dev/null
python3 - "$tmp/release.json" <<'EOF'
import json, os, sys
json.dump({"version": "1", "pcrs": {k: os.urandom(48).hex() for k in ("0", "1", "2")},
           "docker_image": {"name": "bench", "tag": "1", "digest": "sha256:0"}},
          open(sys.argv[1], "w"))
EOF
gpg --batch --quiet --yes --armor --detach-sign "$tmp/release.json"
"$gb" registry --db "$tmp/reg.db" publish "$tmp/release.json" "$tmp/release.json.asc" >/dev/null

# The services; each prints where it listens.
waitfor() {   # waitfor FILE PATTERN
  for _ in $(seq 100); do grep -q "$2" "$1" && return 0; sleep 0.1; done
  echo "bench-attack: no '$2' in $1: $(cat "$1")" >&2; exit 2
}
"$enclave" --nsm sim --state "$tmp/nsm" --pcrs "$tmp/release.json" \
  --listen tcp:127.0.0.1:0 > "$tmp/enclave.out" 2> "$tmp/enclave.err" &
pids+=($!)
waitfor "$tmp/enclave.out" 'listening on tcp:'
enclave_url=http://$(sed -n 's/.*listening on tcp:\([0-9.]*:[0-9]*\).*/\1/p' "$tmp/enclave.out")
"$verifier" --db "$tmp/reg.db" --listen 127.0.0.1:0 --root "$tmp/nsm/level0.der" \
  > "$tmp/verifier.out" 2> "$tmp/verifier.err" &
pids+=($!)
waitfor "$tmp/verifier.out" listening
verifier_url=$(sed -n 's/.*listening on \(http[^ ]*\)/\1/p' "$tmp/verifier.out")
verifier_url=${verifier_url%/}

echo "glassbox-verifier $verifier_url and glassbox-enclave (--nsm sim) $enclave_url, defaults, $(nproc) cores"
echo "(a shared machine: absolute latencies are noisy; the ratio of each service's phases is the figure)"
python3 tests/bench/abuse.py bench --verifier "$verifier_url" --enclave "$enclave_url" \
  --pids "verifier=${pids[1]},enclave=${pids[0]}" --rounds "${GB_ATTACK_ROUNDS:-150}" --flood-rate "${GB_FLOOD_RATE:-2000}" \
  ${GB_ATTACK_JSON:+--json "$GB_ATTACK_JSON"}
for i in 0 1; do
  if ! kill -0 "${pids[$i]}" 2>/dev/null; then
    echo "bench-attack: a service died:" >&2
    tail -20 "$tmp/enclave.err" "$tmp/verifier.err" >&2
    exit 1
  fi
done
echo "both services alive after the attacks"
# They stop cleanly; otherwise (a sanitizer's report, say) their last words.
kill -INT "${pids[@]}" 2>/dev/null || true
for i in 0 1; do
  name=enclave; [ "$i" = 1 ] && name=verifier
  rc=0; wait "${pids[$i]}" 2>/dev/null || rc=$?
  if [ "$rc" != 0 ]; then
    echo "bench-attack: the $name exited with $rc:" >&2
    tail -20 "$tmp/$name.err" >&2
  fi
done
pids=()
