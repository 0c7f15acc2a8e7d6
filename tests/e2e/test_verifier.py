#!/usr/bin/env python3
"""End-to-end tests of glassbox-verifier over HTTP on 127.0.0.1.

A real registry is made with the glassbox CLI and real gpg keys (made here,
in a temporary GNUPGHOME). Two verifiers share it: one trusts the AWS root
(for the 26 real enclave documents and the 3 real NitroTPM instance
documents, at their own time), one trusts a simulated
chain whose documents tests/e2e/mintdoc makes on demand, "now".

Signed verdicts are checked offline with `glassbox check-verdict`, and
each case is also written out as files, so that other checkers (web/check.js
under Node) can be run over exactly the same inputs. The folder is
$GB_VERDICT_CASES when set (kept), else TMP/verdict-cases (printed, removed
at the end). One sub-folder per case:

    answer.json        the verify answer as received (its "verdict" and
                       "tlog_proof" fields), possibly tampered with
    doc.cbor           the document as sent, raw COSE bytes
    result.bin         the result as sent (only when there is one)
    nonce.txt          the nonce as sent, hex (only when there is one)
    verdict_key.json   the pinned verdict JWK
    log.vkey           the pinned log verifier key (C2SP vkey), one line
    now.txt            the time to check at, seconds since 1970
    at.txt             the time that was asked, as sent (--at: now, document,
                       ms or RFC 3339); absent: now
    expect.json        {"exit": 0 or 1, "reason": code or null,
                        "claim": claim name or null}

`reason` is null when the verdict passes; `claim` is set only with
verdict_mismatch (e.g. "glassbox.document.sha256", "glassbox.result_sha256",
"eat_nonce").

usage: test_verifier.py GLASSBOX VERIFIER MINTDOC VECTORS_DIR
"""
import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey, Ed25519PublicKey)
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish, verify_inclusion  # noqa: E402
import openapi_check  # noqa: E402

GB, VERIFIER, MINTDOC, VECTORS = sys.argv[1:5]
TMP = tempfile.mkdtemp(prefix="glassbox-e2e-")
os.environ["GNUPGHOME"] = os.path.join(TMP, "gnupg")
os.mkdir(os.environ["GNUPGHOME"], 0o700)
DB = os.path.join(TMP, "reg.db")
TOKEN = base64.b16encode(os.urandom(16)).decode()




def run(*args, input=None):
    return subprocess.run(args, input=input, capture_output=True, check=False)


def gpg(*args, input=None):
    r = run("gpg", "--batch", "--yes", *args, input=input)
    if r.returncode != 0:
        raise SystemExit(f"gpg {args}: {r.stderr.decode()}")
    return r.stdout


def sign(path, uid="rm@example.com"):
    gpg("--armor", "--local-user", uid, "--detach-sign", path)
    return path + ".asc"


def reg(*args):
    return run(GB, "registry", "--db", DB, *args)


def hex96(h):
    return h * 48


def publish(name, version, pcrs):
    path = os.path.join(TMP, f"{name}-{version}.json")
    with open(path, "w") as f:
        json.dump({"version": version, "pcrs": {str(k): v for k, v in pcrs.items()},
                   "docker_image": {"name": name, "tag": "x", "digest": "sha256:0"}}, f)
    r = reg("publish", path, sign(path))
    if r.returncode != 0:
        raise SystemExit(f"publish: {r.stderr.decode()}")


def wait_ready(url, limit=30.0):
    """Until the log watch's first audit is no longer pending: verify
    answers 503 not_ready before (bounded: limit seconds)."""
    t0 = time.time()
    while time.time() - t0 < limit:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=10):
                return
        except urllib.error.HTTPError as e:
            if "pending" not in e.read().decode(errors="replace"):
                return
        time.sleep(0.05)


class Verifier:
    def __init__(self, *extra, db=None):
        self.log = open(os.path.join(TMP, f"verifier-{len(extra)}.log"), "w+")
        self.proc = subprocess.Popen(
            [VERIFIER, "--db", db or DB, "--listen", "127.0.0.1:0", "--threads", "2",
             "--token-file", os.path.join(TMP, "token"), "--max-body", "65536",
             "--request-timeout", "1500", "--body-timeout", "1500", *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise SystemExit(f"verifier did not start: {line}")
        self.url = line.split("listening on ")[1].strip().rstrip("/")
        self.port = int(self.url.rsplit(":", 1)[1])
        wait_ready(self.url)

    def req(self, method, path, body=None, ctype="application/json", headers=None):
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        h = {"Content-Type": ctype} if data is not None else {}
        h.update(headers or {})
        r = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(r, timeout=30) as resp:
                st, hd, raw = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            st, hd, raw = e.code, e.headers, e.read()
        openapi_check.observe(method, path, st, hd, raw)
        return st, hd.get("Content-Type"), raw

    def json(self, method, path, body=None, **kw):
        status, ctype, raw = self.req(method, path, body, **kw)
        return status, ctype, json.loads(raw) if raw else None

    def verify(self, doc, **fields):
        body = {"document": base64.b64encode(doc).decode(), **fields}
        return self.json("POST", "/api/v1/verify", body)[2]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


# --- the registry: a release manager's key, real releases ----------------
with open(os.path.join(TMP, "token"), "w") as f:
    f.write(TOKEN + "\n")
os.chmod(os.path.join(TMP, "token"), 0o600)
for uid in ("rm@example.com", "stranger@example.com"):
    gpg("--passphrase", "", "--quick-gen-key", f"Test <{uid}>", "ed25519", "sign", "1y")
with open(os.path.join(TMP, "rm.asc"), "wb") as f:
    f.write(gpg("--armor", "--export", "rm@example.com"))
assert reg("init", "--origin", "e2e.glassbox/log").returncode == 0
assert reg("key", "add", os.path.join(TMP, "rm.asc")).returncode == 0

manifest = json.load(open(os.path.join(VECTORS, "aws-nitro", "vectors.json")))
real = [v for v in manifest["vectors"] if v["expected"] == "valid"]
registered = set()
for i, v in enumerate(real):
    pcrs = v["pcrs"]
    zero = all(set(pcrs[k]) == {"0"} for k in ("0", "1", "2"))
    if i % 2 == 0 and not zero and pcrs["0"] not in registered:
        publish(f"real-{i}", "1", {k: pcrs[k] for k in ("0", "1", "2")})
        registered.add(pcrs["0"])

# --- the simulated chain, and releases of its measurements ----------------
mint = subprocess.Popen([MINTDOC], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
root = base64.b64decode(mint.stdout.readline())
with open(os.path.join(TMP, "sim-root.der"), "wb") as f:
    f.write(root)


def minted(**req):
    mint.stdin.write(json.dumps(req) + "\n")
    mint.stdin.flush()
    line = mint.stdout.readline().strip()
    assert not line.startswith("error"), line
    return base64.b64decode(line)


GOOD = {"0": hex96("a1"), "1": hex96("b2"), "2": hex96("c3")}
DOOMED = {"0": hex96("d4"), "1": hex96("b2"), "2": hex96("c3")}
publish("sim-app", "1.0", GOOD)
publish("sim-app", "0.9", DOOMED)

aws = Verifier()
sim = Verifier("--root", os.path.join(TMP, "sim-root.der"), "--nonce-ttl", "2",
               "--verdict-ttl", "120")

# --- 1. every real document, at its own time --------------------------------
for v in real:
    doc = open(os.path.join(VECTORS, "aws-nitro", v["file"]), "rb").read()
    out = aws.verify(doc, at="document")
    pcrs = v["pcrs"]
    debug = all(set(pcrs[k]) == {"0"} for k in ("0", "1", "2"))
    want = "debug_mode" if debug else ("ok" if pcrs["0"] in registered else "unknown_measurement")
    check(f"real {v['file']}", out["reason"] == want and out["trusted"] == (want == "ok"),
          f"{out['reason']} != {want}: {out['message']}")
    check(f"real {v['file']} pcrs", out["document"]["pcrs"]["0"] == pcrs["0"])
    if want == "ok":
        check(f"real {v['file']} release", out["release"]["pcrs"]["0"] == pcrs["0"]
              and out["proof"]["inclusion"] is not None)
out = aws.verify(open(os.path.join(VECTORS, "aws-nitro", real[0]["file"]), "rb").read())
check("real now expired", out["reason"] == "cert_expired", out["reason"])
for v in manifest["vectors"]:
    if v["file"].startswith("NEG-"):
        doc = open(os.path.join(VECTORS, "aws-nitro", v["file"]), "rb").read()
        out = aws.verify(doc, at="document")
        check(f"negative {v['file']}", out["trusted"] is False, out["reason"])
        # The NitroTPM ones are genuine (3d): refused here only because no
        # instance release is published yet.
        if v.get("pcr_key") == "nitrotpm_pcrs":
            check(f"{v['file']}: genuine, no instance release yet",
                  out["reason"] == "unknown_measurement" and "NitroTPM PCR4" in out["message"]
                  and out["document"]["kind"] == "nitrotpm", (out["reason"], out["message"]))

# The raw CBOR form, with at in the query.
doc0 = open(os.path.join(VECTORS, "aws-nitro", real[0]["file"]), "rb").read()
st, _, out = aws.json("POST", "/api/v1/verify?at=document", doc0, ctype="application/cbor")
check("cbor body", st == 200 and out["document"]["pcrs"]["0"] == real[0]["pcrs"]["0"], out)

# --- 2. minted documents, now ------------------------------------------------
now = int(time.time() * 1000)
out = sim.verify(minted(pcrs=GOOD))
check("minted now", out["trusted"] and out["release"]["name"] == "sim-app", out)
stale = minted(pcrs=GOOD, timestamp=now - 11 * 60 * 1000)
check("stale", sim.verify(stale)["reason"] == "stale")
out = sim.verify(stale, at="document")
check("stale at document", out["trusted"] and out["at"] == "document", out["reason"])
check("at document: freshness skipped", out["checks"][8] == {"check": "freshness",
                                                             "status": "skipped"}, out["checks"])
# Freshness is against the time asked, whenever it is a time: a stale
# document asked about now in ms or in RFC 3339 is as stale as at "now".
ts = out["document"]["timestamp"]


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


for at in (int(time.time() * 1000), str(int(time.time() * 1000)), iso(int(time.time() * 1000))):
    out = sim.verify(stale, at=at)
    check(f"stale at {at!r} (now, as a time)", out["reason"] == "stale" and
          out["checks"][8]["status"] == "fail", (out["reason"], out["checks"][8]))
out = sim.verify(minted(pcrs=GOOD, timestamp=now), at=now - 5 * 60 * 1000)
check("future relative to the time asked", out["reason"] == "future", out["reason"])
out = sim.verify(stale, at=ts + 1000)
check("fresh relative to the time asked", out["trusted"] and out["checks"][8]["status"] == "pass",
      out["reason"])
check("future", sim.verify(minted(pcrs=GOOD, timestamp=now + 5 * 60 * 1000))["reason"] == "future")
check("debug", sim.verify(minted())["reason"] == "debug_mode")
check("unregistered", sim.verify(minted(pcrs={"0": hex96("ee")}))["reason"] == "unknown_measurement")
out = sim.verify(minted(pcrs=dict(GOOD, **{"1": hex96("99")})))
check("pcr1 differs", out["reason"] == "unknown_measurement" and "PCR1" in out["message"], out["message"])

# Nonces: issued and used once; never issued; expired; not in the document.
n1 = sim.json("POST", "/api/v1/challenge")[2]["nonce"]
d1 = minted(pcrs=GOOD, nonce=n1)
check("nonce good", sim.verify(d1, nonce=n1)["trusted"])
out = sim.verify(d1, nonce=n1)
check("nonce reused", out["reason"] == "nonce_unknown")
check("checks in order, nonce failing", [(c["check"], c["status"]) for c in out["checks"]] == [
    ("cbor", "pass"), ("header", "pass"), ("fields", "pass"), ("root", "pass"), ("chain", "pass"),
    ("validity", "pass"), ("signature", "pass"), ("debug", "pass"), ("freshness", "pass"),
    ("nonce", "fail"), ("release", "not_run"), ("result", "not_run")], out["checks"])
check("failing check names its reason", out["checks"][9]["reason"] == "nonce_unknown" and
      out["checks"][9]["text"] != "", out["checks"][9])
fake = os.urandom(32).hex()
check("nonce never issued", sim.verify(minted(pcrs=GOOD, nonce=fake), nonce=fake)["reason"] == "nonce_unknown")
n2 = sim.json("POST", "/api/v1/challenge")[2]["nonce"]
check("nonce missing from document", sim.verify(minted(pcrs=GOOD), nonce=n2)["reason"] == "nonce_mismatch")
n3 = sim.json("POST", "/api/v1/challenge")[2]["nonce"]
d3 = minted(pcrs=GOOD, nonce=n3)
time.sleep(2.5)
check("nonce expired", sim.verify(d3, nonce=n3)["reason"] == "nonce_unknown")
st, _, out = sim.json("POST", "/api/v1/verify", {"document": base64.b64encode(d1).decode(), "nonce": "zz"})
check("nonce not hex", st == 400 and out["reason"] == "bad_request")

# Results signed in the enclave.
key = Ed25519PrivateKey.generate()
pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
payload = b'{"answer":42}'
sig = key.sign(b"glassbox-result-v1\x00" + payload)
b64 = lambda b: base64.b64encode(b).decode()
bound = minted(pcrs=GOOD, public_key=pub.hex(), user_data=hashlib.sha256(payload).hexdigest())
check("result good", sim.verify(bound, result=b64(payload), signature=b64(sig))["trusted"])
bad = bytearray(sig)
bad[5] ^= 1
check("result bad signature", sim.verify(bound, result=b64(payload), signature=b64(bytes(bad)))["reason"] == "bad_result_signature")
other = Ed25519PrivateKey.generate().sign(b"glassbox-result-v1\x00" + payload)
check("result wrong key", sim.verify(bound, result=b64(payload), signature=b64(other))["reason"] == "bad_result_signature")
out = sim.verify(bound, result=b64(b'{"answer":43}'), signature=b64(key.sign(b"glassbox-result-v1\x00" + b'{"answer":43}')))
check("result user_data mismatch", out["reason"] == "result_not_bound" and "user_data" in out["message"], out["message"])
# A document without user_data binds no result: an old signed result beside
# a fresh document is refused, however good its signature.
unbound = minted(pcrs=GOOD, public_key=pub.hex())
out = sim.verify(unbound, result=b64(payload), signature=b64(sig))
check("result beside a document without user_data", out["reason"] == "result_not_bound"
      and not out["trusted"], out["reason"])
check("result no key", sim.verify(minted(pcrs=GOOD), result=b64(payload), signature=b64(sig))["reason"] == "no_public_key")
unbound_answer = out
st, _, out = sim.json("POST", "/api/v1/verify", {"document": b64(bound), "result": b64(payload)})
check("result without signature", st == 400)

# The verdict is a JWS signed with the published key.
wk = sim.json("GET", "/.well-known/glassbox")[2]
x = wk["verdict_key"]["x"]
vkey = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))
out = sim.verify(bound, result=b64(payload), signature=b64(sig))
h, c, s = out["verdict"].split(".")
unb = lambda t: base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))
try:
    vkey.verify(unb(s), (h + "." + c).encode())
    good_jws = True
except Exception:
    good_jws = False
claims = json.loads(unb(c))
check("verdict jws verifies", good_jws)
check("verdict claims", json.loads(unb(h))["alg"] == "EdDSA"
      and claims["submods"]["glassbox"]["ear.status"] == "affirming"
      and claims["submods"]["glassbox"]["glassbox.reason"] == "ok", claims)
forged = h + "." + base64.urlsafe_b64encode(c.encode()[::-1]).decode().rstrip("=") + "." + s
try:
    vkey.verify(unb(forged.split(".")[2]), (forged.split(".")[0] + "." + forged.split(".")[1]).encode())
    forged_ok = True
except Exception:
    forged_ok = False
check("forged verdict refused", not forged_ok)
check("well-known log key", wk["log_key"].startswith("e2e.glassbox/log+"))


# An inclusion proof in an answer verifies against its checkpoint.
rel = out["release"]
entry = sim.json("GET", f"/api/v1/log/entries?start={rel['index']}&end={rel['index'] + 1}")[2]["entries"][0]
leaf_bytes = entry["data"].encode()
check("entry data is the leaf, exactly", json.loads(leaf_bytes) == entry["leaf"] and leaf_bytes ==
      json.dumps(entry["leaf"], separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode())
pf = out["proof"]
check("inclusion proof verifies", verify_inclusion(
    pf["index"], pf["checkpoint"]["size"], hashlib.sha256(b"\x00" + leaf_bytes).digest(),
    [bytes.fromhex(p) for p in pf["inclusion"]], bytes.fromhex(pf["checkpoint"]["root"])))

# --- 3. writes: token, signature, then revocation flips the verdict --------
stmt_path = os.path.join(TMP, "new.json")
with open(stmt_path, "w") as f:
    json.dump({"version": "2.0", "pcrs": {"0": hex96("f7")}, "docker_image": {"name": "sim-app"}}, f)
sig_text = open(sign(stmt_path)).read()
body = {"statement": b64(open(stmt_path, "rb").read()), "signature": sig_text}
auth = {"Authorization": "Bearer " + TOKEN}
st, ct, out = sim.json("POST", "/api/v1/releases", body)
check("publish without token", st == 401 and ct == "application/problem+json" and out["reason"] == "unauthorized")
rq = urllib.request.Request(sim.url + "/api/v1/releases", data=json.dumps(body).encode(),
                            method="POST", headers={"Content-Type": "application/json"})
try:
    urllib.request.urlopen(rq, timeout=30)
    www = None
except urllib.error.HTTPError as e:
    www = e.headers.get("WWW-Authenticate")
    e.read()
check("401 says how to authenticate", www == 'Bearer realm="glassbox"', www)
st, _, out = sim.json("POST", "/api/v1/releases", dict(body, signatur="x"), headers=auth)
check("publish: unknown field", st == 400 and out["reason"] == "unknown_field" and
      "signatur" in out["detail"], out)
st, _, out = sim.json("POST", "/api/v1/releases", body, ctype="application/jsonx", headers=auth)
check("publish: content type", st == 415, out)
st, _, out = sim.json("POST", "/api/v1/releases", body, headers={"Authorization": "Bearer " + TOKEN[:-1] + ("1" if TOKEN[-1] == "0" else "0")})
check("publish bad token", st == 401)
other_stmt = open(stmt_path, "rb").read().replace(b"2.0", b"2.1")
st, _, out = sim.json("POST", "/api/v1/releases", dict(body, statement=b64(other_stmt)), headers=auth)
check("publish bad signature", st == 422 and out["reason"] == "bad_signature", out)
stranger_sig = open(sign(stmt_path, "stranger@example.com")).read()
st, _, out = sim.json("POST", "/api/v1/releases", dict(body, signature=stranger_sig), headers=auth)
check("publish unknown key", st == 422 and out["reason"] == "unknown_key", out)
sign(stmt_path)
st, _, out = sim.json("POST", "/api/v1/releases", body, headers=auth)
check("publish", st == 201 and out["release"]["version"] == "2.0" and out["proof"]["inclusion"] is not None, out)
st, _, out = sim.json("POST", "/api/v1/releases", body, headers=auth)
check("publish again", st == 200 and out["entry"]["existed"] is True, out)

doomed_doc = minted(pcrs=DOOMED)
check("before revocation", sim.verify(doomed_doc)["trusted"])
doomed_id = sim.json("GET", f"/api/v1/releases?pcr0={DOOMED['0']}")[2]["releases"][0]["id"]
rev_path = os.path.join(TMP, "rev.json")
with open(rev_path, "w") as f:
    json.dump({"action": "revoke", "origin": "other.glassbox/log", "pcr0": DOOMED["0"],
               "reason": "CVE-2026-0002"}, f)
rev = {"statement": b64(open(rev_path, "rb").read()), "signature": open(sign(rev_path)).read()}
st, _, out = sim.json("POST", f"/api/v1/releases/{doomed_id}/revoke", rev, headers=auth)
check("revoke for another log", st == 422 and out["reason"] == "wrong_log", out)
with open(rev_path, "w") as f:
    json.dump({"action": "revoke", "origin": "e2e.glassbox/log", "pcr0": DOOMED["0"],
               "reason": "CVE-2026-0002"}, f)
rev = {"statement": b64(open(rev_path, "rb").read()), "signature": open(sign(rev_path)).read()}
good_id = sim.json("GET", f"/api/v1/releases?pcr0={GOOD['0']}")[2]["releases"][0]["id"]
st, _, out = sim.json("POST", f"/api/v1/releases/{good_id}/revoke", rev, headers=auth)
check("revoke wrong release", st == 400, out)
st, _, out = sim.json("POST", f"/api/v1/releases/{doomed_id}/revoke", rev)
check("revoke without token", st == 401)
st, _, out = sim.json("POST", f"/api/v1/releases/{doomed_id}/revoke", dict(rev, reason="x"),
                      headers=auth)
check("revoke: unknown field", st == 400 and out["reason"] == "unknown_field" and
      "reason" in out["detail"], out)
st, _, out = sim.json("POST", f"/api/v1/releases/{doomed_id}/revoke", rev, headers=auth)
check("revoke", st == 201 and out["release"]["revoked"] is not None, out)
out = sim.verify(doomed_doc)
check("revocation flips the verdict", out["reason"] == "revoked" and out["release"]["id"] == doomed_id, out["reason"])
check("revoked release listed", sim.json("GET", f"/api/v1/releases/{doomed_id}")[2]["release"]["revoked"] is not None)

# --- 3b. verdicts checked offline: glassbox check-verdict, and case files ---
CASES = os.environ.get("GB_VERDICT_CASES") or os.path.join(TMP, "verdict-cases")
os.makedirs(CASES, exist_ok=True)
print("verdict cases in", CASES, flush=True)
wk = sim.json("GET", "/.well-known/glassbox")[2]
VKEY_JWK = os.path.join(TMP, "verdict_key.json")
with open(VKEY_JWK, "w") as f:
    json.dump(wk["verdict_key"], f)
LOG_VKEY = os.path.join(TMP, "log.vkey")
with open(LOG_VKEY, "w") as f:
    f.write(wk["log_key"] + "\n")


def b64url(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def unb64url(t):
    return base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))


def claims_of(answer):
    return json.loads(unb64url(answer["verdict"].split(".")[1]))


def case(name, answer, doc, exit_, reason=None, claim=None, result=None, nonce=None,
         now=None, jwk=None, at=None):
    """Writes the case's files, runs glassbox check-verdict on them and
    checks its exit status, reason and claim. at is the time the request
    asked (None: now, the checker's default)."""
    d = os.path.join(CASES, name)
    os.makedirs(d, exist_ok=True)
    files = {"answer.json": json.dumps(answer).encode(), "doc.cbor": doc,
             "verdict_key.json": json.dumps(jwk or wk["verdict_key"]).encode(),
             "log.vkey": (wk["log_key"] + "\n").encode(),
             "now.txt": str(now if now is not None else int(time.time())).encode(),
             "expect.json": json.dumps({"exit": exit_, "reason": reason,
                                        "claim": claim}).encode()}
    if result is not None:
        files["result.bin"] = result
    if nonce is not None:
        files["nonce.txt"] = nonce.encode()
    if at is not None:
        files["at.txt"] = str(at).encode()
    for fn, data in files.items():
        with open(os.path.join(d, fn), "wb") as f:
            f.write(data)
    args = [GB, "check-verdict", "--json", "--verdict-key", os.path.join(d, "verdict_key.json"),
            "--log-key", os.path.join(d, "log.vkey"), "--now", files["now.txt"].decode()]
    if result is not None:
        args += ["--result", os.path.join(d, "result.bin")]
    if nonce is not None:
        args += ["--nonce", nonce]
    if at is not None:
        args += ["--at", str(at)]
    r = run(*args, os.path.join(d, "answer.json"), os.path.join(d, "doc.cbor"))
    try:
        got = json.loads(r.stdout)
    except ValueError:
        got = {}
    check(f"check-verdict {name}", r.returncode == exit_ and got.get("reason") == reason
          and got.get("claim") == claim and got.get("valid") == (exit_ == 0),
          (r.returncode, r.stdout.decode()[:600], r.stderr.decode()[:300]))
    return got


doc_a = minted(pcrs=GOOD)
doc_b = minted(pcrs=GOOD)
ans_a = sim.verify(doc_a)
ca = claims_of(ans_a)
sub = ca["submods"]["glassbox"]
check("claims bind the document", sub["glassbox.document"]["sha256"] == hashlib.sha256(doc_a).hexdigest()
      and sub["glassbox.document"]["pcrs"] == {k: v for k, v in ans_a["document"]["pcrs"].items()}
      and sub["glassbox.document"]["module_id"] == ans_a["document"]["module_id"]
      and sub["glassbox.document"]["timestamp"] == ans_a["document"]["timestamp"]
      and sub["glassbox.document"]["digest"] == "SHA384"
      and sub["glassbox.document"]["public_key_sha256"] is None
      and sub["glassbox.document"]["nonce"] is None, sub["glassbox.document"])
check("claims: release and checkpoint", sub["glassbox.release"] == {
    k: ans_a["release"][k] for k in ("id", "name", "version", "index")}
      and sub["glassbox.checkpoint"] == {"origin": "e2e.glassbox/log",
                                         "size": ans_a["proof"]["checkpoint"]["size"],
                                         "root": ans_a["proof"]["checkpoint"]["root"]}, sub)
check("claims: exp is iat + --verdict-ttl", ca["exp"] - ca["iat"] == 120 and
      abs(ca["iat"] - time.time()) < 3600, ca)
check("claims: at and at_ms", sub["glassbox.at"] == "now" and isinstance(sub["glassbox.at_ms"], int)
      and "eat_nonce" not in ca and "glassbox.result_sha256" not in sub, sub)
check("claims: the freshness checked (the verifier's max-age and skew)",
      sub["glassbox.freshness"] == {"max_age_ms": 600000, "skew_ms": 60000}, sub)
tp = ans_a["tlog_proof"].split("\n")
check("tlog_proof text", tp[0] == "c2sp.org/tlog-proof@v1" and tp[1].startswith("extra ")
      and tp[2] == f"index {ans_a['release']['index']}"
      and base64.b64decode(tp[1][6:]) == sim.json(
          "GET", f"/api/v1/log/entries?start={ans_a['release']['index']}"
                 f"&end={ans_a['release']['index'] + 1}")[2]["entries"][0]["data"].encode()
      and ans_a["tlog_proof"].endswith(ans_a["proof"]["checkpoint"]["note"])
      and [base64.b64decode(x).hex() for x in tp[3:3 + len(ans_a["proof"]["inclusion"])]]
      == ans_a["proof"]["inclusion"], ans_a["tlog_proof"][:300])

case("good", ans_a, doc_a, 0)
case("another-document", ans_a, doc_b, 1, "verdict_mismatch", "glassbox.document.sha256")
case("expired", ans_a, doc_a, 1, "verdict_expired", now=ca["exp"] + 1)
case("issued-in-the-future", ans_a, doc_a, 1, "verdict_expired", now=ca["iat"] - 3600)
h, c, sg = ans_a["verdict"].split(".")
flipped = bytearray(unb64url(sg))
flipped[7] ^= 0x01
case("signature-byte-flipped", dict(ans_a, verdict=f"{h}.{c}.{b64url(bytes(flipped))}"),
     doc_a, 1, "bad_verdict_signature")
lie = json.loads(unb64url(c))
lie["submods"]["glassbox"]["glassbox.document"]["sha256"] = hashlib.sha256(doc_b).hexdigest()
case("claims-rewritten", dict(ans_a, verdict=f"{h}.{b64url(json.dumps(lie).encode())}.{sg}"),
     doc_b, 1, "bad_verdict_signature")
case("not-a-jws", dict(ans_a, verdict=h + "." + c), doc_a, 1, "bad_verdict")
other_jwk = dict(wk["verdict_key"], x=b64url(Ed25519PrivateKey.generate().public_key().public_bytes(
    serialization.Encoding.Raw, serialization.PublicFormat.Raw)))
other_jwk.pop("kid")
case("another-verdict-key", ans_a, doc_a, 1, "bad_verdict", jwk=other_jwk)

# The receipt: a changed hash, index or checkpoint signature, or none.
lines = ans_a["tlog_proof"].split("\n")
check("the proof has hashes to change", len(ans_a["proof"]["inclusion"]) >= 1, ans_a["proof"])
h0 = bytearray(base64.b64decode(lines[3]))
h0[0] ^= 0x01
case("proof-hash-changed", dict(ans_a, tlog_proof="\n".join(
    lines[:3] + [base64.b64encode(bytes(h0)).decode()] + lines[4:])), doc_a, 1, "bad_proof")
case("proof-index-changed", dict(ans_a, tlog_proof="\n".join(
    lines[:2] + [f"index {ans_a['release']['index'] + 1}"] + lines[3:])), doc_a, 1, "bad_proof")
note = ans_a["proof"]["checkpoint"]["note"]
text = note[:note.rfind("\n\n") + 1]
rogue = Ed25519PrivateKey.generate()
rpub = rogue.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
rid = hashlib.sha256(b"e2e.glassbox/log\n\x01" + rpub).digest()[:4]
rogue_note = text + "\n\u2014 e2e.glassbox/log " + base64.b64encode(
    rid + rogue.sign(text.encode())).decode() + "\n"
case("proof-checkpoint-other-key", dict(ans_a, tlog_proof=ans_a["tlog_proof"].replace(note, rogue_note)),
     doc_a, 1, "bad_proof")
case("proof-missing", dict(ans_a, tlog_proof=None), doc_a, 1, "bad_proof")
entry = json.loads(base64.b64decode(lines[1][6:]))
entry["release"]["version"] = "9.9"
case("proof-entry-changed", dict(ans_a, tlog_proof="\n".join(
    [lines[0], "extra " + base64.b64encode(json.dumps(entry, separators=(",", ":"),
                                                       sort_keys=True).encode()).decode()] + lines[2:])),
     doc_a, 1, "bad_proof")

# A result and a nonce, bound: then another result, none, another nonce.
nb = sim.json("POST", "/api/v1/challenge")[2]["nonce"]
doc_r = minted(pcrs=GOOD, nonce=nb, public_key=pub.hex(), user_data=hashlib.sha256(payload).hexdigest())
ans_r = sim.verify(doc_r, result=b64(payload), signature=b64(sig), nonce=nb)
check("a bound result is trusted", ans_r["trusted"], ans_r["reason"])
cr = claims_of(ans_r)
check("claims: result, nonce, public key", cr["eat_nonce"] == nb and
      cr["submods"]["glassbox"]["glassbox.result_sha256"] == hashlib.sha256(payload).hexdigest()
      and cr["submods"]["glassbox"]["glassbox.document"]["public_key_sha256"]
      == hashlib.sha256(pub).hexdigest()
      and cr["submods"]["glassbox"]["glassbox.document"]["user_data_sha256"]
      == hashlib.sha256(hashlib.sha256(payload).digest()).hexdigest(), cr)
case("result-and-nonce", ans_r, doc_r, 0, result=payload, nonce=nb)
case("another-result", ans_r, doc_r, 1, "verdict_mismatch", "glassbox.result_sha256",
     result=b'{"answer":43}', nonce=nb)
case("result-left-out", ans_r, doc_r, 1, "verdict_mismatch", "glassbox.result_sha256", nonce=nb)
case("another-nonce", ans_r, doc_r, 1, "verdict_mismatch", "eat_nonce", result=payload,
     nonce="ab" * 32)
case("result-beside-unbound-document", unbound_answer, unbound, 1, "result_not_bound",
     result=payload)
case("revoked", sim.verify(doomed_doc), doomed_doc, 1, "revoked")
garbage = b"\xff\x00garbage"
case("malformed", sim.json("POST", "/api/v1/verify", garbage, ctype="application/cbor")[2],
     garbage, 1, "malformed")

# The question asked is part of the answer. An old document at its own
# time is trusted, and a client that asked about now (the default) or
# another time refuses that verdict; a verdict about a time is checked
# against the time the client asked, however it was written.
ans_doc = sim.verify(stale, at="document")
check("claims: at document, no freshness", claims_of(ans_doc)["submods"]["glassbox"]
      ["glassbox.freshness"] is None and ans_doc["trusted"], claims_of(ans_doc))
case("asked-document", ans_doc, stale, 0, at="document")
case("asked-document-checked-as-now", ans_doc, stale, 1, "verdict_mismatch", "glassbox.at")
case("asked-document-checked-as-a-time", ans_doc, stale, 1, "verdict_mismatch", "glassbox.at",
     at=ts + 1000)
ans_t = sim.verify(stale, at=ts + 1000)
ct = claims_of(ans_t)["submods"]["glassbox"]
check("claims: a time asked, freshness checked against it", ans_t["trusted"] and
      ct["glassbox.at"] == ts + 1000 and ct["glassbox.at_ms"] == ts + 1000 and
      ct["glassbox.freshness"] == {"max_age_ms": 600000, "skew_ms": 60000}, ct)
case("asked-a-time", ans_t, stale, 0, at=ts + 1000)
case("asked-a-time-checked-in-rfc3339", ans_t, stale, 0, at=iso(ts + 1000))
case("asked-a-time-checked-as-another", ans_t, stale, 1, "verdict_mismatch", "glassbox.at",
     at=ts + 1001)
case("asked-a-time-checked-as-now", ans_t, stale, 1, "verdict_mismatch", "glassbox.at")
case("asked-a-time-checked-as-document", ans_t, stale, 1, "verdict_mismatch", "glassbox.at",
     at="document")
ans_iso = sim.verify(stale, at=iso(ts + 1000))
case("asked-in-rfc3339-checked-in-ms", ans_iso, stale, 0, at=ts + 1000)
case("stale-asked-now-in-ms", sim.verify(stale, at=now), stale, 1, "stale", at=now)
case("stale-asked-now", sim.verify(stale), stale, 1, "stale")
# A real document of 2022-2025, its chain long expired, at its own time
# (the AWS verifier): trusted, and refused by a client that asked "now".
aws_wk = aws.json("GET", "/.well-known/glassbox")[2]
check("both verifiers sign with the same log key", aws_wk["log_key"] == wk["log_key"])
old_v = next(v for v in real if v["pcrs"]["0"] in registered)
old_doc = open(os.path.join(VECTORS, "aws-nitro", old_v["file"]), "rb").read()
ans_old = aws.verify(old_doc, at="document")
check("an expired chain at its own time is trusted", ans_old["trusted"], ans_old["reason"])
case("old-document-asked-document", ans_old, old_doc, 0, jwk=aws_wk["verdict_key"], at="document")
case("old-document-checked-as-now", ans_old, old_doc, 1, "verdict_mismatch", "glassbox.at",
     jwk=aws_wk["verdict_key"])
r = run(GB, "check-verdict", "--verdict-key", os.path.join(CASES, "old-document-asked-document",
        "verdict_key.json"), "--log-key", LOG_VKEY, os.path.join(CASES, "old-document-checked-as-now",
        "answer.json"), os.path.join(CASES, "old-document-checked-as-now", "doc.cbor"))
check("check-verdict without --at: an old verdict at document is not valid now",
      r.returncode == 1 and b"verdict_mismatch (glassbox.at)" in r.stderr, (r.returncode, r.stderr))
r = run(GB, "check-verdict", "--verdict-key", os.path.join(CASES, "old-document-asked-document",
        "verdict_key.json"), "--log-key", LOG_VKEY, "--at", "document",
        os.path.join(CASES, "old-document-asked-document", "answer.json"),
        os.path.join(CASES, "old-document-asked-document", "doc.cbor"))
check("check-verdict --at document: valid, and says at what", r.returncode == 0 and
      r.stdout.startswith(b"valid: affirmed for this document at document;"), (r.returncode, r.stdout))

# The bare JWS, with the receipt in a file; keys from /.well-known/glassbox.
d = os.path.join(CASES, "good")
with open(os.path.join(TMP, "verdict.jws"), "w") as f:
    f.write(ans_a["verdict"] + "\n")
with open(os.path.join(TMP, "proof.tlog-proof"), "w") as f:
    f.write(ans_a["tlog_proof"])
with open(os.path.join(TMP, "well-known.json"), "w") as f:
    json.dump(wk, f)
r = run(GB, "check-verdict", "--verdict-key", os.path.join(TMP, "well-known.json"),
        "--log-key", os.path.join(TMP, "well-known.json"), "--proof",
        os.path.join(TMP, "proof.tlog-proof"), os.path.join(TMP, "verdict.jws"),
        os.path.join(d, "doc.cbor"))
check("check-verdict: bare JWS, --proof, keys from well-known", r.returncode == 0
      and r.stdout.startswith(b"valid:"), (r.returncode, r.stdout, r.stderr))
with open(os.path.join(TMP, "doc.b64"), "w") as f:
    f.write(base64.b64encode(doc_a).decode() + "\n")
r = run(GB, "check-verdict", "--verdict-key", VKEY_JWK, "--log-key", LOG_VKEY,
        os.path.join(TMP, "verdict.jws"), os.path.join(TMP, "doc.b64"))
check("check-verdict: no receipt for an affirming verdict", r.returncode == 1
      and b"bad_proof" in r.stderr, (r.returncode, r.stderr))
r = run(GB, "check-verdict", "--verdict-key", VKEY_JWK, "--log-key", LOG_VKEY,
        os.path.join(d, "answer.json"), os.path.join(TMP, "doc.b64"))
check("check-verdict: a base64 document", r.returncode == 0, (r.returncode, r.stderr))
r = run(GB, "check-verdict", "--log-key", LOG_VKEY, os.path.join(d, "answer.json"),
        os.path.join(d, "doc.cbor"))
check("check-verdict: keys are required", r.returncode == 2 and b"--verdict-key" in r.stderr)
r = run(GB, "check-verdict", "--verdict-key", LOG_VKEY, "--log-key", LOG_VKEY,
        os.path.join(d, "answer.json"), os.path.join(d, "doc.cbor"))
check("check-verdict: a key file that is no JWK", r.returncode == 2, r.stderr)
r = run(GB, "check-verdict", "--verdict-key", VKEY_JWK, "--log-key", LOG_VKEY,
        os.path.join(d, "answer.json"), os.path.join(TMP, "no-such-doc"))
check("check-verdict: a missing file", r.returncode == 2, r.stderr)

# --- 3d. NitroTPM: EC2 instance documents and instance releases -------------
# The three real NitroTPM documents (AWS chain, nitrotpm_pcrs) and minted
# ones; releases of kind "nitrotpm" describe instance images by PCR4 and
# PCR12 (PCR7 too here). A release of one kind never matches a document of
# the other, even where every register it declares is equal.
def publish_stmt(fname, stmt):
    path = os.path.join(TMP, fname)
    with open(path, "w") as f:
        json.dump(stmt, f)
    return reg("publish", path, sign(path))


tpm_vectors = [v for v in manifest["vectors"] if v.get("pcr_key") == "nitrotpm_pcrs"]
check("three real NitroTPM documents", len(tpm_vectors) == 3)
tpm_regs = tpm_vectors[0]["pcrs"]
r = publish_stmt("ami-bad-pcr0.json", {"kind": "nitrotpm", "name": "ami-app", "version": "0",
                                        "pcrs": {"0": tpm_regs["0"], "4": tpm_regs["4"],
                                                 "12": tpm_regs["12"]}})
check("instance release with PCR0 refused", r.returncode == 1 and b"bad_pcr" in r.stderr
      and b"firmware" in r.stderr, r.stderr)
r = publish_stmt("ami-no-pcr12.json", {"kind": "nitrotpm", "name": "ami-app", "version": "0",
                                        "pcrs": {"4": tpm_regs["4"]}})
check("instance release without PCR12 refused", r.returncode == 1 and b"bad_pcr" in r.stderr
      and b"PCR12" in r.stderr, r.stderr)
r = publish_stmt("ami-bad-kind.json", {"kind": "tpm", "name": "ami-app", "version": "0",
                                        "pcrs": {"4": tpm_regs["4"], "12": tpm_regs["12"]}})
check("unknown kind refused", r.returncode == 1 and b"bad_statement" in r.stderr, r.stderr)
r = publish_stmt("ami-app-1.json", {"kind": "nitrotpm", "name": "ami-app", "version": "1",
                                     "pcrs": {k: tpm_regs[k] for k in ("4", "7", "12")}})
check("instance release published", r.returncode == 0, r.stderr)
aws_wk = aws.json("GET", "/.well-known/glassbox")[2]
for v in tpm_vectors:
    doc = open(os.path.join(VECTORS, "aws-nitro", v["file"]), "rb").read()
    out = aws.verify(doc, at="document")
    d = out["document"] or {}
    check(f"real NitroTPM {v['file']} trusted", out["trusted"] and out["reason"] == "ok",
          (out["reason"], out["message"]))
    check(f"real NitroTPM {v['file']} registers", d.get("kind") == "nitrotpm" and "pcrs" not in d
          and d.get("nitrotpm_pcrs") == v["pcrs"] and d.get("debug") is False, d)
    check(f"real NitroTPM {v['file']} release", (out["release"] or {}).get("name") == "ami-app"
          and out["release"]["kind"] == "nitrotpm" and out["proof"]["inclusion"] is not None,
          out["release"])
    sub = claims_of(out)["submods"]["glassbox"]
    check(f"real NitroTPM {v['file']} claim", sub["glassbox.document"].get("kind") == "nitrotpm"
          and sub["glassbox.document"].get("nitrotpm_pcrs") == v["pcrs"]
          and "pcrs" not in sub["glassbox.document"], sub["glassbox.document"])
    case(f"nitrotpm-real-{v['file'][:-5]}", out, doc, 0, at="document", jwk=aws_wk["verdict_key"])
    out = aws.verify(doc)
    check(f"real NitroTPM {v['file']} now expired", out["reason"] == "cert_expired", out["reason"])
# Another document's verdict: the claim is about that one.
doc0 = open(os.path.join(VECTORS, "aws-nitro", tpm_vectors[0]["file"]), "rb").read()
doc1 = open(os.path.join(VECTORS, "aws-nitro", tpm_vectors[1]["file"]), "rb").read()
case("nitrotpm-another-document", aws.verify(doc0, at="document"), doc1, 1, "verdict_mismatch",
     "glassbox.document.sha256", at="document", jwk=aws_wk["verdict_key"])

SIM_AMI = {"4": hex96("e5"), "12": hex96("00")}
r = publish_stmt("sim-ami-1.json", {"kind": "nitrotpm", "Measurements": {
    "HashAlgorithm": "Sha384 { ... }", "PCR4": SIM_AMI["4"], "PCR12": SIM_AMI["12"]},
    "ImageName": "sim-ami", "ImageVersion": "1"})
check("instance release in describe-eif's shape", r.returncode == 0, r.stderr)
CROSS = {"0": hex96("f6"), "1": hex96("a7"), "2": hex96("c8")}
r = publish_stmt("sim-cross-1.json", {"name": "sim-cross", "version": "1", "pcrs": CROSS})
check("enclave release for the cross-kind test", r.returncode == 0, r.stderr)
tpm_doc = minted(nitrotpm=SIM_AMI)
out = sim.verify(tpm_doc)
check("minted NitroTPM now", out["trusted"] and out["release"]["name"] == "sim-ami"
      and out["document"]["kind"] == "nitrotpm", (out["reason"], out["message"]))
case("nitrotpm-minted-trusted", out, tpm_doc, 0)
n_tpm = sim.json("POST", "/api/v1/challenge")[2]["nonce"]
tpm_nonce_doc = minted(nitrotpm=SIM_AMI, nonce=n_tpm)
out = sim.verify(tpm_nonce_doc, nonce=n_tpm)
check("minted NitroTPM with a nonce", out["trusted"], out["reason"])
case("nitrotpm-minted-nonce", out, tpm_nonce_doc, 0, nonce=n_tpm)
out = sim.verify(minted(nitrotpm=dict(SIM_AMI, **{"12": hex96("01")})))
check("NitroTPM PCR12 differs", out["reason"] == "unknown_measurement"
      and "NitroTPM PCR12 differs" in out["message"], out["message"])
# An enclave document whose PCR0 is the instance release's PCR4 and whose
# PCR4 and PCR12 are the release's too: every register the release
# declares is equal, and still it is no match.
enc_doc = minted(pcrs={"0": SIM_AMI["4"], "1": hex96("a7"), "2": hex96("c8"),
                       "4": SIM_AMI["4"], "12": SIM_AMI["12"]})
out = sim.verify(enc_doc)
check("enclave document never matches an instance release", out["reason"] == "unknown_measurement"
      and "describes an instance" in out["message"] and out["release"] is None, out["message"])
case("nitrotpm-enclave-doc-instance-release", out, enc_doc, 1, "unknown_measurement")
# The reverse: a NitroTPM document whose PCR4 is an enclave release's PCR0,
# and whose PCR0..2 are that release's.
tpm_cross = minted(nitrotpm=dict(CROSS, **{"4": CROSS["0"], "12": hex96("00")}))
out = sim.verify(tpm_cross)
check("NitroTPM document never matches an enclave release", out["reason"] == "unknown_measurement"
      and "describes an enclave" in out["message"] and out["release"] is None, out["message"])
case("nitrotpm-instance-doc-enclave-release", out, tpm_cross, 1, "unknown_measurement")
# An instance release is revoked by its key register, PCR4.
ami_id = sim.json("GET", "/api/v1/releases?name=sim-ami")[2]["releases"][0]["id"]
with open(rev_path, "w") as f:
    json.dump({"action": "revoke", "origin": "e2e.glassbox/log", "pcr0": SIM_AMI["4"],
               "reason": "old AMI"}, f)
rev = {"statement": b64(open(rev_path, "rb").read()), "signature": open(sign(rev_path)).read()}
st, _, out = sim.json("POST", f"/api/v1/releases/{ami_id}/revoke", rev, headers=auth)
check("instance release revoked", st == 201 and out["release"]["revoked"] is not None
      and out["release"]["kind"] == "nitrotpm", out)
doc_r = minted(nitrotpm=SIM_AMI)
out = sim.verify(doc_r)
check("revocation flips an instance's verdict", out["reason"] == "revoked"
      and out["release"]["id"] == ami_id, out["reason"])
case("nitrotpm-revoked", out, doc_r, 1, "revoked")

# --- 3c. strict requests ------------------------------------------------------
fresh = minted(pcrs=GOOD)
st, _, out = sim.json("POST", "/api/v1/verify", {"document": b64(fresh), "nonse": "00"})
check("misspelt field refused, named", st == 400 and out["reason"] == "unknown_field"
      and "nonse" in out["detail"], out)
st, _, out = sim.json("POST", "/api/v1/verify", {"document": ""})
check("empty document (JSON) is a malformed verdict", st == 200 and out["reason"] == "malformed"
      and out["verdict"], out)
st, _, out = sim.json("POST", "/api/v1/verify", b"", ctype="application/cbor")
check("empty document (CBOR) is a malformed verdict", st == 200 and out["reason"] == "malformed", out)
big = fresh + b"\x00" * (16384 + 1 - len(fresh))
st, _, out = sim.json("POST", "/api/v1/verify", {"document": b64(big)})
check("oversized document (JSON) 413", st == 413 and out["reason"] == "too_large"
      and "base64" not in out["detail"], out)
st, _, out = sim.json("POST", "/api/v1/verify", big, ctype="application/cbor")
check("oversized document (CBOR) 413", st == 413 and out["reason"] == "too_large", out)
st, _, out = sim.json("POST", "/api/v1/verify", {"document": b64(big[:16384])})
check("a document at the limit is judged", st == 200 and out["reason"] == "malformed", out)
for ct in ("application/cbor-seq", "application/jsonfoo", "application/cbor; charset=utf-8",
           "text/plain", "application/json; charset=latin-1"):
    body = fresh if "cbor" in ct else json.dumps({"document": b64(fresh)}).encode()
    st, _, out = sim.json("POST", "/api/v1/verify", body, ctype=ct)
    check(f"content type {ct} refused", st == 415, (st, out))
st, _, out = sim.json("POST", "/api/v1/verify", json.dumps({"document": b64(fresh)}).encode(),
                      ctype="application/json; charset=utf-8")
check("application/json; charset=utf-8 accepted", st == 200 and out["trusted"], out)
long_nonce = "ab" * 1025
st, _, out = sim.json("POST", "/api/v1/verify?nonce=" + long_nonce, fresh, ctype="application/cbor")
check("CBOR: a nonce too long fails the request", st == 400 and out["reason"] == "bad_request", out)
st, _, out = sim.json("POST", "/api/v1/verify?nonce=zz", fresh, ctype="application/cbor")
check("CBOR: a nonce not hex fails the request", st == 400, out)
st, _, out = sim.json("POST", "/api/v1/verify?nonce=" + "ab" * 200, fresh, ctype="application/cbor")
check("CBOR: a 400-digit nonce is checked, not skipped", st == 200 and
      out["reason"] == "nonce_mismatch" and out["checks"][9]["status"] == "fail", out)
st, _, out = sim.json("POST", "/api/v1/verify", {"document": b64(fresh), "nonce": long_nonce})
check("JSON: a nonce too long fails the request", st == 400, out)
# The JSON form's question is all in its body: a query beside it is
# refused, never ignored (a nonce there once went unchecked).
for qs, name in (("?nonce=zz&at=garbage&bogus=1", "nonce"), ("?at=document", "at"),
                 ("?bogus", "bogus"), ("?&nonce=00", "nonce")):
    st, _, out = sim.json("POST", "/api/v1/verify" + qs, {"document": b64(fresh)})
    check(f"JSON form with query {qs}: unknown_field", st == 400 and out["reason"] == "unknown_field"
          and f'"{name}"' in out["detail"], (st, out))
st, _, out = sim.json("POST", "/api/v1/verify?%ff=1", {"document": b64(fresh)})
check("JSON form with a query that is not UTF-8: named, still 400", st == 400 and
      out["reason"] == "unknown_field", (st, out))
st, _, out = sim.json("POST", "/api/v1/verify?%ff%22=1", fresh, ctype="application/cbor")
check("CBOR: an unknown parameter that is not UTF-8 is named, 400", st == 400 and
      out["reason"] == "unknown_field" and '"??"' in out["detail"], (st, out))
st, _, out = sim.json("POST", "/api/v1/verify?nonse=00", fresh, ctype="application/cbor")
check("CBOR: unknown query parameter", st == 400 and out["reason"] == "unknown_field"
      and "nonse" in out["detail"], out)
for at in (-1, -9223372036854775808, "-5", "1969-12-31T23:59:59Z", 1.5, None):
    st, _, out = sim.json("POST", "/api/v1/verify", {"document": b64(fresh), "at": at})
    check(f"JSON: at {at!r} refused", st == 400 and out["reason"] == "bad_request", (st, out))
for at in ("-1", "-9223372036854775808", "9223372036854775808", "soon"):
    st, _, out = sim.json("POST", "/api/v1/verify?at=" + at, fresh, ctype="application/cbor")
    check(f"CBOR: at {at} refused", st == 400, (st, out))
for at in ("9223372036854775807", 9223372036854775807, "1000000000000000000"):
    if isinstance(at, int):
        st, _, out = sim.json("POST", "/api/v1/verify", {"document": b64(fresh), "at": at})
    else:
        st, _, out = sim.json("POST", "/api/v1/verify?at=" + at, fresh, ctype="application/cbor")
    check(f"at {at!r} (ms within int64) is judged", st == 200 and out["reason"] == "cert_expired"
          and claims_of(out)["submods"]["glassbox"]["glassbox.at_ms"] == int(at), (st, out))
st, _, out = sim.json("POST", "/api/v1/verify?at=document", fresh, ctype="application/cbor")
check("CBOR: at=document", st == 200 and out["at"] == "document" and
      claims_of(out)["submods"]["glassbox"]["glassbox.at_ms"] == out["document"]["timestamp"], out)
st, _, out = sim.json("POST", "/api/v1/verify?at=document&at=now", fresh, ctype="application/cbor")
check("CBOR: at given twice", st == 400, out)

# --- 4. registry reads ---------------------------------------------------------
st, _, out = sim.json("GET", "/api/v1/releases?pcr=" + hex96("b2"))
check("search by any pcr", st == 200 and len(out["releases"]) == 2, out)
st, _, out = sim.json("GET", "/api/v1/releases?name=sim-app")
check("search by name", len(out["releases"]) == 3)
check("keys", len(sim.json("GET", "/api/v1/keys")[2]["keys"]) == 1)
st, ct, raw = sim.req("GET", "/api/v1/log/checkpoint")
check("checkpoint text", st == 200 and ct.startswith("text/plain") and raw.startswith(b"e2e.glassbox/log\n"))
size = int(raw.split(b"\n")[1])
st, ct, raw2 = sim.req("GET", f"/api/v1/log/checkpoint?size={size}")
check("checkpoint at the latest size", st == 200 and raw2 == raw)
st, ct, raw2 = sim.req("GET", "/api/v1/log/checkpoint?size=2")
check("checkpoint at size 2", st == 200 and raw2.split(b"\n")[1] == b"2" and raw2 != raw)
st, _, out = sim.json("GET", f"/api/v1/log/checkpoint?size={size + 1}")
check("checkpoint of a size not reached", st == 404 and out["reason"] == "not_found", out)
st, _, out = sim.json("GET", "/api/v1/log/checkpoint?size=-1")
check("checkpoint size not a number", st == 400 and out["reason"] == "bad_request", out)
st, _, out = sim.json("GET", f"/api/v1/log/proof/consistency?from=2&to={size}")
check("consistency proof", st == 200 and len(out["consistency"]) > 0, out)
st, _, out = sim.json("GET", f"/api/v1/log/proof/inclusion?index={size}")
check("inclusion out of range", st == 400 and out["reason"] == "out_of_range", out)
st, _, out = sim.json("GET", "/api/v1/log/entries?start=5&end=2")
check("entries bad range", st == 400 and out["reason"] == "out_of_range")
st, _, out = sim.json("GET", "/api/v1/log/entries?start=0&end=5000")
check("entries clamped to the log", st == 200 and out["end"] == size and len(out["entries"]) == size)
st, _, out = sim.json("GET", "/api/v1/releases/0123456789abcdef")
check("release not found", st == 404)
# Every GET endpoint reads only the parameters it names: a misspelt one
# is refused and named, never ignored; a name given twice, a bad escape
# or an encoded NUL is refused, never read as absent.
rel_id = sim.json("GET", "/api/v1/releases?name=sim-app")[2]["releases"][0]["id"]
for path, known in (("/api/v1/releases", "limit=1"), (f"/api/v1/releases/{rel_id}", None),
                    ("/api/v1/keys", None), ("/api/v1/log/checkpoint", "size=2"),
                    ("/api/v1/log/entries", "start=0"), ("/api/v1/log/proof/inclusion", "index=0"),
                    ("/api/v1/log/proof/consistency", "from=1"), ("/api/v1/verdicts", None),
                    ("/.well-known/glassbox", None), ("/healthz", None), ("/readyz", None),
                    ("/metrics", None), ("/openapi.json", None)):
    st, _, out = sim.json("GET", path + "?limt=1")
    check(f"GET {path}: a misspelt parameter is refused, named", st == 400 and
          out["reason"] == "unknown_field" and '"limt"' in out["detail"], (st, out))
    if known is None:
        continue
    st, _, out = sim.json("GET", f"{path}?{known}&{known}")
    check(f"GET {path}: a parameter given twice", st == 400 and out["reason"] == "bad_request"
          and "twice" in out["detail"], (st, out))
    name = known.split("=")[0]
    for bad in ("%00", "1%0", "%zz"):
        st, _, out = sim.json("GET", f"{path}?{name}={bad}")
        check(f"GET {path}?{name}={bad}: refused", st == 400 and out["reason"] == "bad_request",
              (st, out))
    st, _, out = sim.req("GET", f"{path}?{known}")[0], None, None
    check(f"GET {path}?{known}: still answered", st == 200, st)
st, _, out = sim.json("GET", "/api/v1/releases?name=sim%00-app")
check("an encoded NUL in a name is refused, not read as no filter", st == 400 and
      out["reason"] == "bad_request", (st, out))

# --- 5. bad requests -------------------------------------------------------------


def head_only(port, head):
    """Sends a request head alone and reads the answer to the end of the
    connection: an oversized body is refused before it is sent (a client
    that sends it anyway may meet a closed socket)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(head)
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except OSError:
        pass
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return status, hdrs, body


st413, hd413, body = head_only(sim.port, b"POST /api/v1/verify HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 70000\r\n\r\n")
check("oversized body 413", st413 == 413 and json.loads(body)["reason"] == "too_large", (st413, body))
st, _, out = sim.json("POST", "/api/v1/verify", b"{not json")
check("malformed json 400", st == 400 and out["reason"] == "bad_request")
st, _, out = sim.json("POST", "/api/v1/verify", {"document": "!!!"})
check("document not base64", st == 400)
st, _, out = sim.json("POST", "/api/v1/verify", b"abc", ctype="text/plain")
check("wrong content type 415", st == 415)
out = sim.verify(b"\xff\x00garbage")
check("garbage document is a verdict", out["reason"] == "malformed" and out["document"] is None)
check("unknown route 404", sim.req("GET", "/api/v2/nothing")[0] == 404)
check("wrong method 405", sim.req("GET", "/api/v1/verify")[0] == 405)
check("wrong method 405 challenge", sim.req("DELETE", "/api/v1/challenge")[0] == 405)

# An oversized body closes the connection (head_only() read to its end).
check("413 says close", st413 == 413 and hd413.get("connection", "").lower() == "close", hd413)

# A stuck client is cut off.
s = socket.create_connection(("127.0.0.1", sim.port), timeout=10)
s.sendall(b"POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
t0 = time.time()
try:
    data = s.recv(4096)
    while data and b"\r\n\r\n" not in data:
        data += s.recv(4096)
    rest = s.recv(4096)
    while rest:
        rest = s.recv(4096)
    cut = True
except socket.timeout:
    cut = False
s.close()
check("stuck client cut off", cut and time.time() - t0 < 9, time.time() - t0)

# --- 6. service endpoints ---------------------------------------------------------
check("healthz", sim.json("GET", "/healthz")[2]["status"] == "ok")
check("readyz", sim.json("GET", "/readyz")[2]["status"] == "ready")
st, ct, raw = sim.req("GET", "/metrics")
text = raw.decode()
# Revoked: DOOMED's document, and the revoked instance release (3d).
check("metrics", st == 200 and 'glassbox_verdicts_total{reason="revoked"} 3' in text
      and "glassbox_request_seconds_bucket" in text and 'route="verify",status="200"' in text
      and "glassbox_cache_hits_total" in text, text[:300])
# The reference parser (Debian's python3-prometheus-client) accepts it, and
# each family is one group with HELP and TYPE.
r = subprocess.run(["/usr/bin/python3", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    "promcheck.py")], input=text, capture_output=True, text=True, timeout=60)
check("metrics parse as Prometheus text", r.returncode == 0 and "glassbox_cache_misses counter" in r.stdout
      and "glassbox_http_deadline_closed counter" in r.stdout, r.stdout[-600:])
# A body nested 1000 deep once overflowed a worker's stack inside jansson
# and killed the service; it is refused before any parser recurses.
st, _, raw = sim.req("POST", "/api/v1/verify", b"[" * 1000 + b"]" * 1000)
check("deep JSON refused", st == 400 and b"nested deeper" in raw, (st, raw[:200]))
st, _, raw = sim.req("GET", "/healthz")
check("alive after deep JSON", st == 200, st)
st, _, out = sim.json("GET", "/api/v1/verdicts")
counts = {r["reason"]: r for r in out["reasons"]}
check("verdict counts", st == 200 and counts["revoked"]["total"] == 3 and
      counts["revoked"]["recent"] == 3 and counts["nonce_unknown"]["total"] >= 3 and
      len(out["reasons"]) == 20 and out["recent_seconds"] == 3600 and
      all(r["text"] for r in out["reasons"]), out)
st, _, out = sim.json("POST", "/api/v1/verdicts", {})
check("verdicts is GET only", st == 405)
st, ct, raw = sim.req("GET", "/")
check("the web page at /", st == 200 and ct.startswith("text/html") and b"/app.js" in raw)
st, ct, raw = sim.req("GET", "/check.js")
check("its scripts", st == 200 and ct.startswith("text/javascript"))
st, _, spec = sim.json("GET", "/openapi.json")
try:
    from openapi_spec_validator import validate
    validate(spec)
    spec_ok = True
except Exception as e:
    spec_ok = False
    print(e)
check("openapi valid", st == 200 and spec_ok)
check("openapi covers routes", all(p in spec["paths"] for p in (
    "/api/v1/challenge", "/api/v1/verify", "/api/v1/releases", "/api/v1/releases/{id}",
    "/api/v1/releases/{id}/revoke", "/api/v1/keys", "/api/v1/log/checkpoint",
    "/api/v1/log/entries", "/api/v1/log/proof/inclusion", "/api/v1/log/proof/consistency",
    "/api/v1/verdicts", "/.well-known/glassbox", "/healthz", "/readyz", "/metrics",
    "/openapi.json")))

# --- 7. a config file: options from it, flags over it, mistakes refused -------
conf = os.path.join(TMP, "verifier.conf")
with open(conf, "w") as f:
    f.write(f"# test\ndb = {DB}\nlisten = 127.0.0.1:1\nthreads = 3\nmax-age = 120  # seconds\n")
p = subprocess.Popen([VERIFIER, "--config", conf, "--listen", "127.0.0.1:0"],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
line = p.stdout.readline()
check("config file", "listening on http://127.0.0.1:" in line and not line.strip().endswith(":1/"), line)
if "listening on" in line:
    url = line.split("listening on ")[1].strip()
    with urllib.request.urlopen(url + "healthz", timeout=10) as resp:
        check("config file serves", resp.status == 200)
p.send_signal(signal.SIGTERM)
check("config file stops", p.wait(timeout=30) == 0)
with open(conf, "a") as f:
    f.write("colour = blue\n")
r = run(VERIFIER, "--config", conf)
check("config unknown option", r.returncode == 2 and b"unknown option colour" in r.stderr, r.stderr)
r = run(VERIFIER, "--db", DB, "--threads", "0")
check("bad flag", r.returncode == 2 and b"--threads" in r.stderr)
r = run(VERIFIER, "--db", os.path.join(TMP, "none.db"))
check("no registry", r.returncode == 2 and b"no_registry" in r.stderr)
os.chmod(os.path.join(TMP, "token"), 0o644)
r = run(VERIFIER, "--db", DB, "--token-file", os.path.join(TMP, "token"))
check("token file open to others", r.returncode == 2 and b"chmod 600" in r.stderr, r.stderr)
os.chmod(os.path.join(TMP, "token"), 0o600)

# --- 7b. no verdict without its proof, nor from a registry that cannot be read
# A verifier of its own over a copy of the registry (the log watch off, so
# that only the verify path sees what is changed below).
DB2 = os.path.join(TMP, "reg-copy.db")
with sqlite3.connect(DB) as src, sqlite3.connect(DB2) as dst:
    src.backup(dst)
src.close()
dst.close()
cp_v = Verifier("--root", os.path.join(TMP, "sim-root.der"), "--audit-interval", "0", db=DB2)
good_doc = minted(pcrs=GOOD)
for _ in range(100):
    st, _, out = cp_v.json("POST", "/api/v1/verify", {"document": b64(good_doc)})
    if st == 200:
        break
    time.sleep(0.1)
check("copy: trusted before the change", st == 200 and out["trusted"], (st, out))
db2 = sqlite3.connect(DB2)
latest_size, latest_note = db2.execute(
    "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
sig_line = latest_note.rstrip("\n").rsplit("\n", 1)[1]
k = len(sig_line) - 10
bad_line = sig_line[:k] + ("A" if sig_line[k] != "A" else "B") + sig_line[k + 1:]
db2.execute("UPDATE checkpoints SET note = replace(note, ?, ?) WHERE size = ?",
            (sig_line, bad_line, latest_size))
db2.commit()
for name, body in (("now", {}), ("at document", {"at": "document"})):
    st, _, out = cp_v.json("POST", "/api/v1/verify", {"document": b64(good_doc), **body})
    check(f"latest checkpoint's signature broken, {name}: 503 not_ready, no verdict",
          st == 503 and out["reason"] == "not_ready" and "checkpoint" in out["detail"]
          and "verdict" not in out, (st, out))
out = cp_v.verify(minted(pcrs={"0": hex96("ee")}))
check("checkpoint broken: a document no release has is still answered", out["reason"] ==
      "unknown_measurement" and out["release"] is None, out)
db2.execute("UPDATE checkpoints SET note = ? WHERE size = ?", (latest_note, latest_size))
db2.commit()
out = cp_v.verify(good_doc)
check("checkpoint restored: trusted again", out["trusted"], out["reason"])
# A registry that cannot be read (its releases table gone, as a failed read
# would be) is a 503, never a signed unknown_measurement.
db2.execute("ALTER TABLE releases RENAME TO releases_gone")
db2.commit()
st, _, out = cp_v.json("POST", "/api/v1/verify", {"document": b64(good_doc)})
check("registry read error: 503 not_ready, no verdict", st == 503 and
      out["reason"] == "not_ready" and "verdict" not in out, (st, out))
db2.execute("ALTER TABLE releases_gone RENAME TO releases")
db2.commit()
db2.close()
check("copy: trusted once the registry reads again", cp_v.verify(good_doc)["trusted"])
check("copy verifier stops", cp_v.stop() == 0)

# --- 8. clean stop, and logs: JSON lines, no bodies, no token ------------------
for v, name in ((aws, "aws"), (sim, "sim")):
    check(f"{name} stops on SIGTERM", v.stop() == 0)
    v.log.seek(0)
    lines = v.log.read().splitlines()
    if os.environ.get("GB_E2E_SHOW_LOG"):
        print("\n".join(l for l in lines if not l.startswith("{")))
    try:
        parsed = [json.loads(line) for line in lines]
        all_json = True
    except ValueError:
        all_json = False
        print("\n".join(lines[:20]))
    text = "\n".join(lines)
    check(f"{name} log is JSON lines", all_json and len(lines) > 5)
    reqs = [l for l in parsed if "route" in l] if all_json else []
    check(f"{name} request lines carry their fields", reqs and all(
        isinstance(l["time"], str) and l["time"].endswith("Z") and isinstance(l["method"], str)
        and isinstance(l["status"], int) and isinstance(l["ms"], (int, float)) and
        l["ms"] >= 0 and isinstance(l["remote"], str) for l in reqs) and any(
        isinstance(l.get("reason"), str) for l in reqs), reqs[:3])
    check(f"{name} log has no secrets or bodies", TOKEN not in text and b64(bound)[:40] not in text
          and "BEGIN PGP" not in text)
# --- 9. one contract, two checkers -------------------------------------------
# The C checker (glassbox check-verdict) and the page's (web/check.js, run
# by Node) over the same cases: the real verifier's above, and the synthetic
# ones web_checks makes (tests/web/test_check.mjs). Both must agree with
# expect.json on every case.
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
RUN_CASES = os.path.join(ROOT, "tests", "web", "run_cases.mjs")
node = shutil.which("node")
check("node is there for the cross-check", node is not None)
if node:
    web_parent = CASES.rstrip("/") + "-from-web"
    env = dict(os.environ, GB_VERDICT_CASES=web_parent)
    r = subprocess.run([node, os.path.join(ROOT, "tests", "web", "test_check.mjs"), VECTORS],
                       capture_output=True, env=env, timeout=120)
    check("web/check.js's own cases written", r.returncode == 0 and
          os.path.isdir(os.path.join(web_parent, "web")), r.stdout[-500:] + r.stderr[-500:])
    for where in (CASES, os.path.join(web_parent, "web")):
        n = sum(os.path.isdir(os.path.join(where, x)) for x in os.listdir(where))
        for who, tail in (("web/check.js", []), ("glassbox check-verdict", ["--", GB, "check-verdict"])):
            r = subprocess.run([node, RUN_CASES, where] + tail, capture_output=True, timeout=300)
            check(f"{who} agrees on {n} cases in {os.path.basename(where)}",
                  r.returncode == 0 and n >= 15, r.stdout[-2000:] + r.stderr[-500:])

mint.stdin.close()
mint.wait()
subprocess.run(["gpgconf", "--homedir", os.environ["GNUPGHOME"], "--kill", "gpg-agent"], capture_output=True)
shutil.rmtree(TMP, ignore_errors=True)
finish()
