#!/usr/bin/env bash
# HTTP benchmark of glassbox-verifier (not a test; it prints figures and
# asserts nothing about time): wrk on 127.0.0.1 against one verifier, side by
# side in one run, so that the ratios hold even on a busy machine.
#
#   healthz          GET /healthz: the server's own speed for a trivial reply
#   verify cached    POST /api/v1/verify, the 26 real documents of
#                    ../shared/vectors at "at":"document", all caches on
#   verify trusted   the same, only the documents of the one published
#                    release (the whole path: release, inclusion proof,
#                    checkpoint, signed verdict)
#   verify cold      the 26 documents again, verifier started with --cache off
#
# It prints requests/s, p50 and p99 of each, and the two ratios of tracker
# issue 16 item 7:
#   verify cached / healthz                         (target >= 0.5)
#   verify cold / in-process cold on the same threads (target >= 0.8;
#                    in-process rate from tests/bench/bench_verify)
#
# The registry is real: a gpg key made in a temporary GNUPGHOME, `glassbox
# registry init`, `key add`, and one release published whose PCR0..2 are
# those of real documents. The verifier only needs --listen 127.0.0.1:0
# (printing "listening on URL"), --db, --threads and --cache, whatever HTTP
# library it is built on.
#
#   GB_LOAD_SECONDS   seconds of each measurement (default 15; the whole run
#                     takes about 6 times that plus the build)
#   GB_HTTP_THREADS   verifier worker threads and in-process threads (2)
#   GB_HTTP_CONNS     wrk connections (default 8); wrk runs 2 threads
#   GB_BENCH_BUILD    build directory (default build-bench, Release)
#   GB_VECTORS        the vectors (default ../shared/vectors)
#   GB_NO_BUILD=1     use the build directory as it is
#   GB_PROFILE=CMD    run the verifier of "verify cached" under CMD (e.g.
#                     "perf record -g -o /tmp/perf.data --"); its figures
#                     then mean nothing, only the profile does
set -euo pipefail
cd "$(dirname "$0")/.."
vectors=$(realpath "${GB_VECTORS:-../shared/vectors}")
secs=${GB_LOAD_SECONDS:-15}
threads=${GB_HTTP_THREADS:-2}
conns=${GB_HTTP_CONNS:-8}
bld=${GB_BENCH_BUILD:-build-bench}
for t in wrk gpg python3 curl; do
  command -v "$t" >/dev/null || { echo "bench-http: $t is missing (scripts/setup.sh)" >&2; exit 2; }
done
if [ "${GB_NO_BUILD:-0}" != 1 ]; then
  cmake -S . -B "$bld" -DCMAKE_BUILD_TYPE=Release -DGB_BENCH=ON -DGB_WERROR=ON >/dev/null
  cmake --build "$bld" -j"$(nproc)" --target glassbox glassbox-verifier bench_verify >/dev/null
fi
gb=$bld/cli/glassbox
verifier=$bld/verifier/glassbox-verifier

tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  gpgconf --homedir "$tmp/gnupg" --kill gpg-agent 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# The registry: a release manager's key and one release of real PCRs.
export GNUPGHOME=$tmp/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key "Bench <bench@glassbox.invalid>" \
  ed25519 sign 1d 2>/dev/null
gpg --batch --quiet --armor --export bench@glassbox.invalid > "$tmp/rm.asc"
"$gb" registry --db "$tmp/reg.db" init --origin bench.glassbox.invalid/log >/dev/null
"$gb" registry --db "$tmp/reg.db" key add "$tmp/rm.asc" >/dev/null

# The release (PCR0..2 of the non-debug PCR0 most documents share), and wrk
# scripts cycling through request bodies: all documents, and those of the
# release.
python3 - "$vectors" "$tmp" <<'EOF'
import base64, collections, json, sys
vec, tmp = sys.argv[1], sys.argv[2]
m = json.load(open(vec + "/aws-nitro/vectors.json"))
valid = [v for v in m["vectors"] if v["expected"] == "valid"]
key = lambda v: tuple(v["pcrs"][k] for k in ("0", "1", "2"))
counts = collections.Counter(key(v) for v in valid if set(v["pcrs"]["0"]) != {"0"})
best = max(counts, key=lambda k: (counts[k], k))
json.dump({"version": "1", "pcrs": dict(zip(("0", "1", "2"), best)),
           "docker_image": {"name": "bench", "tag": "1", "digest": "sha256:0"}},
          open(tmp + "/release.json", "w"))
def body(v):
    doc = open(vec + "/aws-nitro/" + v["file"], "rb").read()
    return json.dumps({"document": base64.b64encode(doc).decode(), "at": "document"})
def lua(name, vs):
    with open(tmp + "/" + name + ".lua", "w") as f:
        f.write("local bodies = {\n")
        for v in vs:
            f.write("  [[" + body(v) + "]],\n")
        f.write("}\nlocal i = 0\nrequest = function()\n  i = i % #bodies + 1\n"
                "  return wrk.format(\"POST\", \"/api/v1/verify\", "
                "{[\"Content-Type\"] = \"application/json\"}, bodies[i])\nend\n")
    with open(tmp + "/" + name + ".bodies", "w") as f:
        for v in vs:
            f.write(body(v) + "\n")
lua("all", valid)
lua("trusted", [v for v in valid if key(v) == best])
EOF
gpg --batch --quiet --yes --armor --detach-sign "$tmp/release.json"
"$gb" registry --db "$tmp/reg.db" publish "$tmp/release.json" "$tmp/release.json.asc" >/dev/null

start() {   # start on|off [wrapper...]
  local cache=$1; shift
  : > "$tmp/url"
  "$@" "$verifier" --db "$tmp/reg.db" --listen 127.0.0.1:0 --threads "$threads" \
    --cache "$cache" > "$tmp/url" 2> /dev/null &
  pid=$!
  for _ in $(seq 100); do grep -q listening "$tmp/url" && break; sleep 0.1; done
  url=$(sed -n 's/.*listening on \(http[^ ]*\)/\1/p' "$tmp/url")
  url=${url%/}
  [ -n "$url" ] || { echo "bench-http: the verifier did not start" >&2; exit 2; }
}
stop() {
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
}

# Each body once: what the verifier answers (a sanity check, not a figure).
verdicts() {   # verdicts NAME
  python3 - "$url" "$tmp/$1.bodies" <<'EOF'
import collections, json, sys, urllib.request
c = collections.Counter()
for line in open(sys.argv[2]):
    r = urllib.request.Request(sys.argv[1] + "/api/v1/verify", data=line.strip().encode(),
                               headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=30) as resp:
        c[json.load(resp)["reason"]] += 1
print(", ".join(f"{n} {k}" for k, n in sorted(c.items())))
EOF
}

# The verifier's CPU time so far (user + system), in clock ticks. Under a
# GB_PROFILE wrapper the verifier is the wrapper's child.
cpu_ticks() {
  local v=$pid c
  c=$(pgrep -P "$pid" | head -1 || true)
  [ -n "$c" ] && v=$c
  awk '{ print $14 + $15 }' "/proc/$v/stat"
}

# wrk's summary: requests/s, the 50% and 99% latencies in ms, the count of
# errors and non-2xx replies, and the verifier's CPU microseconds per request.
measure() {   # measure SECONDS PATH [SCRIPT]
  local s=() t0 t1
  [ -n "${3:-}" ] && s=(-s "$tmp/$3.lua")
  t0=$(cpu_ticks)
  wrk -t2 -c"$conns" -d"$1"s --latency "${s[@]}" "$url$2" > "$tmp/wrk"
  t1=$(cpu_ticks)
  awk -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    / requests in / { n = $1 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Socket errors/ { for (i = 3; i <= NF; i += 2) bad += $(i + 1) }
    /Non-2xx/ { bad += $NF }
    END { printf "%.0f %.3f %.3f %d %.1f\n", rps, p50, p99, bad, ((n > 0) ? ticks / hz * 1e6 / n : 0) }' "$tmp/wrk"
}

row() {   # row NAME SECONDS PATH [SCRIPT]; sets rps
  local name=$1 p50 p99 bad cpu
  measure 2 "$3" "${4:-}" >/dev/null      # warm up
  read -r rps p50 p99 bad cpu <<<"$(measure "$2" "$3" "${4:-}")"
  printf '%-15s %7s req/s  p50 %6s ms  p99 %6s ms  verifier CPU %6s us/req%s\n' \
    "$name" "$rps" "$p50" "$p99" "$cpu" "$([ "$bad" -gt 0 ] && echo "  ($bad errors or non-2xx)")"
}

echo "glassbox-verifier $threads threads, wrk 2 threads $conns connections, ${secs} s each, $(nproc) cores (shared: absolute figures are noisy, ratios are side by side)"
inproc=$("$bld/tests/bench/bench_verify" "$vectors" two "$threads" |
  sed -n 's/.*cold \([0-9]*\) docs\/s, all caches \([0-9]*\).*/\1 \2/p')
read -r inproc_cold inproc_warm <<<"$inproc"
echo "in-process, $threads threads: cold $inproc_cold docs/s, all caches $inproc_warm docs/s"

start on
echo "verdicts, all documents: $(verdicts all)"
echo "verdicts, release documents: $(verdicts trusted)"
row healthz "$secs" /healthz
rps_health=$rps
row "verify cached" "$secs" /api/v1/verify all
rps_cached=$rps
row "verify trusted" "$secs" /api/v1/verify trusted
rps_trusted=$rps
stop

start off
row "verify cold" "$secs" /api/v1/verify all
rps_cold=$rps
stop

awk -v c="$rps_cached" -v t="$rps_trusted" -v h="$rps_health" -v k="$rps_cold" -v i="$inproc_cold" 'BEGIN {
  printf "ratio verify cached / healthz       %.3f  (target >= 0.5)  %s\n", c / h, ((c / h >= 0.5) ? "meets" : "NOT MET")
  printf "ratio verify trusted / healthz      %.3f\n", t / h
  printf "ratio verify cold / in-process cold %.3f  (target >= 0.8)  %s\n", k / i, ((k / i >= 0.8) ? "meets" : "NOT MET")
}'

if [ -n "${GB_PROFILE:-}" ]; then
  read -r -a wrap <<<"$GB_PROFILE"
  start on "${wrap[@]}"
  sleep 1
  row "profiled" "$secs" /api/v1/verify "${GB_PROFILE_SCRIPT:-all}"
  stop
fi
