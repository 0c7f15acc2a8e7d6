"""A reader of the log's tiles as published in S3 (moto_server here), on its
own: what a replica or an auditor sees at this moment.

It fetches the checkpoint, checks its Ed25519 signature under the log key
(C2SP signed-note), then every entry bundle and hash tile the checkpoint
needs (C2SP tlog-tiles): the bundles must hold exactly the tree's entries,
the level-0 tiles their leaf hashes, the higher tiles the hashes of their
full subtrees, and the RFC 6962 root of the entries must be the
checkpoint's. Any tile missing or wrong is a failure: a published
checkpoint that its published tiles cannot back.

usage: tiles_reader.py BUCKET PREFIX VKEY
exit: 0 consistent (or no checkpoint yet), 1 not, 2 usage.
The endpoint and credentials come from the AWS environment
(AWS_ENDPOINT_URL, AWS_CA_BUNDLE, ...).
"""
import base64
import hashlib
import struct
import sys

import boto3
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TILE_WIDTH = 256   # hashes or entries in a full tile (C2SP tlog-tiles)
HASH = 32


class Inconsistent(Exception):
    pass


def tile_index(n):
    """N in groups of three digits, all but the last prefixed with x."""
    s = f"{n:03d}"
    s = "0" * (-len(s) % 3) + s
    groups = [s[i:i + 3] for i in range(0, len(s), 3)]
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def tile_path(level, n, width):
    p = f"tile/{level}/{tile_index(n)}"
    return p if width == TILE_WIDTH else f"{p}.p/{width}"


def leaf_hash(b):
    return hashlib.sha256(b"\x00" + b).digest()


def node_hash(a, b):
    return hashlib.sha256(b"\x01" + a + b).digest()


def mth(hashes):
    """RFC 6962 Merkle tree hash over leaf hashes."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def open_note(text, vkey):
    """The checkpoint's body if a signature line verifies under vkey."""
    name, keyhash, key = vkey.split("+", 2)
    raw = base64.b64decode(key)
    if raw[0] != 1 or len(raw) != 33:
        raise Inconsistent("the log key is not an Ed25519 note key")
    pub = Ed25519PublicKey.from_public_bytes(raw[1:])
    body, sep, sigs = text.partition("\n\n")
    if not sep:
        raise Inconsistent("the checkpoint is not a signed note")
    body += "\n"
    for line in sigs.splitlines():
        if not line.startswith("\u2014 " + name + " "):
            continue
        sig = base64.b64decode(line.rsplit(" ", 1)[1])
        if sig[:4].hex() != keyhash:
            continue
        try:
            pub.verify(sig[4:], body.encode())
            return body
        except InvalidSignature:
            raise Inconsistent("the checkpoint's signature does not verify")
    raise Inconsistent("the checkpoint has no signature by the log key")


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    bucket, prefix, vkey = sys.argv[1:]
    s3 = boto3.client("s3")

    def get(path):
        try:
            return s3.get_object(Bucket=bucket, Key=f"{prefix}/{path}")["Body"].read()
        except ClientError as e:
            if e.response["Error"]["Code"] in ("NoSuchKey", "404"):
                raise Inconsistent(f"{path} is missing")
            raise

    try:
        try:
            note = get("checkpoint").decode()
        except Inconsistent:
            print("no checkpoint published yet")
            return 0
        body = open_note(note, vkey).split("\n")
        size, root = int(body[1]), base64.b64decode(body[2])
        if size == 0:
            print("ok: size 0")
            return 0
        # The entries, from the bundles.
        leaves = []
        for n in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
            width = min(TILE_WIDTH, size - n * TILE_WIDTH)
            p = tile_path("entries", n, width)
            data, off, got = get(p), 0, 0
            while off < len(data):
                if off + 2 > len(data):
                    raise Inconsistent(f"{p}: torn length")
                (ln,) = struct.unpack(">H", data[off:off + 2])
                if off + 2 + ln > len(data):
                    raise Inconsistent(f"{p}: torn entry")
                leaves.append(leaf_hash(data[off + 2:off + 2 + ln]))
                off += 2 + ln
                got += 1
            if got != width:
                raise Inconsistent(f"{p}: {got} entries, not {width}")
        # The hash tiles, level by level: level L holds the hashes of the
        # full subtrees of 256^L leaves.
        nodes, level = leaves, 0
        while nodes:
            for n in range((len(nodes) + TILE_WIDTH - 1) // TILE_WIDTH):
                width = min(TILE_WIDTH, len(nodes) - n * TILE_WIDTH)
                p = tile_path(level, n, width)
                want = b"".join(nodes[n * TILE_WIDTH:n * TILE_WIDTH + width])
                if get(p) != want:
                    raise Inconsistent(f"{p}: not the tree's hashes")
            full = len(nodes) // TILE_WIDTH
            nodes = [mth(nodes[i * TILE_WIDTH:(i + 1) * TILE_WIDTH]) for i in range(full)]
            level += 1
        if mth(leaves) != root:
            raise Inconsistent("the entries' root is not the checkpoint's")
        print(f"ok: size {size}")
        return 0
    except Inconsistent as e:
        print(f"INCONSISTENT: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
