#!/usr/bin/env python3
"""End to end: the simulated NSM's PCR3, PCR4 and PCR8 as the Nitro
hypervisor sets them, and a release that names the enclave's signer key.

- A signed synthetic image (`glassbox eif build --sign-cert`), its PCR8
  checked against Python's hashlib; glassbox-enclave --nsm sim with
  --eif, --iam-role and --instance-id; the document `glassbox verify`
  accepts carries PCR3 = SHA-384(48 zeros || role ARN), PCR4 = the same of
  the instance ID, PCR8 = SHA-384(48 zeros || SHA-384(certificate DER)),
  all computed here with hashlib, and a module id that begins with the
  instance ID. Debug mode zeroes PCR0..2 and 8, not 3 and 4;
  --signing-cert gives PCR8 without an image; bad options are refused.
- The registry publishes the signed image's PCR0/1/2/8 with the enclave's
  public key as signer_key (`registry publish --signer-key`, which refuses
  another key); the verifier trusts a result from that enclave (the
  release matched on PCR8 too), refuses one from an enclave of the same
  build with another key (wrong_signer), and a release without signer_key
  accepts any key. Every verifier answer is checked against openapi.json.

usage: test_attested_release.py GLASSBOX ENCLAVE VERIFIER
"""
import base64
import datetime
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

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish  # noqa: E402
import openapi_check  # noqa: E402

GB, ENCLAVE, VERIFIER = sys.argv[1:4]
TMP = tempfile.mkdtemp(prefix="glassbox-attested-")
os.environ["GNUPGHOME"] = os.path.join(TMP, "gnupg")
os.mkdir(os.environ["GNUPGHOME"], 0o700)
STATE = os.path.join(TMP, "nsm")
DB = os.path.join(TMP, "registry.db")
ROLE = "arn:aws:iam::123456789012:role/glassbox-instance"
IID = "i-0123456789abcdef0"
procs = []
V = None


def run(*args):
    r = subprocess.run(args, capture_output=True, text=True, check=False)
    return r.returncode, r.stdout, r.stderr


def must(*args):
    rc, out, err = run(*args)
    if rc != 0:
        raise SystemExit(f"{args[:3]}: {err}")
    return out


def extend(data):
    """SHA-384(48 zero bytes || data): the NSM's PCR3/PCR4 of a text."""
    return hashlib.sha384(b"\0" * 48 + data).hexdigest()


def http(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    h = {"Content-Type": "application/json"} if data is not None else {}
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw, status, hdrs = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        raw, status, hdrs = e.read(), e.code, e.headers
    if V is not None and url.startswith(V + "/"):
        openapi_check.observe(method, url[len(V):], status, hdrs, raw)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


class Enclave:
    def __init__(self, *extra):
        self.proc = subprocess.Popen(
            [ENCLAVE, "--nsm", "sim", "--state", STATE, "--listen", "tcp:127.0.0.1:0",
             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(self.proc)
        while True:
            line = self.proc.stdout.readline()
            if line.startswith("listening on "):
                self.url = "http://" + line.split()[2][4:]
                break
            if not line:
                raise SystemExit("enclave did not start: " + self.proc.stderr.read())
        self.pub = http("GET", self.url + "/health")[1]["public_key"]

    def document(self):
        nonce = os.urandom(16).hex()
        st, a = http("GET", self.url + "/attestation?nonce=" + nonce)
        path = os.path.join(TMP, "doc.cbor")
        with open(path, "wb") as f:
            f.write(base64.b64decode(a["document"]))
        return path

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        procs.remove(self.proc)
        # A clean exit: under ASan a leak or an error makes it non-zero.
        check("the enclave stops cleanly", rc == 0, (rc, self.proc.stderr.read()[-2000:]))


def verify(path, *extra):
    rc, out, err = run(GB, "verify", "--json", "--root", os.path.join(STATE, "level0.der"),
                       *extra, path)
    return rc, json.loads(out) if out else {"stderr": err}


try:
    # --- a signing certificate and a signed image ----------------------------
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "glassbox release signer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7)
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA384()))
    der = cert.public_bytes(serialization.Encoding.DER)
    cert_pem = os.path.join(TMP, "cert.pem")
    key_pem = os.path.join(TMP, "key.pem")
    with open(cert_pem, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_pem, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    want3 = extend(ROLE.encode())
    want4 = extend(IID.encode())
    want8 = extend(hashlib.sha384(der).digest())
    check("PCR4 formula: AWS's published example", extend(b"i-1234567890abcdef0") ==
          "08f996b5d43e047a9eb51e7f548bfee7e164fd7dc8f65541"
          "f2ac09d6545ac812719327281c401a67a10fcba87ae79ce0")

    parts = []
    for part in ("kernel", "boot", "app"):
        path = os.path.join(TMP, part)
        with open(path, "wb") as f:
            f.write(os.urandom(4096))
        parts.append(path)
    signed_eif = os.path.join(TMP, "signed.eif")
    must(GB, "eif", "build", "--kernel", parts[0], "--cmdline", "console=ttyS0",
         "--ramdisk", parts[1], "--ramdisk", parts[2], "--sign-cert", cert_pem,
         "--sign-key", key_pem, "--output", signed_eif)
    m = json.loads(must(GB, "eif", "measure", "--json", signed_eif))["Measurements"]
    check("the signed image's PCR8 is hashlib's", m.get("PCR8") == want8, m)
    pcrs = {str(i): m[f"PCR{i}"] for i in (0, 1, 2, 8)}

    # --- the simulator's PCR3, PCR4, PCR8 -------------------------------------
    e = Enclave("--eif", signed_eif, "--iam-role", ROLE, "--instance-id", IID)
    doc = e.document()
    rc, v = verify(doc, "--expect-pcr", "3=" + want3, "--expect-pcr", "4=" + want4,
                   "--expect-pcr", "8=" + want8, "--expect-pcr", "0=" + pcrs["0"])
    check("glassbox verify: PCR3/4/8 as expected", rc == 0 and v["valid"], v)
    check("the document's PCR3, PCR4, PCR8", v.get("pcrs", {}).get("3") == want3 and
          v["pcrs"].get("4") == want4 and v["pcrs"].get("8") == want8, v.get("pcrs"))
    check("the module id begins with the instance ID",
          v.get("module_id", "").startswith(IID + "-enc"), v.get("module_id"))
    rc, v = verify(doc, "--expect-pcr", "3=" + extend(b"arn:aws:iam::123456789012:role/other"))
    check("another role's PCR3 is refused", rc == 1 and not v["valid"], v)
    rc, v = verify(doc, "--expect-pcr", "4=" + extend(b"i-0123456789abcdef1"))
    check("another instance's PCR4 is refused", rc == 1 and not v["valid"], v)
    signer_pub = e.pub
    e.stop()

    e = Enclave("--eif", signed_eif, "--iam-role", ROLE, "--instance-id", IID, "--debug-mode")
    rc, v = verify(e.document(), "--allow-debug")
    check("debug mode: PCR0 and PCR8 zero, PCR3 and PCR4 kept", rc == 0 and v["debug"] and
          v["pcrs"]["0"] == "00" * 48 and v["pcrs"]["8"] == "00" * 48 and
          v["pcrs"]["3"] == want3 and v["pcrs"]["4"] == want4, v)
    e.stop()

    pcr_file = os.path.join(TMP, "pcr-values.json")
    with open(pcr_file, "w") as f:
        json.dump({"name": "x", "version": "1", "pcrs": {"0": "a1" * 48, "1": "b2" * 48,
                                                         "2": "c3" * 48}}, f)
    e = Enclave("--pcrs", pcr_file, "--signing-cert", cert_pem)
    rc, v = verify(e.document())
    check("--signing-cert: PCR8 of the certificate", rc == 0 and v["pcrs"]["8"] == want8 and
          v["pcrs"]["3"] == "00" * 48, v)
    e.stop()
    for args, what in (
            (["--iam-role", "arn:aws:iam::123456789012:user/x"], "a user ARN"),
            (["--instance-id", "i-XYZ"], "a bad instance ID"),
            (["--eif", signed_eif, "--signing-cert", cert_pem], "two PCR8 sources"),
            (["--signing-cert", parts[0]], "a certificate that is not one")):
        rc, out, err = run(ENCLAVE, "--nsm", "sim", "--state", STATE, "--listen",
                           "tcp:127.0.0.1:0", *args)
        check(f"refused: {what}", rc == 2 and "glassbox-enclave:" in err, (rc, err))
    rc, out, err = run(ENCLAVE, "--nsm", "dev", "--iam-role", ROLE)
    check("--iam-role is for the simulator", rc == 2 and "--nsm sim" in err, err)

    # --- a release naming its signer key -------------------------------------
    must("gpg", "--batch", "--passphrase", "", "--quick-gen-key",
         "Release Manager <rm@example.com>", "ed25519", "sign", "1y")
    with open(os.path.join(TMP, "rm.asc"), "w") as f:
        f.write(must("gpg", "--batch", "--armor", "--export", "rm@example.com"))
    must(GB, "registry", "--db", DB, "init", "--origin", "attested.glassbox.test/log")
    must(GB, "registry", "--db", DB, "key", "add", os.path.join(TMP, "rm.asc"))

    def statement(fname, obj):
        path = os.path.join(TMP, fname)
        with open(path, "w") as f:
            json.dump(obj, f)
        must("gpg", "--batch", "--yes", "--armor", "--local-user", "rm@example.com",
             "--detach-sign", path)
        return path, path + ".asc"

    keyfile = os.path.join(TMP, "signer.key")
    with open(keyfile, "w") as f:
        f.write(signer_pub + "\n")
    other = os.path.join(TMP, "other.key")
    with open(other, "w") as f:
        f.write("ab" * 32 + "\n")
    stmt = statement("app-1.0.json", {"name": "app", "version": "1.0", "pcrs": pcrs,
                                      "signer_key": signer_pub})
    rc, out, err = run(GB, "registry", "--db", DB, "--json", "publish", *stmt,
                       "--signer-key", other)
    check("publish --signer-key: another key is refused", rc == 1 and
          json.loads(out or "{}").get("code") == "signer_key_mismatch", (out, err))
    bad = statement("bad.json", {"name": "app", "version": "0.1", "pcrs": pcrs,
                                 "signer_key": "AB" * 32})
    rc, out, err = run(GB, "registry", "--db", DB, "--json", "publish", *bad)
    check("a signer_key that is not lower-case hex is refused", rc == 1 and
          json.loads(out or "{}").get("code") == "bad_statement", (out, err))
    rc, out, err = run(GB, "registry", "--db", DB, "--json", "publish", *stmt,
                       "--signer-key", keyfile, "--eif", signed_eif)
    check("publish --signer-key --eif", rc == 0, err)
    rel = json.loads(out)["id"]

    # Release B: unsigned image, no signer_key.
    plain_eif = os.path.join(TMP, "plain.eif")
    must(GB, "eif", "build", "--kernel", parts[0], "--cmdline", "console=hvc0",
         "--ramdisk", parts[1], "--ramdisk", parts[2], "--output", plain_eif)
    mb = json.loads(must(GB, "eif", "measure", "--json", plain_eif))["Measurements"]
    stmt_b = statement("app-2.0.json", {"name": "app", "version": "2.0",
                                        "pcrs": {str(i): mb[f"PCR{i}"] for i in range(3)}})
    must(GB, "registry", "--db", DB, "publish", *stmt_b)
    must(GB, "registry", "--db", DB, "audit")

    vp = subprocess.Popen([VERIFIER, "--db", DB, "--root", os.path.join(STATE, "level0.der"),
                           "--listen", "127.0.0.1:0", "--audit-interval", "0"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    procs.append(vp)
    V = vp.stdout.readline().split("listening on ")[1].strip().rstrip("/")
    for _ in range(300):
        st, _r = http("GET", V + "/readyz")
        if st == 200:
            break
        time.sleep(0.05)
    st, r = http("GET", V + f"/api/v1/releases/{rel}")
    check("the release shows its signer_key", st == 200 and
          r["release"].get("signer_key") == signer_pub, r)

    def ask(enclave, payload=b"42 widgets"):
        st, c = http("POST", V + "/api/v1/challenge")
        st, s = http("POST", enclave.url + "/sign", {
            "payload": base64.b64encode(payload).decode(), "nonce": c["nonce"]})
        st, v = http("POST", V + "/api/v1/verify", {
            "document": s["document"], "signature": s["signature"], "nonce": c["nonce"],
            "result": base64.b64encode(payload).decode()})
        return st, v

    # The same build started again: without a sealed key it makes a new
    # key, which is not the one the release names.
    e = Enclave("--eif", signed_eif, "--iam-role", ROLE, "--instance-id", IID)
    st, v = ask(e)
    check("another key than the release's: wrong_signer", st == 200 and not v["trusted"] and
          v["reason"] == "wrong_signer" and v["release"]["id"] == rel, v)
    check("... and the message names both keys", e.pub in v.get("message", "") and
          signer_pub in v.get("message", ""), v.get("message"))
    rc = [c for c in v.get("checks", []) if c["check"] == "result"]
    check("... as the result check's failure", rc and rc[0]["status"] == "fail", rc)
    stmt2 = statement("app-1.1.json", {"name": "app", "version": "1.1", "pcrs": {
        "0": pcrs["0"], "1": pcrs["1"], "2": pcrs["2"], "8": pcrs["8"]},
        "signer_key": e.pub})
    rc, out, err = run(GB, "registry", "--db", DB, "publish", *stmt2)
    check("the same PCRs with another key are another statement: conflict", rc == 1 and
          "conflict" in err, err)
    e.stop()

    # Release B names no key: any key of that build is trusted. Release C
    # (another signed image) names the key of the enclave that runs it.
    e = Enclave("--eif", plain_eif)
    st, v = ask(e)
    check("a release without signer_key: any key", st == 200 and v["trusted"] and
          v["release"]["version"] == "2.0", v)
    e.stop()
    c_eif = os.path.join(TMP, "c.eif")
    must(GB, "eif", "build", "--kernel", parts[0], "--cmdline", "console=ttyS1",
         "--ramdisk", parts[1], "--ramdisk", parts[2], "--sign-cert", cert_pem,
         "--sign-key", key_pem, "--output", c_eif)
    e = Enclave("--eif", c_eif, "--iam-role", ROLE, "--instance-id", IID)
    mc = json.loads(must(GB, "eif", "measure", "--json", c_eif))["Measurements"]
    stmt_c = statement("app-3.0.json", {"name": "app", "version": "3.0", "pcrs": {
        str(i): mc[f"PCR{i}"] for i in (0, 1, 2, 8)}, "signer_key": e.pub})
    rc, out, err = run(GB, "registry", "--db", DB, "publish", *stmt_c, "--signer-key", keyfile)
    check("publish --signer-key: the statement's key is not the file's", rc == 1 and
          "signer_key_mismatch" in err, err)
    with open(keyfile, "w") as f:
        f.write(e.pub)
    rc, out, err = run(GB, "registry", "--db", DB, "publish", *stmt_c, "--signer-key", keyfile)
    check("publish --signer-key: the enclave's own key", rc == 0, err)
    st, v = ask(e)
    check("the release's signer key, a signed image (PCR8 checked): trusted",
          st == 200 and v["trusted"] and v["reason"] == "ok" and
          v["release"]["version"] == "3.0", v)
    st, v2 = ask(e, b"another result")
    check("every result of that enclave", st == 200 and v2["trusted"], v2)
    e.stop()
    # The same build started with another PCR8 (re-signed): unknown.
    e = Enclave("--pcrs", pcr_file)
    st, v = ask(e)
    check("unpublished PCRs: unknown_measurement before any key check",
          st == 200 and v["reason"] == "unknown_measurement", v)
    e.stop()
    vp.send_signal(signal.SIGTERM)
    check("the verifier stops cleanly", vp.wait(timeout=30) == 0)
    procs.remove(vp)
finally:
    for p in list(procs):
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], check=False)
    shutil.rmtree(TMP, ignore_errors=True)
finish()
