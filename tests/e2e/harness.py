"""Shared by the end-to-end tests: check() counts and reports, finish()
prints the counts and exits non-zero if anything failed; independent
checkers of RFC 9162 proofs and C2SP signed checkpoints."""
import base64
import hashlib
import sys
import threading

_lock = threading.Lock()
counts = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    with _lock:
        if cond:
            counts["passed"] += 1
        else:
            counts["failed"] += 1
            print(f"FAIL {name} {detail}", flush=True)


def finish():
    print(f"{counts['passed']} passed, {counts['failed']} failed")
    sys.exit(1 if counts["failed"] else 0)


def _node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(size1, size2, root1, root2, proof):
    """RFC 9162 2.1.4.2."""
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0 or size1 > size2:
        return False
    path = ([root1] if size1 & (size1 - 1) == 0 else []) + list(proof)
    if not path:
        return False
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2


def open_checkpoint(note, vkey):
    """A C2SP checkpoint signed by the Ed25519 note key vkey
    ("name+hash+base64"): (origin, size, root), or None."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    name, khash, kb64 = vkey.split("+", 2)
    raw = base64.b64decode(kb64)
    cut = note.rfind("\n\n")
    text = note[:cut + 1]
    for line in note[cut + 2:].splitlines():
        who, _, sig = line.removeprefix("\u2014 ").partition(" ")
        sig = base64.b64decode(sig)
        if who != name or sig[:4].hex() != khash:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(raw[1:]).verify(sig[4:], text.encode())
        except Exception:
            return None
        origin, size, root = text.split("\n")[:3]
        return origin, int(size), base64.b64decode(root)
    return None
