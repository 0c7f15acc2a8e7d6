#!/usr/bin/env python3
"""End-to-end tests of the sealed signer key (issue 17): glassbox-enclave
(simulated NSM) reaches a KMS test double (tests/kms_double: HTTPS with a
test CA, SigV4, attestation, key policy, CMS made by `openssl cms`) through
glassbox-parent --outbound, with credentials from glassbox-parent
--credentials, which reads them from a fake IMDSv2. All real processes on
127.0.0.1; the sealed blob is opened independently here (AES-GCM with the
data key the double handed out) to check its format.

usage: test_kms.py ENCLAVE PARENT GLASSBOX
"""
import atexit
import base64
import datetime
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import sys
import tempfile

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "kms_double"))
from harness import check, finish  # noqa: E402
from kms_double import FakeImds, KmsDouble, make_ca, new_creds  # noqa: E402

ENCLAVE, PARENT, GB = sys.argv[1:4]
TMP = tempfile.mkdtemp(prefix="glassbox-kms-")
STATE = os.path.join(TMP, "state")
HOST = "kms.us-east-1.amazonaws.com"
ROLE = "arn:aws:iam::111122223333:role/glassbox-enclave-role"
LOGS = []                               # every output of every process


def pcr_file(name, seed):
    pcrs = {str(i): bytes([seed + i]) .hex() * 48 for i in range(3)}
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        json.dump({"version": "1", "pcrs": pcrs}, f)
    return path, pcrs


PCRS_A, REL_A = pcr_file("release-a.json", 0x10)
PCRS_B, REL_B = pcr_file("release-b.json", 0x40)


def policy_for(*releases):
    """A key policy in the shape `glassbox kms-policy` writes, with
    kms:GenerateDataKey beside kms:Decrypt (the first seal needs it)."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "KeyAdministrationWithoutDecrypt", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
         "Action": ["kms:DescribeKey", "kms:PutKeyPolicy"], "Resource": "*"}] + [
        {"Sid": f"DecryptOnlyInTheReleasedEnclave{n}", "Effect": "Allow",
         "Principal": {"AWS": ROLE}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": "*", "Condition": {"StringEqualsIgnoreCase": {
             f"kms:RecipientAttestation:PCR{i}": rel[str(i)].upper() for i in range(3)}}}
        for n, rel in enumerate(releases)]}


# The simulator's root: a first start without KMS makes the state.
boot = subprocess.Popen([ENCLAVE, "--nsm", "sim", "--state", STATE, "--listen",
                         "tcp:127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True)
while not boot.stdout.readline().startswith("listening on "):
    pass
boot.send_signal(signal.SIGTERM)
boot.communicate(timeout=30)
with open(os.path.join(STATE, "level0.der"), "rb") as f:
    ROOT = f.read()

CA, CERT, KEY = make_ca(TMP, HOST)
os.mkdir(os.path.join(TMP, "other-ca"))
OTHER_CA = make_ca(os.path.join(TMP, "other-ca"), HOST)[0]
kms = KmsDouble(ROOT, CERT, KEY)
KEY_ARN = kms.create_key(policy_for(REL_A))
imds = FakeImds()
CREDS = [new_creds(kms, imds, ROLE)]

ALLOW = os.path.join(TMP, "allow.yaml")
with open(ALLOW, "w") as f:
    f.write(f"allowlist:\n- {{address: 127.0.0.1, port: {kms.port}}}\n")
SEALED = os.path.join(TMP, "sealed.json")
parent = subprocess.Popen(
    [PARENT, "--health", "127.0.0.1:0", "--outbound", f"tcp:127.0.0.1:0=127.0.0.1:{kms.port}",
     "--allowlist", ALLOW, "--outbound-allow-special", "--credentials", f"unix:{TMP}/cred.sock",
     "--imds", f"http://127.0.0.1:{imds.port}", "--sealed-file", SEALED],
    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
CHILDREN = [parent]


@atexit.register
def _cleanup():
    """No process outlives the test, even when it fails half-way."""
    for p in CHILDREN:
        if p.poll() is None:
            p.kill()
            p.wait()
    kms.stop()
    imds.stop()
    shutil.rmtree(TMP, ignore_errors=True)


OUT = CRED = None
while True:
    line = parent.stdout.readline()
    LOGS.append(line)
    if line.startswith("outbound tcp:"):
        OUT = line.split()[1]
    elif line.startswith("credentials on "):
        CRED = line.split()[2]
    elif line.startswith("health on") or not line:
        break
check("parent starts with --credentials", OUT and CRED, LOGS)


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("parent", timeout=30)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.unix_path)


def cred_get(query=""):
    """The parent's credentials service over its Unix socket (the
    enclave's channel to the KMS relay is TCP: both of libcurl's ways out
    are used)."""
    c = UnixConnection(CRED[5:])
    c.request("GET", "/credentials" + query)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def enclave_args(pcrs=PCRS_A, sealed="parent", extra=(), key=None):
    return [ENCLAVE, "--nsm", "sim", "--state", STATE, "--pcrs", pcrs, "--listen",
            "tcp:127.0.0.1:0", "--kms-key", key or KEY_ARN, "--sealed", sealed, "--parent", CRED,
            "--kms-proxy", OUT, "--kms-ca", CA, "--kms-rsa-bits", "2048", *extra]


class Enclave:
    def __init__(self, **kw):
        self.proc = subprocess.Popen(enclave_args(**kw), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        CHILDREN.append(self.proc)
        self.addr = None
        while True:
            line = self.proc.stdout.readline()
            LOGS.append(line)
            if line.startswith("listening on "):
                self.addr = line.split()[2]
                break
            if not line:
                break

    def req(self, method, path, body=None):
        if self.addr is None:
            rc, err = self.stop()
            print(f"enclave did not start ({rc}): {err}", flush=True)
            return 0, None
        host, port = self.addr[4:].rsplit(":", 1)
        c = http.client.HTTPConnection(host, int(port), timeout=30)
        c.request(method, path, body=body,
                  headers={"Content-Type": "application/json"} if body else {})
        r = c.getresponse()
        raw = r.read()
        c.close()
        return r.status, json.loads(raw) if raw else None

    def stop(self):
        """Stops it; returns (exit status, stderr)."""
        if self.proc.returncode is not None:
            return self.proc.returncode, self.err
        if self.addr:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=120)
        LOGS.extend([out, err])
        self.err = err
        return self.proc.returncode, err


def refused(what, reason, **kw):
    """Starts an enclave that must refuse to start with reason."""
    e = Enclave(**kw)
    rc, err = e.stop()
    check(f"{what}: refused ({reason})", e.addr is None and rc == 3 and
          f"sealed key: {reason}:" in err, (rc, err))
    return err


def read_sealed(path=SEALED):
    with open(path) as f:
        return json.load(f)


def open_blob(blob, data_key):
    """The seed, opened here with the data key (AES-256-GCM, the AAD of
    docs/enclave.md)."""
    aad = (b"glassbox-sealed-v1\0" + blob["kms_key"].encode() + b"\0" +
           bytes.fromhex(blob["public_key"]))
    return AESGCM(data_key).decrypt(base64.b64decode(blob["nonce"]),
                                    base64.b64decode(blob["sealed_seed"]), aad)


# 1. First start: a new key, sealed under a data key from GenerateDataKey
#    with Recipient, stored by the parent.
e = Enclave()
st, h = e.req("GET", "/health")
check("first start: a new sealed key", st == 200 and h["key"] == "new-sealed", h)
PUB = h["public_key"]
calls = [c for c in kms.calls if c["outcome"] == "ok"]
check("first start: GenerateDataKey with Recipient",
      [(c["op"], c["recipient"]) for c in calls] == [("GenerateDataKey", True)], kms.calls)
blob = read_sealed()
check("the parent keeps the blob", blob["kms_key"] == KEY_ARN and blob["public_key"] == PUB and
      blob["format"] == "glassbox-sealed-v1", blob)
check("the blob has exactly its six members", sorted(blob) == sorted(
    ["format", "kms_key", "ciphertext_blob", "nonce", "sealed_seed", "public_key"]), blob)
st, served = e.req("GET", "/sealed")
check("GET /sealed is the parent's copy", st == 200 and served == blob, served)
seed = open_blob(blob, kms.issued[-1])
raw_pub = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
    serialization.Encoding.Raw, serialization.PublicFormat.Raw)
check("the sealed seed opens with the data key and is the enclave's key", raw_pub.hex() == PUB)
SEEDS = [seed]
e.stop()

# 2a. A 4096-bit recipient key: its 550-byte public key fits the NSM's
# public_key limit (1024, as AWS allows) and opens the same key.
e = Enclave(extra=["--kms-rsa-bits", "4096"])
st, h = e.req("GET", "/health")
check("a 4096-bit recipient opens the sealed key", st == 200 and h["key"] == "sealed" and
      h["public_key"] == PUB, (h, LOGS[-3:]))
e.stop()

# 2. Restart: Decrypt with Recipient gives the same key.
kms.calls.clear()
e = Enclave()
st, h = e.req("GET", "/health")
check("restart: the same public key", st == 200 and h["key"] == "sealed" and
      h["public_key"] == PUB, h)
check("restart: Decrypt with Recipient", [(c["op"], c["recipient"], c["outcome"])
                                          for c in kms.calls] == [("Decrypt", True, "ok")],
      kms.calls)
payload = b"result after restart"
st, s = e.req("POST", "/sign", json.dumps({"payload": base64.b64encode(payload).decode()}))
try:
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(PUB)).verify(
        base64.b64decode(s["signature"]), b"glassbox-result-v1\0" + payload)
    sig_ok = True
except Exception:
    sig_ok = False
check("restart: results are signed with the sealed key", st == 200 and sig_ok, s)
e.stop()

# 3. An enclave with other PCRs: KMS refuses, the enclave says so, no new key.
before = read_sealed()
err = refused("other PCRs", "kms_access_denied", pcrs=PCRS_B)
check("other PCRs: KMS's refusal is named", "AccessDeniedException" in err, err)
check("other PCRs: the blob is left alone", read_sealed() == before)
err = refused("other PCRs with --allow-new-key", "kms_access_denied", pcrs=PCRS_B,
              extra=["--allow-new-key"])
check("other PCRs with --allow-new-key: GenerateDataKey refused too, blob kept",
      read_sealed() == before and "kms:GenerateDataKey" in err, err)

# 4. A policy for both releases (the rollover window) admits the new one.
kms.keys[KEY_ARN]["policy"] = policy_for(REL_A, REL_B)
e = Enclave(pcrs=PCRS_B)
st, h = e.req("GET", "/health")
check("a release added to the policy opens the same key", h and h["public_key"] == PUB, h)
e.stop()
kms.keys[KEY_ARN]["policy"] = policy_for(REL_B)
refused("a release removed from the policy", "kms_access_denied")
kms.keys[KEY_ARN]["policy"] = policy_for(REL_A)

# 4b. Policies written by `glassbox kms-policy` from a real registry (gpg
#     keys made here), and a release revoked there: the policy made again
#     for the release that is left admits it and refuses the revoked one.
os.environ["GNUPGHOME"] = os.path.join(TMP, "gnupg")
os.mkdir(os.environ["GNUPGHOME"], 0o700)
DB = os.path.join(TMP, "registry.db")


def gpg(*args):
    return subprocess.run(["gpg", "--batch", "--yes", *args], capture_output=True,
                          check=True).stdout


def cli(*args):
    return subprocess.run([GB, *args], capture_output=True, text=True, timeout=60)


gpg("--passphrase", "", "--quick-gen-key", "RM <rm@example.com>", "ed25519", "sign", "1y")
with open(os.path.join(TMP, "rm.asc"), "wb") as f:
    f.write(gpg("--armor", "--export", "rm@example.com"))
cli("registry", "--db", DB, "init", "--origin", "kms.glassbox/log")
cli("registry", "--db", DB, "key", "add", os.path.join(TMP, "rm.asc"))
IDS = {}
for name, rel in (("a", REL_A), ("b", REL_B)):
    path = os.path.join(TMP, f"statement-{name}.json")
    with open(path, "w") as f:
        json.dump({"name": "signer", "version": name, "pcrs": rel}, f)
    gpg("--armor", "--local-user", "rm@example.com", "--detach-sign", path)
    r = cli("registry", "--db", DB, "--json", "publish", path, path + ".asc")
    IDS[name] = json.loads(r.stdout)["id"] if r.returncode == 0 else None
check("two releases published", None not in IDS.values(), IDS)


def cli_policy(name):
    r = cli("kms-policy", "--db", DB, "--release", IDS[name], "--role-arn", ROLE)
    return r.returncode, (json.loads(r.stdout) if r.returncode == 0 else r.stderr)


rc, pol = cli_policy("a")
kms.keys[KEY_ARN]["policy"] = pol
e = Enclave()
st, h = e.req("GET", "/health")
e.stop()
check("glassbox kms-policy for release a: it opens the key", rc == 0 and h and
      h["public_key"] == PUB, (rc, h))
refused("glassbox kms-policy for release a: release b", "kms_access_denied", pcrs=PCRS_B)
rev = os.path.join(TMP, "revoke-a.json")
with open(rev, "w") as f:
    json.dump({"action": "revoke", "origin": "kms.glassbox/log", "pcr0": REL_A["0"],
               "reason": "test"}, f)
gpg("--armor", "--local-user", "rm@example.com", "--detach-sign", rev)
r = cli("registry", "--db", DB, "revoke", rev, rev + ".asc")
rc, _ = cli_policy("a")
check("release a revoked: kms-policy refuses it", r.returncode == 0 and rc == 1, r.stderr)
rc, pol = cli_policy("b")
kms.keys[KEY_ARN]["policy"] = pol
refused("release a revoked, the policy made again for b", "kms_access_denied")
e = Enclave(pcrs=PCRS_B)
st, h = e.req("GET", "/health")
e.stop()
check("the policy made again for b: b opens the same key", rc == 0 and h and
      h["public_key"] == PUB, (rc, h))
kms.keys[KEY_ARN]["policy"] = policy_for(REL_A)

# 5. Expired credentials: the parent still holds them, KMS says
#    ExpiredTokenException; the enclave asks for fresh ones, the parent goes
#    to IMDS again.
old = CREDS[-1][0]
kms.expire(old)
CREDS.append(new_creds(kms, imds, ROLE))
hits = imds.hits
kms.calls.clear()
e = Enclave()
st, h = e.req("GET", "/health")
rc, err = e.stop()
check("expired credentials: refreshed, same key", h and h["public_key"] == PUB, (h, err))
check("expired credentials: refused, then accepted with the new ones",
      [(c["access_key"], c["outcome"]) for c in kms.calls] ==
      [(old, "ExpiredTokenException"), (CREDS[-1][0], "ok")], kms.calls)
check("expired credentials: the parent asked IMDS again", imds.hits == hits + 1)
check("expired credentials: the enclave says why", "kms_expired_token" in err, err)

# 6. The parent's own refresh: credentials within 5 minutes of their
#    expiration are fetched again at each request; expired ones are not
#    served.
CREDS.append(new_creds(kms, imds, ROLE, datetime.timedelta(minutes=2)))
check("refresh=1 fetches again", cred_get("?refresh=1")[0] == 200)
hits = imds.hits
st1, _ = cred_get()
st2, body = cred_get()
check("credentials close to expiry: fetched from IMDS each time",
      st1 == st2 == 200 and imds.hits == hits + 2 and
      json.loads(body)["AccessKeyId"] == CREDS[-1][0], (imds.hits, hits))
CREDS.append(new_creds(kms, imds, ROLE))
hits = imds.hits
st1, _ = cred_get()
st2, body = cred_get()
check("credentials far from expiry: kept", st1 == st2 == 200 and imds.hits == hits + 1 and
      json.loads(body)["AccessKeyId"] == CREDS[-1][0], (imds.hits, hits))
CREDS.append(new_creds(kms, imds, ROLE, datetime.timedelta(minutes=-1)))
st, body = cred_get("?refresh=1")
check("expired credentials from IMDS: 503 credentials_expired",
      st == 503 and json.loads(body)["reason"] == "credentials_expired", body)
check("a bad query: 400", cred_get("?refresh=yes")[0] == 400)
CREDS.append(new_creds(kms, imds, ROLE))
check("after expired ones, refresh=1 serves the new ones", cred_get("?refresh=1")[0] == 200)
# Forced refreshes are a bounded bucket (8, one more a second): a client
# asking 40 times at once makes IMDS work a few times, not 40.
hits = imds.hits
t0 = time.time()
codes = [cred_get("?refresh=1")[0] for _ in range(40)]
fetched = imds.hits - hits
check("40 forced refreshes at once: all served, IMDS asked at most 8 + the seconds taken",
      codes == [200] * 40 and 1 <= fetched <= 8 + int(time.time() - t0) + 1, (fetched, codes))

# 6b. The parent's store refuses what is not a blob; a parent whose IMDS
#     does not answer says so, and the enclave stops with no_credentials.
def cred_req(method, path, body=None, sock=None):
    c = UnixConnection(sock or CRED[5:])
    c.request(method, path, body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    raw = r.read()
    c.close()
    return r.status, json.loads(raw) if raw else None


before = open(SEALED).read()
st, body = cred_req("POST", "/sealed", json.dumps({"format": "something-else"}))
check("POST /sealed: not a blob, 400", st == 400 and body["reason"] == "bad_request", body)
st, body = cred_req("POST", "/sealed", "[1, 2")
check("POST /sealed: not JSON, 400", st == 400, body)
check("POST /sealed refused: the blob is left alone", open(SEALED).read() == before)

# 6c. No client of the store can make the sealed key unrecoverable: a blob
#     must have the enclave's shape, and every blob replaced is kept in
#     FILE.history/ (by content) until 32 are there; then writes stop.
hist_sock = os.path.join(TMP, "hist.sock")
hist_file = os.path.join(TMP, "hist.json")
hist = subprocess.Popen([PARENT, "--health", "off", "--credentials", f"unix:{hist_sock}",
                         "--imds", "http://127.0.0.1:9", "--sealed-file", hist_file],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
CHILDREN.append(hist)
for _ in range(100):
    if os.path.exists(hist_sock):
        break
    time.sleep(0.05)


def shaped(i, **over):
    b = {"format": "glassbox-sealed-v1", "kms_key": KEY_ARN, "ciphertext_blob": "QUJD",
         "nonce": "AAAAAAAAAAAAAAAA", "sealed_seed": f"{i:08d}", "public_key": "ab" * 32}
    b.update(over)
    return json.dumps({k: v for k, v in b.items() if v is not None})


for what, body in (("an unknown field", shaped(0, extra="x")),
                   ("a public_key that is not 64 hex digits", shaped(0, public_key="zz")),
                   ("no ciphertext_blob", shaped(0, ciphertext_blob=None)),
                   ("a kms_key with a quote", shaped(0, kms_key='arn"x'))):
    st, _ = cred_req("POST", "/sealed", body, sock=hist_sock)
    check(f"POST /sealed: {what}, 400", st == 400, st)
first = shaped(0)
check("POST /sealed: the first blob", cred_req("POST", "/sealed", first, sock=hist_sock)[0] == 204)
codes = [cred_req("POST", "/sealed", shaped(i), sock=hist_sock)[0] for i in range(1, 34)]
check("32 replacements kept, the 33rd refused: 507 history_full",
      codes == [204] * 32 + [507], codes)
hdir = hist_file + ".history"
kept = sorted(open(os.path.join(hdir, f)).read() for f in os.listdir(hdir))
check("the first blob is still in the history", first in kept and len(kept) == 32, len(kept))
check("the store holds the last accepted blob", open(hist_file).read() == shaped(32))
check("the same blob again adds nothing to a full history",
      cred_req("POST", "/sealed", shaped(32), sock=hist_sock)[0] == 204)
hist.terminate()
hist.wait(timeout=30)
check("POST /credentials: 405", cred_req("POST", "/credentials", "{}")[0] == 405)
dead = socket.socket()
dead.bind(("127.0.0.1", 0))
dead_port = dead.getsockname()[1]
dead.close()
lone_sock = os.path.join(TMP, "lone.sock")
lone = subprocess.Popen([PARENT, "--health", "127.0.0.1:0", "--credentials", f"unix:{lone_sock}",
                         "--imds", f"http://127.0.0.1:{dead_port}"],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
CHILDREN.append(lone)
while True:
    line = lone.stdout.readline()
    if line.startswith("health on") or not line:
        break
st, body = cred_req("GET", "/credentials", sock=lone_sock)
check("IMDS does not answer: 503 imds_unavailable", st == 503 and
      body["reason"] == "imds_unavailable", body)
st, body = cred_req("GET", "/sealed", sock=lone_sock)
check("no --sealed-file: GET /sealed 404", st == 404, body)
saved = CRED
CRED = f"unix:{lone_sock}"
refused("credentials the parent cannot get", "no_credentials")
CRED = saved
lone.terminate()
lout, lerr = lone.communicate(timeout=60)
LOGS.extend([lout, lerr])

# 7. A wrong secret: KMS refuses the signature (InvalidSignatureException)
#    and a fresh copy does not help.
good = kms.creds[CREDS[-1][0]]["secret"]
kms.creds[CREDS[-1][0]]["secret"] = base64.b64encode(os.urandom(30)).decode()
refused("a signature KMS does not accept", "kms_bad_credentials")
kms.creds[CREDS[-1][0]]["secret"] = good

# 8. A tampered blob is refused, whatever part was changed.
pristine = read_sealed()


def tampered(what, reason, change):
    b = dict(pristine)
    change(b)
    with open(SEALED, "w") as f:
        json.dump(b, f)
    refused(f"tampered {what}", reason)
    check(f"tampered {what}: the blob is left alone", read_sealed() == b)


def flip(field, b):
    raw = bytearray(base64.b64decode(b[field]))
    raw[len(raw) // 2] ^= 1
    b[field] = base64.b64encode(bytes(raw)).decode()


tampered("sealed seed", "sealed_corrupt", lambda b: flip("sealed_seed", b))
tampered("nonce", "sealed_corrupt", lambda b: flip("nonce", b))
tampered("public key", "sealed_corrupt",
         lambda b: b.update(public_key=("00" * 32 if b["public_key"] != "00" * 32 else "11" * 32)))
tampered("ciphertext blob", "kms_invalid_ciphertext", lambda b: flip("ciphertext_blob", b))
other_key = kms.create_key(policy_for(REL_A))
tampered("key ARN", "sealed_wrong_key", lambda b: b.update(kms_key=other_key))
tampered("format", "sealed_malformed", lambda b: b.update(format="glassbox-sealed-v0"))
tampered("seed length", "sealed_malformed",
         lambda b: b.update(sealed_seed=base64.b64encode(os.urandom(47)).decode()))
with open(SEALED, "w") as f:
    json.dump(pristine, f)

# 9. A CMS envelope made for another RSA key does not open.
kms.envelope_to_other_key = True
err = refused("an envelope for another key", "kms_envelope")
check("an envelope for another key: said clearly", "does not open with this enclave's key" in err,
      err)
kms.envelope_to_other_key = False

# 10. TLS ends in the enclave: another CA, or another host name, fails.
refused("a KMS certificate from another CA", "kms_tls", extra=["--kms-ca", OTHER_CA])
refused("a KMS certificate for another host", "kms_tls",
        extra=["--kms-endpoint", "https://kms.us-east-2.amazonaws.com", "--kms-region", "us-east-1"])

# 11. The blob in a file (--sealed FILE); --require-sealed without one.
local = os.path.join(TMP, "local-sealed.json")
refused("--require-sealed without a blob", "sealed_missing", sealed=local,
        extra=["--require-sealed"])
e = Enclave(sealed=local)
st, h1 = e.req("GET", "/health")
e.stop()
SEEDS.append(open_blob(read_sealed(local), kms.issued[-1]))
e = Enclave(sealed=local, extra=["--require-sealed"])
st, h2 = e.req("GET", "/health")
e.stop()
check("--sealed FILE: sealed, then the same key", h1 and h2 and h1["key"] == "new-sealed" and
      h2["key"] == "sealed" and h1["public_key"] == h2["public_key"] != PUB, (h1, h2))

# 12. --allow-new-key replaces a blob that does not open, and the parent
#     keeps the old one as .prev.
with open(SEALED, "w") as f:
    b = dict(pristine)
    flip("sealed_seed", b)
    json.dump(b, f)
e = Enclave(extra=["--allow-new-key"])
st, h = e.req("GET", "/health")
rc, err = e.stop()
check("--allow-new-key: a new key after saying why", h and h["key"] == "new-sealed" and
      h["public_key"] != PUB and "sealed_corrupt" in err, (h, err))
check("--allow-new-key: the old blob is kept as .prev", read_sealed(SEALED + ".prev") == b)
SEEDS.append(open_blob(read_sealed(), kms.issued[-1]))

# 13. Rotation: an image naming a new key and the previous one opens the
#     blob under the previous key and seals the same key under the new one.
cur = read_sealed()
KEY2 = kms.create_key(policy_for(REL_A))
kms.calls.clear()
e = Enclave(key=KEY2, extra=["--previous-kms-key", KEY_ARN])
st, h = e.req("GET", "/health")
rc, err = e.stop()
moved = read_sealed()
check("rotation: the same key, sealed again", h and h["key"] == "resealed" and
      h["public_key"] == cur["public_key"] and moved["kms_key"] == KEY2 and
      moved["public_key"] == cur["public_key"], (h, err))
check("rotation: Decrypt under the old key, GenerateDataKey under the new",
      [(c["op"], c["key"], c["outcome"]) for c in kms.calls] ==
      [("Decrypt", KEY_ARN, "ok"), ("GenerateDataKey", KEY2, "ok")], kms.calls)
check("rotation: the new blob holds the same seed",
      open_blob(moved, kms.issued[-1]) == SEEDS[-1])
check("rotation: the parent keeps the old blob", read_sealed(SEALED + ".prev") == cur)
e = Enclave(key=KEY2)
st, h = e.req("GET", "/health")
e.stop()
check("rotation: later starts open it under the new key", h and h["key"] == "sealed" and
      h["public_key"] == cur["public_key"], h)
refused("after rotation, an image of the old key", "sealed_wrong_key")
KEY3 = kms.create_key(policy_for(REL_B))
refused("rotation to a key whose policy refuses this release", "kms_access_denied",
        key=KEY3, extra=["--previous-kms-key", KEY2])
check("a refused rotation leaves the blob alone", read_sealed() == moved)

# 14. Options that do not go together.
for args, what in ((["--kms-key", KEY_ARN], "--kms-key without --sealed"),
                   (["--sealed", "parent"], "--sealed without --kms-key"),
                   (["--kms-key", "alias/x", "--sealed", "parent", "--parent", CRED],
                    "an alias"),
                   (["--kms-key", "alias/x", "--kms-region", "us-east-1", "--sealed", "parent",
                     "--parent", CRED], "an alias, even with --kms-region (it resolves in the "
                    "account of the parent's credentials)"),
                   (["--kms-key", "arn:aws:kms:us-east-1:111122223333:alias/glassbox", "--sealed",
                     "parent", "--parent", CRED], "an alias ARN"),
                   (["--kms-key", "56111933fe53761384165b6811477165", "--kms-region", "us-east-1",
                     "--sealed", "parent", "--parent", CRED], "a bare key id"),
                   (["--kms-key", KEY_ARN, "--kms-region", "eu-west-1", "--sealed", "parent",
                     "--parent", CRED], "a --kms-region that is not the ARN's"),
                   (["--kms-key", KEY_ARN, "--previous-kms-key", "alias/old", "--sealed", "parent",
                     "--parent", CRED], "an alias as --previous-kms-key"),
                   (["--kms-key", KEY_ARN + "/x", "--sealed", "parent", "--parent", CRED],
                    "a key ARN with more after its id"),
                   (["--kms-key", KEY_ARN, "--sealed", "parent", "--parent", CRED,
                     "--kms-rsa-bits", "1024"], "a 1024-bit recipient"),
                   (["--kms-key", KEY_ARN, "--sealed", "parent", "--parent", CRED,
                     "--previous-kms-key", KEY_ARN], "--previous-kms-key the same key"),
                   (["--previous-kms-key", KEY_ARN], "--previous-kms-key alone")):
    r = subprocess.run([ENCLAVE, "--nsm", "sim", "--state", STATE, "--listen", "tcp:127.0.0.1:0",
                        *args], capture_output=True, text=True, timeout=60)
    check(f"{what}: usage error", r.returncode == 2, r.stderr)

# 15. Nothing secret in any output.
parent.send_signal(signal.SIGTERM)
out, perr = parent.communicate(timeout=60)
LOGS.extend([out, perr])
check("parent logs the refreshes", "credentials_refreshed" in perr, perr[-500:])
text = "\n".join(LOGS)
secrets = []
for akid, secret, token in CREDS:
    secrets += [akid, secret, token, token[:40]]
for k in kms.issued + SEEDS:
    secrets += [k.hex(), base64.b64encode(k).decode()[:40]]
leaked = [s for s in secrets if s in text]
check("no credential, data key or seed in any output", not leaked and len(secrets) > 20, leaked)
with open(SEALED) as f:
    stored = f.read()
check("no credential, data key or seed in the sealed blob",
      not [s for s in secrets if s in stored])

finish()                                # _cleanup stops the rest
