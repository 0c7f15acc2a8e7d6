#!/usr/bin/env python3
"""Abuse of every HTTP service on its defaults (issue 16): the verifier,
the enclave (simulated NSM) and the parent's health port, all at once.

Against each: idle connections, slow header senders (a byte every 2 s),
slow body senders (a head announcing a body, then a byte every 2 s), the
1000-deep JSON body that once crashed the verifier, oversized and
overflowing Content-Length (413 before the body is sent), duplicate
Content-Length (400), HEAD (no body), OPTIONS (405, no CORS), exact asset
names. Meanwhile a well-behaved client's requests (a challenge -> verify
round trip, /health, /attestation, ...) must all succeed; afterwards every
attacking connection has been closed by the service, the services live,
and their metrics (valid Prometheus text) count the deadline closes.

Functional checks only: every wait is bounded, nothing is timed.

usage: test_abuse.py GLASSBOX VERIFIER ENCLAVE PARENT MINTDOC
"""
import base64
import json
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish  # noqa: E402

GB, VERIFIER, ENCLAVE, PARENT, MINTDOC = sys.argv[1:6]
TMP = tempfile.mkdtemp(prefix="glassbox-abuse-")
os.environ["GNUPGHOME"] = os.path.join(TMP, "gnupg")
os.mkdir(os.environ["GNUPGHOME"], 0o700)
DB = os.path.join(TMP, "reg.db")
PROMCHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "promcheck.py")

N_IDLE = N_SLOW_HEAD = N_SLOW_BODY = 500     # per service
BYTE_EVERY = 2.0                             # seconds between a slow sender's bytes
ATTACK_MAX = 55.0                            # the longest the attack may last
SECURITY = ("content-security-policy", "x-content-type-options", "x-frame-options",
            "referrer-policy")

# Three services x 1500 connections, and their own descriptors.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
if hard < 3 * (N_IDLE + N_SLOW_HEAD + N_SLOW_BODY) + 200:
    raise SystemExit(f"the open-file limit ({hard}) is too low for this test")

procs = []


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=30)
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], capture_output=True, timeout=30)
    shutil.rmtree(TMP, ignore_errors=True)


def watchdog():
    """The whole test is bounded: a service that hangs fails it, and every
    process it started is killed."""
    print(f"FAIL watchdog: the test did not finish in {TEST_MAX} s; well-behaved requests "
          f"that failed so far: {failures[:10]}", flush=True)
    for p in procs:
        if p.poll() is None:
            p.kill()
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], capture_output=True, timeout=30)
    shutil.rmtree(TMP, ignore_errors=True)
    os._exit(1)


TEST_MAX = 240
timer = threading.Timer(TEST_MAX, watchdog)
timer.daemon = True
timer.start()


def run(*args, input=None):
    return subprocess.run(args, input=input, capture_output=True, check=False, timeout=120)


def gpg(*args):
    r = run("gpg", "--batch", "--yes", *args)
    if r.returncode != 0:
        raise SystemExit(f"gpg {args}: {r.stderr.decode()}")
    return r.stdout


def start(args, pattern, lines=1):
    """Starts a service; returns (process, the regex match on its output)."""
    log = open(os.path.join(TMP, os.path.basename(args[0]) + ".log"), "w+")
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
    procs.append(p)
    p.log = log
    seen = []
    for _ in range(lines + 2):
        line = p.stdout.readline()
        seen.append(line)
        m = re.search(pattern, line)
        if m:
            return p, m
    raise SystemExit(f"{args[0]} did not start: {seen}")


failures = []       # the well-behaved client's, filled during the attack

# --- the services, on their defaults -------------------------------------------
gpg("--passphrase", "", "--quick-gen-key", "Test <rm@example.com>", "ed25519", "sign", "1y")
with open(os.path.join(TMP, "rm.asc"), "wb") as f:
    f.write(gpg("--armor", "--export", "rm@example.com"))
assert run(GB, "registry", "--db", DB, "init", "--origin", "abuse.glassbox/log").returncode == 0
assert run(GB, "registry", "--db", DB, "key", "add", os.path.join(TMP, "rm.asc")).returncode == 0
GOOD = {"0": "a1" * 48, "1": "b2" * 48, "2": "c3" * 48}
rel = os.path.join(TMP, "rel.json")
with open(rel, "w") as f:
    json.dump({"version": "1", "pcrs": GOOD,
               "docker_image": {"name": "app", "tag": "x", "digest": "sha256:0"}}, f)
gpg("--armor", "--local-user", "rm@example.com", "--detach-sign", rel)
assert run(GB, "registry", "--db", DB, "publish", rel, rel + ".asc").returncode == 0

mint = subprocess.Popen([MINTDOC], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
procs.append(mint)
with open(os.path.join(TMP, "sim-root.der"), "wb") as f:
    f.write(base64.b64decode(mint.stdout.readline()))


def minted(**req):
    mint.stdin.write(json.dumps(req) + "\n")
    mint.stdin.flush()
    return base64.b64decode(mint.stdout.readline().strip())


verifier, m = start([VERIFIER, "--db", DB, "--listen", "127.0.0.1:0", "--root",
                     os.path.join(TMP, "sim-root.der")], r"http://127\.0\.0\.1:(\d+)/")
V_PORT = int(m.group(1))
# Verify answers 503 not_ready until the log watch's first audit is done.
for _ in range(600):                    # bounded: 30 s
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{V_PORT}/readyz", timeout=10):
            break
    except urllib.error.HTTPError as e:
        if b"pending" not in e.read():
            break
    time.sleep(0.05)
enclave, m = start([ENCLAVE, "--nsm", "sim", "--state", os.path.join(TMP, "nsm"),
                    "--listen", "tcp:127.0.0.1:0"], r"listening on tcp:127\.0\.0\.1:(\d+)", 2)
E_PORT = int(m.group(1))
describe = os.path.join(TMP, "describe.sh")
with open(describe, "w") as f:
    f.write("#!/bin/sh\necho '[{\"EnclaveName\":\"app\",\"EnclaveCID\":16,"
            "\"State\":\"RUNNING\",\"Flags\":\"NONE\"}]'\n")
os.chmod(describe, 0o755)
parent, m = start([PARENT, "--forward", f"tcp:127.0.0.1:0=tcp:127.0.0.1:{E_PORT}",
                   "--health", "127.0.0.1:0", "--describe-cmd", describe],
                  r"health on http://127\.0\.0\.1:(\d+)/health", 2)
P_PORT = int(m.group(1))

SERVICES = {
    # name: (port, a GET path, a POST path, a body length the service accepts)
    "verifier": (V_PORT, "/healthz", "/api/v1/verify", 60000),
    "enclave": (E_PORT, "/health", "/sign", 60000),
    "parent": (P_PORT, "/health", "/health", 1000),     # its limit is 1024 bytes
}


# --- raw HTTP ----------------------------------------------------------------
def raw(port, data, timeout=10):
    """Sends data, reads to the end of the connection (bounded by timeout);
    returns (status, headers, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b""
    try:
        s.sendall(data)
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except OSError:
        pass
    s.close()
    return parse(out)


def parse(out):
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split()
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


def http(method, port, path, body=None, ctype="application/json"):
    r = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method,
                               headers={"Content-Type": ctype} if body is not None else {})
    try:
        with urllib.request.urlopen(r, timeout=15) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError as e:                    # refused, reset, timed out
        return 0, repr(e).encode()


def metrics(port):
    st, text = http("GET", port, "/metrics")
    return text.decode() if st == 200 else ""


def metric(text, name, labels=""):
    m = re.search(rf"^{re.escape(name + labels)} (\d+)$", text, re.M)
    return int(m.group(1)) if m else -1


# --- the attack ----------------------------------------------------------------
class Attacker:
    """Every attacking connection, driven by one thread: slow senders get a
    byte every BYTE_EVERY seconds; a connection the service closes (end of
    input or reset) is recorded with what it received."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.conns = {}         # fd -> dict(kind, service, sock, todo, got, closed)
        self.stop = False

    def open(self, service, port, kind, todo):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            return None
        s.setblocking(False)
        c = {"kind": kind, "service": service, "sock": s, "todo": todo, "got": b"",
             "closed": False}
        self.conns[s.fileno()] = c
        self.sel.register(s, selectors.EVENT_READ, c)
        return c

    def close_one(self, c):
        c["closed"] = True
        self.sel.unregister(c["sock"])
        c["sock"].close()

    def run(self, until):
        next_byte = time.time()
        while not self.stop and time.time() < until:
            now = time.time()
            if now >= next_byte:
                next_byte = now + BYTE_EVERY
                for c in list(self.conns.values()):
                    if c["closed"] or not c["todo"]:
                        continue
                    try:
                        c["sock"].send(c["todo"][:1])
                        c["todo"] = c["todo"][1:]
                    except BlockingIOError:
                        pass
                    except OSError:
                        self.close_one(c)
            for key, _ in self.sel.select(timeout=0.2):
                c = key.data
                try:
                    d = c["sock"].recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    d = b""
                if d:
                    c["got"] += d
                else:
                    self.close_one(c)
            if all(c["closed"] for c in self.conns.values()):
                break

    def left(self, service=None):
        return [c for c in self.conns.values() if not c["closed"]
                and (service is None or c["service"] == service)]

    def close_all(self):
        for c in self.left():
            self.close_one(c)


att = Attacker()
opened = {}
for name, (port, get, post, blen) in SERVICES.items():
    n = {"idle": 0, "slow_head": 0, "slow_body": 0}
    for _ in range(N_IDLE):
        n["idle"] += att.open(name, port, "idle", b"") is not None
    for _ in range(N_SLOW_HEAD):
        n["slow_head"] += att.open(name, port, "slow_head", f"GET {get} HTTP/1.1\r\nHost: x\r\n"
                                   "X-Slow: ".encode() + b"a" * 200) is not None
    for _ in range(N_SLOW_BODY):
        head = (f"POST {post} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {blen}\r\n\r\n").encode()
        c = att.open(name, port, "slow_body", b"x" * blen)
        if c is not None:
            n["slow_body"] += 1
            c["sock"].setblocking(True)
            c["sock"].sendall(head)         # the head at once, then the body a byte at a time
            c["sock"].setblocking(False)
    opened[name] = n
    check(f"{name}: attack connections opened",
          n == {"idle": N_IDLE, "slow_head": N_SLOW_HEAD, "slow_body": N_SLOW_BODY}, n)

t_attack = time.time()
attack = threading.Thread(target=att.run, args=(t_attack + ATTACK_MAX,))
attack.start()

# --- the well-behaved client, while the attack goes on --------------------------
rounds = 0


def good(name, cond, detail=""):
    if not cond:
        failures.append(f"{name}: {detail}")


while attack.is_alive() and time.time() < t_attack + ATTACK_MAX:
    rounds += 1
    st, out = http("GET", V_PORT, "/healthz")
    good("verifier healthz", st == 200, st)
    st, out = http("POST", V_PORT, "/api/v1/challenge")
    nonce = json.loads(out)["nonce"] if st == 200 else None
    good("verifier challenge", nonce is not None, (st, out[:200]))
    if nonce:
        doc = base64.b64encode(minted(pcrs=GOOD, nonce=nonce)).decode()
        st, out = http("POST", V_PORT, "/api/v1/verify",
                       json.dumps({"document": doc, "nonce": nonce}).encode())
        v = json.loads(out) if st == 200 else {}
        good("verifier challenge -> verify", st == 200 and v.get("trusted") is True,
             (st, v.get("reason")))
    st, out = http("GET", E_PORT, "/health")
    good("enclave health", st == 200 and json.loads(out)["status"] == "ok", st)
    st, out = http("GET", E_PORT, "/attestation?nonce=" + os.urandom(16).hex())
    good("enclave attestation", st == 200 and "document" in json.loads(out), st)
    st, out = http("GET", P_PORT, "/health")
    good("parent health", st == 200, (st, out[:200]))
    time.sleep(0.5)

attack.join(timeout=ATTACK_MAX + 10)
att.stop = True
check("well-behaved requests during the attack all succeed", not failures and rounds >= 3,
      (rounds, failures[:10]))
for name in SERVICES:
    left = att.left(name)
    check(f"{name}: every attacking connection was closed by the service", not left,
          (len(left), {k: sum(1 for c in left if c["kind"] == k)
                       for k in ("idle", "slow_head", "slow_body")}))
# A slow body past its deadline hears why (408) before the connection
# closes; the verifier's carries its security headers.
for name in SERVICES:
    got = [parse(c["got"]) for c in att.conns.values()
           if c["service"] == name and c["kind"] == "slow_body" and c["got"]]
    check(f"{name}: slow bodies get 408", got and all(g[0] == 408 for g in got),
          [g[0] for g in got[:5]])
    if name == "verifier" and got:
        check("verifier: the 408 has the security headers",
              all(h in got[0][1] for h in SECURITY), got[0][1])
att.close_all()

# Metrics: valid, and counting the closes.
for name, (port, *_rest) in SERVICES.items():
    text = metrics(port)
    r = subprocess.run(["/usr/bin/python3", PROMCHECK], input=text, capture_output=True,
                       text=True, timeout=60)
    check(f"{name}: metrics parse", r.returncode == 0, r.stdout[-800:])
    prefix = {"verifier": "glassbox", "enclave": "glassbox_enclave",
              "parent": "glassbox_parent_health"}[name]
    head = metric(text, f"{prefix}_http_deadline_closed_total", '{phase="head"}')
    body = metric(text, f"{prefix}_http_deadline_closed_total", '{phase="body"}')
    n = opened[name]
    check(f"{name}: metrics count the deadline closes",
          head >= n["idle"] + n["slow_head"] and body >= n["slow_body"], (head, body, n))
    check(f"{name}: open connections metric", metric(text, f"{prefix}_http_connections_open") >= 1,
          text[:300])

# --- strict HTTP, on each service --------------------------------------------------
deep = b"[" * 1000 + b"]" * 1000
st, _ = http("POST", V_PORT, "/api/v1/verify", deep)
check("verifier: 1000-deep JSON is a 400", st == 400, st)
st, _ = http("POST", E_PORT, "/sign", deep)
check("enclave: 1000-deep JSON is a 400", st == 400, st)

for name, (port, get, post, blen) in SERVICES.items():
    big = blen * 100 if name != "parent" else 2000
    # Refused from the head alone: the answer comes before any of the body.
    st, hd, _ = raw(port, f"POST {post} HTTP/1.1\r\nHost: x\r\nContent-Length: {big}\r\n\r\n".encode())
    check(f"{name}: oversized Content-Length 413 before the body", st == 413 and
          hd.get("connection") == "close", (st, hd))
    if name == "verifier":
        check("verifier: our 413 has the security headers", all(h in hd for h in SECURITY), hd)
    st, hd, _ = raw(port, f"POST {post} HTTP/1.1\r\nHost: x\r\n"
                    "Content-Length: 99999999999999999999999999\r\n\r\n".encode())
    check(f"{name}: overflowing Content-Length 413 before the body", st == 413, (st, hd))
    for lens in ((5, 6), (5, 5)):
        st, hd, _ = raw(port, f"POST {post} HTTP/1.1\r\nHost: x\r\nContent-Length: {lens[0]}\r\n"
                        f"Content-Length: {lens[1]}\r\n\r\n{{}}xxxx".encode())
        check(f"{name}: Content-Length {lens} is a 400", st == 400, (st, hd))
        if name == "verifier":
            check(f"verifier: 400 {lens} has the security headers",
                  all(h in hd for h in SECURITY), hd)
    st, hd, _ = raw(port, f"POST {post} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Content-Type: application/cbor\r\nContent-Length: 2\r\n\r\n{}".encode())
    check(f"{name}: two Content-Types are a 400", st == 400, (st, hd))
    st, hd, body = raw(port, f"HEAD {get} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    check(f"{name}: HEAD has no body", st == 200 and body == b"" and
          int(hd.get("content-length", "0")) > 0, (st, hd, body[:100]))
    st, hd, body = raw(port, f"OPTIONS {get} HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n"
                       "Access-Control-Request-Method: POST\r\n"
                       "Access-Control-Request-Headers: Authorization\r\n"
                       "Connection: close\r\n\r\n".encode())
    check(f"{name}: OPTIONS is a 405 without CORS", st == 405 and
          not any(k.startswith("access-control-") for k in hd), (st, hd))
    if name == "verifier":
        check("verifier: 405 has the security headers", all(h in hd for h in SECURITY), hd)
    st, hd, _ = raw(port, f"TRACE {get} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    check(f"{name}: TRACE is a 405", st == 405, st)

# The verifier logs the server's own refusals as request lines.
verifier.log.seek(0)
logged = [json.loads(l) for l in verifier.log.read().splitlines() if l.startswith("{")]
check("verifier: refusals before the body are logged", any(
    l.get("route") == "server" and l.get("status") == 413 and l.get("reason") == "too_large"
    and l.get("remote") == "127.0.0.1" for l in logged), logged[-3:])

# Exact asset names on the verifier's page.
for path in ("//app.js", "/app.js%00.html", "/app.js/", "/APP.JS"):
    st, hd, _ = raw(V_PORT, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    check(f"verifier: {path} is a 404", st == 404 and all(h in hd for h in SECURITY), (st, hd))
st, hd, body = raw(V_PORT, b"GET /app.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
check("verifier: /app.js itself is served", st == 200 and len(body) > 100, st)

# --- the connection caps: over them, refused at once and counted -------------------
capped, m = start([ENCLAVE, "--nsm", "sim", "--state", os.path.join(TMP, "nsm"),
                   "--listen", "tcp:127.0.0.1:0", "--max-conns", "20"],
                  r"listening on tcp:127\.0\.0\.1:(\d+)", 2)
C_PORT = int(m.group(1))
held = [socket.create_connection(("127.0.0.1", C_PORT), timeout=10) for _ in range(30)]
sel = selectors.DefaultSelector()
for s in held:
    sel.register(s, selectors.EVENT_READ)
closed = set()
until = time.time() + 3                       # refusals are at once; this bounds the wait
while time.time() < until:
    for key, _ in sel.select(timeout=0.2):
        try:
            key.fileobj.recv(1)
        except OSError:
            pass
        closed.add(key.fileobj)               # end of input or reset: closed by the service
        sel.unregister(key.fileobj)
refused = len(closed)
check("capped enclave refuses connections over --max-conns", refused >= 5, refused)
for s in held:
    s.close()
text = ""
for _ in range(100):                          # the closes reach the service
    text = metrics(C_PORT)                    # "" while still refused at the cap
    if 0 <= metric(text, "glassbox_enclave_http_connections_open") <= 1:
        break
    time.sleep(0.1)
check("capped enclave counts the refusals",
      metric(text, "glassbox_enclave_http_refused_total", '{limit="total"}') >= refused, text[-600:])
st, _ = http("GET", C_PORT, "/health")
check("capped enclave serves once the connections are gone", st == 200, st)

# --- alive, and they stop cleanly --------------------------------------------------
check("verifier alive", http("GET", V_PORT, "/healthz")[0] == 200)
check("enclave alive", http("GET", E_PORT, "/health")[0] == 200)
check("parent alive", http("GET", P_PORT, "/health")[0] == 200)
for name, p in (("verifier", verifier), ("enclave", enclave), ("parent", parent),
                ("capped enclave", capped)):
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        rc = "hung"
    check(f"{name} stops cleanly", rc == 0, rc)
mint.stdin.close()
mint.wait(timeout=30)
timer.cancel()
cleanup()
finish()
