#!/usr/bin/env python3
"""The whole trust chain, over real HTTP on 127.0.0.1, as its three kinds of
users see it: glassbox-enclave (simulated NSM) behind glassbox-parent, and
glassbox-verifier with a registry made here with real gpg keys.

- release manager: builds synthetic images, measures them, signs
  pcr-values.json with gpg, publishes through the CLI and through the API;
- client: challenge, the enclave signs with that nonce through the parent,
  the verifier says trusted with the release and a proof; a changed result,
  an old result beside a fresh document, a replayed nonce, a revoked
  release, an unpublished image and a debug-mode enclave are refused with
  their reasons; the signed verdicts are checked offline with
  `glassbox check-verdict` (bound to the document, result and nonce), and
  written as case files for other checkers (layout: test_verifier.py's
  docstring; folder $GB_VERDICT_CASES/stack-* or TMP/verdict-cases);
- auditor: keeps a checkpoint, sees the log grow consistently from it, then
  the database is changed directly and both `glassbox registry audit` and
  /readyz report it (and /api/v1/verify stops answering).

usage: test_stack.py GLASSBOX ENCLAVE PARENT VERIFIER
"""
import base64
import hashlib
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
from harness import (check, finish, leaf_hash, open_checkpoint,  # noqa: E402
                     verify_consistency, verify_inclusion)
import openapi_check  # noqa: E402

GB, ENCLAVE, PARENT, VERIFIER = sys.argv[1:5]
TMP = tempfile.mkdtemp(prefix="glassbox-stack-")
os.environ["GNUPGHOME"] = os.path.join(TMP, "gnupg")
os.mkdir(os.environ["GNUPGHOME"], 0o700)
DB = os.path.join(TMP, "registry.db")
STATE = os.path.join(TMP, "nsm")
SOCK = os.path.join(TMP, "enclave.sock")
TOKEN = base64.b16encode(os.urandom(16)).decode()
procs = []


def run(*args):
    r = subprocess.run(args, capture_output=True, text=True, check=False)
    return r.returncode, r.stdout, r.stderr


def must(*args):
    rc, out, err = run(*args)
    if rc != 0:
        raise SystemExit(f"{args[:3]}: {err}")
    return out


def b64(b):
    return base64.b64encode(b).decode()


def http(method, url, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    h = {"Content-Type": "application/json"} if data is not None else {}
    h.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw, status, hdrs = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        raw, status, hdrs = e.read(), e.code, e.headers
    if "V" in globals() and url.startswith(V + "/"):    # the verifier's answers
        openapi_check.observe(method, url[len(V):], status, hdrs, raw)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


def start(args, lines=1):
    log = open(os.path.join(TMP, os.path.basename(args[0]) + ".log"), "a")
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
    out = [p.stdout.readline() for _ in range(lines)]
    if not all(out):
        raise SystemExit(f"{args[0]} did not start; see {log.name}")
    procs.append(p)
    return p, out


def stop(p):
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=30)
    procs.remove(p)
    return rc


# --- the release manager ---------------------------------------------------
must("gpg", "--batch", "--passphrase", "", "--quick-gen-key",
     "Release Manager <rm@example.com>", "ed25519", "sign", "1y")
with open(os.path.join(TMP, "rm.asc"), "w") as f:
    f.write(must("gpg", "--batch", "--armor", "--export", "rm@example.com"))


def image(name):
    """A synthetic image (EIF layout, not bootable), measured."""
    parts = []
    for part, size in (("kernel", 8192), ("init", 4096), ("app", 4096)):
        path = os.path.join(TMP, f"{name}.{part}")
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        parts.append(path)
    eif = os.path.join(TMP, name + ".eif")
    must(GB, "eif", "build", "--kernel", parts[0], "--cmdline", "console=ttyS0",
         "--ramdisk", parts[1], "--ramdisk", parts[2], "--output", eif)
    m = json.loads(must(GB, "eif", "measure", "--json", eif))["Measurements"]
    return eif, {str(i): m[f"PCR{i}"] for i in range(3)}


def signed(name, obj):
    """The statement file and its detached armored gpg signature."""
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        json.dump(obj, f)
    must("gpg", "--batch", "--yes", "--armor", "--local-user", "rm@example.com",
         "--detach-sign", path)
    return path, path + ".asc"


def pcr_values(name, version, pcrs):
    return signed(f"{name}-{version}.json", {"name": name, "version": version, "pcrs": pcrs})


def reg(*args):
    return run(GB, "registry", "--db", DB, *args)


must(GB, "registry", "--db", DB, "init", "--origin", "stack.glassbox.test/log")
must(GB, "registry", "--db", DB, "key", "add", os.path.join(TMP, "rm.asc"))
eif_a, pcrs_a = image("a")
eif_b, pcrs_b = image("b")
eif_c, pcrs_c = image("c")            # never published
rc, _, err = reg("publish", *pcr_values("stack-app", "1.0", pcrs_a), "--eif", eif_a)
check("publish through the CLI", rc == 0, err)
rc, _, err = reg("publish", *pcr_values("stack-app", "1.0-other", pcrs_a))
check("the same PCR0 again is refused", rc == 1 and "conflict" in err, err)
with open(os.path.join(TMP, "token"), "w") as f:
    f.write(TOKEN + "\n")
os.chmod(os.path.join(TMP, "token"), 0o600)

# The enclave first: its simulated NSM makes the root the verifier pins.
enclave, out = start([ENCLAVE, "--nsm", "sim", "--state", STATE, "--eif", eif_a,
                      "--listen", "unix:" + SOCK])
describe = os.path.join(TMP, "describe.json")
with open(describe, "w") as f:
    json.dump([{"EnclaveName": "stack", "EnclaveID": "i-0-enc0", "EnclaveCID": 16,
                "State": "RUNNING", "Flags": "NONE", "MemoryMiB": 512,
                "NumberOfCPUs": 2}], f)
parent, out = start([PARENT, "--forward", f"tcp:127.0.0.1:0=unix:{SOCK}",
                     "--health", "127.0.0.1:0", "--describe-cmd", f"cat {describe}"], 2)
P = "http://127.0.0.1:" + out[0].split()[1].rsplit(":", 1)[1]
HEALTH = out[1].split()[2]
verifier, out = start([VERIFIER, "--db", DB, "--root", os.path.join(STATE, "level0.der"),
                       "--listen", "127.0.0.1:0", "--token-file", os.path.join(TMP, "token"),
                       "--audit-interval", "1"])
V = out[0].split("listening on ")[1].strip().rstrip("/")
AUTH = {"Authorization": "Bearer " + TOKEN}


def wait_ready(url, limit=30.0):
    """/readyz once the log watch's first audit is no longer pending (verify
    answers 503 not_ready until then); bounded: limit seconds."""
    t0 = time.time()
    while True:
        st, out = http("GET", url + "/readyz")
        if not (st == 503 and isinstance(out, dict) and out.get("reason") == "not_ready"
                and "pending" in out.get("detail", "")) or time.time() - t0 > limit:
            return st, out
        time.sleep(0.05)


st, h = http("POST", V + "/api/v1/verify", {"document": "AA=="})
check("verify before the first audit: 503 not_ready with Retry-After, or already audited",
      st != 503 or h.get("reason") == "not_ready", (st, h))
st, out = wait_ready(V)
check("ready once the first audit passed", st == 200 and out["audit"]["state"] == "ok", out)
wk = http("GET", V + "/.well-known/glassbox")[1]

# Release B through the API, as a CI job would.
stmt, sig = pcr_values("stack-app", "2.0", pcrs_b)
st, out = http("POST", V + "/api/v1/releases",
               {"statement": b64(open(stmt, "rb").read()), "signature": open(sig).read()},
               AUTH)
check("publish through the API", st == 201 and out["release"]["version"] == "2.0", out)
st, out = http("POST", V + "/api/v1/releases",
               {"statement": b64(open(stmt, "rb").read()), "signature": open(sig).read()})
check("publish through the API needs the token", st == 401, out)

# --- the client --------------------------------------------------------------
PAYLOAD = b"result: 42 widgets"


def ask(payload=PAYLOAD, nonce=None, sign_nonce=None, result=None, signature=None):
    """Challenge, sign through the parent, verify. Returns (verdict, asked)."""
    if nonce is None:
        st, c = http("POST", V + "/api/v1/challenge")
        nonce = c["nonce"]
    st, s = http("POST", P + "/sign", {"payload": b64(payload),
                                       "nonce": sign_nonce or nonce})
    if st != 200:
        raise SystemExit(f"sign through the parent: {st} {s}")
    body = {"document": s["document"], "signature": signature or s["signature"],
            "nonce": nonce, "result": b64(result if result is not None else payload)}
    st, v = http("POST", V + "/api/v1/verify", body)
    if st != 200:
        raise SystemExit(f"verify: {st} {v}")
    return v, body


st, h = http("GET", HEALTH)
check("parent health: the enclave runs", st == 200 and h["status"] == "ok" and
      h["forwarders"][0]["reachable"], h)
v, first = ask()
check("trusted through the parent", v["trusted"] and v["reason"] == "ok", v.get("reason"))
check("with the release", v["release"] and v["release"]["name"] == "stack-app" and
      v["release"]["version"] == "1.0", v["release"])
pf = v["proof"]
cp = open_checkpoint(pf["checkpoint"]["note"], wk["log_key"])
entry = http("GET", V + f"/api/v1/log/entries?start={pf['index']}&end={pf['index'] + 1}")[1]
check("and a proof in a signed checkpoint", cp is not None and cp[1] == pf["checkpoint"]["size"]
      and verify_inclusion(pf["index"], cp[1], leaf_hash(entry["entries"][0]["data"].encode()),
                           [bytes.fromhex(x) for x in pf["inclusion"]], cp[2]))
check("the proven leaf is that release", json.loads(entry["entries"][0]["data"])["release"]["pcrs"]
      == pcrs_a)

# --- the client checks the signed verdict offline ---------------------------
CASES = os.environ.get("GB_VERDICT_CASES") or os.path.join(TMP, "verdict-cases")
os.makedirs(CASES, exist_ok=True)
print("verdict cases in", CASES, flush=True)


def case(name, answer, doc, exit_, reason=None, claim=None, result=None, nonce=None):
    """Writes a case (the layout of test_verifier.py's docstring) and runs
    glassbox check-verdict on it."""
    d = os.path.join(CASES, "stack-" + name)
    os.makedirs(d, exist_ok=True)
    files = {"answer.json": json.dumps(answer).encode(), "doc.cbor": doc,
             "verdict_key.json": json.dumps(wk["verdict_key"]).encode(),
             "log.vkey": (wk["log_key"] + "\n").encode(),
             "now.txt": str(int(time.time())).encode(),
             "expect.json": json.dumps({"exit": exit_, "reason": reason,
                                        "claim": claim}).encode()}
    if result is not None:
        files["result.bin"] = result
    if nonce is not None:
        files["nonce.txt"] = nonce.encode()
    for fn, data in files.items():
        with open(os.path.join(d, fn), "wb") as f:
            f.write(data)
    args = [GB, "check-verdict", "--json", "--verdict-key", os.path.join(d, "verdict_key.json"),
            "--log-key", os.path.join(d, "log.vkey"), "--now", files["now.txt"].decode()]
    if result is not None:
        args += ["--result", os.path.join(d, "result.bin")]
    if nonce is not None:
        args += ["--nonce", nonce]
    rc, out, err = run(*args, os.path.join(d, "answer.json"), os.path.join(d, "doc.cbor"))
    try:
        got = json.loads(out)
    except ValueError:
        got = {}
    check(f"check-verdict {name}", rc == exit_ and got.get("reason") == reason and
          got.get("claim") == claim, (rc, out[:400], err[:300]))


first_doc = base64.b64decode(first["document"])
check("the verdict carries a tlog-proof", v["tlog_proof"].startswith("c2sp.org/tlog-proof@v1\n"),
      v.get("tlog_proof"))
case("trusted", v, first_doc, 0, result=PAYLOAD, nonce=first["nonce"])
case("another-result", v, first_doc, 1, "verdict_mismatch", "glassbox.result_sha256",
     result=PAYLOAD + b"!", nonce=first["nonce"])
case("another-nonce", v, first_doc, 1, "verdict_mismatch", "eat_nonce", result=PAYLOAD,
     nonce="cd" * 32)
v2, second = ask()
case("another-document", v, base64.b64decode(second["document"]), 1, "verdict_mismatch",
     "glassbox.document.sha256", result=PAYLOAD, nonce=first["nonce"])

changed = bytearray(PAYLOAD)
changed[0] ^= 1
v, _ = ask(result=bytes(changed))
check("a result changed by one byte", v["reason"] == "result_not_bound", v["reason"])
bad_sig = bytearray(base64.b64decode(first["signature"]))
bad_sig[3] ^= 1
v, _ = ask(signature=b64(bytes(bad_sig)))
check("a signature changed by one byte", v["reason"] == "bad_result_signature", v["reason"])

# An old result, signed by this enclave earlier, beside a fresh document for
# today's nonce: the fresh document does not bind it.
st, c = http("POST", V + "/api/v1/challenge")
st, fresh = http("GET", P + "/attestation?nonce=" + c["nonce"])
old = dict(first, document=fresh["document"], nonce=c["nonce"])
st, v = http("POST", V + "/api/v1/verify", old)
check("an old result beside a fresh nonce's document", st == 200 and
      v["reason"] == "result_not_bound" and not v["trusted"], v)
case("old-result-fresh-document", v, base64.b64decode(fresh["document"]), 1, "result_not_bound",
     result=PAYLOAD, nonce=c["nonce"])
st, v = http("POST", V + "/api/v1/verify", first)
check("a replayed nonce", st == 200 and v["reason"] == "nonce_unknown", v)
v, _ = ask(sign_nonce="ab" * 32)
check("a document for another nonce", v["reason"] == "nonce_mismatch", v["reason"])

# Revocation through the API flips the same question.
rid = http("GET", V + "/api/v1/releases?pcr0=" + pcrs_a["0"])[1]["releases"][0]["id"]
stmt, sig = signed("revoke-a.json", {"action": "revoke", "origin": "stack.glassbox.test/log",
                                     "pcr0": pcrs_a["0"],
                                     "reason": "leaks the key"})
st, out = http("POST", V + f"/api/v1/releases/{rid}/revoke",
               {"statement": b64(open(stmt, "rb").read()), "signature": open(sig).read()},
               AUTH)
check("revoke through the API", st == 201, out)
v, _ = ask()
check("after revocation: revoked", v["reason"] == "revoked" and not v["trusted"], v["reason"])


def reboot(*args):
    """The same enclave socket, another boot of the simulated enclave."""
    global enclave
    stop(enclave)
    enclave, _ = start([ENCLAVE, "--nsm", "sim", "--state", STATE, "--listen",
                        "unix:" + SOCK, *args])


reboot("--eif", eif_c)
v, _ = ask()
check("an unpublished image: unknown_measurement", v["reason"] == "unknown_measurement",
      v["reason"])
reboot("--eif", eif_b)
v, _ = ask()
check("the release published through the API: trusted", v["reason"] == "ok" and
      v["release"]["version"] == "2.0", v["reason"])
reboot("--eif", eif_b, "--debug-mode")
v, _ = ask()
check("a debug-mode enclave", v["reason"] == "debug_mode" and not v["trusted"], v["reason"])

# --- the auditor -------------------------------------------------------------
st, saved = http("GET", V + "/api/v1/log/checkpoint")
old = open_checkpoint(saved, wk["log_key"])
check("a signed checkpoint to keep", st == 200 and old is not None)
with open(os.path.join(TMP, "saved-checkpoint"), "w") as f:
    f.write(saved)
for i in range(3):
    _, pcrs = image(f"later{i}")
    rc, _, err = reg("publish", *pcr_values("later-app", f"{i}.0", pcrs))
    check(f"more releases {i}", rc == 0, err)
new = open_checkpoint(http("GET", V + "/api/v1/log/checkpoint")[1], wk["log_key"])
st, pr = http("GET", V + f"/api/v1/log/proof/consistency?from={old[1]}&to={new[1]}")
check("the log grew from the kept checkpoint", st == 200 and new[1] == old[1] + 3 and
      verify_consistency(old[1], new[1], old[2], new[2],
                         [bytes.fromhex(x) for x in pr["consistency"]]))
check("a forged root does not verify", not verify_consistency(
    old[1], new[1], bytes(32), new[2], [bytes.fromhex(x) for x in pr["consistency"]]))
rc, _, err = reg("audit", "--since", os.path.join(TMP, "saved-checkpoint"))
check("audit --since passes", rc == 0, err)


def readyz_until(status, limit=15.0):
    """/readyz until it answers status (bounded: limit seconds)."""
    t0 = time.time()
    while True:
        st, out = http("GET", V + "/readyz")
        if st == status or time.time() - t0 > limit:
            return st, out
        time.sleep(0.2)


st, out = readyz_until(200)
check("ready, audited", st == 200 and out["audit"]["state"] == "ok", out)

# Someone with the database swaps a release's PCR0 for the unpublished
# image's, in the leaf and in the lookup table.
later = http("GET", V + "/api/v1/releases?name=later-app")[1]["releases"][0]
db = sqlite3.connect(DB)
with db:
    db.execute("UPDATE leaves SET body = replace(body, ?, ?) WHERE idx = ?",
               (later["pcrs"]["0"], pcrs_c["0"], later["index"]))
    db.execute("UPDATE releases SET pcr0 = ? WHERE pcr0 = ?", (pcrs_c["0"], later["pcrs"]["0"]))
db.close()
rc, _, err = reg("audit")
check("audit reports the tampered entry", rc == 1 and f"entry {later['index']}" in err, err)
st, out = readyz_until(503)
check("/readyz reports it", st == 503 and out["reason"] == "log_damaged" and
      f"entry {later['index']}" in out["detail"], out)
reboot("--eif", eif_c)
st, v = http("POST", V + "/api/v1/verify",
             {"document": http("GET", P + "/attestation")[1]["document"]})
check("and the verifier refuses to judge on it", st == 503 and v["reason"] == "log_damaged", v)

for p in list(procs):
    check(f"{os.path.basename(p.args[0])} stops cleanly", stop(p) == 0)

# --- the auditor, again: a history rewritten and re-signed -------------------
# Entry 0 is edited with the sqlite3 CLI, the tree recomputed and the latest
# checkpoint re-signed with the log's own key (tests/cli/rewrite_log.py): a
# consistent, validly signed log. A verifier that starts on it has no older
# checkpoint of its own, yet its log watch finds that the older checkpoints
# the registry keeps contradict the new tree.
RW = os.path.join(TMP, "rewritten.db")
must(GB, "registry", "--db", RW, "init", "--origin", "rewrite.glassbox.test/log")
must(GB, "registry", "--db", RW, "key", "add", os.path.join(TMP, "rm.asc"))
for version, pcrs in (("1.0", pcrs_a), ("2.0", pcrs_b)):
    must(GB, "registry", "--db", RW, "publish", *pcr_values("rewrite-app", version, pcrs))
must("sqlite3", RW, "UPDATE leaves SET body = replace(body, '\"time_ms\":', '\"time_ms\":1')"
     " WHERE idx = 0")
must(sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli",
                                  "rewrite_log.py"), RW, RW + ".key")
rc, _, err = run(GB, "registry", "--db", RW, "audit")
check("rewritten log: plain audit names the first contradicted checkpoint",
      rc == 1 and "checkpoint of size 1," in err, err)
watcher, out = start([VERIFIER, "--db", RW, "--listen", "127.0.0.1:0", "--audit-interval", "1"])
W = out[0].split("listening on ")[1].strip().rstrip("/")
st, out = wait_ready(W)
check("rewritten log: /readyz is 503 log_damaged naming the checkpoint",
      st == 503 and out.get("reason") == "log_damaged" and "checkpoint of size 1," in
      out.get("detail", ""), out)
check("glassbox-verifier on the rewritten log stops cleanly", stop(watcher) == 0)
subprocess.run(["gpgconf", "--kill", "gpg-agent"], check=False)
from harness import counts  # noqa: E402
if counts["failed"] == 0:
    shutil.rmtree(TMP, ignore_errors=True)
else:
    print("kept", TMP)
finish()
