#!/usr/bin/env python3
"""Abuse benchmark of the glassbox HTTP services (tracker issue 16 items 2
and 9). Not a test: it prints figures and asserts nothing about time. All
traffic goes to 127.0.0.x; every loop is bounded by a deadline or a count.

  abuse.py attack --port P --kind verifier|enclave --seconds S [options]
      The attacker, from --src (default 127.0.0.2), for at most S seconds
      (or until SIGTERM/SIGINT): --idle (500) connections that send
      nothing, --slow-head (500) that send a request head one byte every
      --every (2) seconds, --slow-body (500) that send a head announcing
      Content-Length 60000 at once and then the body one byte every 2 s,
      an oversized-body stream (--oversized-rate, 20 connections/s, each
      announcing 1 GB or an overflowing Content-Length and pushing 64 KiB
      chunks until the service closes it), and a request flood
      (--flood-rate, 2000 requests/s over --flood-conns keep-alive
      connections): POST /api/v1/challenge against the verifier, GET
      /health against the enclave (which has no challenges). A connection
      the service closes (at its deadline) is opened again, so the
      attacker keeps holding about that many (--ramp S spreads their
      first opening over S seconds, so that they do not all reach a
      deadline at the same moment). Prints "holding ..." once
      every connection has been opened, one status line every
      --status seconds on standard error, and a JSON summary at the end.

  abuse.py client --kind verifier|enclave --url URL [--enclave URL]
                  --rounds N --period S --src 127.0.0.3
      The well-behaved client: N rounds at most one every S seconds, each
      on new connections from --src. Verifier: 4 x GET /healthz, then a
      challenge -> verify round trip (POST /api/v1/challenge, the enclave's
      /attestation?nonce= (not timed: another service), POST
      /api/v1/verify with document and nonce, which must be trusted).
      Enclave: 4 x GET /health, GET /attestation?nonce=. Prints a JSON
      object: latencies in ms per request kind, and failures.

  abuse.py bench --verifier URL --enclave URL ...
      For each service: the client without attack, then while the attacker
      runs against that service, then without attack again; prints p50 and
      p99 per request kind and the p99 ratio under attack / without
      (target <= 2; the baseline is both unattacked phases together).
"""
import argparse
import asyncio
import http.client
import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
import urllib.parse

# --- the attacker ---------------------------------------------------------------

SLOW_BODY_LEN = 60000           # under the services' 64 KiB body limit
OVERSIZED_LEN = 1_000_000_000   # far over it
OVERFLOWING_LEN = "99999999999999999999999999"
CHUNK = 65536
OVERSIZED_MAX_BYTES = 4 * 1024 * 1024   # what one oversized connection may push
RECONNECT_PAUSE = 0.05          # after the service closed a held connection
CONNECT_TIMEOUT = 10.0
# Set by SIGTERM/SIGINT. Every loop checks it as well as its deadline:
# asyncio.wait_for() in Python 3.11 can swallow a task's cancellation.
STOP = [False]


def going(stop_at):
    return not STOP[0] and time.monotonic() < stop_at


class Stats:
    def __init__(self):
        self.c = {}

    def add(self, k, n=1):
        self.c[k] = self.c.get(k, 0) + n


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


async def connect(a, st):
    try:
        return await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", a.port, local_addr=(a.src, 0)),
            CONNECT_TIMEOUT)
    except (OSError, asyncio.TimeoutError):
        st.add("connect_failed")
        return None


async def held(a, kind, st, open_now, first, stop_at):
    """One slot of the attack: a connection of this kind, opened again each
    time the service closes it, until stop_at."""
    get = "/healthz" if a.kind == "verifier" else "/health"
    post = "/api/v1/verify" if a.kind == "verifier" else "/sign"
    if kind == "idle":
        head, body = b"", b""
    elif kind == "slow_head":
        head, body = b"", (f"GET {get} HTTP/1.1\r\nHost: x\r\nX-Slow: ".encode() + b"a" * 4000)
    else:
        head = (f"POST {post} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {SLOW_BODY_LEN}\r\n\r\n").encode()
        body = b"x" * SLOW_BODY_LEN
    once = True
    # Spread over --ramp seconds, the slots reach their deadlines at
    # different moments instead of all at once.
    await asyncio.sleep(a.ramp * random.random())
    while going(stop_at):
        conn = await connect(a, st)
        if conn is None:
            await asyncio.sleep(0.5)
            continue
        r, w = conn
        st.add(kind + "_opened")
        open_now[kind] += 1
        if once:
            once = False
            first.add(1)
        got = b""
        try:
            if head:
                w.write(head)
            i = 0
            while going(stop_at):
                if kind != "idle" and i < len(body):
                    w.write(body[i:i + 1])
                    i += 1
                try:
                    d = await asyncio.wait_for(r.read(4096), a.every)
                except asyncio.TimeoutError:
                    continue
                if not d:
                    break           # closed by the service
                got += d
            else:
                continue
            st.add(kind + "_closed_by_service")
            if got.startswith(b"HTTP/1.1 408") or got.startswith(b"HTTP/1.0 408"):
                st.add(kind + "_408")
        except (OSError, ConnectionError):
            st.add(kind + "_closed_by_service")
            st.add(kind + "_reset")
        finally:
            open_now[kind] -= 1
            w.close()
        await asyncio.sleep(RECONNECT_PAUSE * (1 + random.random()))


async def oversized(a, st, stop_at):
    """Bodies over the limit, pushed as fast as the service takes them;
    each connection should get a 413 from its head alone and be closed."""
    post = "/api/v1/verify" if a.kind == "verifier" else "/sign"
    n = 0
    t0 = time.monotonic()
    while going(stop_at):
        n += 1
        await asyncio.sleep(max(0.0, t0 + n / a.oversized_rate - time.monotonic()))
        conn = await connect(a, st)
        if conn is None:
            continue
        r, w = conn
        length = OVERFLOWING_LEN if n % 2 else str(OVERSIZED_LEN)
        st.add("oversized_opened")
        sent, got = 0, b""
        try:
            w.write((f"POST {post} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {length}\r\n\r\n").encode())
            while sent < OVERSIZED_MAX_BYTES and going(stop_at):
                w.write(b"[" * CHUNK)
                sent += CHUNK
                try:
                    await asyncio.wait_for(w.drain(), 1.0)
                    d = await asyncio.wait_for(r.read(4096), 0.001)
                except asyncio.TimeoutError:
                    continue
                if not d:
                    break
                got += d
        except (OSError, ConnectionError):
            pass
        finally:
            w.close()
        st.add("oversized_bytes_sent", sent)
        if b" 413 " in got[:20]:
            st.add("oversized_413")
        if sent >= OVERSIZED_MAX_BYTES:
            st.add("oversized_not_closed")


async def flood(a, st, idx, stop_at):
    """One keep-alive connection of the flood, paced to its share of
    --flood-rate; every answer read (429s counted)."""
    if a.kind == "verifier":
        req = b"POST /api/v1/challenge HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    else:
        req = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    rate = a.flood_rate / a.flood_conns
    n = 0
    t0 = time.monotonic() + idx / a.flood_rate
    conn = None
    while going(stop_at):
        n += 1
        await asyncio.sleep(max(0.0, t0 + n / rate - time.monotonic()))
        if conn is None:
            conn = await connect(a, st)
            if conn is None:
                await asyncio.sleep(0.5)
                continue
        r, w = conn
        try:
            w.write(req)
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
            status = head[9:12].decode()
            clen = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    clen = int(line.split(b":", 1)[1])
            if clen:
                await asyncio.wait_for(r.readexactly(clen), 10)
            st.add("flood_" + status)
            if b"connection: close" in head.lower():
                w.close()
                conn = None
        except (OSError, ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, ValueError):
            st.add("flood_error")
            w.close()
            conn = None
    if conn is not None:
        conn[1].close()


class Counter:
    def __init__(self):
        self.n = 0

    def add(self, k):
        self.n += k


async def attack_main(a):
    hard = raise_nofile()
    need = a.idle + a.slow_head + a.slow_body + a.flood_conns + 100
    if hard < need:
        raise SystemExit(f"abuse: the open-file limit ({hard}) is below {need}")
    t_start = time.monotonic()
    stop_at = t_start + a.seconds
    st = Stats()
    open_now = {"idle": 0, "slow_head": 0, "slow_body": 0}
    first = Counter()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stop():
        STOP[0] = True
        stopping.set()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    tasks = []
    total = a.idle + a.slow_head + a.slow_body
    # Opened in batches so that the listen backlog is not what refuses them.
    for kind, n in (("idle", a.idle), ("slow_head", a.slow_head), ("slow_body", a.slow_body)):
        for i in range(n):
            tasks.append(asyncio.create_task(held(a, kind, st, open_now, first, stop_at)))
            if i % 50 == 49:
                await asyncio.sleep(0.02)
    if a.oversized_rate > 0:
        tasks.append(asyncio.create_task(oversized(a, st, stop_at)))
    for i in range(a.flood_conns if a.flood_rate > 0 else 0):
        tasks.append(asyncio.create_task(flood(a, st, i, stop_at)))
    ready = False
    next_status = time.monotonic()
    while going(stop_at) and not stopping.is_set():
        if not ready and first.n >= total:
            ready = True
            print(f"holding {open_now['idle']} idle, {open_now['slow_head']} slow-head, "
                  f"{open_now['slow_body']} slow-body connections from {a.src} "
                  f"after {time.monotonic() - t_start:.1f} s", flush=True)
        if a.status and time.monotonic() >= next_status:
            next_status += a.status
            print(f"attack t={time.monotonic() - t_start:5.0f}s open {open_now} "
                  f"{json.dumps(st.c, sort_keys=True)}", file=sys.stderr, flush=True)
        try:
            await asyncio.wait_for(stopping.wait(), 0.2)
        except asyncio.TimeoutError:
            pass
    elapsed = time.monotonic() - t_start
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    out = dict(st.c)
    out["seconds"] = round(elapsed, 1)
    out["flood_per_s"] = round(sum(v for k, v in st.c.items() if k.startswith("flood_")) / elapsed)
    print(json.dumps(out, sort_keys=True), flush=True)


# --- the well-behaved client -----------------------------------------------------

def request(url, method, path, src, body=None, ctype=None):
    """One request on a new connection from src; returns (status, body,
    milliseconds) or (0, error, ms) on a failure."""
    u = urllib.parse.urlsplit(url)
    hdrs = {"Content-Type": ctype} if ctype else {}
    t0 = time.perf_counter()
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30, source_address=(src, 0))
    try:
        c.request(method, path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        status = r.status
    except (OSError, http.client.HTTPException) as e:
        status, data = 0, repr(e).encode()
    finally:
        c.close()
    return status, data, (time.perf_counter() - t0) * 1000


def client_run(kind, url, enclave, rounds, period, src):
    lat = {}
    fails = []

    def rec(name, st, data, ms, ok):
        if ok:
            lat.setdefault(name, []).append(ms)
        else:
            fails.append(f"{name}: {st} {data[:120]!r}")

    t_end = time.monotonic() + rounds * period * 4 + 120     # a hard bound
    for _ in range(rounds):
        t0 = time.monotonic()
        if t0 > t_end:
            fails.append("client: out of time")
            break
        if kind == "verifier":
            for _ in range(4):
                st, d, ms = request(url, "GET", "/healthz", src)
                rec("GET /healthz", st, d, ms, st == 200)
            st, d, ms_c = request(url, "POST", "/api/v1/challenge", src, b"")
            rec("POST /api/v1/challenge", st, d, ms_c, st == 200)
            if st == 200:
                nonce = json.loads(d)["nonce"]
                st, d, _ = request(enclave, "GET", "/attestation?nonce=" + nonce, src)
                if st != 200:
                    fails.append(f"enclave attestation (helper): {st}")
                else:
                    doc = json.loads(d)["document"]
                    st, d, ms_v = request(url, "POST", "/api/v1/verify", src,
                                          json.dumps({"document": doc, "nonce": nonce}).encode(),
                                          "application/json")
                    ok = st == 200 and json.loads(d).get("trusted") is True
                    rec("POST /api/v1/verify (nonce)", st, d, ms_v, ok)
                    if ok:
                        lat.setdefault("challenge + verify", []).append(ms_c + ms_v)
        else:
            for _ in range(4):
                st, d, ms = request(url, "GET", "/health", src)
                rec("GET /health", st, d, ms, st == 200)
            st, d, ms = request(url, "GET", "/attestation?nonce=" + os.urandom(32).hex(), src)
            rec("GET /attestation", st, d, ms, st == 200 and b"document" in d)
        time.sleep(max(0.0, t0 + period - time.monotonic()))
    return {"latency_ms": lat, "failures": fails}


# --- the benchmark ---------------------------------------------------------------

def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def cpu_s(pid):
    """A process's CPU time so far (user + system), in seconds; 0 if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            v = f.read().rsplit(")", 1)[1].split()
        return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def bench(a):
    me = os.path.abspath(__file__)
    pids = dict(kv.split("=") for kv in a.pids.split(",")) if a.pids else {}
    results = {}
    summary = []
    print(f"well-behaved client from {a.client_src}; attacker from {a.src} (the verifier's "
          f"per-client challenge limit counts them apart, so the flood's 429s do not touch "
          f"the client, which asks at most {1 / a.verifier_period:.1f} challenges/s)", flush=True)
    for kind, url, period in (("verifier", a.verifier, a.verifier_period),
                              ("enclave", a.enclave, a.enclave_period)):
        port = urllib.parse.urlsplit(url).port
        res = {}
        for phase in ("before", "attack", "after"):
            att = None
            if phase == "attack":
                att = subprocess.Popen(
                    [sys.executable, me, "attack", "--kind", kind, "--port", str(port),
                     "--src", a.src, "--seconds", str(a.attack_max), "--flood-rate",
                     str(a.flood_rate), "--status", "0"],
                    stdout=subprocess.PIPE, text=True)
                line = att.stdout.readline().strip()     # "holding ..." (bounded by --seconds)
                print(f"{kind}: attacker {line}", flush=True)
                time.sleep(a.settle)
            t0 = time.monotonic()
            c0 = cpu_s(pids[kind]) if kind in pids else 0.0
            a0 = cpu_s(att.pid) if att is not None else 0.0
            res[phase] = client_run(kind, url, a.enclave, a.rounds, period, a.client_src)
            took = time.monotonic() - t0
            cpu = ""
            if kind in pids:
                cpu = f", {kind} CPU {100 * (cpu_s(pids[kind]) - c0) / took:.0f}%"
            if att is not None:
                cpu += f", attacker CPU {100 * (cpu_s(att.pid) - a0) / took:.0f}%"
            if att is not None:
                att.send_signal(signal.SIGTERM)
                try:
                    out, _ = att.communicate(timeout=60)
                except subprocess.TimeoutExpired:
                    att.kill()
                    out, _ = att.communicate()
                tail = out.strip().splitlines()
                res["attacker"] = json.loads(tail[-1]) if tail else {}
                print(f"{kind}: attacker summary {json.dumps(res['attacker'], sort_keys=True)}",
                      flush=True)
            n = sum(len(v) for v in res[phase]["latency_ms"].values())
            print(f"{kind}: {phase:6s} {n} timed requests in {took:.0f} s, "
                  f"{len(res[phase]['failures'])} failures{cpu} "
                  f"{res[phase]['failures'][:3] if res[phase]['failures'] else ''}", flush=True)
        results[kind] = res
        print(f"\n{kind}: p50 / p99 in ms (baseline = before + after, "
              f"{a.rounds} rounds each; attack = {a.rounds} rounds)")
        for name in res["before"]["latency_ms"]:
            base = res["before"]["latency_ms"].get(name, []) + res["after"]["latency_ms"].get(name, [])
            att = res["attack"]["latency_ms"].get(name, [])
            r = pct(att, 99) / pct(base, 99)
            print(f"  {name:28s} before {pct(res['before']['latency_ms'][name], 50):7.2f} / "
                  f"{pct(res['before']['latency_ms'][name], 99):7.2f}   "
                  f"after {pct(res['after']['latency_ms'].get(name, []), 50):7.2f} / "
                  f"{pct(res['after']['latency_ms'].get(name, []), 99):7.2f}   "
                  f"attack {pct(att, 50):7.2f} / {pct(att, 99):7.2f}   "
                  f"p99 ratio {r:5.2f} ({len(att)} under attack)")
            summary.append((kind, name, r))
        fails = res["attack"]["failures"]
        print(f"  well-behaved requests failed under attack: {len(fails)}"
              + (f" {fails[:5]}" if fails else ""))
        print()
    worst = {}
    for kind, name, r in summary:
        worst[kind] = max(worst.get(kind, 0), r)
    for kind, r in worst.items():
        fails = len(results[kind]["attack"]["failures"])
        ok = r <= 2 and fails == 0
        print(f"ratio p99 under attack / without, {kind:8s} (worst request kind) {r:5.2f}  "
              f"(target <= 2, no failures)  {'meets' if ok else 'NOT MET'}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    at = sub.add_parser("attack")
    at.add_argument("--kind", choices=("verifier", "enclave"), required=True)
    at.add_argument("--port", type=int, required=True)
    at.add_argument("--src", default="127.0.0.2")
    at.add_argument("--seconds", type=float, default=60)
    at.add_argument("--idle", type=int, default=500)
    at.add_argument("--slow-head", type=int, default=500)
    at.add_argument("--slow-body", type=int, default=500)
    at.add_argument("--every", type=float, default=2.0)
    at.add_argument("--oversized-rate", type=float, default=20)
    at.add_argument("--flood-rate", type=float, default=2000)
    at.add_argument("--flood-conns", type=int, default=4)
    at.add_argument("--status", type=float, default=60)
    at.add_argument("--ramp", type=float, default=0,
                    help="open the held connections over this many seconds (default 0: at once)")
    cl = sub.add_parser("client")
    cl.add_argument("--kind", choices=("verifier", "enclave"), required=True)
    cl.add_argument("--url", required=True)
    cl.add_argument("--enclave")
    cl.add_argument("--rounds", type=int, default=100)
    cl.add_argument("--period", type=float, default=0.15)
    cl.add_argument("--src", default="127.0.0.3")
    be = sub.add_parser("bench")
    be.add_argument("--verifier", required=True)
    be.add_argument("--enclave", required=True)
    be.add_argument("--rounds", type=int, default=150)
    be.add_argument("--verifier-period", type=float, default=0.15)
    be.add_argument("--enclave-period", type=float, default=0.05)
    be.add_argument("--src", default="127.0.0.2")
    be.add_argument("--client-src", default="127.0.0.3")
    be.add_argument("--flood-rate", type=float, default=2000)
    be.add_argument("--settle", type=float, default=3.0)
    be.add_argument("--attack-max", type=float, default=300)
    be.add_argument("--pids", help="verifier=PID,enclave=PID: print their CPU use per phase")
    be.add_argument("--json")
    a = p.parse_args()
    if a.cmd == "attack":
        asyncio.run(attack_main(a))
    elif a.cmd == "client":
        print(json.dumps(client_run(a.kind, a.url, a.enclave, a.rounds, a.period, a.src)))
    else:
        bench(a)


if __name__ == "__main__":
    main()
