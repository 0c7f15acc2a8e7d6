#!/usr/bin/env python3
"""End-to-end tests of glassbox-enclave with the simulated NSM, over a Unix
socket and loopback TCP. Every document is checked by `glassbox verify`
against the simulator's root; every signature with an independent Ed25519
implementation (python cryptography).

usage: test_enclave.py ENCLAVE GLASSBOX
"""
import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish  # noqa: E402

ENCLAVE, GB = sys.argv[1:3]
TMP = tempfile.mkdtemp(prefix="glassbox-enclave-")
STATE = os.path.join(TMP, "state")




class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)


class Enclave:
    def __init__(self, listen, *extra):
        self.proc = subprocess.Popen(
            [ENCLAVE, "--nsm", "sim", "--state", STATE, "--listen", listen,
             "--pcrs", os.path.join(TMP, "pcr-values.json"), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.root = None
        while True:
            line = self.proc.stdout.readline()
            if line.startswith("simulated NSM: root "):
                self.root = line.split()[3]
            elif line.startswith("listening on "):
                self.addr = line.split()[2]
                break
            elif not line:
                raise SystemExit("enclave did not start: " + self.proc.stderr.read())

    def conn(self):
        if self.addr.startswith("unix:"):
            return UnixConnection(self.addr[5:])
        host, port = self.addr[4:].rsplit(":", 1)
        return http.client.HTTPConnection(host, int(port), timeout=30)

    def req(self, method, path, body=None):
        c = self.conn()
        c.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        r = c.getresponse()
        raw = r.read()
        c.close()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, raw

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def samples(text):
    """Prometheus text's samples as {name{labels}: int}."""
    if isinstance(text, bytes):
        text = text.decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = int(float(v))
    return out


def verify(doc_b64, nonce=None):
    path = os.path.join(TMP, f"doc-{threading.get_ident()}")
    with open(path, "wb") as f:
        f.write(base64.b64decode(doc_b64))
    args = [GB, "verify", "--json", "--root", os.path.join(STATE, "level0.der")]
    if nonce:
        args += ["--nonce", nonce]
    r = subprocess.run(args + [path], capture_output=True, text=True)
    return r.returncode, json.loads(r.stdout) if r.stdout else {}


def good_sig(pub_hex, payload, sig_b64):
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(pub_hex)).verify(
            base64.b64decode(sig_b64), b"glassbox-result-v1\x00" + payload)
        return True
    except Exception:
        return False


with open(os.path.join(TMP, "pcr-values.json"), "w") as f:
    json.dump({"version": "1", "pcrs": {"0": "a1" * 48, "1": "b2" * 48, "2": "c3" * 48},
               "docker_image": {"name": "app"}}, f)

sock = os.path.join(TMP, "enclave.sock")
for listen in ("unix:" + sock, "tcp:127.0.0.1:0"):
    e = Enclave(listen)
    kind = listen.split(":")[0]
    st, h = e.req("GET", "/health")
    check(f"{kind} health", st == 200 and h["status"] == "ok" and h["nsm"] == "sim"
          and len(h["public_key"]) == 64 and h["module_id"].startswith("i-"), h)
    pub = h["public_key"]

    nonce = os.urandom(32).hex()
    st, a = e.req("GET", "/attestation?nonce=" + nonce)
    rc, v = verify(a["document"], nonce)
    check(f"{kind} attestation verifies", st == 200 and rc == 0 and v["valid"], v)
    check(f"{kind} attestation binds the key", v.get("public_key") == pub and a["public_key"] == pub)
    check(f"{kind} attestation pcrs", v.get("pcrs", {}).get("0") == "a1" * 48
          and v.get("module_id") == h["module_id"])

    payload = b'{"answer":42}'
    st, s = e.req("POST", "/sign", json.dumps({"payload": base64.b64encode(payload).decode()}))
    check(f"{kind} sign", st == 200 and "document" not in s and s["public_key"] == pub, s)
    check(f"{kind} signature verifies", good_sig(pub, payload, s["signature"]))
    check(f"{kind} signature is over this payload", not good_sig(pub, b"other", s["signature"]))

    nonce = os.urandom(16).hex()
    st, s = e.req("POST", "/sign", json.dumps({"payload": base64.b64encode(payload).decode(), "nonce": nonce}))
    rc, v = verify(s["document"], nonce)
    check(f"{kind} sign with nonce", st == 200 and rc == 0 and good_sig(pub, payload, s["signature"]), v)
    check(f"{kind} user_data is SHA-256(payload)", v.get("user_data") == hashlib.sha256(payload).hexdigest()
          and v.get("nonce") == nonce and v.get("public_key") == pub, v)

    # Malformed requests get clear 4xx answers.
    check(f"{kind} bad hex", e.req("GET", "/attestation?nonce=xyz")[0] == 400)
    check(f"{kind} nonce too long", e.req("GET", "/attestation?nonce=" + "00" * 513)[0] == 400)
    check(f"{kind} nonce 512 bytes", e.req("GET", "/attestation?nonce=" + "00" * 512)[0] == 200)
    # Only nonce=HEX: a misspelt, repeated or NUL-cut nonce is refused, not
    # replaced by another one.
    for q in ("nonse=abcd", "nonce=abcd&nonce=ef", "nonce=ab%00cd", "nonce=abcd&x=1", "nonce=zz"):
        check(f"{kind} attestation ?{q} refused", e.req("GET", "/attestation?" + q)[0] == 400)
    st, p = e.req("POST", "/sign", "not json")
    check(f"{kind} sign not json", st == 400 and p["reason"] == "bad_request", p)
    check(f"{kind} sign bad payload", e.req("POST", "/sign", '{"payload": "!!"}')[0] == 400)
    check(f"{kind} sign bad nonce", e.req("POST", "/sign", '{"payload": "", "nonce": 5}')[0] == 400)
    # A misspelt nonce would quietly give a result with no fresh document.
    st, p = e.req("POST", "/sign", '{"payload": "AA==", "nonse": "00"}')
    check(f"{kind} sign misspelt field", st == 400 and p["reason"] == "unknown_field" and
          "nonse" in p["detail"], p)
    # Refused from its Content-Length, before the body: send the head alone
    # (a client that sends the body anyway may meet a closed socket).
    c = e.conn()
    c.putrequest("POST", "/sign")
    c.putheader("Content-Length", "70000")
    c.endheaders()
    r = c.getresponse()
    check(f"{kind} oversized", r.status == 413 and r.getheader("Connection") == "close")
    c.close()
    check(f"{kind} wrong method", e.req("POST", "/health")[0] == 405 and e.req("GET", "/sign")[0] == 405)
    check(f"{kind} unknown path", e.req("GET", "/nope")[0] == 404)
    st, text = e.req("GET", "/metrics")
    r = subprocess.run(["/usr/bin/python3", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "promcheck.py")], input=text.decode() if isinstance(text, bytes) else "",
                       capture_output=True, text=True, timeout=60)
    check(f"{kind} metrics parse as Prometheus text", st == 200 and r.returncode == 0 and
          "glassbox_enclave_http_rejected counter" in r.stdout, r.stdout[-600:])
    # The enclave's own counters, each family one group with HELP and TYPE
    # (promcheck refuses anything else), counted exactly: the requests above
    # made 2 signatures, 3 documents (one with /sign), and these refusals.
    m = samples(text)
    check(f"{kind} metrics: signs and attestations counted", r.returncode == 0 and
          "glassbox_enclave_signs counter" in r.stdout and
          "glassbox_enclave_attestations counter" in r.stdout and
          m.get("glassbox_enclave_signs_total") == 2 and
          m.get("glassbox_enclave_attestations_total") == 3, m)
    want = {"bad_request": 10, "unknown_field": 1, "method_not_allowed": 2, "not_found": 1,
            "nsm_error": 0, "internal": 0, "no_memory": 0, "not_sealed": 0}
    got = {k[len('glassbox_enclave_refusals_total{reason="'):-2]: v for k, v in m.items()
           if k.startswith("glassbox_enclave_refusals_total{")}
    check(f"{kind} metrics: refusals by reason, every reason listed", got == want, got)
    check(f"{kind} metrics: the server's refusal before the body is its own",
          m.get('glassbox_enclave_http_rejected_total{reason="too_large"}') == 1, m)

    # Concurrent clients each get their own, correct answer.
    def client(i):
        for j in range(5):
            pl = f"payload {i} {j}".encode()
            n = os.urandom(8).hex()
            st, s = e.req("POST", "/sign", json.dumps({"payload": base64.b64encode(pl).decode(), "nonce": n}))
            rc, v = verify(s["document"], n)
            check(f"{kind} concurrent {i}.{j}", st == 200 and rc == 0 and good_sig(pub, pl, s["signature"])
                  and v.get("user_data") == hashlib.sha256(pl).hexdigest(), v)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    m = samples(e.req("GET", "/metrics")[1])
    check(f"{kind} metrics: 40 concurrent signs with nonces counted, none lost",
          m.get("glassbox_enclave_signs_total") == 42 and
          m.get("glassbox_enclave_attestations_total") == 43, m)

    check(f"{kind} stops on SIGTERM", e.stop() == 0)
    err = e.proc.stderr.read()
    check(f"{kind} nothing on stderr", err == "", err[:500])
check("unix socket removed", not os.path.exists(sock))

# The chain is kept: a restart uses the same root; and a new key each time.
e1 = Enclave("tcp:127.0.0.1:0")
k1 = e1.req("GET", "/health")[1]["public_key"]
e1.stop()
e2 = Enclave("tcp:127.0.0.1:0", "--debug-mode")
k2 = e2.req("GET", "/health")[1]["public_key"]
rc, v = verify(e2.req("GET", "/attestation")[1]["document"])
check("state kept, debug mode", rc == 1 and v["reason"] == "debug_mode" and v["debug"] is True, v)
check("a new key each start", k1 != k2)
e2.stop()

# Boot PCRs measured from an enclave image.
for name, data in (("k", b"KERNEL"), ("r1", b"BOOTRAMDISK"), ("r2", b"APPRAMDISK")):
    with open(os.path.join(TMP, name), "wb") as f:
        f.write(data)
img = os.path.join(TMP, "app.eif")
subprocess.run([GB, "eif", "build", "--kernel", os.path.join(TMP, "k"), "--cmdline", "console=ttyS0",
                "--ramdisk", os.path.join(TMP, "r1"), "--ramdisk", os.path.join(TMP, "r2"),
                "--output", img], check=True, capture_output=True)
measured = json.loads(subprocess.run([GB, "eif", "measure", "--json", img], check=True,
                                     capture_output=True, text=True).stdout)["Measurements"]
p = subprocess.Popen([ENCLAVE, "--nsm", "sim", "--state", STATE, "--eif", img,
                      "--listen", "tcp:127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
line = p.stdout.readline()
while line and not line.startswith("listening on "):
    line = p.stdout.readline()
host, port = line.split()[2][4:].rsplit(":", 1)
c = http.client.HTTPConnection(host, int(port), timeout=30)
c.request("GET", "/attestation")
rc, v = verify(json.loads(c.getresponse().read())["document"])
check("pcrs from --eif", rc == 0 and all(v["pcrs"][str(i)] == measured[f"PCR{i}"] for i in range(3)), v)
p.send_signal(signal.SIGTERM)
check("eif enclave stops", p.wait(timeout=30) == 0)

for args, words in ((["--listen", "bogus:1"], "must start with"),
                    (["--listen", "vsock:abc"], "vsock port"),
                    (["--nsm", "sim", "--listen", "tcp:localhost:80"], "numeric"),
                    (["--nsm", "sim", "--eif", "/nonexistent.eif"], "cannot open"),
                    (["--nsm", "sim", "--eif", img, "--pcrs", img], "not both"),
                    (["--nsm", "dev", "--listen", "tcp:127.0.0.1:0"], "/dev/nsm"),
                    (["--nsm", "sim", "--threads", "0"], "bad arguments")):
    r = subprocess.run([ENCLAVE, "--state", STATE, *args], capture_output=True, text=True, timeout=30)
    check(f"refused {args}", r.returncode == 2 and words in r.stderr, r.stderr)

shutil.rmtree(TMP, ignore_errors=True)
finish()
