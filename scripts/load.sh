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
#   scripts/load.sh --abuse    # only: 10 minutes at saturation while
#                              # tests/bench/abuse.py attacks from 127.0.0.2
#                              # (500 idle, 500 slow-head, 500 slow-body
#                              # connections held, oversized bodies, a
#                              # challenge flood); RSS and open fds each
#                              # minute, and whether they stayed flat
#
#   GB_LOAD_SECONDS    seconds of each saturation figure (default 20)
#   GB_SOAK_SECONDS    length of --soak and --abuse (default 600)
#   GB_SOAK_INTERVAL   seconds between samples (default 60)
#   GB_FLOOD_RATE      --abuse: challenge flood, requests/s (default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
vectors=${GB_VECTORS:-../shared/vectors}
secs=${GB_LOAD_SECONDS:-20}
soak=${GB_SOAK_SECONDS:-600}
every=${GB_SOAK_INTERVAL:-60}
conns=8
run_mode=${1:-}
case "$run_mode" in
  ""|--soak|--abuse) ;;
  *) echo "usage: scripts/load.sh [--soak|--abuse]" >&2; exit 2 ;;
esac
scripts/setup.sh
if ! command -v wrk >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DGB_BENCH=ON -DGB_WERROR=ON >/dev/null
cmake --build build-bench -j"$(nproc)" --target glassbox glassbox-verifier bench_verify >/dev/null

tmp=$(mktemp -d)
pid=
att_pid=
cleanup() {
  [ -n "$att_pid" ] && kill "$att_pid" 2>/dev/null
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -rf "$tmp"
}
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

if [ "$run_mode" != --abuse ]; then
  inproc=$(build-bench/tests/bench/bench_verify "$vectors" two | sed -n 's/.*cold \([0-9]*\) docs\/s, all caches \([0-9]*\).*/\1 \2/p')
  read -r inproc_cold inproc_warm <<<"$inproc"
fi

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

# RSS and open descriptors of the verifier, every $every s over $soak s;
# appends "RSS FDS" lines to $tmp/samples.
sample() {   # sample LABEL
  local n i rss fds
  n=$(( soak / every ))
  : > "$tmp/samples"
  for i in $(seq 0 "$n"); do
    rss=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
    fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
    echo "$rss $fds" >> "$tmp/samples"
    printf '%s %3d s  RSS %7s kB  fds %5s\n' "$1" $(( i * every )) "$rss" "$fds"
    [ "$i" -lt "$n" ] && sleep "$every"
  done
  return 0
}

# Whether the samples stayed flat: the spread (max - min) from the second
# sample to the one before the last (the first is before load, the last as
# the load ends), against a tolerance: RSS within 5 %, fds within 5 % (held
# connections are reopened as the deadlines close them, so their count
# moves a little at any instant).
flat() {
  awk '{ rss[NR] = $1; fds[NR] = $2 }
    END {
      lo = 2; hi = NR - 1; if (hi < lo) hi = lo
      for (i = lo; i <= hi; i++) {
        if (i == lo || rss[i] < rmin) rmin = rss[i]; if (i == lo || rss[i] > rmax) rmax = rss[i]
        if (i == lo || fds[i] < fmin) fmin = fds[i]; if (i == lo || fds[i] > fmax) fmax = fds[i]
      }
      printf "RSS from sample 1 to %d: min %d kB max %d kB, spread %d kB (%.1f%%): %s\n", hi - 1, rmin, rmax,
        rmax - rmin, 100 * (rmax - rmin) / rmin, ((rmax - rmin) <= 0.05 * rmin) ? "flat" : "NOT flat"
      printf "fds from sample 1 to %d: min %d max %d, spread %d (%.1f%%): %s\n", hi - 1, fmin, fmax,
        fmax - fmin, 100 * (fmax - fmin) / fmin, ((fmax - fmin) <= 0.05 * fmin) ? "flat" : "NOT flat"
      printf "last sample against sample 1: RSS %+d kB, fds %+d\n", rss[hi] - rss[lo], fds[hi] - fds[lo]
      mid = int((lo + hi) / 2)
      printf "second half (sample %d to %d): RSS %+d kB (%.1f%%), fds %+d\n", mid - 1, hi - 1,
        rss[hi] - rss[mid], 100 * (rss[hi] - rss[mid]) / rss[mid], fds[hi] - fds[mid]
    }' "$tmp/samples"
}

if [ "$run_mode" = --abuse ]; then
  # The attacker and the verifier hold about 1600 descriptors each.
  ulimit -n "$(ulimit -Hn)"
  start on
  : > "$tmp/attack"
  echo "abuse: $soak s at saturation (wrk, $conns connections, 127.0.0.1) while tests/bench/abuse.py"
  echo "attacks from 127.0.0.2: 500 idle, 500 slow-head, 500 slow-body connections held (reopened"
  echo "at the deadlines; first opened over 30 s so that they do not all close at once), oversized bodies (20 connections/s), ${GB_FLOOD_RATE:-2000} challenges/s"
  python3 tests/bench/abuse.py attack --kind verifier --port "$(echo "$url" | sed 's/.*:\([0-9]*\)\/$/\1/')" \
    --seconds "$(( soak + 60 ))" --ramp 30 --flood-rate "${GB_FLOOD_RATE:-2000}" --status "$every" \
    > "$tmp/attack" 2> "$tmp/attack.status" &
  att_pid=$!
  # Held connections opened over 30 s (spread over the deadlines), then
  # the saturation load.
  for _ in $(seq 600); do grep -q holding "$tmp/attack" && break; sleep 0.1; done
  sed -n 1p "$tmp/attack"
  wrk -t2 -c$conns -d"$soak"s --latency -s "$tmp/verify.lua" "${url}api/v1/verify" > "$tmp/soak" &
  wrk_pid=$!
  sample abuse
  wait "$wrk_pid" || true
  kill -TERM "$att_pid" 2>/dev/null || true
  wait "$att_pid" || true
  att_pid=
  flat
  grep -E 'requests in|Requests/sec|Non-2xx|Socket errors|^ +(50|99)%' "$tmp/soak" || true
  echo "attacker, every $every s (connections open now; cumulative counts):"
  cat "$tmp/attack.status"
  echo "attacker summary: $(tail -1 "$tmp/attack")"
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "the verifier died" >&2
    exit 1
  fi
  echo "the verifier is alive"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  exit 0
fi

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

if [ "$run_mode" = --soak ]; then
  start on
  echo "soak: $soak s at saturation; RSS and open fds every $every s"
  wrk -t2 -c$conns -d"$soak"s -s "$tmp/verify.lua" "${url}api/v1/verify" > "$tmp/soak" &
  wrk_pid=$!
  sample soak
  wait "$wrk_pid" || true
  flat
  grep -E 'Requests/sec|requests in' "$tmp/soak"
fi
