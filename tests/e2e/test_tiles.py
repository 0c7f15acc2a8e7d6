#!/usr/bin/env python3
"""The registry's log as static tiles (C2SP tlog-tiles), read back by an
independent reader written here: every checkpoint's root rebuilt both from
the entry bundles and from the hash tiles alone, every entry's bytes equal
to the log's, full tiles immutable, a foreign or rolled-back directory
refused, kill -9 during publication never leaving a checkpoint the tiles
cannot back, the verifier's writes keeping the tiles current, and the
verifier serving the same paths (/tlog/) from its database.

A real registry (glassbox CLI, a real gpg key made here), filler entries
appended raw (tiles_fill) to reach full tiles and level 1 and 2 in seconds,
and a real verifier on 127.0.0.1.

usage: test_tiles.py GLASSBOX VERIFIER TILES_FILL
"""
import base64
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish, open_checkpoint  # noqa: E402

GB, VERIFIER, FILL = sys.argv[1:4]
TMP = tempfile.mkdtemp(prefix="glassbox-tiles-")
os.environ["GNUPGHOME"] = os.path.join(TMP, "gnupg")
os.mkdir(os.environ["GNUPGHOME"], 0o700)
DB = os.path.join(TMP, "reg.db")
TILES = os.path.join(TMP, "tiles")
ORIGIN = "tiles.glassbox/log"


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, check=False)


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
                   "docker_image": {"name": "tiles-app", "tag": "x", "digest": "sha256:0"}}, f)
    gpg("--armor", "--local-user", "rm@example.com", "--detach-sign", path)
    return path, path + ".asc"


# --- the independent reader ---------------------------------------------------
def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def mth(hashes):
    """RFC 9162 root of a list of leaf hashes."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node(mth(hashes[:k]), mth(hashes[k:]))


def index_path(n):
    groups = []
    while True:
        groups.append(n % 1000)
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join(("x" if i < len(groups) - 1 else "") + f"{g:03d}"
                    for i, g in enumerate(groups))


def tile_path(level, n, width):
    base = "tile/entries/" if level < 0 else f"tile/{level}/"
    return base + index_path(n) + (f".p/{width}" if width < 256 else "")


def read(d, rel):
    with open(os.path.join(d, rel), "rb") as f:
        return f.read()


def read_tile(d, level, n, size):
    """The tile that a tree of size entries has at (level, n), at its width
    for that size: (bytes, width)."""
    count = size >> (8 * max(level, 0))
    width = min(256, count - n * 256)
    return read(d, tile_path(level, n, width)), width


def entries_of(d, size):
    out = []
    for n in range((size + 255) // 256):
        data, width = read_tile(d, -1, n, size)
        got, o = [], 0
        while o < len(data):
            ln = int.from_bytes(data[o:o + 2], "big")
            got.append(data[o + 2:o + 2 + ln])
            o += 2 + ln
        if o != len(data) or len(got) != width:
            raise ValueError(f"entry bundle {n}: {len(got)} entries, want {width}")
        out += got
    return out


def hash_at(d, size, level, index):
    """Node (tree level `level`, index) from the hash tiles alone: read from
    the tile of level level // 8 when level is a multiple of 8, else hashed
    up from the tile below (what a client does)."""
    tl, rest = divmod(level, 8)
    if rest == 0:
        data, width = read_tile(d, tl, index // 256, size)
        i = index % 256
        if i >= width:
            raise ValueError("node beyond the tile")
        return data[32 * i:32 * i + 32]
    span = 1 << rest
    return mth([hash_at(d, size, 8 * tl, index * span + j) for j in range(span)])


def root_from_tiles(d, size):
    """The root of the tree of size entries from hash tiles only: its
    perfect subtrees, largest first, folded right to left."""
    parts, start = [], 0
    for level in range(63, -1, -1):
        if size & (1 << level):
            parts.append(hash_at(d, size, level, start >> level))
            start += 1 << level
    if not parts:
        return hashlib.sha256(b"").digest()
    r = parts[-1]
    for p in reversed(parts[:-1]):
        r = node(p, r)
    return r


def check_dir(name, d, vkey, note=None):
    """Everything a reader of d relies on, for d's checkpoint (or note)."""
    note = note if note is not None else read(d, "checkpoint").decode()
    cp = open_checkpoint(note, vkey)
    check(f"{name}: checkpoint signed by the log key", cp is not None and cp[0] == ORIGIN, note)
    if cp is None:
        return None
    _, size, root = cp
    try:
        ents = entries_of(d, size)
        leaves = [hashlib.sha256(b"\x00" + e).digest() for e in ents]
        check(f"{name}: root from the entry bundles", mth(leaves) == root, size)
        check(f"{name}: root from the hash tiles", root_from_tiles(d, size) == root, size)
        ok = all(read_tile(d, 0, n, size)[0] == b"".join(leaves[n * 256:n * 256 + 256])
                 for n in range((size + 255) // 256))
        check(f"{name}: level-0 tiles are the leaf hashes", ok)
    except (OSError, ValueError) as e:
        check(f"{name}: tiles back the checkpoint of {size}", False, repr(e))
        return None
    return size, ents


# --- a real registry ----------------------------------------------------------
gpg("--passphrase", "", "--quick-gen-key", "Test <rm@example.com>", "ed25519", "sign", "1y")
with open(os.path.join(TMP, "rm.asc"), "wb") as f:
    f.write(gpg("--armor", "--export", "rm@example.com"))
assert reg("init", "--origin", ORIGIN).returncode == 0
VKEY = json.loads(reg("--json", "checkpoint").stdout)["vkey"]
assert reg("key", "add", os.path.join(TMP, "rm.asc")).returncode == 0
for i in range(2):
    assert reg("publish", *statement(i)).returncode == 0

r = reg("tiles", TILES)
check("tiles DIR writes and keeps it", r.returncode == 0 and "tiles of 3 entries" in r.stdout,
      r.stdout + r.stderr)
got = check_dir("size 3", TILES, VKEY)
leaves = [json.loads(reg("--json", "show", str(i)).stdout)["leaf"] for i in range(3)]
check("entries are the log's leaves, byte for byte", got and [json.loads(e) for e in got[1]] ==
      leaves and all(e == json.dumps(json.loads(e), sort_keys=True, separators=(",", ":")).encode()
                     for e in got[1]))
check("partial tiles named .p/W", os.path.exists(os.path.join(TILES, "tile/0/000.p/3")) and
      os.path.exists(os.path.join(TILES, "tile/entries/000.p/3")))
old_note = read(TILES, "checkpoint").decode()

# A change through the CLI updates the kept directory.
assert reg("publish", *statement(2)).returncode == 0
check_dir("size 4, after publish", TILES, VKEY)
check("the checkpoint moved to 4", open_checkpoint(read(TILES, "checkpoint").decode(), VKEY)[1] == 4)
check("the old checkpoint is still backed by its partial tiles",
      check_dir("size 3, old checkpoint", TILES, VKEY, old_note) is not None)

# Past full tiles and levels 1 and 2 (65536 entries make one level-2 node).
r = run(FILL, DB, "70000")
check("filler entries appended", r.returncode == 0, r.stderr)
assert reg("publish", *statement(3)).returncode == 0
got = check_dir("size 70001", TILES, VKEY)
check("full tiles without .p", os.path.getsize(os.path.join(TILES, "tile/0/000")) == 8192 and
      os.path.getsize(os.path.join(TILES, "tile/1/000")) == 8192 and
      os.path.exists(os.path.join(TILES, "tile/2/000.p/1")) and
      os.path.exists(os.path.join(TILES, "tile/0/273.p/113")))
check("index_path groups as the spec's example", index_path(1234067) == "x001/x234/067")
for level, n, width in ((0, 0, 256), (0, 999, 5), (1, 1000, 256), (-1, 1234067, 255),
                        (5, 2 ** 40 + 7, 1), (2, 10 ** 18, 256)):
    r = run(FILL, "--path", str(level), str(n), str(width))
    check(f"tile path ({level}, {n}, {width})", r.stdout.strip() == tile_path(level, n, width),
          r.stdout)
for level, n, width in ((6, 0, 1), (-2, 0, 1), (0, 0, 0), (0, 0, 257)):
    check(f"tile path ({level}, {n}, {width}) refused", run(FILL, "--path", str(level), str(n),
                                                        str(width)).returncode == 1)
last = json.loads(reg("--json", "show", "70000").stdout)["leaf"]
check("the last entry is the publication", got and json.loads(got[1][-1]) == last)

# Full tiles are immutable: one changed under the registry is refused by a
# full check, and nothing is written past it.
victim = os.path.join(TILES, "tile/0/005")
blob = bytearray(read(TILES, "tile/0/005"))
blob[7] ^= 1
with open(victim, "wb") as f:
    f.write(blob)
before = read(TILES, "checkpoint")
r = reg("tiles", TILES)
check("a changed full tile: tiles_conflict, exit 1", r.returncode == 1 and
      "tiles_conflict" in r.stderr and "tile/0/005" in r.stderr, r.stderr)
check("nothing written past the conflict", read(TILES, "checkpoint") == before)
blob[7] ^= 1
with open(victim, "wb") as f:
    f.write(blob)
check("restored: the full check passes", reg("tiles", TILES).returncode == 0)

# Another log's directory, or a newer checkpoint than the log: refused.
other = os.path.join(TMP, "other.db")
assert reg("init", "--origin", "other.glassbox/log", db=other).returncode == 0
r = reg("tiles", TILES, db=other)
check("another log's directory: tiles_conflict", r.returncode == 1 and "tiles_conflict" in r.stderr,
      r.stderr)
small = os.path.join(TMP, "small")
shutil.copytree(TILES, small)
backup = os.path.join(TMP, "backup.db")
r = run("sqlite3", DB, f".backup {backup}")
assert r.returncode == 0, r.stderr
for suffix in (".key", ".gnupg"):
    src = DB + suffix
    (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, backup + suffix)
assert reg("publish", *statement(4)).returncode == 0
r = reg("tiles", TILES, db=backup)
check("a log behind the directory's checkpoint: refused, never rolled back",
      r.returncode == 1 and "older tree" in r.stderr, r.stderr)
check("the directory still holds the newer checkpoint",
      open_checkpoint(read(TILES, "checkpoint").decode(), VKEY)[1] == 70002)
# The restored database grown past the published tree is another history:
# neither a full write nor the sync after one of its changes lays its tiles
# over the published ones.
published = read(TILES, "checkpoint")
assert run(FILL, backup, "70400").returncode == 0
r = reg("tiles", TILES, db=backup)
check("a restored log grown past the directory: another history, refused",
      r.returncode == 1 and "another history" in r.stderr, r.stderr)
r = reg("publish", *statement(7), db=backup)
check("... and the sync after its next change refuses too (the change itself is logged)",
      r.returncode == 1 and "another history" in r.stderr and "change is logged" in r.stderr,
      r.stderr)
check("the directory is untouched", read(TILES, "checkpoint") == published and
      check_dir("after the refused restore", TILES, VKEY) is not None)

# kill -9 during a publication: whatever the moment, the checkpoint that is
# there (the old one or the new) is backed by the tiles. Each round grows
# the log by 300 filler entries (a new full tile, new partial ones at every
# level) and kills the writer after a random delay.
crash = os.path.join(TMP, "crash")
shutil.copytree(TILES, crash)
size = open_checkpoint(read(crash, "checkpoint").decode(), VKEY)[1]
random.seed(7)
moved = 0
for k in range(8):
    size += 300
    assert run(FILL, DB, str(size)).returncode == 0
    before = read(crash, "checkpoint")
    p = subprocess.Popen([GB, "registry", "--db", DB, "tiles", crash],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(random.uniform(0.0, 0.4))
    p.send_signal(signal.SIGKILL)
    p.wait()
    moved += read(crash, "checkpoint") != before
    check_dir(f"after kill -9 #{k}", crash, VKEY)
    leftovers = [f for _, _, fs in os.walk(crash) for f in fs if ".tmp" in f and
                 not f.startswith("checkpoint.tmp-")]
    check(f"after kill -9 #{k}: no temporary tile left", not leftovers, leftovers[:3])
print(f"kill -9: the checkpoint had moved in {moved} of 8 rounds")
check("the interrupted directory completes", reg("tiles", crash).returncode == 0 and
      check_dir("crash dir completed", crash, VKEY) is not None and
      not [f for f in os.listdir(crash) if ".tmp" in f])
assert reg("tiles", TILES).returncode == 0      # keep the main directory

# An entry too long for an entry bundle is refused before it is logged.
big = os.path.join(TMP, "big.json")
with open(big, "w") as f:
    json.dump({"version": "big", "pcrs": {"0": "ab" * 48}, "notes": "x" * 50000,
               "docker_image": {"name": "big", "tag": "x", "digest": "sha256:0"}}, f)
gpg("--armor", "--local-user", "rm@example.com", "--detach-sign", big)
size_before = open_checkpoint(read(TILES, "checkpoint").decode(), VKEY)[1]
r = reg("publish", big, big + ".asc")
check("a leaf over 65535 bytes: too_large, not logged", r.returncode == 1 and "too_large" in r.stderr
      and json.loads(reg("--json", "checkpoint").stdout)["checkpoint"].split("\n")[1] ==
      str(size_before), r.stderr)

# The verifier's writes keep the tiles current too.
with open(os.open(os.path.join(TMP, "token"), os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
    f.write("t" * 40)
vlog = open(os.path.join(TMP, "verifier.log"), "w+")
v = subprocess.Popen([VERIFIER, "--db", DB, "--listen", "127.0.0.1:0", "--threads", "2",
                      "--token-file", os.path.join(TMP, "token"), "--audit-interval", "0"],
                     stdout=subprocess.PIPE, stderr=vlog, text=True)
line = v.stdout.readline()
if "listening on" not in line:
    vlog.seek(0)
    raise SystemExit(f"verifier did not start: {line} {vlog.read()}")
url = line.split("listening on ")[1].strip().rstrip("/")
s, sig = statement(5)
body = json.dumps({"statement": base64.b64encode(open(s, "rb").read()).decode(),
                   "signature": open(sig).read()}).encode()
req = urllib.request.Request(url + "/api/v1/releases", data=body, method="POST", headers={
    "Content-Type": "application/json", "Authorization": "Bearer " + "t" * 40})
try:
    with urllib.request.urlopen(req, timeout=30) as resp:
        st = resp.status
except urllib.error.HTTPError as e:
    st = e.code
check("verifier: publish answered 201", st == 201, st)
check_dir("after the verifier's write", TILES, VKEY)
check("verifier: the tiles' checkpoint is the log's",
      read(TILES, "checkpoint").decode() == json.loads(reg("--json", "checkpoint").stdout)["checkpoint"])

# The verifier serves the same paths from its database (/tlog/...): byte
# for byte the files, read back by the same reader.
def get(path):
    try:
        with urllib.request.urlopen(url + path, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class HttpDir:
    """read()'s view of the verifier's /tlog/ as a directory."""


def read_http(d, rel):
    st, _, body = get("/tlog/" + rel)
    if st != 200:
        raise OSError(f"GET /tlog/{rel}: {st}")
    return body


st, _, served_cp = get("/tlog/checkpoint")
check("/tlog/checkpoint is the tiles' checkpoint", st == 200 and
      served_cp == read(TILES, "checkpoint"), (st, served_cp[:80]))
_read_file = read
read = read_http                                  # the reader, over HTTP
got = check_dir("/tlog/ over HTTP", HttpDir(), VKEY, served_cp.decode())
read = _read_file
same = True
for top, _, files in os.walk(os.path.join(TILES, "tile")):
    for f in files:
        rel = os.path.relpath(os.path.join(top, f), TILES)
        if get("/tlog/" + rel)[2] != read(TILES, rel):
            same = False
check("every file of the directory is served with the same bytes", same)
st, hd, _ = get("/tlog/tile/0/000")
check("a full tile is cached for good", st == 200 and
      hd.get("Cache-Control") == "public, max-age=31536000, immutable", dict(hd))
st, hd, _ = get("/tlog/tile/0/000.p/3")
check("an older partial width is still served, not cached", st == 200 and
      hd.get("Cache-Control") == "no-store", dict(hd))
size_now = open_checkpoint(served_cp.decode(), VKEY)[1]
last_tile, last_w = (size_now - 1) // 256, size_now % 256 or 256
for bad in ("tile/0/x000/001", "tile/00/000", "tile/6/000", "tile/0/000.p/0",
            "tile/0/000.p/256", "tile/0/000.p/07", "tile/0/1", "tile/0/0001", "tile/0/000/",
            "tile/entries/000.p/", "tile/0/../checkpoint", "tiles/0/000",
            f"tile/0/{index_path(last_tile + 1)}",
            f"tile/0/{index_path(last_tile)}" + ("" if last_w < 256 else ".p/255")
            if last_w < 256 else f"tile/0/{index_path(last_tile + 1)}.p/1"):
    st, _, body = get("/tlog/" + bad)
    check(f"/tlog/{bad}: 404", st == 404, (st, body[:100]))
st, _, _ = get("/tlog/checkpoint?x=1")
check("/tlog/ takes no query", st == 400)
v.send_signal(signal.SIGTERM)
v.wait(timeout=10)

r = reg("tiles", "--off")
check("tiles --off", r.returncode == 0)
before = read(TILES, "checkpoint")
assert reg("publish", *statement(6)).returncode == 0
check("--off: later changes leave the directory alone", read(TILES, "checkpoint") == before)

shutil.rmtree(TMP, ignore_errors=True)
finish()
