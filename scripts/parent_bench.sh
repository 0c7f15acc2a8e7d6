#!/usr/bin/env bash
# Benchmark of glassbox-parent against socat (not a test), on 127.0.0.1, in
# the same run: bulk throughput (socat -u pushing GB_BULK_MIB MiB into a
# sink, through each relay) and connections per second (a bounded loop of
# connect, one byte echoed, close, through each relay). Target: >= 0.9 x
# socat on both.
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${GB_BULK_MIB:-4096}
secs=${GB_CPS_SECONDS:-5}
scripts/setup.sh
if ! command -v socat >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y -qq --no-install-recommends socat >/dev/null
fi
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DGB_BENCH=ON -DGB_WERROR=ON >/dev/null
cmake --build build-bench -j"$(nproc)" --target glassbox-parent >/dev/null

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Targets: a sink for bulk, an echo server for connections.
sink=$(free_port); echo_port=$(free_port)
socat -u -b 1048576 TCP-LISTEN:"$sink",reuseaddr,fork OPEN:/dev/null & pids+=($!)
python3 - "$echo_port" <<'EOF' & pids+=($!)
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1024)
def one(c):
    d = c.recv(1)
    if d: c.sendall(d)
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=one, args=(c,), daemon=True).start()
EOF

# The relays under test: socat and glassbox-parent, each in front of both.
sb=$(free_port); se=$(free_port)
socat -b 65536 TCP-LISTEN:"$sb",reuseaddr,fork TCP:127.0.0.1:"$sink" & pids+=($!)
socat TCP-LISTEN:"$se",reuseaddr,fork,backlog=1024 TCP:127.0.0.1:"$echo_port" & pids+=($!)
build-bench/parent/glassbox-parent --health 127.0.0.1:0 --describe-cmd true --max-conns 4096 \
  --forward tcp:127.0.0.1:0=tcp:127.0.0.1:"$sink" --forward tcp:127.0.0.1:0=tcp:127.0.0.1:"$echo_port" \
  > "$tmp/parent" 2>/dev/null & pids+=($!)
sleep 1
gb=$(sed -n 's/forwarding tcp:127.0.0.1:\([0-9]*\) .*/\1/p' "$tmp/parent" | head -1)
ge=$(sed -n 's/forwarding tcp:127.0.0.1:\([0-9]*\) .*/\1/p' "$tmp/parent" | tail -1)

bulk() {   # bulk PORT: MiB/s
  local t0 t1
  t0=$(date +%s.%N)
  socat -u -b 1048576 FILE:/dev/zero,readbytes=$((mib << 20)) TCP:127.0.0.1:"$1"
  t1=$(date +%s.%N)
  awk -v m="$mib" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", m / (b - a) }'
}
cps() {    # cps PORT: connections/s, each echoing one byte
  python3 - "$1" "$secs" <<'EOF'
import socket, sys, time, threading
port, secs = int(sys.argv[1]), float(sys.argv[2])
count = [0] * 4
def run(i):
    end = time.time() + secs
    while time.time() < end:
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(b"x")
        if c.recv(1) == b"x":
            count[i] += 1
        c.close()
ts = [threading.Thread(target=run, args=(i,)) for i in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print(round(sum(count) / secs))
EOF
}

b_socat=$(bulk "$sb"); b_parent=$(bulk "$gb")
c_socat=$(cps "$se"); c_parent=$(cps "$ge")
printf 'bulk, %d MiB:       socat %6s MiB/s   glassbox-parent %6s MiB/s   ratio %.2f (target >= 0.9)\n' \
  "$mib" "$b_socat" "$b_parent" "$(awk -v a="$b_parent" -v b="$b_socat" 'BEGIN { print a / b }')"
printf 'connections, %ss:   socat %6s /s      glassbox-parent %6s /s      ratio %.2f (target >= 0.9)\n' \
  "$secs" "$c_socat" "$c_parent" "$(awk -v a="$c_parent" -v b="$c_socat" 'BEGIN { print a / b }')"
