#!/usr/bin/env python3
"""Writes the hand-made seeds of corpus_witness/ for fuzz_witness.c: valid
add-checkpoint requests signed with the PeterNeumann test key (the log key
of the harness), with and without proofs, extension lines, cosignatures
already on the note; malformed ones (each rule of the parser broken once);
witness answers (a valid cosignature of the harness's answer_text, one
with another key, a forged one, garbage); 409 bodies; witness keys.

usage: make_witness_corpus.py DIR
"""
import base64
import hashlib
import os
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

OUT = sys.argv[1]
SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
LOG = Ed25519PrivateKey.from_private_bytes(SEED)
EM = "\u2014 ".encode()


def b64(b):
    return base64.b64encode(b).decode()


def kid(name, typ, pub):
    return hashlib.sha256(name.encode() + b"\n" + bytes([typ]) + pub).digest()[:4]


def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def mth(h):
    if not h:
        return hashlib.sha256(b"").digest()
    if len(h) == 1:
        return h[0]
    k = 1
    while k * 2 < len(h):
        k *= 2
    return node(mth(h[:k]), mth(h[k:]))


def proof(m, d):
    def sub(m, d, b):
        if m == len(d):
            return [] if b else [mth(d)]
        k = 1
        while k * 2 < len(d):
            k *= 2
        if m <= k:
            return sub(m, d[:k], b) + [mth(d[k:])]
        return sub(m - k, d[k:], False) + [mth(d[:k])]
    return [] if m in (0, len(d)) else sub(m, d, True)


def note(text, extra=b""):
    pub = LOG.public_key().public_bytes_raw()
    sig = kid("PeterNeumann", 1, pub) + LOG.sign(text)
    return text + b"\n" + EM + b"PeterNeumann " + b64(sig).encode() + b"\n" + extra


def cp(n, ext=b""):
    h = [hashlib.sha256(b"\x00" + i.to_bytes(4, "big")).digest() for i in range(n)]
    return f"PeterNeumann\n{n}\n{b64(mth(h))}\n".encode() + ext, h


def req(old, n, ext=b"", extra=b""):
    text, h = cp(n, ext)
    return f"old {old}\n".encode() + b"".join(b64(p).encode() + b"\n" for p in proof(old, h)) + \
        b"\n" + note(text, extra)


seeds = {
    "req-first": req(0, 5),
    "req-proof": req(3, 9),
    "req-proof-long": req(1000, 1999),
    "req-same": req(5, 5),
    "req-empty-tree": req(0, 0),
    "req-extension": req(3, 9, b"extension line\n"),
    "req-cosigned": req(3, 9, extra=EM + b"other.example/w " + b64(b"\0" * 76).encode() + b"\n"),
    "req-old-zero-lead": req(3, 9).replace(b"old 3", b"old 03", 1),
    "req-no-blank": b"old 3\n" + cp(3)[0],
    "req-short-proof-line": b"old 3\nAAAA\n\n" + note(cp(9)[0]),
    "req-64-lines": b"old 3\n" + (b64(b"\1" * 32).encode() + b"\n") * 64 + b"\n" + note(cp(9)[0]),
    "req-old-huge": b"old 99999999999999999999\n\n" + note(cp(9)[0]),
    "req-not-note": b"old 0\n\nhello\n",
    "req-bad-sig": req(0, 5).replace(b"PeterNeumann x", b"PeterNeumann y"),
}
text = b"PeterNeumann\n5\n" + b64(b"\0" * 32).encode() + b"\n"
w = Ed25519PrivateKey.from_private_bytes(SEED)
wpub = w.public_key().public_bytes_raw()
t = 1700000000
msg = b"cosignature/v1\ntime " + str(t).encode() + b"\n" + text
good = kid("witness.test/fuzz", 4, wpub) + t.to_bytes(8, "big") + w.sign(msg)
line = EM + b"witness.test/fuzz " + b64(good).encode() + b"\n"
seeds.update({
    "ans-good": line,
    "ans-two": EM + b"other.example/w " + b64(b"\0" * 76).encode() + b"\n" + line,
    "ans-forged": line.replace(b64(good).encode(), b64(good[:-1] + bytes([good[-1] ^ 1])).encode()),
    "ans-no-newline": line[:-1],
    "ans-garbage": b"<html>502</html>\n",
    "size-ok": b"20852014\n",
    "size-lead": b"0123\n",
    "vkey": b"witness.test/fuzz+69d48d80+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "skey": b"PRIVATE+KEY+witness.test/fuzz+69d48d80+BIEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
})
prefix = {"req": 0, "ans": 1, "size": 2, "vkey": 3, "skey": 4}
os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, "seed-" + name), "wb") as f:
        f.write(bytes([prefix[name.split("-")[0]]]) + data)
