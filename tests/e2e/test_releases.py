#!/usr/bin/env python3
"""End-to-end tests of GET /api/v1/releases: pages (limit, after, next) and
the PCR search through the registry's release_pcrs index (filled at
publish, rebuilt from the leaves when missing, checked by the audit).

A real registry (glassbox CLI, real gpg keys made here) and a real
verifier on 127.0.0.1.

usage: test_releases.py GLASSBOX VERIFIER
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish  # noqa: E402
import openapi_check  # noqa: E402

GB, VERIFIER = sys.argv[1:3]
TMP = tempfile.mkdtemp(prefix="glassbox-rel-")
os.environ["GNUPGHOME"] = os.path.join(TMP, "gnupg")
os.mkdir(os.environ["GNUPGHOME"], 0o700)
DB = os.path.join(TMP, "reg.db")
N = 25                                  # releases; pages of 10 make 3


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, check=False)


def gpg(*args):
    r = subprocess.run(["gpg", "--batch", "--yes", *args], capture_output=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"gpg {args}: {r.stderr.decode()}")
    return r.stdout


gpg("--passphrase", "", "--quick-gen-key", "Test <rm@example.com>", "ed25519", "sign", "1y")
with open(os.path.join(TMP, "rm.asc"), "wb") as f:
    f.write(gpg("--armor", "--export", "rm@example.com"))
assert run(GB, "registry", "--db", DB, "init", "--origin", "rel.glassbox/log").returncode == 0
assert run(GB, "registry", "--db", DB, "key", "add", os.path.join(TMP, "rm.asc")).returncode == 0

SHARED = "5a" * 48                      # PCR1 of every third release
published = []                          # (name, pcrs)
for i in range(N):
    pcrs = {"0": f"{i + 1:02x}" * 48, "2": f"{i + 100:02x}" * 48}
    pcrs["1"] = SHARED if i % 3 == 0 else f"{i + 50:02x}" * 48
    name = "app-even" if i % 2 == 0 else "app-odd"
    path = os.path.join(TMP, f"r{i}.json")
    with open(path, "w") as f:
        json.dump({"version": str(i), "pcrs": pcrs,
                   "docker_image": {"name": name, "tag": "x", "digest": "sha256:0"}}, f)
    gpg("--armor", "--local-user", "rm@example.com", "--detach-sign", path)
    r = run(GB, "registry", "--db", DB, "publish", path, path + ".asc")
    assert r.returncode == 0, r.stderr
    published.append((name, pcrs))


def index_rows():
    c = sqlite3.connect(DB)
    try:
        return sorted(c.execute("SELECT pcr, value, leaf FROM release_pcrs").fetchall())
    finally:
        c.close()


rows = index_rows()
check("index filled at publish", len(rows) == 3 * N, len(rows))
check("index rows are the PCRs", {(p, v) for p, v, _ in rows} ==
      {(int(k), v) for _, pcrs in published for k, v in pcrs.items()})


class Verifier:
    def __init__(self):
        self.log = open(os.path.join(TMP, "verifier.log"), "a+")
        self.proc = subprocess.Popen(
            [VERIFIER, "--db", DB, "--listen", "127.0.0.1:0", "--threads", "2",
             "--audit-interval", "0"], stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise SystemExit(f"verifier did not start: {line}")
        self.url = line.split("listening on ")[1].strip().rstrip("/")

    def get(self, path):
        try:
            with urllib.request.urlopen(self.url + path, timeout=30) as r:
                st, hd, raw = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            st, hd, raw = e.code, e.headers, e.read()
        openapi_check.observe("GET", path, st, hd, raw)
        return st, json.loads(raw)

    def pages(self, path):
        """Every page from path on, following next (bounded)."""
        out = []
        for _ in range(N + 2):
            st, body = self.get(path)
            assert st == 200, (st, body)
            out.append(body)
            if body["next"] is None:
                break
            path = body["next"]
        return out

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


v = Verifier()
st, body = v.get("/api/v1/releases")
check("default page holds all", st == 200 and len(body["releases"]) == N and body["next"] is None
      and body["next_after"] is None, (st, len(body.get("releases", []))))
check("log order", [r["version"] for r in body["releases"]] == [str(i) for i in range(N)])
everything = body["releases"]

pages = v.pages("/api/v1/releases?limit=10")
check("pages of 10", [len(p["releases"]) for p in pages] == [10, 10, 5], [len(p["releases"]) for p in pages])
check("pages cover every release once", [r["id"] for p in pages for r in p["releases"]] ==
      [r["id"] for r in everything])
check("next says how", pages[0]["next"] == f"/api/v1/releases?after={pages[0]['next_after']}&limit=10"
      and pages[0]["next_after"] == pages[0]["releases"][-1]["index"], pages[0]["next"])
st, body = v.get(f"/api/v1/releases?after={everything[-1]['index']}")
check("after the last: empty", st == 200 and body["releases"] == [] and body["next"] is None, body)
st, body = v.get(f"/api/v1/releases?limit={N}")
check("a full last page has no next", st == 200 and len(body["releases"]) == N and body["next"] is None)
check("limit 1000 allowed", v.get("/api/v1/releases?limit=1000")[0] == 200)
for bad in ("limit=0", "limit=1001", "limit=abc", "limit=-1", "after=-1", "after=x",
            "after=99999999999999999999"):
    st, body = v.get("/api/v1/releases?" + bad)
    check(f"{bad} refused", st == 400 and body["reason"] == "bad_request", (st, body))

# The PCR search: every third release has SHARED as PCR1.
want = [r["id"] for i, r in enumerate(everything) if i % 3 == 0]
st, body = v.get("/api/v1/releases?pcr=" + SHARED)
check("pcr search", st == 200 and [r["id"] for r in body["releases"]] == want, body)
pages = v.pages("/api/v1/releases?limit=2&pcr=" + SHARED.upper())
check("pcr search in pages, any case", [r["id"] for p in pages for r in p["releases"]] == want
      and all("pcr=" + SHARED in p["next"] for p in pages[:-1]), [p["next"] for p in pages])
st, body = v.get("/api/v1/releases?pcr=" + published[7][1]["2"])
check("pcr search: PCR2", [r["version"] for r in body["releases"]] == ["7"], body)
st, body = v.get("/api/v1/releases?pcr=" + "ee" * 48)
check("pcr search: none", st == 200 and body["releases"] == [])
st, body = v.get("/api/v1/releases?pcr0=" + published[4][1]["0"])
check("pcr0 search", [r["version"] for r in body["releases"]] == ["4"], body)
st, body = v.get("/api/v1/releases?pcr0=" + published[4][1]["0"] + "&pcr=" + SHARED)
check("pcr0 and pcr together", body["releases"] == [], body)
for bad in ("pcr=abc", "pcr=" + "zz" * 48, "pcr0=" + "00" * 47, "pcr=" + "00" * 49,
            "pcr=" + "00" * 200, "name=" + "x" * 129):
    st, body = v.get("/api/v1/releases?" + bad)
    check(f"{bad[:12]}... refused", st == 400, (st, body))
pages = v.pages("/api/v1/releases?limit=4&name=app-odd")
check("name filter in pages", [r["version"] for p in pages for r in p["releases"]] ==
      [str(i) for i in range(1, N, 2)] and all("name=app-odd" in p["next"] for p in pages[:-1]))
check("verifier stops", v.stop() == 0)

# A registry without the index (made before it existed): the audit does not
# need it, and the verifier's open rebuilds it from the leaves.
c = sqlite3.connect(DB)
c.execute("DROP TABLE release_pcrs")
c.commit()
c.close()
r = run(GB, "registry", "--db", DB, "audit")
check("audit without the index", r.returncode == 0, r.stderr)
v = Verifier()
try:
    check("index rebuilt from the leaves", index_rows() == rows)
except sqlite3.OperationalError:
    check("index rebuilt from the leaves", False)

st, body = v.get("/api/v1/releases?pcr=" + SHARED)
check("pcr search after the rebuild", [r["id"] for r in body["releases"]] == want)
check("verifier stops again", v.stop() == 0)

# The audit checks the index: a row added, a row taken away, a value changed.
r = run(GB, "registry", "--db", DB, "audit")
check("audit passes", r.returncode == 0, r.stderr)
leaf3_pcr1 = [v_ for p_, v_, l_ in rows if l_ == 3 and p_ == 1][0]
leaf4_pcr2 = [v_ for p_, v_, l_ in rows if l_ == 4 and p_ == 2][0]
for what, sql, undo in (
        ("added", "INSERT INTO release_pcrs VALUES (3, '%s', 2)" % ("77" * 48),
         "DELETE FROM release_pcrs WHERE pcr = 3 AND leaf = 2"),
        ("removed", "DELETE FROM release_pcrs WHERE leaf = 3 AND pcr = 1",
         "INSERT INTO release_pcrs VALUES (1, '%s', 3)" % leaf3_pcr1),
        ("changed", "UPDATE release_pcrs SET value = '%s' WHERE leaf = 4 AND pcr = 2" % ("66" * 48),
         "UPDATE release_pcrs SET value = '%s' WHERE leaf = 4 AND pcr = 2" % leaf4_pcr2)):
    c = sqlite3.connect(DB)
    c.execute(sql)
    c.commit()
    c.close()
    r = run(GB, "registry", "--db", DB, "audit")
    check(f"audit: index row {what}", r.returncode != 0 and "release_pcrs" in r.stderr + r.stdout,
          r.stderr + r.stdout)
    c = sqlite3.connect(DB)
    c.execute(undo)
    c.commit()
    c.close()
r = run(GB, "registry", "--db", DB, "audit")
check("audit passes again", r.returncode == 0, r.stderr)

shutil.rmtree(TMP, ignore_errors=True)
finish()
