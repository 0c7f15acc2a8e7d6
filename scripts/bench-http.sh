#!/usr/bin/env bash
# HTTP benchmark of glassbox-verifier (not a test; it prints figures and
# asserts nothing about time): wrk on 127.0.0.1 against real verifiers, all
# rows in one run, interleaved round by round so that their ratios hold on a
# busy machine.
#
#   healthz          GET /healthz: the server's own speed for a trivial reply
#   verify cached    POST /api/v1/verify, the 26 real documents of
#                    ../shared/vectors at "at":"document", all caches on
#   verify trusted   the same, only the documents of the one published
#                    release (the whole path: release, inclusion proof,
#                    checkpoint, signed verdict)
#   verify cold      the 26 documents, on a second verifier with --cache off
#   in-process       tests/bench/bench_verify on as many threads
#
# It prints requests/s, p50 and p99 of each row, the verifier's CPU time per
# request (from /proc: less disturbed by other load than rates are), and the
# two ratios of tracker issue 16 item 7:
#   verify cached / healthz                           (target >= 0.5)
#   verify cold / in-process cold on the same threads (target >= 0.8)
#
# The registry is real: a gpg key made in a temporary GNUPGHOME, `glassbox
# registry init`, `key add`, and one release published whose PCR0..2 are
# those of real documents. The verifier only needs --listen 127.0.0.1:0
# (printing "listening on URL"), --db, --threads and --cache, whatever HTTP
# library it is built on.
#
#   GB_LOAD_SECONDS   seconds of each row, over all rounds (default 15; the
#                     run takes about 5 times that, plus the build)
#   GB_ROUNDS         rounds (default 3)
#   GB_HTTP_THREADS   verifier worker threads and in-process threads (2)
#   GB_HTTP_CONNS     wrk connections (default 8); wrk runs 2 threads
#   GB_BENCH_BUILD    build directory (default build-bench, Release)
#   GB_VECTORS        the vectors (default ../shared/vectors)
#   GB_NO_BUILD=1     use the build directory as it is
#   GB_PROFILE=CMD    afterwards, run a verifier under CMD (e.g. "perf record
#                     -g -o /tmp/perf.data --") for GB_LOAD_SECONDS of
#                     cached verification (GB_PROFILE_SCRIPT=trusted for the
#                     release's documents); only its profile means anything
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

# Starts a verifier; sets pid_NAME and url_NAME (printf -v).
url_warm=
start() {   # start NAME on|off [wrapper...]
  local name=$1 cache=$2 p u; shift 2
  : > "$tmp/url.$name"
  "$@" "$verifier" --db "$tmp/reg.db" --listen 127.0.0.1:0 --threads "$threads" \
    --cache "$cache" > "$tmp/url.$name" 2> /dev/null &
  p=$!
  pids+=("$p")
  for _ in $(seq 100); do grep -q listening "$tmp/url.$name" && break; sleep 0.1; done
  u=$(sed -n 's/.*listening on \(http[^ ]*\)/\1/p' "$tmp/url.$name")
  [ -n "$u" ] || { echo "bench-http: the verifier did not start" >&2; exit 2; }
  # Verify answers 503 not_ready until the log watch's first audit is done.
  for _ in $(seq 300); do
    curl -s "${u%/}/readyz" | grep -q pending || break
    sleep 0.1
  done
  printf -v "pid_$name" '%s' "$p"
  printf -v "url_$name" '%s' "${u%/}"
}

# Each body once: what the verifier answers (a sanity check, not a figure).
verdicts() {   # verdicts URL NAME
  python3 - "$1" "$tmp/$2.bodies" <<'EOF'
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

# A verifier's CPU time so far (user + system), in clock ticks. Under a
# GB_PROFILE wrapper the verifier is the wrapper's child.
cpu_ticks() {   # cpu_ticks PID
  local v=$1 c
  c=$(pgrep -P "$1" | head -1 || true)
  [ -n "$c" ] && v=$c
  awk '{ print $14 + $15 }' "/proc/$v/stat"
}

# One wrk run; appends to $tmp/rows.NAME: requests, seconds, p50 and p99 in
# ms, errors and non-2xx replies, and the verifier's CPU ticks.
measure() {   # measure NAME SECONDS SERVER PATH [SCRIPT]
  local s=() pid url t0 t1
  pid=pid_$3 url=url_$3
  [ -n "${5:-}" ] && s=(-s "$tmp/$5.lua")
  t0=$(cpu_ticks "${!pid}")
  wrk -t2 -c"$conns" -d"$2"s --latency "${s[@]}" "${!url}$4" > "$tmp/wrk"
  t1=$(cpu_ticks "${!pid}")
  awk -v ticks=$((t1 - t0)) '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    / requests in / { n = $1; d = $4; sub(/s,?$/, "", d) }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Socket errors/ { for (i = 3; i <= NF; i += 2) bad += $(i + 1) }
    /Non-2xx/ { bad += $NF }
    END { printf "%d %s %.3f %.3f %d %d\n", n, d, p50, p99, bad, ticks }' "$tmp/wrk" >> "$tmp/rows.$1"
}

# The rounds of a row together: requests/s over all of them, the mean p50,
# the largest p99, and CPU microseconds per request, as a row appended to
# $tmp/table and as "RPS CPU" on standard output.
summary() {   # summary NAME LABEL
  awk -v name="$2" -v hz="$(getconf CLK_TCK)" -v table="$tmp/table" '
    { n += $1; d += $2; p50 += $3; if ($4 > p99) p99 = $4; bad += $5; t += $6; r++ }
    END {
      printf "%-15s %7.0f req/s  p50 %6.3f ms  p99 %6.3f ms  verifier CPU %7.1f us/req%s\n",
        name, n / d, p50 / r, p99, t / hz * 1e6 / n, (bad > 0) ? "  (" bad " errors or non-2xx)" : "" >> table
      printf "%.1f %.1f\n", n / d, t / hz * 1e6 / n
    }' "$tmp/rows.$1"
}

rounds=${GB_ROUNDS:-3}
slice=$(( (secs + rounds - 1) / rounds ))
echo "glassbox-verifier on $threads threads, wrk 2 threads $conns connections, $rounds rounds of ${slice} s per row, $(nproc) cores"
echo "(on a shared machine absolute figures are noisy; rows are interleaved round by round so that their ratios hold)"
start warm on
start cold off
echo "verdicts, all documents:     $(verdicts "$url_warm" all)"
echo "verdicts, release documents: $(verdicts "$url_warm" trusted)"
measure warmup 2 warm /api/v1/verify all
measure warmup 2 cold /api/v1/verify all
: > "$tmp/inproc"
for _ in $(seq "$rounds"); do
  measure healthz "$slice" warm /healthz
  measure cached "$slice" warm /api/v1/verify all
  measure trusted "$slice" warm /api/v1/verify trusted
  measure cold "$slice" cold /api/v1/verify all
  "$bld/tests/bench/bench_verify" "$vectors" two "$threads" |
    sed -n 's/.*cold \([0-9]*\) docs\/s, all caches \([0-9]*\) docs\/s; CPU per document: cold \([0-9.]*\) us, all caches \([0-9.]*\) us.*/\1 \2 \3 \4/p' >> "$tmp/inproc"
done
{ read -r rps_health cpu_health; read -r rps_cached cpu_cached
  read -r rps_trusted cpu_trusted; read -r rps_cold cpu_cold; } < <(
  summary healthz healthz; summary cached "verify cached"
  summary trusted "verify trusted"; summary cold "verify cold")
read -r in_cold in_warm in_cold_cpu in_warm_cpu < <(awk '
  { a += $1; b += $2; c += $3; d += $4; n++ }
  END { if (n > 0) printf "%.0f %.0f %.1f %.2f\n", a / n, b / n, c / n, d / n }' "$tmp/inproc")
[ -n "${in_cold:-}" ] || { echo "bench-http: bench_verify printed no rates" >&2; exit 2; }
cat "$tmp/table"
echo "in-process      $threads threads: cold $in_cold docs/s ($in_cold_cpu us CPU/doc), all caches $in_warm docs/s ($in_warm_cpu us CPU/doc)"
awk -v c="$rps_cached" -v t="$rps_trusted" -v h="$rps_health" -v k="$rps_cold" -v i="$in_cold" \
    -v cc="$cpu_cached" -v ct="$cpu_trusted" -v ch="$cpu_health" -v ck="$cpu_cold" -v ci="$in_cold_cpu" 'BEGIN {
  printf "ratio verify cached / healthz        %.3f  (target >= 0.5)  %s\n", c / h, ((c / h >= 0.5) ? "meets" : "NOT MET")
  printf "ratio verify trusted / healthz       %.3f\n", t / h
  printf "ratio verify cold / in-process cold  %.3f  (target >= 0.8)  %s\n", k / i, ((k / i >= 0.8) ? "meets" : "NOT MET")
  printf "verifier CPU per request: healthz %.1f us; verify cached %.1f us (%.1fx healthz), trusted %.1f us (%.1fx);\n", ch, cc, cc / ch, ct, ct / ch
  printf "  cold %.0f us against %.0f us in-process: HTTP adds %.0f%%, CPU ratio in-process / HTTP %.3f\n", ck, ci, 100 * (ck - ci) / ci, ci / ck
}'
kill -INT "${pids[@]}" 2>/dev/null || true
wait "${pids[@]}" 2>/dev/null || true
pids=()

if [ -n "${GB_PROFILE:-}" ]; then
  read -r -a wrap <<<"$GB_PROFILE"
  start prof on "${wrap[@]}"
  sleep 1
  measure prof "$secs" prof /api/v1/verify "${GB_PROFILE_SCRIPT:-all}"
  : > "$tmp/table"
  summary prof "profiled" >/dev/null
  cat "$tmp/table"
  kill -INT "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  pids=()
fi
