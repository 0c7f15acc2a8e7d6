#!/usr/bin/env python3
"""Figures for docs/scale.md (not a test: it prints, it asserts nothing
about time). On 127.0.0.1: a primary registry of N real publications (a
gpg key made here) with its tiles, nginx serving them, and mirrors.

Prints:
- the primary's changes per second through the CLI with the tiles kept
  (each change: a process, a GPG verification, one SQLite transaction, the
  new tiles and checkpoint written and fsynced);
- what one nginx worker serves of the checkpoint and of a full entry
  bundle (wrk, 5 s each): the static side a CDN takes over;
- a fresh mirror's catch-up of the N entries (start to listening: the
  first round runs before the server listens) and the GETs it made;
- an idle mirror's CPU per round (nothing new: one checkpoint GET);
- verify requests per second of the primary and of a mirror (wrk, caches
  on, the real documents, 8 connections, 5 s each).

usage: bench_mirror.py GLASSBOX VERIFIER VECTORS_DIR [N]
"""
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

GB, VERIFIER, VECTORS = sys.argv[1:4]
N = int(sys.argv[4]) if len(sys.argv) > 4 else 300
TMP = tempfile.mkdtemp(prefix="glassbox-bench-mirror-")
os.environ["GNUPGHOME"] = os.path.join(TMP, "gnupg")
os.mkdir(os.environ["GNUPGHOME"], 0o700)
DB = os.path.join(TMP, "primary.db")
TILES = os.path.join(TMP, "www", "log")
PROCS = []
TICK = os.sysconf("SC_CLK_TCK")


def run(*args, check=True):
    r = subprocess.run(args, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"{args}: {r.stderr}")
    return r.stdout


def reg(*args):
    return run(GB, "registry", "--db", DB, *args)


def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk(url, script=None, conns=8, secs=5):
    args = ["wrk", "-t2", f"-c{conns}", f"-d{secs}s"]
    if script:
        args += ["-s", script]
    out = run(*args, url)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if bad:
        raise SystemExit(f"wrk {url}: {bad.group(1)} answers were not 2xx")
    tr = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    return rps, f"{tr.group(1)} {tr.group(2)}/s"


def wait_ready(url):
    """Until the first audit (every entry's GPG signature) is done: verify
    answers 503 before it. Measure after it. Returns the seconds waited."""
    t0 = time.time()
    for _ in range(6000):
        try:
            urllib.request.urlopen(url + "readyz", timeout=5).read()
            break
        except OSError:
            time.sleep(0.1)
    return time.time() - t0


def start(db, *extra, wait=True):
    log = open(os.path.join(TMP, os.path.basename(db) + ".log"), "a")
    t0 = time.time()
    p = subprocess.Popen([VERIFIER, "--db", db, "--listen", "127.0.0.1:0", "--threads", "2",
                          "--audit-interval", "3600", *extra],
                         stdout=subprocess.PIPE, stderr=log, text=True)
    PROCS.append(p)
    line = p.stdout.readline()
    took = time.time() - t0
    if "listening on" not in line:
        raise SystemExit(f"verifier did not start: {line}")
    url = line.split("listening on ")[1].strip()
    if wait:
        wait_ready(url)
    return p, url, took


try:
    run("gpg", "--batch", "--passphrase", "", "--quick-gen-key", "B <b@example.com>",
        "ed25519", "sign", "1y")
    with open(os.path.join(TMP, "b.asc"), "w") as f:
        f.write(run("gpg", "--armor", "--export", "b@example.com"))
    reg("init", "--origin", "bench.glassbox/log")
    reg("key", "add", os.path.join(TMP, "b.asc"))
    os.makedirs(os.path.dirname(TILES))
    reg("tiles", TILES)
    vkey = json.loads(reg("--json", "checkpoint"))["vkey"]
    manifest = json.load(open(os.path.join(VECTORS, "aws-nitro", "vectors.json")))
    real = [v for v in manifest["vectors"] if v["expected"] == "valid"]
    pcrs = next(v["pcrs"] for v in real if set(v["pcrs"]["0"]) != {"0"})

    stmts = []
    for i in range(N - 1):
        p = os.path.join(TMP, f"s{i}.json")
        pc = pcrs if i == 0 else {"0": f"{i:04x}" * 24, "1": "11" * 48, "2": "22" * 48}
        json.dump({"version": str(i), "pcrs": {k: pc[k] for k in ("0", "1", "2")},
                   "docker_image": {"name": "b", "tag": "x", "digest": "sha256:0"}}, open(p, "w"))
        run("gpg", "--batch", "--yes", "--armor", "--local-user", "b@example.com",
            "--detach-sign", p)
        stmts.append(p)
    t0 = time.time()
    for p in stmts:
        reg("publish", p, p + ".asc")
    took = time.time() - t0
    print(f"primary: {len(stmts)} publications through the CLI with tiles kept: "
          f"{len(stmts) / took:.1f} changes/s ({1000 * took / len(stmts):.1f} ms each)")

    port = free_port()
    nd = os.path.join(TMP, "nginx")
    os.mkdir(nd)
    conf = os.path.join(nd, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""{'user root;' if os.geteuid() == 0 else ''}
daemon off;
worker_processes 1;
pid {nd}/nginx.pid;
error_log {nd}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log {nd}/access.log;
    client_body_temp_path {nd}/body;
    proxy_temp_path {nd}/proxy;
    fastcgi_temp_path {nd}/fastcgi;
    uwsgi_temp_path {nd}/uwsgi;
    scgi_temp_path {nd}/scgi;
    server {{ listen 127.0.0.1:{port}; root {os.path.dirname(TILES)}; }}
}}
""")
    PROCS.append(subprocess.Popen(["/usr/sbin/nginx", "-c", conf, "-p", nd, "-e",
                                   os.path.join(nd, "error.log")]))
    base = f"http://127.0.0.1:{port}/log"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/checkpoint", timeout=5).read()
            break
        except OSError:
            time.sleep(0.05)
    for name, path in (("checkpoint", "checkpoint"), ("full entry bundle", "tile/entries/000")):
        size = os.path.getsize(os.path.join(TILES, path))
        rps, tr = wrk(f"{base}/{path}")
        print(f"nginx, one worker: {name} ({size} bytes): {rps:.0f} req/s, {tr}")

    open(os.path.join(nd, "access.log"), "w").close()
    run("kill", "-USR1", open(os.path.join(nd, "nginx.pid")).read().strip())
    time.sleep(0.3)
    m, murl, took = start(os.path.join(TMP, "m.db"), "--mirror", base, "--log-key", vkey,
                          "--mirror-interval", "1", wait=False)
    gets = sum(1 for _ in open(os.path.join(nd, "access.log")))
    print(f"fresh mirror: caught up {N} entries in {took:.2f} s before listening "
          f"({N / took:.0f} entries/s), {gets} GETs")
    audit = wait_ready(murl)
    print(f"fresh mirror: its first audit of the copy (a GPG check per publication): "
          f"{audit:.1f} s ({N / audit:.0f} entries/s)")
    time.sleep(2)
    c0, t0 = cpu(m.pid), time.time()
    time.sleep(15)
    c1, t1 = cpu(m.pid), time.time()
    rounds = t1 - t0
    print(f"idle mirror (interval 1 s): {1000 * (c1 - c0) / rounds:.2f} ms CPU per round "
          f"({100 * (c1 - c0) / (t1 - t0):.2f} % of a core)")

    lua = os.path.join(TMP, "verify.lua")
    with open(lua, "w") as f:
        f.write("local bodies = {\n")
        for v in real:
            doc = open(os.path.join(VECTORS, "aws-nitro", v["file"]), "rb").read()
            f.write("  [[" + json.dumps({"document": base64.b64encode(doc).decode(),
                                          "at": "document"}) + "]],\n")
        f.write("}\nlocal i = 0\nrequest = function()\n  i = i % #bodies + 1\n"
                "  return wrk.format(\"POST\", \"/api/v1/verify\", "
                "{[\"Content-Type\"] = \"application/json\"}, bodies[i])\nend\n")
    p, purl, _ = start(DB)
    for name, url in (("primary", purl), ("mirror", murl)):
        rps, _ = wrk(url + "api/v1/verify", lua)
        print(f"verify, {name} (caches on, 2 threads, 8 connections): {rps:.0f} req/s")
finally:
    for p in PROCS:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
    shutil.rmtree(TMP, ignore_errors=True)
