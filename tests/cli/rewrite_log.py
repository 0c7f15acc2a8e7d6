#!/usr/bin/env python3
"""The attack the registry audit must catch: a history rewritten behind the
log's back and re-signed with the log's own key.

usage: rewrite_log.py DB KEYFILE [--all]

After the caller has edited leaves of DB (with the sqlite3 CLI), this
recomputes everything the registry stores about the tree from the leaves as
they now are: every leaf hash (RFC 9162: SHA-256 of 0x00 || body), every
perfect-subtree node (table nodes: level L, index I covers leaves
[I * 2^L, (I + 1) * 2^L)), and signs the latest checkpoint again with the
log key in KEYFILE (a C2SP signer key, PRIVATE+KEY+NAME+ID+BASE64(0x01 ||
SEED)) as a C2SP signed note. With --all every stored checkpoint is re-signed
over the new tree, as an attacker holding the key can do: only checkpoints
kept outside the registry catch that.
"""
import base64
import hashlib
import sqlite3
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaves):
    """RFC 9162 2.1.1 MTH of a list of leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node(root(leaves[:k]), root(leaves[k:]))


def load_key(path):
    text = open(path, encoding="ascii").read().strip()
    parts = text.split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        sys.exit("rewrite_log.py: not a C2SP signer key: " + path)
    raw = base64.b64decode(parts[4])
    if len(raw) != 33 or raw[0] != 1:
        sys.exit("rewrite_log.py: not an Ed25519 signer key: " + path)
    return parts[2], Ed25519PrivateKey.from_private_bytes(raw[1:])


def sign_checkpoint(name, key, size, tree_root):
    text = "%s\n%d\n%s\n" % (name, size, base64.b64encode(tree_root).decode())
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]
    sig = key.sign(text.encode())
    return text + "\n\u2014 %s %s\n" % (name, base64.b64encode(key_id + sig).decode())


def main():
    if len(sys.argv) not in (3, 4) or (len(sys.argv) == 4 and sys.argv[3] != "--all"):
        sys.exit(__doc__)
    name, key = load_key(sys.argv[2])
    db = sqlite3.connect(sys.argv[1])
    rows = db.execute("SELECT idx, body FROM leaves ORDER BY idx").fetchall()
    hashes = [hashlib.sha256(b"\x00" + body.encode()).digest() for _, body in rows]
    with db:
        for (idx, _), h in zip(rows, hashes):
            db.execute("UPDATE leaves SET hash = ? WHERE idx = ?", (h, idx))
        db.execute("DELETE FROM nodes")
        level, row = 0, hashes
        while row:
            for i, h in enumerate(row):
                db.execute("INSERT INTO nodes(level, idx, hash) VALUES (?, ?, ?)",
                           (level, i, h))
            row = [node(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
            level += 1
        sizes = [s for (s,) in db.execute("SELECT size FROM checkpoints")]
        if len(sys.argv) == 3:
            sizes = [len(hashes)]
        for size in sizes:
            note = sign_checkpoint(name, key, size, root(hashes[:size]))
            db.execute("INSERT OR REPLACE INTO checkpoints(size, note) VALUES (?, ?)",
                       (size, note))
    db.close()


if __name__ == "__main__":
    main()
