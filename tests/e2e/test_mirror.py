#!/usr/bin/env python3
"""Mirrors (glassbox-verifier --mirror, docs/verifier.md "Mirror"): read-only
copies of a primary's log kept from its static tiles, served here by
Debian's nginx as S3 and CloudFront serve them in production.

All on 127.0.0.1: a primary registry (real gpg key made here, releases of
the real documents of ../shared/vectors) with its tiles directory and its
verifier, one nginx, two mirrors. Each mirror reads its own path of the
nginx (www/m1, www/m2: symbolic links the test points at the primary's
tiles, at a forked log's or at tampered ones).

Checked:
- both mirrors copy the log (every leaf's bytes and every derived row the
  same as the primary's), are ready, and answer verify as the primary does
  for the real documents (trusted, debug, unknown) and for a release
  published and one revoked while they run;
- writes to a mirror are refused (403 mirror_read_only) and name the
  primary's tiles;
- a mirror that was down catches up when it starts again, before it
  answers;
- a forked log (a second registry with the same log key and another
  history), of the same size as the copy and of a larger one, is refused:
  the mirror keeps serving its verified tree, says "fork" in /readyz and
  /metrics and its log, and keeps the offending note and tiles as
  evidence;
- tiles with one changed entry byte are refused (bad_tiles) and nothing is
  applied; served right again, the mirror catches up.

- challenges across replicas (docs/verifier.md "Challenges across
  replicas"): with one challenge key, a challenge made by one mirror is
  accepted once by another; each host's used-nonce store refuses a
  second use there, and mirrors sharing one store refuse it everywhere.

usage: test_mirror.py GLASSBOX VERIFIER VECTORS_DIR MINTDOC
"""
import atexit
import base64
import hashlib
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish, open_checkpoint  # noqa: E402
import openapi_check  # noqa: E402

GB, VERIFIER, VECTORS, MINTDOC = sys.argv[1:5]
TMP = tempfile.mkdtemp(prefix="glassbox-mirror-")
os.environ["GNUPGHOME"] = os.path.join(TMP, "gnupg")
os.mkdir(os.environ["GNUPGHOME"], 0o700)
DB = os.path.join(TMP, "primary.db")
TILES = os.path.join(TMP, "tiles")
WWW = os.path.join(TMP, "www")
ORIGIN = "mirror.glassbox/log"
WAIT = 60.0          # seconds any condition may take to come true
PROCS = []


def cleanup():
    """Whatever happened: every process started here stopped, TMP gone."""
    for p in PROCS:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    if os.environ.get("GB_KEEP_TMP") is None:
        shutil.rmtree(TMP, ignore_errors=True)


atexit.register(cleanup)


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, check=False)


def reg(*args, db=DB):
    r = run(GB, "registry", "--db", db, *args)
    if r.returncode != 0:
        raise SystemExit(f"registry {args}: {r.stderr}")
    return r.stdout


def gpg(*args):
    r = subprocess.run(["gpg", "--batch", "--yes", *args], capture_output=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"gpg {args}: {r.stderr.decode()}")
    return r.stdout


def sign(name, obj):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        json.dump(obj, f)
    gpg("--armor", "--local-user", "rm@example.com", "--detach-sign", path)
    return path, path + ".asc"


def publish(name, pcrs, db=DB):
    s, sig = sign(f"{name}-{os.path.basename(db)}.json", {
        "version": "1", "pcrs": {k: pcrs[k] for k in ("0", "1", "2")},
        "docker_image": {"name": name, "tag": "x", "digest": "sha256:0"}})
    reg("publish", s, sig, db=db)


def revoke(pcr0):
    s, sig = sign("revoke.json", {"action": "revoke", "origin": ORIGIN, "pcr0": pcr0,
                                  "reason": "test"})
    reg("revoke", s, sig)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url, method="GET", data=None, ctype="application/json", schema=False):
    """(status, body); with schema, a verifier's answer is also checked
    against verifier/openapi.json."""
    h = {"Content-Type": ctype} if data is not None else {}
    r = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            st, hd, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        st, hd, raw = e.code, e.headers, e.read()
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e).encode()
    if schema:
        path = "/" + url.split("/", 3)[3]
        openapi_check.observe(method, path, st, hd, raw)
    return st, raw


def until(cond, what):
    """Polls cond (bounded by WAIT seconds); True once it holds."""
    t0 = time.time()
    while time.time() - t0 < WAIT:
        if cond():
            return True
        time.sleep(0.1)
    print(f"gave up waiting: {what}")
    return False


class Verifier:
    def __init__(self, name, db, *extra, wait=True):
        self.name, self.db, self.extra = name, db, extra
        self.logpath = os.path.join(TMP, f"{name}.log")
        self.start(wait)

    def start(self, wait=True):
        self.log = open(self.logpath, "a")
        self.proc = subprocess.Popen(
            [VERIFIER, "--db", self.db, "--listen", "127.0.0.1:0", "--threads", "2",
             "--verdict-key", os.path.join(TMP, "verdict-key"), *self.extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        PROCS.append(self.proc)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise SystemExit(f"{self.name} did not start: {line} "
                             f"{open(self.logpath).read()[-2000:]}")
        self.url = line.split("listening on ")[1].strip().rstrip("/")
        if wait:
            until(lambda: self.get("/readyz")[0] == 200, f"{self.name} ready")

    def get(self, path):
        st, raw = http(self.url + path, schema=True)
        try:
            return st, json.loads(raw)
        except ValueError:
            return st, raw

    def post(self, path, data, ctype="application/json"):
        st, raw = http(self.url + path, "POST", data, ctype, schema=True)
        return st, json.loads(raw)

    def ready(self):
        return self.get("/readyz")[1]

    def size(self):
        r = self.ready()
        return r.get("log_size", -1) if isinstance(r, dict) else -1

    def events(self, event):
        self.log.flush()
        return [json.loads(x) for x in open(self.logpath)
                if x.startswith("{") and json.loads(x).get("event") == event]

    def metrics(self):
        return http(self.url + "/metrics")[1].decode()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        self.log.close()
        return rc


def point(link, target):
    """www/link now serves target (atomically: a new link renamed over)."""
    tmp = os.path.join(WWW, link + ".new")
    os.symlink(target, tmp)
    os.replace(tmp, os.path.join(WWW, link))


def primary_size():
    return int(json.loads(reg("--json", "checkpoint"))["checkpoint"].split("\n")[1])


def table(db, sql):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return c.execute(sql).fetchall()
    finally:
        c.close()


def same_copy(name, mirror_db):
    for sql in ("SELECT idx, type, body, hash FROM leaves ORDER BY idx",
                "SELECT level, idx, hash FROM nodes ORDER BY level, idx",
                "SELECT * FROM keys ORDER BY fpr",
                "SELECT * FROM releases ORDER BY id",
                "SELECT * FROM release_pcrs ORDER BY value, pcr, leaf"):
        a, b = table(DB, sql), table(mirror_db, sql)
        check(f"{name}: {sql.split(' FROM ')[1].split()[0]} equal the primary's ({len(a)} rows)",
              a == b and len(a) > 0, (len(a), len(b)))


def claims(answer):
    c = answer["verdict"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(c + "=" * (-len(c) % 4)))


def comparable(answer):
    """A verify answer without what differs between two signings (iat,
    exp, jti and the signature over them)."""
    a = dict(answer)
    c = claims(a)
    for k in ("iat", "exp", "jti"):
        c.pop(k, None)
    a["verdict"] = c
    return a


def agree(name, verifiers, docs):
    for label, v in docs:
        body = json.dumps({"document": base64.b64encode(v["doc"]).decode(),
                           "at": "document"}).encode()
        answers = [x.post("/api/v1/verify", body) for x in verifiers]
        ok = all(st == 200 for st, _ in answers)
        same = ok and all(comparable(a) == comparable(answers[0][1]) for _, a in answers)
        if ok and not same:
            for _, a in answers[1:]:
                x, y = comparable(answers[0][1]), comparable(a)
                print("differs:", {k: (x.get(k), y.get(k)) for k in set(x) | set(y)
                                   if x.get(k) != y.get(k)})
        check(f"{name}: {label}: the mirrors answer as the primary "
              f"({answers[0][1].get('reason')})", same,
              [(st, a.get("reason"), a.get("trusted")) for st, a in answers])
        yield answers[0][1]


# --- the primary, its tiles, nginx --------------------------------------------
gpg("--passphrase", "", "--quick-gen-key", "Test <rm@example.com>", "ed25519", "sign", "1y")
with open(os.path.join(TMP, "rm.asc"), "wb") as f:
    f.write(gpg("--armor", "--export", "rm@example.com"))
reg("init", "--origin", ORIGIN)
reg("key", "add", os.path.join(TMP, "rm.asc"))
reg("tiles", TILES)
VKEY = json.loads(reg("--json", "checkpoint"))["vkey"]

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
assert len(pcr0s) >= 4, "the vectors need four distinct PCR0s"
first, to_revoke, later, offline = (groups[p] for p in pcr0s[:4])
debug = next(v for v in real if v["debug"])
publish("first", first["pcrs"])
publish("to-revoke", to_revoke["pcrs"])

os.mkdir(WWW)
for link in ("m1", "m2"):
    point(link, TILES)
PORT = free_port()
os.mkdir(os.path.join(TMP, "nginx"))
conf = os.path.join(TMP, "nginx", "nginx.conf")
with open(conf, "w") as f:
    f.write(f"""{'user root;' if os.geteuid() == 0 else ''}
daemon off;
worker_processes 1;
pid {TMP}/nginx/nginx.pid;
error_log {TMP}/nginx/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {TMP}/nginx/access.log;
    client_body_temp_path {TMP}/nginx/body;
    proxy_temp_path {TMP}/nginx/proxy;
    fastcgi_temp_path {TMP}/nginx/fastcgi;
    uwsgi_temp_path {TMP}/nginx/uwsgi;
    scgi_temp_path {TMP}/nginx/scgi;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{PORT};
        root {WWW};
    }}
}}
""")
# -e: the error log before the configuration is read (the default, in
# /var/log, is not writable by a user other than root).
nginx = subprocess.Popen(["/usr/sbin/nginx", "-c", conf, "-p", os.path.join(TMP, "nginx"),
                          "-e", os.path.join(TMP, "nginx", "error.log")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
PROCS.append(nginx)
BASE = f"http://127.0.0.1:{PORT}"
if not until(lambda: http(BASE + "/m1/checkpoint")[0] == 200, "nginx"):
    raise SystemExit("nginx did not serve the tiles: "
                     + open(os.path.join(TMP, "nginx", "error.log")).read()[-2000:])


def mirror(name, link, *extra):
    return Verifier(name, os.path.join(TMP, f"{name}.db"), "--mirror", f"{BASE}/{link}",
                    "--log-key", VKEY, "--mirror-interval", "1", "--audit-interval", "2",
                    *extra)


try:
    primary = Verifier("primary", DB, "--audit-interval", "3600")
    m1 = mirror("m1", "m1")
    m2 = mirror("m2", "m2")
    everyone = [primary, m1, m2]

    # --- 1. copies, readiness, the same answers --------------------------------
    n = primary_size()
    for m, name in ((m1, "m1"), (m2, "m2")):
        r = m.ready()
        check(f"{name}: ready with the primary's size, its audit passed",
              r.get("status") == "ready" and r.get("log_size") == n and
              r["audit"]["state"] == "ok" and r["mirror"]["state"] == "ok" and
              r["mirror"]["held"] == n and not r["mirror"]["fork"], r)
        same_copy(name, m.db)
        check(f"{name}: its checkpoint is the note the origin signed",
              table(m.db, "SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1")[0][0] ==
              json.loads(reg("--json", "checkpoint"))["checkpoint"])
        check(f"{name}: no log key of its own", not os.path.exists(m.db + ".key"))
    out = list(agree("start", everyone, [("trusted", first), ("to be revoked", to_revoke),
                                         ("debug", debug), ("unknown", later)]))
    list(agree("start", everyone, [(v["file"], v) for v in real]))
    check("start: trusted with a proof against the checkpoint", out[0]["trusted"] and
          out[0]["proof"] is not None and out[0]["reason"] == "ok", out[0].get("reason"))

    # Refused at start, with a reason: no pinned key, a URL that is not
    # http(s) or ends in /, a primary's database, a copy of another log.
    reg("init", "--origin", "other.glassbox/log", db=os.path.join(TMP, "other.db"))
    other_vkey = json.loads(reg("--json", "checkpoint", db=os.path.join(TMP, "other.db")))["vkey"]
    for label, args, want in (
            ("no --log-key", ["--mirror", f"{BASE}/m1"], "needs --log-key"),
            ("a file: URL", ["--mirror", "file:///etc", "--log-key", VKEY], "http(s) URL"),
            ("a trailing /", ["--mirror", f"{BASE}/m1/", "--log-key", VKEY], "trailing /"),
            ("a primary's database", ["--mirror", f"{BASE}/m1", "--log-key", VKEY, "--db", DB],
             "not_mirror"),
            ("another log's copy", ["--mirror", f"{BASE}/m1", "--log-key", other_vkey, "--db",
                                    m1.db], "wrong_log")):
        db = ["--db", os.path.join(TMP, "never.db")] if "--db" not in args else []
        r = run(VERIFIER, *db, "--listen", "127.0.0.1:0", *args)
        check(f"refused at start: {label}", r.returncode == 2 and want in r.stderr and
              not os.path.exists(os.path.join(TMP, "never.db")), (r.returncode, r.stderr[-300:]))

    # A mirror whose source is not there yet holds no tree: it answers no
    # verify (503 not_ready), then copies the log once the tiles appear.
    m3 = Verifier("m3", os.path.join(TMP, "m3.db"), "--mirror", f"{BASE}/m3", "--log-key",
                  VKEY, "--mirror-interval", "1", wait=False)
    body = json.dumps({"document": base64.b64encode(first["doc"]).decode(),
                       "at": "document"}).encode()
    st, p = m3.post("/api/v1/verify", body)
    r = m3.get("/readyz")
    check("an empty mirror: verify 503 not_ready, /readyz 503",
          st == 503 and p.get("reason") == "not_ready" and r[0] == 503, (st, p, r))
    check("an empty mirror: its failed round is counted and logged",
          "glassbox_mirror_failures_total 0" not in m3.metrics() and
          any(e.get("reason") == "not_found" for e in m3.events("mirror_refused")))
    point("m3", TILES)
    check("the source appears: the empty mirror copies it and answers",
          until(lambda: m3.size() == n, "m3 ready") and
          m3.post("/api/v1/verify", body)[1].get("trusted") is True)
    check("m3 stops cleanly", m3.stop() == 0)

    # --policy on a mirror: a checkpoint below the quorum is never applied
    # (this primary has no witness, so a policy that needs one is never
    # met), one that meets it (quorum none) is.
    wdb = os.path.join(TMP, "pw.db")
    run(GB, "witness", "--db", wdb, "init", "policy.test/w")
    wvkey = run(GB, "witness", "--db", wdb, "vkey").stdout.strip()
    strict = os.path.join(TMP, "strict.policy")
    with open(strict, "w") as f:
        f.write(f"log {VKEY}\nwitness W {wvkey}\nquorum W\n")
    lax = os.path.join(TMP, "lax.policy")
    with open(lax, "w") as f:
        f.write(f"log {VKEY}\nquorum none\n")
    m4 = Verifier("m4", os.path.join(TMP, "m4.db"), "--mirror", f"{BASE}/m1", "--log-key", VKEY,
                  "--mirror-interval", "1", "--policy", strict, wait=False)
    until(lambda: m4.events("mirror_refused"), "m4 refuses")
    st, p = m4.post("/api/v1/verify", body)
    check("a mirror whose policy is not met: nothing applied, below_quorum, no verdict",
          m4.size() == -1 and st == 503 and
          any(e.get("reason") == "below_quorum" for e in m4.events("mirror_refused")),
          (st, p, m4.events("mirror_refused")[:2]))
    check("m4 stops cleanly", m4.stop() == 0)
    m5 = Verifier("m5", os.path.join(TMP, "m5.db"), "--mirror", f"{BASE}/m1", "--log-key", VKEY,
                  "--mirror-interval", "1", "--policy", lax)
    check("a mirror whose policy is met copies the log", until(lambda: m5.size() == n, "m5"))
    check("m5 stops cleanly", m5.stop() == 0)

    # A source that accepts and never answers: the fetch ends at its bound
    # (VS_MIRROR_FETCH_MS), the mirror goes on serving, and stops at once
    # even in the middle of such a fetch.
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(16)
    held_conns = []
    m4 = Verifier("m4", os.path.join(TMP, "m3.db"), "--mirror",
                  f"http://127.0.0.1:{hang.getsockname()[1]}/log", "--log-key", VKEY,
                  "--mirror-interval", "1", wait=False)
    check("a source that never answers: the round ends as timeout", until(
        lambda: m4.ready().get("mirror", {}).get("reason") == "timeout", "timeout"),
        m4.ready())
    check("... while the copy is still served", m4.size() == n)
    time.sleep(1.5)     # past the interval: the next fetch is in flight
    t0 = time.time()
    check("... and the mirror stops cleanly in the middle of a fetch", m4.stop() == 0)
    print(f"stopped in {time.time() - t0:.2f} s")
    hang.close()

    # Writes go to the primary.
    s, sig = sign("w.json", {"version": "1", "pcrs": later["pcrs"]})
    body = json.dumps({"statement": base64.b64encode(open(s, "rb").read()).decode(),
                       "signature": open(sig).read()}).encode()
    st, raw = http(m1.url + "/api/v1/releases", "POST", body, schema=True)
    p = json.loads(raw)
    check("a write to a mirror: 403 mirror_read_only, naming the primary's log",
          st == 403 and p.get("reason") == "mirror_read_only" and f"{BASE}/m1" in p.get("detail", ""),
          (st, raw[:300]))
    st, raw = http(m1.url + "/api/v1/releases/0123456789abcdef/revoke", "POST", body,
                   schema=True)
    check("a revocation on a mirror: 403 mirror_read_only",
          st == 403 and json.loads(raw).get("reason") == "mirror_read_only", (st, raw[:200]))
    check("reads still answer on a mirror",
          m1.get("/api/v1/releases")[0] == 200 and m1.get("/api/v1/log/checkpoint")[0] == 200)

    # --- 2. the log grows while the mirrors run -------------------------------
    older = os.path.join(TMP, "older-tiles")
    shutil.copytree(TILES, older)
    publish("later", later["pcrs"])
    revoke(to_revoke["pcrs"]["0"])
    n = primary_size()
    for m, name in ((m1, "m1"), (m2, "m2")):
        check(f"{name}: follows the primary to size {n}", until(lambda: m.size() == n,
                                                                f"{name} at {n}"))
        check(f"{name}: logged what it applied",
              any(e.get("size") == n for e in m.events("mirror_applied")))
    out = list(agree("grown", everyone, [("published since", later),
                                         ("revoked since", to_revoke), ("trusted", first)]))
    check("grown: the new release is trusted, the revoked one not",
          out[0]["trusted"] and not out[1]["trusted"] and out[1]["reason"] == "revoked",
          [o.get("reason") for o in out])
    same_copy("m1 after growth", m1.db)

    # A server behind (a cache's older copy of the same log) is no fork.
    rounds = m2.ready()["mirror"]["rounds"]
    point("m2", older)
    check("an older checkpoint of the same log: rounds go on", until(
        lambda: m2.ready()["mirror"]["rounds"] > rounds + 2, "rounds"))
    r = m2.ready()
    check("an older checkpoint of the same log: not a fork, nothing changed",
          r["mirror"]["state"] == "ok" and not r["mirror"]["fork"] and r["log_size"] == n and
          "evidence" not in r["mirror"], r)
    point("m2", TILES)
    for m, name in ((m1, "m1"), (m2, "m2")):
        check(f"{name}: its periodic audit passes on the grown copy (every signature, rule, "
              "derived row)",
              until(lambda: m.ready()["audit"].get("checked") == n and
                    m.ready()["audit"]["state"] == "ok", f"{name} audit"), m.ready()["audit"])

    # --- 3. a mirror that was down catches up ----------------------------------
    check("m2 stops cleanly", m2.stop() == 0)
    publish("offline", offline["pcrs"])
    n = primary_size()
    m2.start()
    check("m2 caught up when it started, before it answered", m2.size() == n, (m2.size(), n))
    same_copy("m2 after restart", m2.db)
    check("m1 follows too", until(lambda: m1.size() == n, "m1 at n"))
    list(agree("after restart", everyone, [("published while m2 was down", offline)]))

    # --- 4. a forked log is refused, the verified tree still served ------------
    held_note = table(m1.db, "SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1")[0][0]
    held = m1.size()

    def forked_log(name, size):
        """A registry with the primary's log key and another history, of
        size entries, and its tiles."""
        db = os.path.join(TMP, f"{name}.db")
        reg("init", "--origin", ORIGIN, db=db)
        shutil.copy(DB + ".key", db + ".key")
        c = sqlite3.connect(db)
        c.execute("UPDATE meta SET v = ? WHERE k = 'vkey'", (VKEY,))
        c.commit()
        c.close()
        reg("key", "add", os.path.join(TMP, "rm.asc"), db=db)
        i = 0
        while primary_size_of(db) < size:
            publish(f"{name}-{i}", {"0": f"{i + 1:04x}" * 24, "1": "11" * 48, "2": "22" * 48},
                    db=db)
            i += 1
        d = os.path.join(TMP, f"{name}-tiles")
        reg("tiles", d, db=db)
        return d

    def primary_size_of(db):
        return int(json.loads(reg("--json", "checkpoint", db=db))["checkpoint"].split("\n")[1])

    for label, size in (("same size", held), ("larger", held + 3), ("smaller", held - 2)):
        fork = forked_log(f"fork-{size}", size)
        fork_note = open(os.path.join(fork, "checkpoint")).read()
        check(f"fork ({label}): signed by the log key, size {size}",
              open_checkpoint(fork_note, VKEY)[1] == size)
        rounds = int(next(x for x in m1.metrics().splitlines()
                          if x.startswith("glassbox_mirror_rounds_total ")).split()[1])
        point("m1", fork)
        check(f"fork ({label}): m1 reports it", until(
            lambda: m1.ready().get("mirror", {}).get("fork") is True and
            m1.ready()["mirror"].get("evidence", "").endswith(
                hashlib.sha256(fork_note.encode()).hexdigest()[:16]), "fork reported"),
            m1.ready())
        r = m1.ready()
        check(f"fork ({label}): /readyz says fork, the mirror stays ready on its tree",
              r.get("status") == "ready" and r["mirror"]["state"] == "fork" and
              r["mirror"]["reason"] == "fork" and r["log_size"] == held, r)
        check(f"fork ({label}): the copy is unchanged", table(
            m1.db, "SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1")[0][0] == held_note
            and m1.size() == held)
        ev = r["mirror"]["evidence"]
        check(f"fork ({label}): evidence kept (the offending note, the held one, why)",
              open(os.path.join(ev, "checkpoint")).read() == fork_note and
              open(os.path.join(ev, "held-checkpoint")).read() == held_note and
              json.load(open(os.path.join(ev, "reason.json")))["reason"] == "fork", ev)
        if size > held:
            check(f"fork ({label}): the fetched tiles are in the evidence",
                  os.path.exists(os.path.join(ev, "tile", "entries", "000.p", str(size))))
        check(f"fork ({label}): logged", any(e.get("reason") == "fork" and e.get("evidence") == ev
                                             for e in m1.events("mirror_fork")))
        mt = m1.metrics()
        check(f"fork ({label}): metric glassbox_mirror_fork 1",
              "glassbox_mirror_fork 1" in mt.splitlines())
        pc = subprocess.run(["/usr/bin/python3", os.path.join(os.path.dirname(
            os.path.abspath(__file__)), "promcheck.py")], input=mt.encode(), capture_output=True)
        check(f"fork ({label}): /metrics is valid Prometheus text", pc.returncode == 0,
              pc.stderr[-300:])
        check(f"fork ({label}): more rounds ran", until(lambda: int(next(
            x for x in m1.metrics().splitlines()
            if x.startswith("glassbox_mirror_rounds_total ")).split()[1]) > rounds + 1, "rounds"))
        list(agree(f"fork ({label})", [primary, m1], [("trusted", first),
                                                      ("revoked", to_revoke)]))
    point("m1", TILES)

    # --- 5. oversized and tampered tiles ------------------------------------------
    huge = os.path.join(TMP, "huge")
    os.mkdir(huge)
    with open(os.path.join(huge, "checkpoint"), "wb") as f:
        f.write(b"x" * (65536 + 1))
    point("m2", huge)
    check("a checkpoint over 64 KiB: refused unread (too_large)", until(
        lambda: m2.ready().get("mirror", {}).get("reason") == "too_large", "too_large"),
        m2.ready())
    point("m2", TILES)
    check("m2 back to ok", until(lambda: m2.ready()["mirror"]["state"] == "ok", "m2 ok"))

    publish("tamper", {"0": "ee" * 48, "1": "11" * 48, "2": "22" * 48})
    n = primary_size()
    held = m2.size()
    bad = os.path.join(TMP, "tampered")
    shutil.copytree(TILES, bad)
    bundle = os.path.join(bad, "tile", "entries", f"000.p/{n}")
    data = bytearray(open(bundle, "rb").read())
    last = data.rindex(b'"time_ms":') + len(b'"time_ms":')
    data[last] = ord("1") if data[last] != ord("1") else ord("2")
    with open(bundle, "wb") as f:
        f.write(data)
    point("m2", bad)
    check("tampered: refused as bad_tiles", until(
        lambda: m2.ready().get("mirror", {}).get("reason") == "bad_tiles", "bad_tiles"),
        m2.ready())
    r = m2.ready()
    check("tampered: nothing applied, no fork claimed", r["log_size"] == held and
          not r["mirror"]["fork"] and m2.size() == held, r)
    check("tampered: the changed bundle is kept as evidence", open(os.path.join(
        r["mirror"]["evidence"], "tile", "entries", "000.p", str(n)), "rb").read() == data)
    point("m2", TILES)
    check("tampered, then served right: m2 catches up", until(lambda: m2.size() == n, "m2 at n"))
    check("m2 recovered", m2.ready()["mirror"]["state"] == "ok" and
          bool(m2.events("mirror_recovered")))
    same_copy("m2 after tampering", m2.db)

    # A server that deleted its partial tiles once the full ones existed
    # (tlog-tiles allows it): the mirror reads the full tiles' first part.
    frozen = os.path.join(TMP, "frozen")
    shutil.copytree(TILES, frozen)
    point("m2", frozen)
    publish("fulls", {"0": "dd" * 48, "1": "11" * 48, "2": "22" * 48})
    n = primary_size()
    fulls = os.path.join(TMP, "fulls")
    shutil.copytree(TILES, fulls)
    bpart = os.path.join(fulls, "tile", "entries", "000.p", str(n))
    hpart = os.path.join(fulls, "tile", "0", "000.p", str(n))
    with open(os.path.join(fulls, "tile", "entries", "000"), "wb") as f:
        f.write(open(bpart, "rb").read() + b"\x00\x02{}" * (256 - n))
    with open(os.path.join(fulls, "tile", "0", "000"), "wb") as f:
        f.write(open(hpart, "rb").read() + b"\x00" * 32 * (256 - n))
    os.unlink(bpart)
    os.unlink(hpart)
    point("m2", fulls)
    check("partial tiles gone, full ones there: m2 reads those and grows",
          until(lambda: m2.size() == n, "m2 from full tiles"), m2.ready())
    same_copy("m2 from full tiles", m2.db)
    point("m2", TILES)
    # The same checkpoint with one more signature (as a witness's
    # cosignature adds): the copy keeps the note as now published.
    cosigned = os.path.join(TMP, "cosigned")
    shutil.copytree(TILES, cosigned)
    note = open(os.path.join(cosigned, "checkpoint")).read()
    note += "\u2014 witness.example/w " + base64.b64encode(os.urandom(68)).decode() + "\n"
    with open(os.path.join(cosigned, "checkpoint"), "w") as f:
        f.write(note)
    point("m2", cosigned)
    check("a checkpoint again with one more signature: the copy keeps that note", until(
        lambda: table(m2.db, "SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1")[0][0]
        == note, "cosigned note") and m2.ready()["mirror"]["state"] == "ok" and m2.size() == n)
    point("m2", TILES)

    # An entry the log key signed that breaks a rule: a publication whose
    # release fields are not what its signed statement says (a new PCR0
    # and name under another release's statement and signature). Signed
    # into the log here with the primary's key, as a compromised primary
    # would; the mirror checks every new entry before it applies any.
    check("m2 at the primary's size", until(lambda: m2.size() == n, "m2 at n"))
    forged_db = os.path.join(TMP, "forged.db")
    c = sqlite3.connect(DB)
    d = sqlite3.connect(forged_db)
    c.backup(d)
    c.close()
    shutil.copy(DB + ".key", forged_db + ".key")
    os.chmod(forged_db + ".key", 0o600)
    body = json.loads(d.execute("SELECT body FROM leaves WHERE type = 'release_published'"
                                " ORDER BY idx DESC LIMIT 1").fetchone()[0])
    body["release"]["name"] = "forged"
    body["release"]["pcrs"]["0"] = "cc" * 48
    leaf = json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
    h = hashlib.sha256(b"\x00" + leaf).digest()
    d.execute("INSERT INTO leaves(idx, type, body, hash) VALUES (?, ?, ?, ?)",
              (n, "release_published", leaf.decode(), h))
    idx, level, cur = n, 0, h
    d.execute("INSERT INTO nodes(level, idx, hash) VALUES (0, ?, ?)", (n, h))
    while idx & 1:
        left = d.execute("SELECT hash FROM nodes WHERE level = ? AND idx = ?",
                         (level, idx - 1)).fetchone()[0]
        cur = hashlib.sha256(b"\x01" + left + cur).digest()
        level, idx = level + 1, idx >> 1
        d.execute("INSERT INTO nodes(level, idx, hash) VALUES (?, ?, ?)", (level, idx, cur))
    hashes = [bytes(x[0]) for x in d.execute("SELECT hash FROM leaves ORDER BY idx")]

    def mth(hs):
        if len(hs) == 1:
            return hs[0]
        k = 1
        while k * 2 < len(hs):
            k *= 2
        return hashlib.sha256(b"\x01" + mth(hs[:k]) + mth(hs[k:])).digest()

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    # PRIVATE+KEY+NAME+HASH+BASE64(0x01 || seed); the base64 may hold '+'.
    seed = base64.b64decode(open(DB + ".key").read().strip().split("+", 4)[4])[1:]
    text = f"{ORIGIN}\n{n + 1}\n{base64.b64encode(mth(hashes)).decode()}\n"
    sig = Ed25519PrivateKey.from_private_bytes(seed).sign(text.encode())
    note = text + "\n\u2014 " + ORIGIN + " " + base64.b64encode(
        bytes.fromhex(VKEY.split("+")[1]) + sig).decode() + "\n"
    d.execute("INSERT INTO checkpoints(size, note) VALUES (?, ?)", (n + 1, note))
    d.commit()
    d.close()
    check("the forged checkpoint opens with the log key", open_checkpoint(note, VKEY) is not None)
    forged_tiles = os.path.join(TMP, "forged-tiles")
    reg("tiles", forged_tiles, db=forged_db)
    point("m2", forged_tiles)
    check("an entry that breaks a rule, signed by the log key: refused (bad_entry)", until(
        lambda: m2.ready().get("mirror", {}).get("reason") == "bad_entry", "bad_entry"),
        m2.ready())
    r = m2.ready()
    check("... not applied, not called a fork, evidence kept",
          m2.size() == n and not r["mirror"]["fork"] and
          "release fields" in r["mirror"]["detail"] and
          open(os.path.join(r["mirror"]["evidence"], "checkpoint")).read() == note, r)
    st, a = m2.post("/api/v1/verify", json.dumps({"document": base64.b64encode(
        first["doc"]).decode(), "at": "document"}).encode())
    check("... and verify still answers from the verified tree", st == 200 and a["trusted"])
    point("m2", TILES)

    check("m1 back on the primary's tiles: still the fork flag (sticky), and follows",
          until(lambda: m1.size() == n, "m1 at n") and m1.ready()["mirror"]["fork"])
    # --- 6. challenges across replicas ------------------------------------------
    # Documents minted now, with the nonce asked for, under a simulated
    # root (tests/e2e/mintdoc), for a release published on the primary.
    mint = subprocess.Popen([MINTDOC], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    PROCS.append(mint)
    sim_root = os.path.join(TMP, "sim-root.der")
    with open(sim_root, "wb") as f:
        f.write(base64.b64decode(mint.stdout.readline()))
    good = {"0": "a1" * 48, "1": "b2" * 48, "2": "c3" * 48}
    publish("challenged", good)
    n = primary_size()
    key = os.path.join(TMP, "shared.challenge-key")
    with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    shared_store = os.path.join(TMP, "shared.nonces")
    c1 = mirror("c1", "m1", "--root", sim_root, "--challenge-key", key)
    c2 = mirror("c2", "m1", "--root", sim_root, "--challenge-key", key)
    c3 = mirror("c3", "m1", "--root", sim_root, "--challenge-key", key,
                "--nonce-db", shared_store)
    c4 = mirror("c4", "m1", "--root", sim_root, "--challenge-key", key,
                "--nonce-db", shared_store)
    check("the challenge mirrors hold the release",
          all(until(lambda: c.size() == n, c.name) for c in (c1, c2, c3, c4)))

    def challenged(v, nonce):
        mint.stdin.write(json.dumps({"pcrs": good, "nonce": nonce}) + "\n")
        mint.stdin.flush()
        doc = base64.b64decode(mint.stdout.readline().strip())
        st, a = v.post("/api/v1/verify", json.dumps({
            "document": base64.b64encode(doc).decode(), "nonce": nonce}).encode())
        return st, a.get("reason"), claims(a).get("eat_nonce") if "verdict" in a else None

    nonce = c1.post("/api/v1/challenge", b"")[1]["nonce"]
    st, reason, eat = challenged(c2, nonce)
    check("a challenge of one mirror, verified by another: trusted, the nonce signed",
          st == 200 and reason == "ok" and eat == nonce, (st, reason, eat))
    check("... used again there: refused (that host's store)",
          challenged(c2, nonce)[1] == "nonce_unknown")
    check("... once on another host with its own store: accepted (the documented bound: "
          "once per store)", challenged(c1, nonce)[1] == "ok")
    nonce = c3.post("/api/v1/challenge", b"")[1]["nonce"]
    check("mirrors sharing one store: the first use is accepted",
          challenged(c4, nonce)[1] == "ok")
    check("... and the second refused on the other",
          challenged(c3, nonce)[1] == "nonce_unknown")
    mint.stdin.close()
    mint.wait(timeout=30)
    for c in (c1, c2, c3, c4):
        check(f"{c.name} stops cleanly", c.stop() == 0)

    for v in everyone:
        check(f"{v.name} stops cleanly", v.stop() == 0)
finally:
    cleanup()
finish()
