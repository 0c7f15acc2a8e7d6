#!/usr/bin/env python3
"""The README's first quick start command, for real: scripts/demo.sh starts
the whole stack; the three curl lines it prints are run as printed and must
say trusted; its web page answers; Ctrl-C (SIGINT to its process group)
stops every process and keeps the data folder.

usage: test_demo.py REPO BUILD_DIR
"""
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish  # noqa: E402

REPO, BUILD = sys.argv[1:3]
TMP = tempfile.mkdtemp(prefix="glassbox-demo-test-")
DATA = os.path.join(TMP, "demo data")       # a space, on purpose


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_demo(extra, label):
    """Runs scripts/demo.sh EXTRA as a user would, checks it, stops it."""
    ports = {k: free_port() for k in ("VERIFIER", "PARENT", "HEALTH")}
    env = dict(os.environ, GB_DEMO_DIR=DATA, GB_DEMO_PREBUILT="1",
               GB_BUILD_DIR=os.path.relpath(BUILD, REPO),
               **{f"GB_DEMO_{k}_PORT": str(v) for k, v in ports.items()})
    out = open(os.path.join(TMP, "demo.out"), "w+")
    demo = subprocess.Popen([os.path.join(REPO, "scripts", "demo.sh"), *extra], env=env,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    text = ""
    t0 = time.time()
    while "Ctrl-C stops everything" not in text and demo.poll() is None and time.time() - t0 < 120:
        time.sleep(0.2)
        out.seek(0)
        text = out.read()
    check(f"{label}: the demo starts", "Ctrl-C stops everything" in text, text[-2000:])
    check(f"{label}: it shows its data folder", f"Data, keys and logs: {DATA}" in text)
    check(f"{label}: it checked itself", "A client checked it once: ok (release demo-app 1.0.0)" in text, text)

    url = f"http://127.0.0.1:{ports['VERIFIER']}/"
    check(f"{label}: it prints the page's URL", f"The auditors' page:  {url}" in text)
    with urllib.request.urlopen(url, timeout=30) as r:
        check(f"{label}: the page answers", r.status == 200 and b"Glassbox" in r.read())

    # The three printed lines, run as a user pastes them.
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith(("N=$(", "S=$(", "curl "))]
    check(f"{label}: three curl lines", len(lines) == 3, lines)
    r = subprocess.run(["bash", "-c", "set -e\n" + "\n".join(lines)], capture_output=True,
                       text=True, timeout=60)
    check(f"{label}: the curl lines say trusted", r.returncode == 0 and re.search(r'"trusted": true', r.stdout)
          and '"release": "demo-app"' in r.stdout, r.stdout + r.stderr)

    # Ctrl-C: SIGINT to the whole foreground group, as a terminal sends it.
    children = subprocess.run(["pgrep", "-s", str(demo.pid)], capture_output=True,
                              text=True).stdout.split()
    os.killpg(demo.pid, signal.SIGINT)
    try:
        rc = demo.wait(timeout=60)
    except subprocess.TimeoutExpired:
        rc = None
    out.seek(0)
    text = out.read()
    check(f"{label}: Ctrl-C stops the demo", rc == 0 and "demo: stopped" in text, (rc, text[-500:]))
    time.sleep(0.5)
    left = [p for p in children if os.path.exists(f"/proc/{p}") and
            "zombie" not in open(f"/proc/{p}/status").read()]
    check(f"{label}: nothing is left running", not left, [open(f"/proc/{p}/cmdline").read() for p in left])
    check(f"{label}: the data stays", os.path.exists(os.path.join(DATA, "registry.db")) and
          os.path.exists(os.path.join(DATA, "logs", "verifier.log")))
    for name in ("enclave", "parent", "verifier"):
        log = open(os.path.join(DATA, "logs", f"{name}.log")).read()
        check(f"{label}: {name} log has no sanitizer report", "Sanitizer" not in log, log[-800:])
    return text, env


_, env = run_demo([], "demo")
# With the signing key sealed by KMS (the test double): the enclave is
# restarted inside the demo and must keep its public key, and the client
# round trip (signed with the unsealed key) still says trusted.
shutil.rmtree(DATA)
text, _ = run_demo(["--sealed"], "demo --sealed")
check("demo --sealed: the key survived a restart", "the enclave was restarted and kept" in text
      and os.path.exists(os.path.join(DATA, "sealed-key.json")), text[-1500:])
blob = open(os.path.join(DATA, "sealed-key.json")).read()
check("demo --sealed: the blob names the key and no secret", '"kms_key"' in blob and
      "arn:aws:kms:" in blob and "SecretAccessKey" not in blob)
logs = "".join(open(os.path.join(DATA, "logs", f)).read() for f in os.listdir(
    os.path.join(DATA, "logs")))
check("demo --sealed: no credential in any log", "SecretAccessKey" not in logs and
      "aws_secret" not in logs.lower())

# The replicated form: a witness cosigns, a mirror follows the primary's
# /tlog and answers the client's question the same way, and the policy
# that requires the witness is served to the page.
shutil.rmtree(DATA)
text, env = run_demo(["--replicated"], "demo --replicated")
check("demo --replicated: the mirror said the same", re.search(
    r"the mirror http://127\.0\.0\.1:\d+ follows .* said the same: ok \(release demo-app",
    text, re.S) is not None, text[-1500:])
check("demo --replicated: the checkpoint was cosigned",
      "cosigned the checkpoint" in open(os.path.join(DATA, "logs", "registry.log")).read())
check("demo --replicated: the policy requires the witness",
      "quorum demo-witness" in open(os.path.join(DATA, "log.policy")).read())

# A GB_DEMO_DIR that the demo did not make is never removed.
other = os.path.join(TMP, "precious")
os.mkdir(other)
open(os.path.join(other, "keep.txt"), "w").close()
r = subprocess.run([os.path.join(REPO, "scripts", "demo.sh")], capture_output=True, text=True,
                   env=dict(env, GB_DEMO_DIR=other), timeout=60)
check("a folder the demo did not make is refused", r.returncode == 2 and
      "not a demo folder" in r.stderr and os.path.exists(os.path.join(other, "keep.txt")),
      r.stderr)

shutil.rmtree(TMP, ignore_errors=True)
finish()
