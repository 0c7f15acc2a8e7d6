#!/usr/bin/env python3
"""Writes the seeds of corpus_kms/ for fuzz_kms.c: CMS envelopes made by
`openssl cms -encrypt` for the fixed test key kms_test_key.pem (and some
that must be refused), and KMS answers around them. The first byte of each
file picks what fuzz_kms.c feeds (see there). Run from anywhere; it
rewrites corpus_kms/seed-* only.

The file names say what unit_kms expects of each envelope:
seed-0-ok-* open to the key "0123...", seed-0-bad-* are refused."""
import base64
import datetime
import json
import os
import subprocess
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus_kms")
KEY = bytes(range(32))                      # the data key of the good seeds


def cert_for(pub, d):
    now = datetime.datetime.now(datetime.timezone.utc)
    signer = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "recipient")])
    c = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(pub)
         .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
         .sign(signer, hashes.SHA256()))
    path = os.path.join(d, f"c{os.urandom(4).hex()}.pem")
    with open(path, "wb") as f:
        f.write(c.public_bytes(serialization.Encoding.PEM))
    return path


def envelope(d, recips, content=KEY, cipher="-aes-256-cbc", keyopts=(
        "rsa_padding_mode:oaep", "rsa_oaep_md:sha256", "rsa_mgf1_md:sha256")):
    ip, op = os.path.join(d, "in"), os.path.join(d, "out")
    with open(ip, "wb") as f:
        f.write(content)
    args = ["openssl", "cms", "-encrypt", "-binary", "-in", ip, "-out", op, "-outform", "DER",
            cipher]
    for r in recips:
        args += ["-recip", r] + [x for k in keyopts for x in ("-keyopt", k)]
    subprocess.run(args, check=True, capture_output=True)
    with open(op, "rb") as f:
        return f.read()


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    with open(os.path.join(HERE, "kms_test_key.pem"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    other = rsa.generate_private_key(65537, 2048)
    for old in os.listdir(OUT):
        if old.startswith("seed-"):
            os.unlink(os.path.join(OUT, old))
    with tempfile.TemporaryDirectory() as d:
        mine, theirs = cert_for(key.public_key(), d), cert_for(other.public_key(), d)
        good = envelope(d, [mine])
        write("seed-0-ok-oaep-sha256-aes256", b"\0" + good)
        write("seed-0-ok-aes128", b"\0" + envelope(d, [mine], cipher="-aes-128-cbc"))
        write("seed-0-bad-other-key", b"\0" + envelope(d, [theirs]))
        write("seed-0-bad-two-recipients", b"\0" + envelope(d, [mine, theirs]))
        write("seed-0-bad-oaep-sha1", b"\0" + envelope(d, [mine], keyopts=(
            "rsa_padding_mode:oaep",)))
        write("seed-0-bad-pkcs1", b"\0" + envelope(d, [mine], keyopts=()))
        write("seed-0-bad-31-bytes", b"\0" + envelope(d, [mine], content=KEY[:31]))
        write("seed-0-bad-trailing", b"\0" + good + b"\0")
        write("seed-0-bad-truncated", b"\0" + good[:-1])
        b64 = base64.b64encode(good).decode()
        blob = base64.b64encode(os.urandom(184)).decode()
        write("seed-1-gdk", b"\1" + json.dumps({"KeyId": "arn:aws:kms:us-east-1:1:key/x",
                                                "CiphertextBlob": blob, "Plaintext": None,
                                                "CiphertextForRecipient": b64}).encode())
        write("seed-2-decrypt", b"\2" + json.dumps({"KeyId": "k", "CiphertextForRecipient": b64,
                                                    "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
              .encode())
        write("seed-2-decrypt-with-plaintext", b"\2" + json.dumps({
            "CiphertextForRecipient": b64, "Plaintext": base64.b64encode(KEY).decode()}).encode())
        write("seed-3-error", b"\3" + json.dumps({
            "__type": "com.amazonaws.kms#AccessDeniedException", "message": "no"}).encode())
        write("seed-3-xml", b"\3" + b"<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code>"
              b"</Error></ErrorResponse>")
        write("seed-4-plaintext", b"\4" + json.dumps({
            "CiphertextBlob": blob, "Plaintext": base64.b64encode(KEY).decode()}).encode())
        write("seed-5-creds", b"\5" + json.dumps({
            "Code": "Success", "AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "s" * 40,
            "Token": "t" * 100, "Expiration": "2026-11-30T12:00:00Z"}).encode())


if __name__ == "__main__":
    main()
