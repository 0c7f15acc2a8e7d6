#!/usr/bin/env python3
"""Witnesses (C2SP tlog-witness, tlog-cosignature): real `glassbox witness`
servers on 127.0.0.1, a real registry that asks them after every change, and
an independent implementation here (Python cryptography; the request format,
key IDs and the cosignature/v1 message written from the specs) that drives a
witness directly and verifies every cosignature.

Checked: the spec's status codes (404 unknown origin, 403 bad signature, 400
malformed, 409 text/x.tlog.size on a rollback or another root, 422 bad
proof); racing submissions never roll a witness back; a fork made by a real
second registry with the same key and origin is refused and kept as
evidence; the registry's tiles checkpoint (and its verifier's) carries both
witnesses' cosignatures; a witness that is down or hangs delays only its own
cosignature, and catches up once back.

usage: test_witness.py GLASSBOX VERIFIER
"""
import base64
import concurrent.futures
import hashlib
import json
import os
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

from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish, open_checkpoint  # noqa: E402

GB, VERIFIER = sys.argv[1:3]
TMP = tempfile.mkdtemp(prefix="glassbox-witness-")
os.environ["GNUPGHOME"] = os.path.join(TMP, "gnupg")
os.mkdir(os.environ["GNUPGHOME"], 0o700)
DB = os.path.join(TMP, "reg.db")
TILES = os.path.join(TMP, "tiles")
ORIGIN = "witness.glassbox/log"
EM = "\u2014 "
procs = []


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)


def reg(*args, db=DB):
    return run(GB, "registry", "--db", db, *args)


def gpg(*args):
    r = subprocess.run(["gpg", "--batch", "--yes", *args], capture_output=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"gpg {args}: {r.stderr.decode()}")
    return r.stdout


def statement(i):
    path = os.path.join(TMP, f"r{i}.json")
    with open(path, "w") as f:
        json.dump({"version": str(i), "pcrs": {"0": f"{i + 1:04x}" * 24, "1": "11" * 48,
                                              "2": "22" * 48},
                   "docker_image": {"name": "w-app", "tag": "x", "digest": "sha256:0"}}, f)
    gpg("--armor", "--local-user", "rm@example.com", "--detach-sign", path)
    return path, path + ".asc"


# --- the independent implementation -------------------------------------------
def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def mth(hashes):
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node(mth(hashes[:k]), mth(hashes[k:]))


def consistency(m, hashes):
    """RFC 9162 2.1.4.1 PROOF(m, D[n])."""
    def sub(m, d, b):
        if m == len(d):
            return [] if b else [mth(d)]
        k = 1
        while k * 2 < len(d):
            k *= 2
        if m <= k:
            return sub(m, d[:k], b) + [mth(d[k:])]
        return sub(m - k, d[k:], False) + [mth(d[:k])]
    return [] if m == 0 or m == len(hashes) else sub(m, hashes, True)


def leaves(tag, n):
    return [hashlib.sha256(b"\x00" + f"{tag}-{i}".encode()).digest() for i in range(n)]


def b64(b):
    return base64.b64encode(b).decode()


def note_key_id(name, typ, pub):
    return hashlib.sha256(name.encode() + b"\n" + bytes([typ]) + pub).digest()[:4]


def sign_checkpoint(priv, name, origin, size, root):
    """A C2SP checkpoint note signed with an Ed25519 note key (type 0x01)."""
    text = f"{origin}\n{size}\n{b64(root)}\n".encode()
    pub = priv.public_key().public_bytes_raw()
    sig = note_key_id(name, 0x01, pub) + priv.sign(text)
    return text + f"\n{EM}{name} {b64(sig)}\n".encode()


def request(old, proof, note):
    return f"old {old}\n".encode() + b"".join(b64(p).encode() + b"\n" for p in proof) + \
        b"\n" + note


def cosig_ok(line, wvkey, text, now=None):
    """Verifies one cosignature/v1 line by the witness whose vkey is wvkey
    over the checkpoint text, from tlog-cosignature: the key ID is
    SHA-256(name || 0x0A || 0x04 || pub)[:4], the signature
    key ID || u64 timestamp || Ed25519 over
    "cosignature/v1\\ntime T\\n" || text. Returns the timestamp or None."""
    name, kid, kb = wvkey.split("+", 2)
    raw = base64.b64decode(kb)
    if raw[0] != 0x04 or len(raw) != 33 or note_key_id(name, 0x04, raw[1:]).hex() != kid:
        return None
    if not line.startswith(EM):
        return None
    who, _, sig = line[len(EM):].rstrip("\n").partition(" ")
    sig = base64.b64decode(sig)
    if who != name or len(sig) != 76 or sig[:4].hex() != kid:
        return None
    t = int.from_bytes(sig[4:12], "big")
    msg = b"cosignature/v1\ntime " + str(t).encode() + b"\n" + text
    try:
        Ed25519PublicKey.from_public_bytes(raw[1:]).verify(sig[12:], msg)
    except Exception:
        return None
    if now is not None and abs(t - now) > 86400:
        return None
    return t


def post(url, body):
    req = urllib.request.Request(url + "/add-checkpoint", data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def witness(name, db=None):
    """A witness database with its key; returns (db, vkey)."""
    db = db or os.path.join(TMP, name.replace("/", "_") + ".db")
    r = run(GB, "witness", "--db", db, "--json", "init", name)
    if r.returncode != 0:
        raise SystemExit(f"witness init: {r.stderr}")
    return db, json.loads(r.stdout)["vkey"]


def serve(db, port=0):
    log = open(db + f".serve-{len(procs)}.log", "w+")
    p = subprocess.Popen([GB, "witness", "--db", db, "serve", "--listen", f"127.0.0.1:{port}",
                          "--threads", "4"], stdout=subprocess.PIPE, stderr=log, text=True)
    p.log = log
    procs.append(p)
    line = p.stdout.readline()
    if "listening on" not in line:
        raise SystemExit(f"witness did not start: {line}")
    return p, line.split("listening on ")[1].strip().rstrip("/")


def stop(p):
    """SIGTERM: a clean stop (exit 0; under the sanitizers, no leak)."""
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=60)
    log = ""
    if hasattr(p, "log"):
        p.log.seek(0)
        log = p.log.read()
    check(f"{p.args[1]} {p.args[-4] if len(p.args) > 4 else ''} stops cleanly", rc == 0,
          f"exit {rc}: {log[-3000:]}")


def cosig_lines(note):
    cut = note.rfind("\n\n")
    return note[:cut + 1].encode(), [ln + "\n" for ln in note[cut + 2:].splitlines()]


try:
    # --- witness WX, driven from here ------------------------------------------
    log_priv = Ed25519PrivateKey.generate()
    LNAME = "independent.test/log"
    lpub = log_priv.public_key().public_bytes_raw()
    LVKEY = f"{LNAME}+{note_key_id(LNAME, 1, lpub).hex()}+{b64(bytes([1]) + lpub)}"
    NOTE0 = sign_checkpoint(log_priv, LNAME, LNAME, 0, mth([]))
    wx_db, wx_vkey = witness("wx.test/w")
    keyfile = wx_db + ".key"
    check("witness key file is mode 0600", os.stat(keyfile).st_mode & 0o777 == 0o600,
          oct(os.stat(keyfile).st_mode))
    r = run(GB, "witness", "--db", wx_db, "init", "wx.test/w")
    check("init refuses an existing witness", r.returncode == 1 and "exists" in r.stderr, r.stderr)
    r = run(GB, "witness", "--db", wx_db, "log", "add", LVKEY)
    check("log add", r.returncode == 0, r.stderr)
    r = run(GB, "witness", "--db", wx_db, "log", "add", "not-a-key")
    check("log add refuses a bad key", r.returncode == 1, r.stderr)
    name, kid, kb = wx_vkey.split("+", 2)
    check("witness vkey: type 0x04 and the key ID of tlog-cosignature",
          base64.b64decode(kb)[0] == 4 and
          note_key_id(name, 4, base64.b64decode(kb)[1:]).hex() == kid, wx_vkey)
    wx, WX = serve(wx_db)

    T = leaves("t", 40)
    U = leaves("u", 40)                     # another history, same key and origin

    def cp(hashes, n, priv=log_priv, name=LNAME, origin=LNAME):
        return sign_checkpoint(priv, name, origin, n, mth(hashes[:n]))

    st, ct, body = post(WX, request(0, [], cp(T, 3)))
    text = cp(T, 3).split(b"\n\n")[0] + b"\n"
    check("first checkpoint: 200", st == 200, (st, body))
    check("the answer is one cosignature line that verifies independently",
          st == 200 and body.count("\n") == 1 and
          cosig_ok(body, wx_vkey, text, int(time.time())) is not None, body)
    bad_vkey = f"{name}+{kid}+{b64(bytes([4]) + bytes(32))}"
    check("the check above fails with another key", cosig_ok(body, bad_vkey, text) is None)
    check("the check above fails over another text",
          cosig_ok(body, wx_vkey, text.replace(b"\n3\n", b"\n4\n")) is None)

    # 404, 403, 400
    other = Ed25519PrivateKey.generate()
    st, _, body = post(WX, request(3, consistency(3, T[:5]),
                                   cp(T, 5, priv=other, name="nobody.test/log",
                                      origin="nobody.test/log")))
    check("unknown origin: 404", st == 404, (st, body))
    st, _, body = post(WX, request(3, consistency(3, T[:5]), cp(T, 5, priv=other)))
    check("signed by another key of the same name: 403", st == 403, (st, body))
    good = cp(T, 5)
    forged = good[:-10] + (b"A" if good[-10:-9] != b"A" else b"B") + good[-9:]
    st, _, body = post(WX, request(3, consistency(3, T[:5]), forged))
    check("a signature by the log's key that does not verify: 403", st == 403, (st, body))
    for label, b in [("old with a leading zero", request(3, [], good).replace(b"old 3", b"old 03")),
                     ("no empty line", b"old 3\n" + good.split(b"\n\n")[0]),
                     ("a proof line that is not a hash", b"old 3\nAAAA\n\n" + good),
                     ("64 proof lines", request(3, [T[0]] * 64, good)),
                     ("not a note", b"old 3\n\nhello\n"),
                     ("old size above the checkpoint's", request(6, [], good))]:
        st, _, body = post(WX, b)
        check(f"malformed ({label}): 400", st == 400, (st, body))
    # Refused from its Content-Length alone, before a byte of the body.
    host, port = WX.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as c:
        c.sendall(b"POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nContent-Length: 80000\r\n\r\n")
        got = b""
        while b"too_large" not in got:
            chunk = c.recv(4096)
            if not chunk:
                break
            got += chunk
    check("a body over the limit: 413, text/plain", got.startswith(b"HTTP/1.1 413") and
          b"text/plain" in got and b"too_large" in got, got[:300])
    req = urllib.request.Request(WX + "/add-checkpoint", method="GET")
    try:
        urllib.request.urlopen(req, timeout=30)
        st = 200
    except urllib.error.HTTPError as e:
        st = e.code
    check("GET /add-checkpoint: 405", st == 405, st)
    st, ct, body = post(WX, request(3, consistency(3, T[:5]), good))
    check("every refusal left the state: 3 -> 5 accepted", st == 200, (st, body))

    # rollback: an older checkpoint, or the right one from an old size
    st, ct, body = post(WX, request(0, [], cp(T, 2)))
    check("rollback (old 0, size 2): 409 with text/x.tlog.size and the latest size",
          st == 409 and ct.startswith("text/x.tlog.size") and body == "5\n", (st, ct, body))
    st, _, body = post(WX, request(3, consistency(3, T[:4]), cp(T, 4)))
    check("rollback (old 3 < 5): 409", st == 409 and body == "5\n", (st, body))
    st, _, body = post(WX, request(5, [], cp(T, 4)))
    check("rollback (old 5, size 4): 400", st == 400, (st, body))

    # bad proof, fork
    pr = consistency(5, T[:9])
    st, _, body = post(WX, request(5, [pr[0][:-1] + bytes([pr[0][-1] ^ 1])] + pr[1:], cp(T, 9)))
    check("bad proof: 422", st == 422, (st, body))
    st, _, body = post(WX, request(5, pr[:-1], cp(T, 9)))
    check("truncated proof: 422", st == 422, (st, body))
    st, _, body = post(WX, request(5, consistency(5, U[:9]), cp(U, 9)))
    check("another history (same key, same origin) from 5: 422", st == 422, (st, body))
    st, ct, body = post(WX, request(5, [], cp(U, 5)))
    check("another root at the same size: 409", st == 409 and body == "5\n" and
          ct.startswith("text/x.tlog.size"), (st, ct, body))
    st, _, body = post(WX, request(5, [], cp(T, 5)))
    check("the same checkpoint again: 200", st == 200 and
          cosig_ok(body, wx_vkey, cp(T, 5).split(b"\n\n")[0] + b"\n") is not None, (st, body))
    ev = json.loads(run(GB, "witness", "--db", wx_db, "--json", "evidence").stdout)
    check("the fork attempts are kept as evidence",
          {e["status"] for e in ev} >= {409, 422} and
          any(b64(mth(U[:9])) in e["request"] for e in ev), ev)

    # racing submissions: from the same old size, one wins, the rest get
    # 409; the accepted ones form a chain and the witness ends at the
    # largest accepted size, never below.
    state = 5
    rolled_back = False
    for rnd in range(6):
        sizes = list(range(state + 1, state + 13))
        with concurrent.futures.ThreadPoolExecutor(len(sizes)) as ex:
            res = list(ex.map(lambda n: (n, post(WX, request(state, consistency(state, T[:n]),
                                                              cp(T, n)))), sizes))
        won = [n for n, (st, _, _) in res if st == 200]
        others = [(n, st, b) for n, (st, _, b) in res if st != 200]
        check(f"race {rnd}: exactly one of {len(sizes)} submissions from {state} wins",
              len(won) == 1, [(n, st) for n, (st, _, _) in res])
        check(f"race {rnd}: the others get 409 with the winner's size",
              all(st == 409 and b == f"{won[0] if won else -1}\n" for n, st, b in others), others)
        st, _, body = post(WX, request(0, [], NOTE0))
        now = int(body) if st == 409 else -1
        if won and now != won[0]:
            rolled_back = True
        state = now if now > 0 else state
        if state + 13 > len(T):
            break
    check("racing submissions never rolled the witness back", not rolled_back)
    r = run(GB, "witness", "--db", wx_db, "--json", "log", "list")
    got = json.loads(r.stdout)
    check("log list shows the state", got and got[0]["size"] == state and
          got[0]["root"] == mth(T[:state]).hex(), got)
    stop(wx)
    wx, WX = serve(wx_db)
    st, _, body = post(WX, request(0, [], NOTE0))
    check("the state survives a restart", st == 409 and body == f"{state}\n", (st, body))
    stop(wx)
    os.chmod(keyfile, 0o644)
    r = run(GB, "witness", "--db", wx_db, "serve", "--listen", "127.0.0.1:0")
    check("a key file others can read is refused", r.returncode == 2 and
          "bad_permissions" in r.stderr, r.stderr)

    # --- a real registry and two witnesses --------------------------------------
    gpg("--passphrase", "", "--quick-gen-key", "Test <rm@example.com>", "ed25519", "sign", "1y")
    with open(os.path.join(TMP, "rm.asc"), "wb") as f:
        f.write(gpg("--armor", "--export", "rm@example.com"))
    assert reg("init", "--origin", ORIGIN).returncode == 0
    VKEY = json.loads(reg("--json", "checkpoint").stdout)["vkey"]
    assert reg("tiles", TILES).returncode == 0
    w1_db, w1_vkey = witness("w1.test/witness")
    w2_db, w2_vkey = witness("w2.test/witness")
    for d in (w1_db, w2_db):
        assert run(GB, "witness", "--db", d, "log", "add", VKEY).returncode == 0
    w1, W1 = serve(w1_db)
    w2, W2 = serve(w2_db)
    r = reg("witness", "add", W1, w1_vkey)
    check("witness add (w1), and it cosigns at once", r.returncode == 0 and
          "w1.test/witness cosigned" in r.stderr, r.stdout + r.stderr)
    r = reg("witness", "add", W2, w2_vkey)
    check("witness add (w2)", r.returncode == 0, r.stderr)
    r = reg("witness", "add", W2, w2_vkey)
    check("the same witness twice is refused", r.returncode == 1 and "exists" in r.stderr,
          r.stderr)
    r = reg("witness", "add", W2, wx_vkey.replace("+", "-", 1))
    check("a bad witness key is refused", r.returncode == 1 and "bad_key" in r.stderr, r.stderr)

    def tiles_cosigned(label, want, size=None):
        """The tiles checkpoint: the log's signature, and exactly the
        cosignatures of the witnesses in want, each verified here."""
        with open(os.path.join(TILES, "checkpoint")) as f:
            note = f.read()
        cp_ = open_checkpoint(note, VKEY)
        text, lines = cosig_lines(note)
        have = {}
        for vk in (w1_vkey, w2_vkey, w3_vkey):
            for ln in lines:
                if ln.startswith(EM + vk.split("+")[0] + " ") and \
                        cosig_ok(ln, vk, text, int(time.time())) is not None:
                    have[vk.split("+")[0]] = True
        check(f"{label}: the log signs the tiles checkpoint", cp_ is not None and
              (size is None or cp_[1] == size), note)
        check(f"{label}: cosigned by exactly {sorted(want)}", sorted(have) == sorted(want) and
              len(lines) == 1 + len(want), note)
        return note

    w3_vkey = witness("w3.test/witness")[1]
    assert reg("key", "add", os.path.join(TMP, "rm.asc")).returncode == 0
    tiles_cosigned("size 1", ["w1.test/witness", "w2.test/witness"], 1)
    r = reg("publish", *statement(0))
    check("publish with two witnesses", r.returncode == 0 and r.stderr.count("cosigned") == 2,
          r.stderr)
    note2 = tiles_cosigned("size 2", ["w1.test/witness", "w2.test/witness"], 2)
    r = reg("checkpoint")
    check("registry checkpoint carries the cosignatures", r.stdout == note2, r.stdout)
    got = json.loads(run(GB, "witness", "--db", w1_db, "--json", "log", "list").stdout)
    check("w1 holds size 2", got[0]["size"] == 2 and got[0]["origin"] == ORIGIN, got)

    # A snapshot for the fork, later.
    FORK = os.path.join(TMP, "fork.db")
    for suffix in ("", ".key", "-wal", "-shm"):
        if os.path.exists(DB + suffix):
            shutil.copy2(DB + suffix, FORK + suffix)
    shutil.copytree(DB + ".gnupg", FORK + ".gnupg")

    # w2 down: only its cosignature waits.
    stop(w2)
    r = reg("publish", *statement(1))
    check("w2 down: the change is made", r.returncode == 0 and
          "w2.test/witness did not cosign" in r.stderr, r.stderr)
    tiles_cosigned("size 3, w2 down", ["w1.test/witness"], 3)
    wl = {w["name"]: w for w in json.loads(reg("--json", "witness", "list").stdout)}
    check("witness list: w2's failure recorded", wl["w2.test/witness"]["error"] and
          not wl["w2.test/witness"]["cosigned_latest"] and wl["w1.test/witness"]["size"] == 3, wl)
    w2, _ = serve(w2_db, int(W2.rsplit(":", 1)[1]))
    r = reg("witness", "sync")
    check("w2 back: witness sync brings its cosignature (proof from 2)", r.returncode == 0 and
          "w2.test/witness cosigned" in r.stderr, r.stderr)
    tiles_cosigned("size 3, w2 back", ["w1.test/witness", "w2.test/witness"], 3)

    # A witness that accepts and never answers: the change waits at most
    # its timeout, and the others' cosignatures are there.
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)
    held = []
    threading.Thread(target=lambda: [held.append(hung.accept()) for _ in range(4)],
                     daemon=True).start()
    r = reg("witness", "add", f"http://127.0.0.1:{hung.getsockname()[1]}", w3_vkey)
    check("a hung witness added", r.returncode == 0 and "w3.test/witness did not cosign" in
          r.stderr and "timeout" in r.stderr, r.stderr)
    t0 = time.monotonic()
    r = reg("publish", *statement(2))
    took = time.monotonic() - t0
    check("w3 hangs: the change is made, w3's timeout reported", r.returncode == 0 and
          "w3.test/witness did not cosign" in r.stderr and r.stderr.count(" cosigned the") == 2,
          r.stderr)
    print(f"publish with a hung witness took {took:.1f} s (its timeout: 5 s)")
    tiles_cosigned("size 4, w3 hung", ["w1.test/witness", "w2.test/witness"], 4)
    r = reg("witness", "remove", "w3.test/witness")
    check("witness remove", r.returncode == 0, r.stderr)
    hung.close()

    # The verifier serves the cosigned checkpoint too, and its own writes
    # ask the witnesses.
    with open(os.open(os.path.join(TMP, "token"), os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write("t" * 40)
    vlog = open(os.path.join(TMP, "verifier.log"), "w+")
    v = subprocess.Popen([VERIFIER, "--db", DB, "--listen", "127.0.0.1:0", "--threads", "2",
                          "--token-file", os.path.join(TMP, "token"), "--audit-interval", "0"],
                         stdout=subprocess.PIPE, stderr=vlog, text=True)
    procs.append(v)
    line = v.stdout.readline()
    if "listening on" not in line:
        vlog.seek(0)
        raise SystemExit(f"verifier did not start: {line} {vlog.read()}")
    vurl = line.split("listening on ")[1].strip().rstrip("/")

    def served_checkpoint():
        with urllib.request.urlopen(vurl + "/api/v1/log/checkpoint", timeout=30) as resp:
            return resp.read().decode()

    served = served_checkpoint()
    text, lines = cosig_lines(served)
    check("the verifier serves the checkpoint with both cosignatures",
          len(lines) == 3 and cosig_ok(lines[1], w1_vkey, text) is not None and
          cosig_ok(lines[2], w2_vkey, text) is not None and
          open_checkpoint(served, VKEY)[1] == 4, served)
    s_, sig_ = statement(20)
    body = json.dumps({"statement": base64.b64encode(open(s_, "rb").read()).decode(),
                       "signature": open(sig_).read()}).encode()
    req = urllib.request.Request(vurl + "/api/v1/releases", data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": "Bearer " + "t" * 40})
    with urllib.request.urlopen(req, timeout=60) as resp:
        check("a publication through the verifier", resp.status == 201, resp.status)
    note5 = tiles_cosigned("size 5, written by the verifier",
                           ["w1.test/witness", "w2.test/witness"], 5)
    check("the verifier serves what the tiles hold", served_checkpoint() == note5)
    stop(v)

    # A fork: the snapshot (same key, same origin, size 2) grows another
    # way, and asks the same witnesses.
    r = reg("tiles", "--off", db=FORK)
    assert r.returncode == 0, r.stderr
    for i in (10, 11, 12, 13):
        reg("publish", *statement(i), db=FORK)
    fl = {w["name"]: w for w in json.loads(reg("--json", "witness", "list", db=FORK).stdout)}
    check("the fork's checkpoints are refused by both witnesses",
          all(not fl[n]["cosigned_latest"] and fl[n]["error"] for n in
              ("w1.test/witness", "w2.test/witness")), fl)
    r = reg("checkpoint", db=FORK)
    check("the fork's checkpoint carries no cosignature", r.stdout.count(EM) == 1, r.stdout)
    ev = json.loads(run(GB, "witness", "--db", w1_db, "--json", "evidence").stdout)
    check("w1 keeps the fork's submission as evidence", any(e["status"] == 422 for e in ev), ev)
    got = json.loads(run(GB, "witness", "--db", w1_db, "--json", "log", "list").stdout)
    real = open_checkpoint(reg("checkpoint").stdout, VKEY)
    check("w1 still holds the real log's size and root", got[0]["size"] == 5 and
          got[0]["root"] == real[2].hex(), (got, real))
    r = reg("publish", *statement(3))
    check("the real log goes on being cosigned", r.returncode == 0 and
          r.stderr.count(" cosigned the") == 2, r.stderr)
    tiles_cosigned("size 6", ["w1.test/witness", "w2.test/witness"], 6)

    # A witness added again is asked from size 0: its 409 names its size,
    # and the registry asks again from there.
    assert reg("witness", "remove", "w1.test/witness").returncode == 0
    tiles_cosigned("w1 removed", ["w2.test/witness"], 6)
    assert reg("witness", "add", W1, w1_vkey).returncode == 0
    r = reg("publish", *statement(4))
    check("w1 again: asked from 0, told 6, asked from 6: cosigns", r.returncode == 0 and
          r.stderr.count(" cosigned the") == 2, r.stderr)
    tiles_cosigned("size 7", ["w1.test/witness", "w2.test/witness"], 7)
    r = reg("audit")
    check("audit passes with cosigned checkpoints", r.returncode == 0, r.stderr)
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(TMP, ignore_errors=True)
finish()
