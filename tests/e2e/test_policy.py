#!/usr/bin/env python3
"""The quorum of a C2SP tlog-policy, enforced by the verifier
(glassbox-verifier --policy), by glassbox check-verdict --policy and by the
page's checker (web/check.js, under Node, over the same case folders).

A real registry asks two real `glassbox witness` servers on 127.0.0.1 for
cosignatures after every change. Two policies name both witnesses: quorum
2 (group all) and quorum 1 (group any). With both cosignatures everything
is trusted under either; with w2 down and the log grown, the checkpoint
carries w1's only: the quorum-2 verifier answers 503 below_quorum (verify
and /readyz), the quorum-1 verifier affirms, and its verdict's receipt is
refused offline under quorum 2 (below_quorum) and accepted under quorum 1;
w2 back (witness sync), quorum 2 holds again. Receipts tampered here (a
cosignature's bit, a cosignature dated in the future made with w1's own
key, a policy of another log) are bad_proof. Every offline case is written
as a case folder (docs/verdict.md, "Shared test cases", plus policy.txt)
and run by both checkers, which must agree with expect.json.

usage: test_policy.py GLASSBOX VERIFIER MINTDOC
"""
import base64
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish  # noqa: E402
import openapi_check  # noqa: E402

GB, VERIFIER, MINTDOC = sys.argv[1:4]
TMP = tempfile.mkdtemp(prefix="glassbox-policy-")
os.environ["GNUPGHOME"] = os.path.join(TMP, "gnupg")
os.mkdir(os.environ["GNUPGHOME"], 0o700)
DB = os.path.join(TMP, "reg.db")
ORIGIN = "policy.glassbox/log"
EM = "\u2014 "
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
# Beside $GB_VERDICT_CASES, not in it (test_verifier.py runs both checkers
# over every folder in that one, as the web cases are kept beside it too).
CASES = os.environ["GB_VERDICT_CASES"].rstrip("/") + "-policy" \
    if os.environ.get("GB_VERDICT_CASES") else os.path.join(TMP, "policy-cases")
procs = []


def run(*args, input=None):
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=120,
                          input=input)


def reg(*args):
    return run(GB, "registry", "--db", DB, *args)


def gpg(*args):
    r = subprocess.run(["gpg", "--batch", "--yes", *args], capture_output=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"gpg {args}: {r.stderr.decode()}")
    return r.stdout


def publish(name, version, pcrs):
    path = os.path.join(TMP, f"{name}-{version}.json")
    with open(path, "w") as f:
        json.dump({"version": version, "pcrs": pcrs,
                   "docker_image": {"name": name, "tag": "x", "digest": "sha256:0"}}, f)
    gpg("--armor", "--local-user", "rm@example.com", "--detach-sign", path)
    return reg("publish", path, path + ".asc")


def witness(name):
    db = os.path.join(TMP, name.replace("/", "_") + ".db")
    r = run(GB, "witness", "--db", db, "--json", "init", name)
    if r.returncode != 0:
        raise SystemExit(f"witness init: {r.stderr}")
    return db, json.loads(r.stdout)["vkey"]


def serve_witness(db, port=0):
    log = open(db + f".serve-{len(procs)}.log", "w+")
    p = subprocess.Popen([GB, "witness", "--db", db, "serve", "--listen", f"127.0.0.1:{port}",
                          "--threads", "2"], stdout=subprocess.PIPE, stderr=log, text=True)
    procs.append(p)
    line = p.stdout.readline()
    if "listening on" not in line:
        raise SystemExit(f"witness did not start: {line}")
    return p, line.split("listening on ")[1].strip().rstrip("/")


def stop(p, what):
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=60)
    check(f"{what} stops cleanly", rc == 0, rc)


def http(url, method="GET", body=None):
    """One request; every answer is also held against verifier/openapi.json."""
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Content-Type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            st, hd, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        st, hd, raw = e.code, e.headers, e.read()
    openapi_check.observe(method, "/" + url.split("/", 3)[3], st, hd, raw)
    return st, hd.get("Content-Type", ""), raw


def page(jobs):
    """The page in chromium (tests/web/policy_page.mjs): one result per job
    ({url, doc, policy})."""
    path = os.path.join(TMP, f"jobs-{time.monotonic_ns()}.json")
    with open(path, "w") as f:
        json.dump(jobs, f)
    r = subprocess.run([shutil.which("node") or "node",
                        os.path.join(ROOT, "tests", "web", "policy_page.mjs"), path],
                       capture_output=True, text=True, timeout=300)
    try:
        return json.loads(r.stdout)
    except ValueError:
        check("the page test ran", False, r.stdout[-1000:] + r.stderr[-2000:])
        return [{} for _ in jobs]


class Verifier:
    def __init__(self, name, *extra):
        self.log = open(os.path.join(TMP, f"verifier-{name}.log"), "w+")
        self.proc = subprocess.Popen(
            [VERIFIER, "--db", DB, "--listen", "127.0.0.1:0", "--threads", "2",
             "--root", os.path.join(TMP, "sim-root.der"), *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        procs.append(self.proc)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.log.seek(0)
            raise SystemExit(f"verifier did not start: {line} {self.log.read()[-2000:]}")
        self.url = line.split("listening on ")[1].strip().rstrip("/")
        # Until the first audit is no longer pending (bounded).
        for _ in range(600):
            st, _, body = http(self.url + "/readyz")
            if st == 200 or b"pending" not in body:
                break
            time.sleep(0.05)

    def verify(self, doc):
        st, _, raw = http(self.url + "/api/v1/verify", "POST", json.dumps(
            {"document": base64.b64encode(doc).decode()}).encode())
        return st, json.loads(raw)

    def ready(self):
        st, _, raw = http(self.url + "/readyz")
        return st, json.loads(raw)


def cosigners(note):
    return sorted(l[len(EM):].split(" ")[0] for l in note.split("\n\n", 1)[1].splitlines()
                  if not l.startswith(EM + ORIGIN + " "))


try:
    # --- a registry, two witnesses it asks, a simulated enclave chain --------------
    gpg("--passphrase", "", "--quick-gen-key", "Test <rm@example.com>", "ed25519", "sign", "1y")
    with open(os.path.join(TMP, "rm.asc"), "wb") as f:
        f.write(gpg("--armor", "--export", "rm@example.com"))
    assert reg("init", "--origin", ORIGIN).returncode == 0
    assert reg("key", "add", os.path.join(TMP, "rm.asc")).returncode == 0
    LOG_VKEY = json.loads(reg("--json", "checkpoint").stdout)["vkey"]
    w1_db, w1_vkey = witness("w1.test/witness")
    w2_db, w2_vkey = witness("w2.test/witness")
    for d in (w1_db, w2_db):
        assert run(GB, "witness", "--db", d, "log", "add", LOG_VKEY).returncode == 0
    w1, W1 = serve_witness(w1_db)
    w2, W2 = serve_witness(w2_db)
    W2_PORT = int(W2.rsplit(":", 1)[1])
    assert reg("witness", "add", W1, w1_vkey).returncode == 0
    assert reg("witness", "add", W2, w2_vkey).returncode == 0

    mint = subprocess.Popen([MINTDOC], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    with open(os.path.join(TMP, "sim-root.der"), "wb") as f:
        f.write(base64.b64decode(mint.stdout.readline()))

    def minted(**req):
        mint.stdin.write(json.dumps(req) + "\n")
        mint.stdin.flush()
        line = mint.stdout.readline().strip()
        assert not line.startswith("error"), line
        return base64.b64decode(line)

    GOOD = {"0": "a1" * 48, "1": "b2" * 48, "2": "c3" * 48}
    r = publish("sim-app", "1.0", GOOD)
    check("published, cosigned by both", r.returncode == 0 and r.stderr.count(" cosigned the") == 2,
          r.stderr)

    # --- the policies -----------------------------------------------------------------
    head = f"# policy.glassbox test\nlog {LOG_VKEY}\nwitness W1 {w1_vkey} {W1}\n" \
           f"witness W2 {w2_vkey} {W2}\n"
    POLICIES = {
        "q2": head + "group both all W1 W2\nquorum both\n",
        "q1": head + "group either any W1 W2\nquorum either\n",
        "none": f"log {LOG_VKEY}\nquorum none\n",
    }
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    okid = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + other).digest()[:4].hex()
    okey = base64.b64encode(bytes([1]) + other).decode()
    POLICIES["other-log"] = f"log {ORIGIN}+{okid}+{okey}\nquorum none\n"
    PF = {}
    for name, text in POLICIES.items():
        PF[name] = os.path.join(TMP, f"{name}.policy")
        with open(PF[name], "w") as f:
            f.write(text)

    # A policy whose logs leave out the registry's key: refused at start.
    r = run(VERIFIER, "--db", DB, "--listen", "127.0.0.1:0", "--policy", PF["other-log"])
    check("verifier refuses a policy without its log", r.returncode == 2 and
          "is not one of its logs" in r.stderr, r.stderr)
    with open(os.path.join(TMP, "bad.policy"), "w") as f:
        f.write(head + "quorum W3\n")
    r = run(VERIFIER, "--db", DB, "--listen", "127.0.0.1:0", "--policy",
            os.path.join(TMP, "bad.policy"))
    check("verifier refuses a bad policy, naming the line", r.returncode == 2 and
          "bad.policy:5:" in r.stderr, r.stderr)

    v2 = Verifier("q2", "--policy", PF["q2"])
    v1 = Verifier("q1", "--policy", PF["q1"])
    v0 = Verifier("plain")
    st, ct, raw = http(v2.url + "/api/v1/log/policy")
    check("the policy is served as read", st == 200 and ct.startswith("text/plain") and
          raw.decode() == POLICIES["q2"], (st, ct, raw[:200]))
    st, ct, raw = http(v0.url + "/api/v1/log/policy")
    check("no policy: 404 no_policy", st == 404 and json.loads(raw)["reason"] == "no_policy",
          (st, raw))
    st, _, _ = http(v2.url + "/api/v1/log/policy", "POST", b"{}")
    check("the policy: GET only", st == 405, st)

    wk = json.loads(http(v1.url + "/.well-known/glassbox")[2])
    check("/.well-known/glassbox names the policy's URL (only with one)",
          wk.get("log_policy") == "/api/v1/log/policy" and
          "log_policy" not in json.loads(http(v0.url + "/.well-known/glassbox")[2]), wk)
    os.makedirs(CASES, exist_ok=True)
    print("policy cases in", CASES, flush=True)

    def case(name, answer, doc, policy, exit_, reason=None):
        """A case folder (with policy.txt), and check-verdict's answer on it."""
        d = os.path.join(CASES, name)
        os.makedirs(d, exist_ok=True)
        files = {"answer.json": json.dumps(answer), "doc.cbor": doc,
                 "verdict_key.json": json.dumps(wk["verdict_key"]),
                 "log.vkey": wk["log_key"] + "\n", "now.txt": str(int(time.time())),
                 "policy.txt": POLICIES[policy] if policy in POLICIES else policy,
                 "expect.json": json.dumps({"exit": exit_, "reason": reason, "claim": None})}
        for fn, data in files.items():
            with open(os.path.join(d, fn), "wb") as f:
                f.write(data if isinstance(data, bytes) else data.encode())
        r = subprocess.run([GB, "check-verdict", "--json", "--verdict-key",
                            os.path.join(d, "verdict_key.json"), "--log-key",
                            os.path.join(d, "log.vkey"), "--now", files["now.txt"],
                            "--policy", os.path.join(d, "policy.txt"),
                            os.path.join(d, "answer.json"), os.path.join(d, "doc.cbor")],
                           capture_output=True, text=True, timeout=60)
        try:
            got = json.loads(r.stdout)
        except ValueError:
            got = {}
        check(f"check-verdict --policy {name}", r.returncode == exit_ and
              got.get("reason") == reason, (r.returncode, r.stdout[:800], r.stderr[:300]))
        return got

    # --- both cosignatures: trusted under either quorum -----------------------------
    doc = minted(pcrs=GOOD)
    for v, label in ((v2, "q2"), (v1, "q1")):
        st, out = v.verify(doc)
        check(f"both cosignatures: verifier {label} affirms", st == 200 and out["trusted"],
              (st, out.get("reason"), out.get("detail")))
        st, rd = v.ready()
        check(f"both cosignatures: verifier {label} ready", st == 200, rd)
    st, both = v2.verify(doc)
    note = both["proof"]["checkpoint"]["note"]
    check("the receipt carries both cosignatures", cosigners(note) ==
          ["w1.test/witness", "w2.test/witness"] and both["tlog_proof"].endswith(note), note)
    got = case("both-q2", both, doc, "q2", 0)
    q = got.get("quorum") or {}
    check("check-verdict names the witnesses it checked", q.get("met") is True and
          q.get("rule") == "both" and [(w["name"], w["state"]) for w in q.get("witnesses", [])]
          == [("W1", "verified"), ("W2", "verified")] and
          all(isinstance(w["time"], int) and abs(w["time"] - time.time()) < 600
              for w in q["witnesses"]), q)
    case("both-q1", both, doc, "q1", 0)
    b64doc = base64.b64encode(minted(pcrs=GOOD)).decode()
    (pg,) = page([{"url": v2.url, "doc": b64doc, "policy": None}])
    check("page: pins the served policy on its first visit",
          pg.get("pinnedPolicy") == POLICIES["q2"] and pg.get("quorumRule") == "both", pg)
    check("page, both cosignatures, quorum 2: Trusted, the quorum holds",
          pg.get("state") == "trusted" and pg.get("quorum") == "met" and
          "quorum:pass" in pg.get("steps", "") and
          pg.get("witnesses") == [["W1", "verified"], ["W2", "verified"]] and
          not pg.get("problems"), pg)
    case("both-none", both, doc, "none", 0)
    case("both-other-log", both, doc, "other-log", 1, "bad_proof")

    # A cosignature's bit flipped: the receipt is bad, whatever the quorum.
    lines = both["tlog_proof"].split("\n")
    i = next(k for k, l in enumerate(lines) if l.startswith(EM + "w2.test/witness "))
    sig = bytearray(base64.b64decode(lines[i].split(" ")[2]))
    sig[-1] ^= 1
    lines[i] = EM + "w2.test/witness " + base64.b64encode(bytes(sig)).decode()
    forged = dict(both, tlog_proof="\n".join(lines))
    case("forged-cosig-q1", forged, doc, "q1", 1, "bad_proof")
    case("forged-cosig-none", forged, doc, "none", 0)

    # A cosignature by w1's own key, dated an hour ahead: refused.
    with open(w1_db + ".key") as f:
        skey = f.read().strip()
    name, kid, b = skey.split("+", 4)[2:5]
    seed = base64.b64decode(b)[1:]
    text = note.split("\n\n", 1)[0] + "\n"
    future = int(time.time()) + 3600
    msg = f"cosignature/v1\ntime {future}\n".encode() + text.encode()
    sigb = bytes.fromhex(kid) + future.to_bytes(8, "big") + \
        Ed25519PrivateKey.from_private_bytes(seed).sign(msg)
    fut_note = text + "\n" + "".join(l + "\n" for l in note.split("\n\n", 1)[1].splitlines()
                                     if not l.startswith(EM + name + " ")) + \
        f"{EM}{name} {base64.b64encode(sigb).decode()}\n"
    future_ans = dict(both, tlog_proof=both["tlog_proof"][:-len(note)] + fut_note)
    case("future-cosig-q1", future_ans, doc, "q1", 1, "bad_proof")
    # The same, dated now: good (so the refusal above is the date's).
    now_s = int(time.time())
    msg = f"cosignature/v1\ntime {now_s}\n".encode() + text.encode()
    sigb = bytes.fromhex(kid) + now_s.to_bytes(8, "big") + \
        Ed25519PrivateKey.from_private_bytes(seed).sign(msg)
    now_note = fut_note.rsplit(EM + name + " ", 1)[0] + \
        f"{EM}{name} {base64.b64encode(sigb).decode()}\n"
    case("resigned-cosig-q2", dict(both, tlog_proof=both["tlog_proof"][:-len(note)] + now_note),
         doc, "q2", 0)

    # --- w2 down, the log grows: one cosignature ---------------------------------------
    stop(w2, "w2")
    r = publish("other-app", "1.0", {"0": "d4" * 48, "1": "b2" * 48, "2": "c3" * 48})
    check("published with w2 down: w1 cosigns, w2 does not", r.returncode == 0 and
          "w1.test/witness cosigned" in r.stderr and "w2.test/witness did not cosign" in r.stderr,
          r.stderr)
    doc = minted(pcrs=GOOD)
    st, out = v2.verify(doc)
    check("one cosignature: verifier q2 gives no verdict (503 below_quorum)",
          st == 503 and out["reason"] == "below_quorum" and "W2 missing" in out["detail"] and
          "W1 verified" in out["detail"], (st, out))
    st, rd = v2.ready()
    check("one cosignature: verifier q2 /readyz 503 below_quorum",
          st == 503 and rd["reason"] == "below_quorum", rd)
    st, m = http(v2.url + "/metrics")[0], http(v2.url + "/metrics")[2].decode()
    check("glassbox_ready 0 below quorum", "glassbox_ready 0" in m)
    st, nomatch = v2.verify(minted(pcrs={"0": "ee" * 48, "1": "b2" * 48, "2": "c3" * 48}))
    check("below quorum, a document naming no release still gets its verdict",
          st == 200 and nomatch["reason"] == "unknown_measurement", (st, nomatch.get("reason")))
    st, one = v1.verify(doc)
    check("one cosignature: verifier q1 affirms", st == 200 and one["trusted"], (st, one))
    check("one cosignature: verifier q1 ready", v1.ready()[0] == 200)
    check("the receipt carries w1's cosignature only",
          cosigners(one["proof"]["checkpoint"]["note"]) == ["w1.test/witness"],
          one["proof"]["checkpoint"]["note"])
    got = case("one-q2", one, doc, "q2", 1, "below_quorum")
    q = got.get("quorum") or {}
    check("check-verdict says which witnesses verified",
          q.get("met") is False and [(w["name"], w["state"]) for w in q.get("witnesses", [])]
          == [("W1", "verified"), ("W2", "missing")], q)
    case("one-q1", one, doc, "q1", 0)
    b64doc = base64.b64encode(minted(pcrs=GOOD)).decode()
    pq1, pq2user, pv2 = page([{"url": v1.url, "doc": b64doc, "policy": None},
                              {"url": v1.url, "doc": b64doc, "policy": POLICIES["q2"]},
                              {"url": v2.url, "doc": b64doc, "policy": None}])
    check("page, one cosignature, quorum 1 (pinned): Trusted, W2's missing shown",
          pq1.get("state") == "trusted" and pq1.get("quorum") == "met" and
          pq1.get("witnesses") == [["W1", "verified"], ["W2", "missing"]], pq1)
    check("page, one cosignature, quorum 2 (given by the user): not trusted, below_quorum",
          pq2user.get("quorumRule") == "both" and pq2user.get("state") == "unverified" and
          pq2user.get("reason") == "below_quorum" and pq2user.get("quorum") == "not_met" and
          "quorum:fail" in pq2user.get("steps", "") and
          pq2user.get("witnesses") == [["W1", "verified"], ["W2", "missing"]], pq2user)
    check("page on the quorum-2 verifier: no verdict, below_quorum shown",
          "below_quorum" in pv2.get("error", "") and "state" not in pv2, pv2)
    case("one-none", one, doc, "none", 0)

    # The parser and the quorum rule, the same in both checkers: policies
    # that read (each evaluated over w1's cosignature alone) and policies
    # refused (a usage error, exit 2, before any verdict is looked at).
    L, K1, K2 = LOG_VKEY, w1_vkey, w2_vkey
    ws = f"witness W1 {K1}\nwitness W2 {K2}\n"
    readable = {
        "p-quorum-w1": (ws + "quorum W1\n", 0, None),
        "p-quorum-w2": (ws + "quorum W2\n", 1, "below_quorum"),
        "p-k-02": (ws + "group G 02 W1 W2\nquorum G\n", 1, "below_quorum"),
        "p-k-1": (ws + "group G 1 W1 W2\nquorum G\n", 0, None),
        "p-nested-all": (ws + "group A any W1\ngroup B all A W2\nquorum B\n", 1,
                         "below_quorum"),
        "p-nested-any": (ws + "group A any W2\ngroup B any A W1\nquorum B\n", 0, None),
        "p-layout": (f"  # comment\n\t\nlog\t{L}  https://log.example/ \n"
                     f"witness\tW1 {K1}\nquorum W1", 0, None),
        "p-octets": (f"witness \u212a {K1}\nwitness K {K2}\ngroup G any K \u212a\n"
                     "quorum G\n", 0, None),
        "p-no-logs": (ws + "group G all W1\nquorum G\n", 0, None),
        "p-quorum-first": ("quorum none\n" + ws, 0, None),
    }
    refused = {
        "p-unknown-line": ws + "quorum W1\nmirror x\n",
        "p-no-quorum": ws,
        "p-two-quorums": ws + "quorum W1\nquorum W2\n",
        "p-quorum-undefined": "quorum W1\n" + ws,
        "p-dup-witness-key": f"witness W1 {K1}\nwitness W2 {K1}\nquorum none\n",
        "p-dup-name": f"witness W1 {K1}\nwitness W1 {K2}\nquorum none\n",
        "p-dup-log": f"log {L}\nlog {L}\nquorum none\n",
        "p-dup-member": ws + "group G any W1 W1\nquorum G\n",
        "p-member-undefined": ws + "group G any W1 W3\nquorum G\n",
        "p-member-none": ws + "group G any none\nquorum G\n",
        "p-k-0": ws + "group G 0 W1 W2\nquorum G\n",
        "p-k-3": ws + "group G 3 W1 W2\nquorum G\n",
        "p-k-word": ws + "group G most W1 W2\nquorum G\n",
        "p-no-members": ws + "group G any\nquorum G\n",
        "p-witness-none": f"witness none {K1}\nquorum none\n",
        "p-log-key-as-witness": f"witness W1 {L}\nquorum none\n",
        "p-witness-key-as-log": f"log {K1}\nquorum none\n",
        "p-crlf": ws.replace("\n", "\r\n") + "quorum W1\r\n",
        "p-extra-item": f"witness W1 {K1} http://w/ more\nquorum none\n",
        "p-groups-33": ws + "".join(f"group G{i} any W1\n" for i in range(33)) +
                       "quorum none\n",
        "p-line-2049": "#" * 2049 + "\nquorum none\n",
        "p-name-256": f"witness {'N' * 256} {K1}\nquorum none\n",
    }
    for name, (text, exit_, reason) in readable.items():
        case(name, one, doc, text, exit_, reason)
    for name, text in refused.items():
        case(name, one, doc, text, 2)
    case("p-groups-32", one, doc, ws + "".join(f"group G{i} any W1\n" for i in range(32)) +
         "quorum G31\n", 0)
    r = run(GB, "check-verdict", "--verdict-key", os.path.join(CASES, "one-q1", "verdict_key.json"),
            "--log-key", os.path.join(CASES, "one-q1", "log.vkey"), "--policy", PF["q1"],
            os.path.join(CASES, "one-q1", "answer.json"), os.path.join(CASES, "one-q1", "doc.cbor"))
    check("check-verdict prints the quorum it checked", r.returncode == 0 and
          "quorum either holds: W1 verified W2 missing" in r.stdout, r.stdout + r.stderr)
    with open(os.path.join(TMP, "broken.policy"), "w") as f:
        f.write("quorum none\nwitness W1\n")
    r = run(GB, "check-verdict", "--verdict-key", os.path.join(CASES, "one-q1", "verdict_key.json"),
            "--log-key", os.path.join(CASES, "one-q1", "log.vkey"), "--policy",
            os.path.join(TMP, "broken.policy"), os.path.join(CASES, "one-q1", "answer.json"),
            os.path.join(CASES, "one-q1", "doc.cbor"))
    check("check-verdict: a bad policy is a usage error naming the line", r.returncode == 2 and
          "broken.policy:2:" in r.stderr, r.stderr)

    # --- w2 back: witness sync, quorum 2 again ----------------------------------------
    w2, _ = serve_witness(w2_db, W2_PORT)
    r = reg("witness", "sync")
    check("w2 back: witness sync", r.returncode == 0 and "w2.test/witness cosigned" in r.stderr,
          r.stderr)
    st, out = v2.verify(doc)
    check("w2 back: verifier q2 affirms again", st == 200 and out["trusted"], (st, out))
    check("w2 back: verifier q2 ready", v2.ready()[0] == 200)
    case("back-q2", out, doc, "q2", 0)

    # --- the page's checker over the same cases ------------------------------------------
    node = shutil.which("node")
    check("node is there", node is not None)
    if node:
        n = len(os.listdir(CASES))
        for who, tail in (("web/check.js", []), ("glassbox check-verdict",
                                                  ["--", GB, "check-verdict"])):
            r = subprocess.run([node, os.path.join(ROOT, "tests", "web", "run_cases.mjs"), CASES]
                               + tail, capture_output=True, text=True, timeout=300)
            check(f"{who} agrees on the {n} policy cases", r.returncode == 0 and n >= 40,
                  r.stdout[-2000:] + r.stderr[-500:])

    for v, label in ((v2, "q2"), (v1, "q1"), (v0, "plain")):
        stop(v.proc, f"verifier {label}")
    stop(w1, "w1")
    stop(w2, "w2")
    mint.stdin.close()
    mint.wait()
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    subprocess.run(["gpgconf", "--homedir", os.environ["GNUPGHOME"], "--kill", "gpg-agent"],
                   capture_output=True)
    shutil.rmtree(TMP, ignore_errors=True)
finish()
