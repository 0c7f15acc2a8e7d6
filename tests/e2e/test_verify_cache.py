#!/usr/bin/env python3
"""End-to-end tests of glassbox-verifier's caches (docs/verifier.md
"Caches"): the response cache and the registry cache.

Two verifiers share one real registry (a gpg key made here, releases of real
documents' PCRs) and one verdict key: `warm` with its caches on, `cold` with
--cache off. Whether a request was answered from the response cache is
seen from outside without timing: a remembered answer never reaches the
document verifier, so the verification caches' counters in /metrics
(glassbox_cache_{hits,misses}_total{cache="document"}) do not move.

Checked:
- a remembered answer is byte for byte what the uncached verifier computes
  in the same second (JSON and CBOR forms; trusted, debug and unknown
  documents), its verdict is counted in /metrics and named in the log line;
- a publication and a revocation take effect on the next request, in the
  same second as a remembered answer for the same request;
- requests with a nonce, or at "now", are computed every time;
- a damaged log (the log watch's audit fails) is refused with 503 even for
  a request whose answer is remembered.

usage: test_verify_cache.py GLASSBOX VERIFIER VECTORS_DIR
"""
import base64
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish  # noqa: E402

GB, VERIFIER, VECTORS = sys.argv[1:4]
TMP = tempfile.mkdtemp(prefix="glassbox-cache-")
os.environ["GNUPGHOME"] = os.path.join(TMP, "gnupg")
os.mkdir(os.environ["GNUPGHOME"], 0o700)
DB = os.path.join(TMP, "reg.db")
TOKEN = base64.b16encode(os.urandom(16)).decode()
AUTH = {"Authorization": "Bearer " + TOKEN}
ATTEMPTS = 8        # tries at landing a sequence inside one second


def run(*args):
    return subprocess.run(args, capture_output=True, check=False)


def gpg(*args):
    r = run("gpg", "--batch", "--yes", *args)
    if r.returncode != 0:
        raise SystemExit(f"gpg {args}: {r.stderr.decode()}")
    return r.stdout


def signed(name, obj):
    """A statement file and its detached signature, as the HTTP body."""
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        json.dump(obj, f)
    gpg("--armor", "--local-user", "rm@example.com", "--detach-sign", path)
    return {"statement": base64.b64encode(open(path, "rb").read()).decode(),
            "signature": open(path + ".asc").read()}


def release_stmt(name, pcrs):
    return {"version": "1", "pcrs": {k: pcrs[k] for k in ("0", "1", "2")},
            "docker_image": {"name": name, "tag": "x", "digest": "sha256:0"}}


class Verifier:
    def __init__(self, name, *extra):
        self.logpath = os.path.join(TMP, f"verifier-{name}.log")
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen(
            # One server thread: a thread's first look at the database drops
            # the shared caches (it cannot know what changed before it looked),
            # so which of several threads answers would decide what is seen.
            [VERIFIER, "--db", DB, "--listen", "127.0.0.1:0", "--threads", "1",
             "--token-file", os.path.join(TMP, "token"), *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise SystemExit(f"verifier did not start: {line}")
        self.url = line.split("listening on ")[1].strip().rstrip("/")
        self.wait_ready()

    def wait_ready(self, limit=30.0):
        """Until the log watch's first audit is no longer pending: verify
        answers 503 not_ready before (bounded: limit seconds)."""
        t0 = time.time()
        while time.time() - t0 < limit:
            st, raw = self.raw("GET", "/readyz")
            if st == 200 or b"pending" not in raw:
                return
            time.sleep(0.05)

    def raw(self, method, path, data=None, ctype="application/json", headers=None):
        h = {"Content-Type": ctype} if data is not None else {}
        h.update(headers or {})
        r = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(r, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def post(self, path, obj, headers=None):
        st, raw = self.raw("POST", path, json.dumps(obj).encode(), headers=headers)
        return st, json.loads(raw)

    def metrics(self):
        """(document cache hits + misses, verdicts by reason)."""
        st, raw = self.raw("GET", "/metrics")
        assert st == 200
        n, verdicts = 0, {}
        for line in raw.decode().splitlines():
            if line.startswith(("glassbox_cache_hits_total{cache=\"document\"}",
                                "glassbox_cache_misses_total{cache=\"document\"}")):
                n += int(line.split()[-1])
            if line.startswith("glassbox_verdicts_total{reason=\""):
                verdicts[line.split('"')[1]] = int(line.split()[-1])
        return n, verdicts

    def last_verify_log(self):
        self.log.flush()
        lines = [json.loads(x) for x in open(self.logpath) if x.startswith("{")]
        return [x for x in lines if x.get("route") == "verify"][-1]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def iat(answer_bytes):
    claims = json.loads(answer_bytes)["verdict"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["iat"]


def next_second():
    """Sleeps to just after the next second starts, so that a short
    sequence of requests most likely shares one (checked, not assumed)."""
    time.sleep(1.02 - time.time() % 1)


def computed(v, method, path, data, ctype="application/json"):
    """One request, and whether the document verifier ran for it."""
    before = v.metrics()[0]
    st, raw = v.raw(method, path, data, ctype)
    return st, raw, v.metrics()[0] != before


# --- the registry, and two verifiers with one verdict key -------------------
with open(os.path.join(TMP, "token"), "w") as f:
    f.write(TOKEN + "\n")
os.chmod(os.path.join(TMP, "token"), 0o600)
gpg("--passphrase", "", "--quick-gen-key", "Test <rm@example.com>", "ed25519", "sign", "1y")
with open(os.path.join(TMP, "rm.asc"), "wb") as f:
    f.write(gpg("--armor", "--export", "rm@example.com"))
assert run(GB, "registry", "--db", DB, "init", "--origin", "cache.glassbox/log").returncode == 0
assert run(GB, "registry", "--db", DB, "key", "add", os.path.join(TMP, "rm.asc")).returncode == 0

manifest = json.load(open(os.path.join(VECTORS, "aws-nitro", "vectors.json")))
real = [v for v in manifest["vectors"] if v["expected"] == "valid"]
for v in real:
    v["doc"] = open(os.path.join(VECTORS, "aws-nitro", v["file"]), "rb").read()
    v["debug"] = all(set(v["pcrs"][k]) == {"0"} for k in ("0", "1", "2"))
groups = {}
for v in real:
    if not v["debug"]:
        groups.setdefault(v["pcrs"]["0"], v)
pcr0s = sorted(groups)
published = groups[pcr0s[0]]        # trusted from the start
for_revoke = groups[pcr0s[1]]       # published, then revoked
unpublished = [groups[p] for p in pcr0s[2:]]
debug = next(v for v in real if v["debug"])
for i, v in enumerate((published, for_revoke)):
    body = signed(f"rel{i}.json", release_stmt(f"app{i}", v["pcrs"]))
    path = os.path.join(TMP, f"rel{i}.json")
    r = run(GB, "registry", "--db", DB, "publish", path, path + ".asc")
    assert r.returncode == 0, r.stderr

warm = Verifier("warm", "--audit-interval", "1")
cold = Verifier("cold", "--cache", "off", "--audit-interval", "0")


def body(v, **extra):
    return json.dumps({"document": base64.b64encode(v["doc"]).decode(),
                       "at": "document", **extra}).encode()


# --- 1. a remembered answer is the computed one, byte for byte --------------
def same_second_pair(name, path, data, ctype="application/json"):
    """warm twice (the second remembered) and cold once, in one second."""
    for _ in range(ATTEMPTS):
        next_second()
        _, v0 = warm.metrics()
        st1, a1, _ = computed(warm, "POST", path, data, ctype)
        st2, a2, ran2 = computed(warm, "POST", path, data, ctype)
        _, v1 = warm.metrics()
        log = warm.last_verify_log()
        st3, c = cold.raw("POST", path, data, ctype)
        if st1 == st2 == st3 == 200 and iat(a1) == iat(a2) == iat(c):
            reason = json.loads(a2)["reason"]
            check(f"{name}: second request remembered", not ran2)
            check(f"{name}: remembered == computed by the uncached verifier",
                  a2 == c and a1 == a2, f"\n{a2[:300]}\n{c[:300]}")
            check(f"{name}: both verdicts counted", v1.get(reason, 0) - v0.get(reason, 0) == 2,
                  (v0.get(reason), v1.get(reason)))
            check(f"{name}: log line names the verdict", log.get("reason") == reason and
                  log.get("status") == 200, log)
            return json.loads(a2)
    check(f"{name}: three requests within one second", False, "machine too slow")
    return None


out = same_second_pair("trusted JSON", "/api/v1/verify", body(published))
check("trusted JSON is trusted, with proof and receipt", out is not None and out["trusted"] and
      out["proof"] is not None and out["tlog_proof"] is not None, out and out["reason"])
out = same_second_pair("trusted CBOR", "/api/v1/verify?at=document", published["doc"],
                       "application/cbor")
check("trusted CBOR is trusted", out is not None and out["trusted"])
out = same_second_pair("debug", "/api/v1/verify", body(debug))
check("debug is debug_mode", out is not None and out["reason"] == "debug_mode")
out = same_second_pair("unknown", "/api/v1/verify", body(unpublished[0]))
check("unknown is unknown_measurement", out is not None and
      out["reason"] == "unknown_measurement")
# The same bytes under another content type are another request.
st, _, ran = computed(warm, "POST", "/api/v1/verify", body(published),
                      "application/json; charset=utf-8")
check("another content type is computed", st == 200 and ran)

# --- 2. requests with a nonce, or at "now", are computed every time ---------
for name, data in (("nonce", body(published, nonce="00" * 16)),
                   ("now", json.dumps({"document": base64.b64encode(published["doc"]).decode()}).encode()),
                   ("now explicit", json.dumps({"document": base64.b64encode(published["doc"]).decode(),
                                                "at": "now"}).encode())):
    runs = [computed(warm, "POST", "/api/v1/verify", data) for _ in range(3)]
    check(f"{name}: never remembered", all(st == 200 and ran for st, _, ran in runs),
          [(st, ran) for st, _, ran in runs])
st, raw = warm.raw("POST", "/api/v1/challenge", b"")
nonce = json.loads(raw)["nonce"]
runs = [computed(warm, "POST", "/api/v1/verify", body(published, nonce=nonce)) for _ in range(2)]
check("challenge nonce: computed each time", all(ran for _, _, ran in runs))
check("challenge nonce: eat_nonce signed", all(nonce in json.loads(base64.urlsafe_b64decode(
    json.loads(raw)["verdict"].split(".")[1] + "==")).get("eat_nonce", "") for _, raw, _ in runs))


# --- 3. a publication and a revocation act on the next request --------------
def flips(name, v, write, want_before, want_after):
    """Remembers v's answer, writes, asks again, all in one second."""
    data = body(v)
    for _ in range(ATTEMPTS):
        next_second()
        st1, a1 = warm.raw("POST", "/api/v1/verify", data)
        st2, a2, ran2 = computed(warm, "POST", "/api/v1/verify", data)
        check(f"{name}: before", st1 == st2 == 200 and
              json.loads(a2)["reason"] == want_before, a2[:200])
        if ran2 or iat(a1) != iat(a2):
            continue        # not remembered: try in a quieter second
        st, out = warm.post(write[0], write[1], headers=AUTH)
        check(f"{name}: written", st == 201, out)
        st3, a3 = warm.raw("POST", "/api/v1/verify", data)
        after = json.loads(a3)
        check(f"{name}: the next verdict says so", st3 == 200 and
              after["reason"] == want_after, after.get("reason"))
        check(f"{name}: against the new checkpoint", after.get("proof") is not None and
              after["proof"]["checkpoint"]["size"] == out["entry"]["size"], after.get("proof"))
        if st3 == 200 and iat(a3) != iat(a2):
            print(f"note: {name}: the write took the request past a second")
        check(f"{name}: the uncached verifier agrees", json.loads(
            cold.raw("POST", "/api/v1/verify", data)[1])["reason"] == want_after)
        return
    check(f"{name}: a remembered answer before the write", False, "machine too slow")


target = unpublished[1]
flips("publication", target, ("/api/v1/releases",
                              signed("late.json", release_stmt("late", target["pcrs"]))),
      "unknown_measurement", "ok")
rid = warm.post("/api/v1/verify", json.loads(body(for_revoke)))[1]["release"]["id"]
flips("revocation", for_revoke,
      (f"/api/v1/releases/{rid}/revoke",
       signed("rev.json", {"action": "revoke", "origin": "cache.glassbox/log", "pcr0": for_revoke["pcrs"]["0"],
                           "reason": "CVE-2026-0003"})),
      "ok", "revoked")
# A write that bypasses the log (no new checkpoint) is seen as well.
data = body(published)
warm.raw("POST", "/api/v1/verify", data)
db = sqlite3.connect(DB)
with db:
    db.execute("UPDATE releases SET revoked = 0 WHERE pcr0 = ?", (published["pcrs"]["0"],))
db.close()
out = json.loads(warm.raw("POST", "/api/v1/verify", data)[1])
check("a change behind the log's back reaches the next verdict", out["reason"] == "revoked",
      out["reason"])

# --- 4. a damaged log wins over a remembered answer -------------------------
# The change above makes the log watch's next audit (every second) fail.
damaged = None
for _ in range(150):       # bounded: 15 s
    st1, a1 = warm.raw("POST", "/api/v1/verify", data)
    st2, a2, ran2 = computed(warm, "POST", "/api/v1/verify", data)
    st, raw = warm.raw("GET", "/readyz")
    if st == 503:
        st3, a3 = warm.raw("POST", "/api/v1/verify", data)
        damaged = (st3, json.loads(a3))
        if not (st1 == st2 == 200 and not ran2):
            print("note: no answer was remembered when the damage was found")
        break
    time.sleep(0.1)
check("the log watch found the change", damaged is not None)
check("log_damaged refuses a remembered request", damaged is not None and
      damaged[0] == 503 and damaged[1]["reason"] == "log_damaged",
      damaged and (damaged[0], damaged[1].get("reason")))

check("warm stops cleanly", warm.stop() == 0)
check("cold stops cleanly", cold.stop() == 0)
subprocess.run(["gpgconf", "--kill", "gpg-agent"], check=False)
shutil.rmtree(TMP, ignore_errors=True)
finish()
