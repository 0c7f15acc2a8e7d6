#!/usr/bin/env python3
"""End-to-end tests of challenges: stateless tokens, the used-nonce store
shared by two verifier processes, and the per-client rate limit.

Real verifier processes on 127.0.0.1 over a real registry (real gpg keys,
made here), with documents minted "now" by tests/e2e/mintdoc under a
simulated chain. The flood test sends from 127.0.0.1 and checks that a
second client, bound to source address 127.0.0.2 (Linux routes all of
127/8 on lo), still gets challenges and a trusted verdict.

usage: test_challenge.py GLASSBOX VERIFIER MINTDOC
"""
import base64
import http.client
import json
import os
import shutil
import signal
import stat
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish  # noqa: E402
import openapi_check  # noqa: E402

GB, VERIFIER, MINTDOC = sys.argv[1:4]
TMP = tempfile.mkdtemp(prefix="glassbox-chal-")
os.environ["GNUPGHOME"] = os.path.join(TMP, "gnupg")
os.mkdir(os.environ["GNUPGHOME"], 0o700)
DB = os.path.join(TMP, "reg.db")
KEY = os.path.join(TMP, "shared.challenge-key")
NONCES = os.path.join(TMP, "shared.nonces")
procs = []


def run(*args, input=None):
    return subprocess.run(args, input=input, capture_output=True, check=False)


def gpg(*args):
    r = run("gpg", "--batch", "--yes", *args)
    if r.returncode != 0:
        raise SystemExit(f"gpg {args}: {r.stderr.decode()}")
    return r.stdout


def hex96(h):
    return h * 48


# --- a registry with one release of the simulated measurements -------------
gpg("--passphrase", "", "--quick-gen-key", "Test <rm@example.com>", "ed25519", "sign", "1y")
with open(os.path.join(TMP, "rm.asc"), "wb") as f:
    f.write(gpg("--armor", "--export", "rm@example.com"))
assert run(GB, "registry", "--db", DB, "init", "--origin", "chal.glassbox/log").returncode == 0
assert run(GB, "registry", "--db", DB, "key", "add", os.path.join(TMP, "rm.asc")).returncode == 0
GOOD = {"0": hex96("a1"), "1": hex96("b2"), "2": hex96("c3")}
stmt = os.path.join(TMP, "app.json")
with open(stmt, "w") as f:
    json.dump({"version": "1.0", "pcrs": GOOD,
               "docker_image": {"name": "app", "tag": "x", "digest": "sha256:0"}}, f)
gpg("--armor", "--local-user", "rm@example.com", "--detach-sign", stmt)
r = run(GB, "registry", "--db", DB, "publish", stmt, stmt + ".asc")
assert r.returncode == 0, r.stderr

mint = subprocess.Popen([MINTDOC], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
ROOT = os.path.join(TMP, "sim-root.der")
with open(ROOT, "wb") as f:
    f.write(base64.b64decode(mint.stdout.readline()))
mint_lock = threading.Lock()


def minted(nonce):
    with mint_lock:
        mint.stdin.write(json.dumps({"pcrs": GOOD, "nonce": nonce}) + "\n")
        mint.stdin.flush()
        line = mint.stdout.readline().strip()
    assert not line.startswith("error"), line
    return base64.b64decode(line)


class Verifier:
    def __init__(self, *extra, key=KEY, nonces=NONCES):
        if "--challenge-rate" not in extra:     # only the flood test limits
            extra += ("--challenge-rate", "0")
        self.log = open(os.path.join(TMP, f"verifier-{len(procs)}.log"), "w+")
        self.proc = subprocess.Popen(
            [VERIFIER, "--db", DB, "--listen", "127.0.0.1:0", "--threads", "4",
             "--root", ROOT, "--audit-interval", "0",
             "--challenge-key", key, "--nonce-db", nonces, *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        procs.append(self.proc)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.log.seek(0)
            raise SystemExit(f"verifier did not start: {line} {self.log.read()}")
        self.port = int(line.split("listening on ")[1].strip().rstrip("/").rsplit(":", 1)[1])

    def req(self, method, path, body=None, source="127.0.0.1", headers=None):
        """(status, headers, parsed JSON body) from a client bound to source."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                       source_address=(source, 0))
        data = json.dumps(body).encode() if body is not None else None
        h = {"Content-Type": "application/json"} if data else {}
        h.update(headers or {})
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        c.close()
        openapi_check.observe(method, path, r.status, r.headers, raw)
        return r.status, r.headers, json.loads(raw) if raw else None

    def challenge(self, source="127.0.0.1"):
        st, _, out = self.req("POST", "/api/v1/challenge", source=source)
        assert st == 200, (st, out)
        return out

    def verify(self, nonce, doc=None, source="127.0.0.1"):
        doc = doc if doc is not None else minted(nonce)
        return self.req("POST", "/api/v1/verify", {
            "document": base64.b64encode(doc).decode(), "nonce": nonce}, source=source)[2]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


a = Verifier()
b = Verifier()

# --- tokens ----------------------------------------------------------------
ch = a.challenge()
n = ch["nonce"]
check("nonce is 80 hex digits", len(n) == 80 and int(n, 16) >= 0, n)
check("expires is about now + ttl", abs(ch["expires"] - (time.time() * 1000 + 300000)) < 60000, ch)
check("key file made, mode 0600",
      stat.S_IMODE(os.stat(KEY).st_mode) == 0o600 and len(open(KEY).read().strip()) == 64)
check("nonce store made", os.path.exists(NONCES))
out = a.verify(n)
check("round trip", out["trusted"] and out["reason"] == "ok", out["reason"])
check("reuse refused", a.verify(n)["reason"] == "nonce_unknown")
two = {a.challenge()["nonce"] for _ in range(10)}
check("challenges differ", len(two) == 10)

# Altered tokens: each part (random, expiry, MAC) changed in one bit; and
# a longer life claimed by rewriting the expiry.
fresh = a.challenge()["nonce"]
for name, pos in (("random", 0), ("expiry", 32 + 15), ("mac", 79)):
    flipped = fresh[:pos] + format(int(fresh[pos], 16) ^ 1, "x") + fresh[pos + 1:]
    out = a.verify(flipped)
    check(f"altered {name} refused", out["reason"] == "nonce_unknown", out["reason"])
later = int(fresh[32:48], 16) + 3600 * 1000
out = a.verify(fresh[:32] + format(later, "016x") + fresh[48:])
check("extended expiry refused", out["reason"] == "nonce_unknown", out["reason"])
check("forged token refused", a.verify(os.urandom(40).hex())["reason"] == "nonce_unknown")
check("old 32-byte nonce refused", a.verify(os.urandom(32).hex())["reason"] == "nonce_unknown")
check("untouched token still good", a.verify(fresh)["trusted"])

# Two processes sharing the key and the store.
n = a.challenge()["nonce"]
check("A's challenge accepted by B", b.verify(n)["trusted"])
check("B's use refused at A", a.verify(n)["reason"] == "nonce_unknown")
n = b.challenge()["nonce"]
check("B's challenge accepted by A", a.verify(n)["trusted"])
check("A's use refused at B", b.verify(n)["reason"] == "nonce_unknown")

# The same nonce sent to both at once: exactly one verdict trusts it.
races = []
for _ in range(8):
    n = a.challenge()["nonce"]
    doc = minted(n)
    got = []
    ts = [threading.Thread(target=lambda v=v: got.append(v.verify(n, doc)["reason"]))
          for v in (a, b, a, b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    races.append(sorted(got))
check("concurrent reuse: exactly one ok",
      all(g == ["nonce_unknown"] * 3 + ["ok"] for g in races), races)

# Another key: A's challenges mean nothing there.
other = Verifier(key=os.path.join(TMP, "other.key"), nonces=os.path.join(TMP, "other.nonces"))
check("another key refuses A's challenge", other.verify(a.challenge()["nonce"])["reason"] == "nonce_unknown")
check("another key makes its own", other.verify(other.challenge()["nonce"])["trusted"])

# Stateless: a challenge outlives the process that issued it.
pending = a.challenge()["nonce"]
check("A stops", a.stop() == 0)
a = Verifier()
check("challenge survives a restart", a.verify(pending)["trusted"])
check("use survives a restart", a.verify(pending)["reason"] == "nonce_unknown")

# Expiry: a 1 s lifetime.
short = Verifier("--nonce-ttl", "1")
n = short.challenge()["nonce"]
doc = minted(n)
time.sleep(1.5)
check("expired refused", short.verify(n, doc)["reason"] == "nonce_unknown")

# A key file others can read stops the start; so does a malformed one.
loose = os.path.join(TMP, "loose.key")
with open(loose, "w") as f:
    f.write("00" * 32 + "\n")
os.chmod(loose, 0o644)
r = subprocess.run([VERIFIER, "--db", DB, "--listen", "127.0.0.1:0", "--challenge-key", loose],
                   capture_output=True, text=True, timeout=30)
check("key open to others refused", r.returncode == 2 and "chmod 600" in r.stderr, r.stderr)
os.chmod(loose, 0o600)
with open(loose, "w") as f:
    f.write("not hex\n")
r = subprocess.run([VERIFIER, "--db", DB, "--listen", "127.0.0.1:0", "--challenge-key", loose],
                   capture_output=True, text=True, timeout=30)
check("malformed key refused", r.returncode == 2 and "hex digits" in r.stderr, r.stderr)
r = subprocess.run([VERIFIER, "--db", DB, "--challenge-burst", "0"],
                   capture_output=True, text=True, timeout=30)
check("bad burst refused", r.returncode == 2, r.stderr)

# --- the rate limit ----------------------------------------------------------
f = Verifier("--challenge-rate", "1", "--challenge-burst", "3")
codes, limited = [], None
for _ in range(200):                    # bounded: stops at the first 429
    st, hdrs, out = f.req("POST", "/api/v1/challenge")
    codes.append(st)
    if st == 429:
        limited = (hdrs, out)
        break
check("flood gets 429", limited is not None and codes.count(200) >= 3, codes)
if limited:
    hdrs, out = limited
    ra = hdrs.get("Retry-After", "")
    check("429 has Retry-After seconds", ra.isdigit() and int(ra) >= 1, ra)
    check("429 is a problem", hdrs.get("Content-Type") == "application/problem+json"
          and out["reason"] == "rate_limited" and out["status"] == 429, out)
    check("429 has the security headers", hdrs.get("X-Content-Type-Options") == "nosniff")
st, _, _ = f.req("POST", "/api/v1/challenge")
check("flooder still limited", st == 429, st)
st, _, ch = f.req("POST", "/api/v1/challenge", source="127.0.0.2")
check("another client gets a challenge", st == 200, (st, ch))
if st == 200:
    out = f.verify(ch["nonce"], source="127.0.0.2")
    check("another client's round trip", out["trusted"], out["reason"])
    out = f.verify(f.challenge(source="127.0.0.3")["nonce"])
    check("verify from the flooding address works", out["trusted"], out["reason"])
st, _, out = f.req("POST", "/api/v1/challenge?nonce=00", source="127.0.0.3")
check("a challenge takes no query", st == 400 and out["reason"] == "unknown_field", (st, out))
st, _, out = f.req("POST", "/api/v1/challenge", {"nonce": "00"}, source="127.0.0.3")
check("a challenge takes no body", st == 400 and out["reason"] == "bad_request", (st, out))
st, _, _ = f.req("GET", "/api/v1/challenge")
check("GET challenge 405", st == 405)
with open(f.log.name) as lf:
    check("429s logged", '"reason":"rate_limited"' in lf.read())

# Behind a trusted proxy (127.0.0.1 here), the client is the last address
# of X-Forwarded-For; from anyone else the header is ignored.
px = Verifier("--challenge-rate", "1", "--challenge-burst", "2")      # trusts loopback by default


def via_proxy(xff, source="127.0.0.1"):
    return px.req("POST", "/api/v1/challenge", source=source, headers={"X-Forwarded-For": xff})[0]


codes = [via_proxy("203.0.113.9") for _ in range(10)]
check("proxied flood limited", 429 in codes, codes)
check("another proxied client served", via_proxy("198.51.100.7") == 200)
check("the last X-Forwarded-For entry counts", via_proxy("10.0.0.1, 198.51.100.8, 203.0.113.9") == 429
      and via_proxy("10.0.0.2, 203.0.113.9, 198.51.100.8") == 200)
codes = [via_proxy(f"192.0.2.{i}", source="127.0.0.2") for i in range(10)]
check("X-Forwarded-For from an untrusted peer ignored", 429 in codes, codes)


def two_xff_lines(port, first, last):
    """A challenge through a proxy that appends its own X-Forwarded-For line
    after the client's (HAProxy's option forwardfor does)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sk:
        sk.sendall(("POST /api/v1/challenge HTTP/1.1\r\nHost: x\r\n"
                    f"X-Forwarded-For: {first}\r\nX-Forwarded-For: {last}\r\n"
                    "Content-Length: 0\r\nConnection: close\r\n\r\n").encode())
        return int(sk.recv(64).split()[1])


# The client writes the first line; the proxy's is the last one.
codes = [two_xff_lines(px.port, f"203.0.113.{i}", "198.51.100.77") for i in range(10)]
check("two X-Forwarded-For lines: the proxy's last one counts", 429 in codes, codes)
# On a [::] listener a local IPv4 proxy arrives as ::ffff:127.0.0.1.
px6 = Verifier("--challenge-rate", "1", "--challenge-burst", "2", "--listen", "[::]:0")
codes = [px6.req("POST", "/api/v1/challenge", headers={"X-Forwarded-For": f"192.0.2.{i}"})[0]
         for i in range(10)]
check("[::] listener: an IPv4-mapped proxy is still trusted", all(c == 200 for c in codes), codes)
r = subprocess.run([VERIFIER, "--db", DB, "--trusted-proxy", "nginx.local"],
                   capture_output=True, text=True, timeout=30)
check("bad --trusted-proxy refused", r.returncode == 2 and "not an IP address" in r.stderr, r.stderr)
px2 = Verifier("--challenge-rate", "1", "--challenge-burst", "2", "--trusted-proxy", "")
codes = [px2.req("POST", "/api/v1/challenge", headers={"X-Forwarded-For": f"192.0.2.{i}"})[0]
         for i in range(10)]
check("--trusted-proxy '': X-Forwarded-For ignored", 429 in codes, codes)

unlimited = Verifier("--challenge-rate", "0")
check("rate 0: no limit", all(unlimited.req("POST", "/api/v1/challenge")[0] == 200
                              for _ in range(60)))

codes = []
for p in procs:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    codes.append(p.wait(timeout=30))
check("every verifier stops cleanly", codes == [0] * len(codes), codes)
mint.stdin.close()
mint.wait(timeout=30)
shutil.rmtree(TMP, ignore_errors=True)
finish()
