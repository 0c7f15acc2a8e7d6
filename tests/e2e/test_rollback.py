#!/usr/bin/env python3
"""End-to-end tests of the log watch's memory (docs/verifier.md "The log
watch"): a registry database restored from a backup is a whole, older,
validly signed log that passes every audit; only the checkpoint the
verifier kept (DB.watch-checkpoint) tells. And no verdict before the first
audit finished.

A real registry (a gpg key made here, releases of real documents' PCRs,
sqlite3's own .backup and .restore), verifiers on 127.0.0.1:

1. before the first audit: a database whose revocation was undone behind
   the log's back (UPDATE releases SET revoked = NULL) never gives a
   verdict: verify answers 503 not_ready (Retry-After) while the audit is
   pending, then 503 log_damaged; /readyz likewise;
2. while running: backup, verify ok, revoke, verify revoked, restore the
   backup: the next verify is 503 log_damaged, /readyz 503 naming the
   rollback, audit_failed logged, and it stays so through later audits;
3. across a restart: a verifier started on the rolled-back database is
   damaged at start (from its kept checkpoint file);
4. a rollback followed by a new entry (the same size as the kept
   checkpoint, another root) is caught too;
5. the good database back: ready, revoked again; then normal growth
   (publication after publication, through the CLI and the API, with
   verifies between) never trips it, and the kept checkpoint follows;
6. --audit-interval 0: no watch, verdicts at once, nothing kept;
7. a kept file that is not a checkpoint signed by the log key keeps the
   log damaged (removing it is the operator's decision).

usage: test_rollback.py GLASSBOX VERIFIER VECTORS_DIR
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
import openapi_check  # noqa: E402

GB, VERIFIER, VECTORS = sys.argv[1:4]
TMP = tempfile.mkdtemp(prefix="glassbox-rollback-")
os.environ["GNUPGHOME"] = os.path.join(TMP, "gnupg")
os.mkdir(os.environ["GNUPGHOME"], 0o700)
DB = os.path.join(TMP, "reg.db")
KEPT = DB + ".watch-checkpoint"
ORIGIN = "rollback.glassbox/log"
TOKEN = base64.b16encode(os.urandom(16)).decode()
AUTH = {"Authorization": "Bearer " + TOKEN}
WAIT_S = 30         # bound of every wait for the log watch


def run(*args):
    return subprocess.run(args, capture_output=True, check=False)


def must(*args):
    r = run(*args)
    if r.returncode != 0:
        raise SystemExit(f"{args[:4]}: {r.stderr.decode()}")
    return r.stdout


def signed(name, obj):
    """A statement file and its detached signature: (path, path.asc)."""
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        json.dump(obj, f)
    must("gpg", "--batch", "--yes", "--armor", "--local-user", "rm@example.com",
         "--detach-sign", path)
    return path, path + ".asc"


def release(name, pcrs):
    return signed(name + ".json", {"version": "1", "pcrs": {k: pcrs[k] for k in ("0", "1", "2")},
                                   "docker_image": {"name": name, "tag": "x",
                                                    "digest": "sha256:0"}})


def reg(*args):
    return must(GB, "registry", "--db", DB, *args)


def sqlite_cli(*cmd):
    must("sqlite3", DB, *cmd)


class Verifier:
    def __init__(self, name, *extra):
        self.logpath = os.path.join(TMP, f"verifier-{name}.log")
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen(
            [VERIFIER, "--db", DB, "--listen", "127.0.0.1:0", "--threads", "2",
             "--token-file", os.path.join(TMP, "token"), *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise SystemExit(f"verifier did not start: {line}")
        self.url = line.split("listening on ")[1].strip().rstrip("/")

    def req(self, method, path, obj=None, headers=None):
        data = None if obj is None else json.dumps(obj).encode()
        h = {"Content-Type": "application/json"} if data is not None else {}
        h.update(headers or {})
        r = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(r, timeout=30) as resp:
                st, hd, raw = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            st, hd, raw = e.code, e.headers, e.read()
        openapi_check.observe(method, path, st, hd, raw)
        return st, hd, json.loads(raw)

    def verify(self, v):
        return self.req("POST", "/api/v1/verify", {
            "document": base64.b64encode(v["doc"]).decode(), "at": "document"})

    def settled(self):
        """/readyz once the first audit is no longer pending (bounded)."""
        t0 = time.time()
        while True:
            st, hd, out = self.req("GET", "/readyz")
            if not (st == 503 and out.get("reason") == "not_ready" and
                    "pending" in out.get("detail", "")) or time.time() - t0 > WAIT_S:
                return st, out
            time.sleep(0.1)

    def events(self, name):
        self.log.flush()
        out = []
        for x in open(self.logpath):
            if x.startswith("{"):
                j = json.loads(x)
                if j.get("event") == name:
                    out.append(j)
        return out

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def kept_size():
    """The size of the checkpoint in DB.watch-checkpoint, or None."""
    try:
        return int(open(KEPT).read().split("\n")[1])
    except (OSError, IndexError, ValueError):
        return None


def log_size():
    return int(must("sqlite3", DB, "SELECT count(*) FROM leaves"))


# --- the registry -------------------------------------------------------------
with open(os.path.join(TMP, "token"), "w") as f:
    f.write(TOKEN + "\n")
os.chmod(os.path.join(TMP, "token"), 0o600)
must("gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Test <rm@example.com>",
     "ed25519", "sign", "1y")
with open(os.path.join(TMP, "rm.asc"), "wb") as f:
    f.write(must("gpg", "--batch", "--armor", "--export", "rm@example.com"))
reg("init", "--origin", ORIGIN)
reg("key", "add", os.path.join(TMP, "rm.asc"))

manifest = json.load(open(os.path.join(VECTORS, "aws-nitro", "vectors.json")))
groups = {}
for v in manifest["vectors"]:
    if v["expected"] != "valid" or all(set(v["pcrs"][k]) == {"0"} for k in ("0", "1", "2")):
        continue
    v["doc"] = open(os.path.join(VECTORS, "aws-nitro", v["file"]), "rb").read()
    groups.setdefault(v["pcrs"]["0"], v)
docs = [groups[p] for p in sorted(groups)]
if len(docs) < 5:
    raise SystemExit(f"need 5 documents of distinct PCR0s, have {len(docs)}")
A, B = docs[0], docs[1]
for name, v in (("a", A), ("b", B)):
    reg("publish", *release(name, v["pcrs"]))


def revoke_b():
    reg("revoke", *signed("revoke-b.json", {"action": "revoke", "origin": ORIGIN,
                                            "pcr0": B["pcrs"]["0"], "reason": "leaks"}))


# --- 1. no verdict before the first audit -------------------------------------
# A revocation undone behind the log's back: the first audit fails, and no
# request may be answered from the database before it does.
shutil.copy(DB, os.path.join(TMP, "clean.db"))
# Enough entries that the first audit (a GPG check each) takes a while:
# the requests below most likely find it pending (printed, not assumed).
for i in range(30):
    reg("publish", *release(f"filler{i}", {k: os.urandom(48).hex() for k in ("0", "1", "2")}))
revoke_b()
db = sqlite3.connect(DB)
with db:
    db.execute("UPDATE releases SET revoked = NULL")
db.close()
v = Verifier("pending", "--audit-interval", "600")
seen, verdicts, pending_ok = [], 0, True
deadline = time.monotonic() + 180       # bounded; ends at log_damaged
while time.monotonic() < deadline:
    st, hd, out = v.verify(B)
    seen.append(out.get("reason"))
    if st == 200:
        verdicts += 1
    elif out.get("reason") == "not_ready":
        rst, rhd, rout = v.req("GET", "/readyz")
        pending_ok &= (st == 503 and (hd.get("Retry-After") or "").isdigit() and
                       "pending" in out["detail"] and
                       (rst, rout.get("reason")) in ((503, "not_ready"), (503, "log_damaged")))
    if out.get("reason") == "log_damaged":
        break
    time.sleep(0.005)                   # the audit's GPG checks need the CPU
check("before the first audit: no verdict from the unaudited log", verdicts == 0,
      seen[:5])
check("before the first audit: 503 not_ready with Retry-After, /readyz 503",
      pending_ok, seen[:5])
check("then 503 log_damaged", seen[-1] == "log_damaged", seen[-5:])
print(f"info: {seen.count('not_ready')} not_ready answers before the audit failed", flush=True)
check("the pending verifier stops cleanly", v.stop() == 0)
shutil.copy(os.path.join(TMP, "clean.db"), DB)
for suffix in ("-wal", "-shm"):
    if os.path.exists(DB + suffix):
        os.unlink(DB + suffix)
if os.path.exists(KEPT):
    os.unlink(KEPT)

# --- 2. a rollback while running --------------------------------------------------
sqlite_cli(".backup " + os.path.join(TMP, "before.db"))
v = Verifier("running", "--audit-interval", "3")
st, out = v.settled()
check("ready after the first audit", st == 200 and out["audit"]["state"] == "ok", out)
st, _, out = v.verify(B)
check("verify ok before the revocation", st == 200 and out["reason"] == "ok",
      out.get("reason"))
check("the checkpoint is kept next to the registry", kept_size() == log_size() == 3,
      (kept_size(), log_size()))
revoke_b()
st, _, out = v.verify(B)
check("verify revoked after it", st == 200 and out["reason"] == "revoked", out.get("reason"))
check("the kept checkpoint grew with the verdict's", kept_size() == 4, kept_size())
sqlite_cli(".backup " + os.path.join(TMP, "after.db"))
sqlite_cli(".restore " + os.path.join(TMP, "before.db"))
check("the backup is restored (size 3)", log_size() == 3)
rc = run(GB, "registry", "--db", DB, "audit").returncode
check("the restored database passes a plain audit", rc == 0)
st, _, out = v.verify(B)
check("rolled back: the next verify is 503 log_damaged", st == 503 and
      out.get("reason") == "log_damaged", out)
st, _, out = v.req("GET", "/readyz")
check("rolled back: /readyz 503 naming the rollback", st == 503 and
      out.get("reason") == "log_damaged" and "rolled back" in out.get("detail", "") and
      "fewer than the 4" in out.get("detail", ""), out)
ev = v.events("audit_failed")
check("rolled back: audit_failed logged", len(ev) >= 1 and ev[0].get("reason") == "rolled_back"
      and "rolled back" in ev[0].get("detail", ""), ev)
t0 = time.time()
while len(v.events("audit_failed")) < 3 and time.time() - t0 < WAIT_S:
    time.sleep(0.2)                     # two more audit rounds
check("later audits fail as well", len(v.events("audit_failed")) >= 3,
      v.events("audit_failed"))
st, _, out = v.verify(B)
rst, _, rout = v.req("GET", "/readyz")
check("and verify stays 503 log_damaged, /readyz 503", st == 503 and
      out.get("reason") == "log_damaged" and rst == 503, (out, rout))
check("the kept checkpoint is not moved back", kept_size() == 4, kept_size())
check("the running verifier stops cleanly", v.stop() == 0)

# --- 3. across a restart ----------------------------------------------------------
v = Verifier("restart", "--audit-interval", "3")
st, _, out = v.verify(B)
check("restarted on the rolled-back log: no verdict", st == 503 and
      out.get("reason") in ("not_ready", "log_damaged"), out)
st, out = v.settled()
check("restarted: /readyz 503 log_damaged naming the rollback", st == 503 and
      out.get("reason") == "log_damaged" and "rolled back" in out.get("detail", ""), out)
st, _, out = v.verify(B)
check("restarted: verify 503 log_damaged", st == 503 and out.get("reason") == "log_damaged",
      out)
ev = v.events("audit_failed")
check("restarted: audit_failed logged", ev and ev[0].get("reason") == "rolled_back", ev)
check("the restarted verifier stops cleanly", v.stop() == 0)

# --- 4. a rollback and a new entry: the kept size, another root -------------------
reg("publish", *release("c", docs[2]["pcrs"]))
check("forked log has the kept size", log_size() == 4)
v = Verifier("fork", "--audit-interval", "3")
st, out = v.settled()
check("forked: /readyz 503 log_damaged", st == 503 and out.get("reason") == "log_damaged" and
      "another root" in out.get("detail", ""), out)
st, _, out = v.verify(docs[2])
check("forked: verify 503 log_damaged", st == 503 and out.get("reason") == "log_damaged", out)
check("the fork verifier stops cleanly", v.stop() == 0)

# --- 5. the good log back; then normal growth -----------------------------------
sqlite_cli(".restore " + os.path.join(TMP, "after.db"))
v = Verifier("good", "--audit-interval", "1")
st, out = v.settled()
check("the good log back: ready", st == 200 and out["audit"]["state"] == "ok", out)
st, _, out = v.verify(B)
check("the good log back: revoked again", st == 200 and out["reason"] == "revoked",
      out.get("reason"))
grew = []
for i, d in enumerate(docs[2:5]):
    if i == 1:      # through the API
        stmt, sig = release(f"api{i}", d["pcrs"])
        st, _, out = v.req("POST", "/api/v1/releases", {
            "statement": base64.b64encode(open(stmt, "rb").read()).decode(),
            "signature": open(sig).read()}, AUTH)
        grew.append(st == 201)
    else:
        reg("publish", *release(f"grow{i}", d["pcrs"]))
    st, _, out = v.verify(d)
    grew.append(st == 200 and out["reason"] == "ok")
    st, _, out = v.verify(B)
    grew.append(st == 200 and out["reason"] == "revoked")
    grew.append(kept_size() == log_size())
check("normal growth: every verdict given, the kept checkpoint follows", all(grew), grew)
n = len(v.events("audit_failed"))
t0 = time.time()
audited = None
while time.time() - t0 < WAIT_S:        # an audit after the last publication
    st, out = v.settled()
    if st != 200 or out["audit"]["checked"] == log_size():
        audited = (st, out)
        break
    time.sleep(0.2)
check("normal growth: audited and ready", audited is not None and audited[0] == 200 and
      audited[1]["audit"]["state"] == "ok", audited)
check("normal growth: nothing logged as failed", n == 0 and
      not v.events("audit_failed"), v.events("audit_failed"))
check("the good verifier stops cleanly", v.stop() == 0)

# --- 6. no watch: verdicts at once, nothing kept ----------------------------------
os.unlink(KEPT)
v = Verifier("off", "--audit-interval", "0")
st, _, out = v.verify(A)
check("--audit-interval 0: a verdict at once", st == 200 and out["reason"] == "ok", out)
st, _, out = v.req("GET", "/readyz")
check("--audit-interval 0: ready, audit off", st == 200 and out["audit"]["state"] == "off", out)
check("--audit-interval 0: nothing kept", not os.path.exists(KEPT))
check("the unwatched verifier stops cleanly", v.stop() == 0)

# --- 7. a kept file that is not a checkpoint of this log fails closed ------------
with open(KEPT, "w") as f:
    f.write("another.log/x\n99\n" + "A" * 44 + "\n\n\u2014 forged abcd\n")
v = Verifier("badkept", "--audit-interval", "3")
st, out = v.settled()
check("a forged kept file: /readyz 503 log_damaged", st == 503 and
      out.get("reason") == "log_damaged" and "not a checkpoint signed by the log key" in
      out.get("detail", ""), out)
st, _, out = v.verify(A)
check("a forged kept file: verify 503", st == 503 and out.get("reason") == "log_damaged", out)
check("the badkept verifier stops cleanly", v.stop() == 0)

subprocess.run(["gpgconf", "--kill", "gpg-agent"], check=False)
from harness import counts  # noqa: E402
if counts["failed"] == 0:
    shutil.rmtree(TMP, ignore_errors=True)
else:
    print("kept", TMP)
finish()
