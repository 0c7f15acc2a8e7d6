#!/usr/bin/env bash
# Load benchmark of glassbox-verifier (not a test): wrk against 127.0.0.1,
# POST /api/v1/verify with the 26 real documents at their own time, the
# verifier on 2 worker threads. For caches off (every document cold) and on,
# it prints docs/s and latency at saturation (8 connections kept busy), and
# the ratio to the in-process rate on 2 threads with the same caches.
# Latency at 80% of saturation is at most that at saturation; wrk's delay()
# pacing did not hold a rate here (it ran at 16% whatever the delay), so
# the bound is what is printed.
#
#   scripts/load.sh            # ~2 minutes
#   scripts/load.sh --soak     # then 10 minutes at saturation, RSS and open
#                              # fds sampled each minute
set -euo pipefail
cd "$(dirname "$0")/.."
vectors=${GB_VECTORS:-../shared/vectors}
secs=${GB_LOAD_SECONDS:-20}
conns=8
scripts/setup.sh
if ! command -v wrk >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DGB_BENCH=ON -DGB_WERROR=ON >/dev/null
cmake --build build-bench -j"$(nproc)" --target glassbox glassbox-verifier bench_verify >/dev/null

tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
build-bench/cli/glassbox registry --db "$tmp/reg.db" init >/dev/null

# A wrk script cycling through the documents.
python3 - "$vectors" > "$tmp/verify.lua" <<'EOF'
import base64, json, sys
m = json.load(open(sys.argv[1] + "/aws-nitro/vectors.json"))
print("local bodies = {")
for v in m["vectors"]:
    if v["expected"] == "valid":
        doc = open(sys.argv[1] + "/aws-nitro/" + v["file"], "rb").read()
        print("  [[" + json.dumps({"document": base64.b64encode(doc).decode(), "at": "document"}) + "]],")
print("}")
print("""local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/api/v1/verify", {["Content-Type"] = "application/json"}, bodies[i])
end""")
EOF

inproc=$(build-bench/tests/bench/bench_verify "$vectors" two | sed -n 's/.*cold \([0-9]*\) docs\/s, all caches \([0-9]*\).*/\1 \2/p')
read -r inproc_cold inproc_warm <<<"$inproc"

start() {   # start on|off
  build-bench/verifier/glassbox-verifier --db "$tmp/reg.db" --listen 127.0.0.1:0 \
    --threads 2 --cache "$1" > "$tmp/url" 2> /dev/null &
  pid=$!
  for _ in $(seq 50); do grep -q listening "$tmp/url" && break; sleep 0.1; done
  url=$(sed -n 's/.*listening on \(http[^ ]*\)/\1/p' "$tmp/url")
  # Verify answers 503 not_ready until the log watch's first audit is done.
  for _ in $(seq 300); do
    curl -s "${url}readyz" | grep -q pending || break
    sleep 0.1
  done
}

# wrk's summary: requests/s and the 50% and 99% latencies, in ms.
measure() {   # measure SECONDS
  wrk -t2 -c$conns -d"$1"s --latency -s "$tmp/verify.lua" "${url}api/v1/verify" > "$tmp/wrk"
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    END { printf "%.0f %.2f %.2f\n", rps, p50, p99 }' "$tmp/wrk"
}

echo "in-process, 2 threads: cold $inproc_cold docs/s, all caches $inproc_warm docs/s"
for mode in off on; do
  start "$mode"
  measure 3 >/dev/null                      # warm up
  read -r rps p50 p99 <<<"$(measure "$secs")"
  ref=$inproc_cold; [ "$mode" = on ] && ref=$inproc_warm
  printf 'caches %-3s %6s docs/s  p50 %6s ms  p99 %6s ms (target < 50 ms)  ratio to in-process %.3f (target 0.8)\n' \
    "$mode" "$rps" "$p50" "$p99" "$(awk -v a="$rps" -v b="$ref" 'BEGIN { print a / b }')"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done

if [ "${1:-}" = --soak ]; then
  start on
  echo "soak: 10 minutes at saturation; RSS and open fds each minute"
  wrk -t2 -c$conns -d600s -s "$tmp/verify.lua" "${url}api/v1/verify" > "$tmp/soak" &
  wrk_pid=$!
  for minute in $(seq 0 10); do
    printf 'minute %2d  RSS %6s kB  fds %s\n' "$minute" \
      "$(awk '/VmRSS/ { print $2 }' /proc/$pid/status)" "$(find /proc/$pid/fd -mindepth 1 -maxdepth 1 | wc -l)"
    [ "$minute" -lt 10 ] && sleep 60
  done
  wait "$wrk_pid" || true
  grep -E 'Requests/sec|requests in' "$tmp/soak"
fi
