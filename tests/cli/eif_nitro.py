#!/usr/bin/env python3
"""What nitro-cli does to an EIF, written here from the upstream sources
(aws-nitro-enclaves-image-format eif_reader.rs / eif_signer.rs, nitro-cli
EifDescribeInfo), independently of Glassbox's C code.

  expect IMAGE SIGCHECK   the describe-eif JSON nitro-cli prints for IMAGE
                          (SIGCHECK true/false: what the test expects of
                          SignatureCheck for a signed image)
  resign IMAGE CERT KEY OUT [--pcr0 HEX] [--flip]
                          sign-eif on a signed image: the signature section
                          rewritten, its size-table entry left stale, CRC
                          updated; --pcr0 signs another PCR0, --flip
                          damages one byte of the ECDSA signature
"""
import hashlib
import json
import struct
import sys
import zlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def sections(img):
    n = struct.unpack(">H", img[26:28])[0]
    offs = struct.unpack(">32Q", img[28:284])
    sizes = struct.unpack(">32Q", img[284:540])
    out, pos = [], 548
    while pos + 12 <= len(img):
        typ, _flags, size = struct.unpack(">HHQ", img[pos:pos + 12])
        out.append((typ, pos, img[pos + 12:pos + 12 + size]))
        pos += 12 + size
    return n, offs, sizes, out


def crc(img):
    c = zlib.crc32(img[:544])
    return zlib.crc32(img[548:], c)


def extend(data):
    return hashlib.sha384(b"\0" * 48 + hashlib.sha384(data).digest()).hexdigest()


# A few CBOR heads, as serde_cbor writes them (shortest form).
def head(major, v):
    if v < 24:
        return bytes([major << 5 | v])
    for ai, n in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if v < 1 << (8 * n):
            return bytes([major << 5 | ai]) + v.to_bytes(n, "big")


def cbor(x):
    if isinstance(x, int):
        return head(0, x) if x >= 0 else head(1, -1 - x)
    if isinstance(x, bytes):
        return head(2, len(x)) + x
    if isinstance(x, str):
        return head(3, len(x.encode())) + x.encode()
    if isinstance(x, list):
        return head(4, len(x)) + b"".join(cbor(e) for e in x)
    if isinstance(x, dict):
        return head(5, len(x)) + b"".join(cbor(k) + cbor(v) for k, v in x.items())
    raise TypeError(x)


def ints(b):            # serde's Vec<u8>: an array of integers
    return list(b)


def cbor_ints_decode(sec):
    """The signature section's first entry: {signing_certificate, signature}."""
    pos = 0

    def item():
        nonlocal pos
        ib = sec[pos]; pos += 1
        major, ai = ib >> 5, ib & 31
        if ai < 24:
            v = ai
        else:
            n = {24: 1, 25: 2, 26: 4, 27: 8}[ai]
            v = int.from_bytes(sec[pos:pos + n], "big"); pos += n
        if major == 0:
            return v
        if major == 3:
            s = sec[pos:pos + v].decode(); pos += v
            return s
        if major == 4:
            return [item() for _ in range(v)]
        if major == 5:
            return {item(): item() for _ in range(v)}
        raise ValueError(major)
    return item()[0]


def resign(path, certp, keyp, out, pcr0=None, flip=False):
    img = bytearray(open(path, "rb").read())
    _, offs, sizes, secs = sections(img)
    kernel = [d for t, _, d in secs if t in (1, 2)]
    rds = [d for t, _, d in secs if t == 3]
    pcr0 = bytes.fromhex(pcr0) if pcr0 else bytes.fromhex(extend(b"".join(kernel + rds)))
    cert_pem = open(certp, "rb").read()
    key = serialization.load_pem_private_key(open(keyp, "rb").read(), None)
    payload = cbor({"register_index": 0, "register_value": ints(pcr0)})
    protected = cbor({1: -35})
    tbs = cbor(["Signature1", protected, b"", payload])
    r, s = decode_dss_signature(key.sign(tbs, ec.ECDSA(hashes.SHA384())))
    sig = r.to_bytes(48, "big") + s.to_bytes(48, "big")
    if flip:
        sig = bytes([sig[0] ^ 1]) + sig[1:]
    cose = head(4, 4) + cbor(protected) + head(5, 0) + cbor(payload) + cbor(sig)
    section = cbor([{"signing_certificate": ints(cert_pem), "signature": ints(cose)}])
    idx = [i for i, (t, _, _) in enumerate(secs) if t == 4][0]
    _, at, old = secs[idx]
    assert at == offs[idx]
    # write_signature(): new section header and data at the old offset,
    # the rest moved, header offsets of later sections shifted; the size
    # table is not touched.
    rest = img[at + 12 + len(old):]
    img = img[:at] + struct.pack(">HHQ", 4, 0, len(section)) + section + rest
    shift = len(section) - len(old)
    for i in range(idx + 1, struct.unpack(">H", img[26:28])[0]):
        struct.pack_into(">Q", img, 28 + 8 * i, offs[i] + shift)
    struct.pack_into(">I", img, 544, crc(img))
    open(out, "wb").write(img)
    assert sizes[idx] == len(old) and len(section) != len(old), "table not stale"


# serde_json's to_string_pretty, for a tree of ("obj", [(k, v)...]),
# lists, str, bool, None, int and float.
def ryu(x):
    """A float as serde_json (ryu) prints it: the shortest digits that read
    back (Python's repr finds the same ones), laid out by ryu's rules."""
    from decimal import Decimal
    t = Decimal(repr(abs(x))).as_tuple()
    ds = "".join(map(str, t.digits)).rstrip("0") or "0"
    kk = len(t.digits) + t.exponent      # digits before the point
    if x == 0:
        ds, kk = "0", 1
    k = kk - len(ds)
    if 0 <= k and kk <= 16:
        s = ds + "0" * k + ".0"
    elif 0 < kk <= 16:
        s = ds[:kk] + "." + ds[kk:]
    elif -5 < kk <= 0:
        s = "0." + "0" * -kk + ds
    elif len(ds) == 1:
        s = ds + "e" + str(kk - 1)
    else:
        s = ds[0] + "." + ds[1:] + "e" + str(kk - 1)
    return ("-" if str(x).startswith("-") else "") + s


def dump(v, ind=0):
    pad = "  " * (ind + 1)
    if isinstance(v, tuple):
        pairs = v[1]
        if not pairs:
            return "{}"
        return "{\n" + ",\n".join(pad + json.dumps(k, ensure_ascii=False) + ": " + dump(x, ind + 1)
                                   for k, x in pairs) + "\n" + "  " * ind + "}"
    if isinstance(v, list):
        if not v:
            return "[]"
        return "[\n" + ",\n".join(pad + dump(x, ind + 1) for x in v) + "\n" + "  " * ind + "]"
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, float):
        return ryu(v)
    return json.dumps(v, ensure_ascii=False)


def value(v):           # serde_json::Value: objects are BTreeMaps
    if isinstance(v, dict):
        return ("obj", sorted((k, value(x)) for k, x in v.items()))
    if isinstance(v, list):
        return [value(x) for x in v]
    return v


def serde_int(s):
    """serde_json's integers: u64 and i64 stay so; "-0" and the others
    are read as f64."""
    v = int(s)
    if s.strip() == "-0" or not -2**63 <= v <= 2**64 - 1:
        return -0.0 if v == 0 else float(v)
    return v


def rust_debug_unquoted(s):
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append("\\")             # \" with its quote removed
        elif ch in "\t\r\n":
            out.append({"\t": "\\t", "\r": "\\r", "\n": "\\n"}[ch])
        elif ch == "\0":
            out.append("\\0")
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def asn1_time(t):       # ASN1_TIME_print: "Nov  3 09:05:01 2026 GMT"
    return t.strftime("%b ") + "%2d" % t.day + t.strftime(" %H:%M:%S %Y GMT")


def expect(path, sigcheck):
    img = open(path, "rb").read()
    _, _, _, secs = sections(img)
    kc = b"".join(d for t, _, d in secs if t in (1, 2))
    rds = [d for t, _, d in secs if t == 3]
    meas = [("HashAlgorithm", "Sha384 { ... }"), ("PCR0", extend(kc + b"".join(rds))),
            ("PCR1", extend(kc + rds[0])), ("PCR2", extend(b"".join(rds[1:])))]
    sig = [d for t, _, d in secs if t == 4]
    top = [("EifVersion", struct.unpack(">H", img[4:6])[0])]
    cert = None
    if sig:
        entry = cbor_ints_decode(sig[0])
        cert = x509.load_pem_x509_certificate(bytes(entry["signing_certificate"]))
        meas.append(("PCR8", extend(cert.public_bytes(serialization.Encoding.DER))))
    top.append(("Measurements", ("obj", meas)))
    top.append(("IsSigned", cert is not None))
    if cert is not None:
        names = {}
        for attr in cert.issuer:          # BTreeMap insert: the last wins
            names[attr.oid._name] = rust_debug_unquoted(attr.value)
        top.append(("SigningCertificate", ("obj", [
            ("IssuerName", ("obj", sorted(names.items()))),
            ("Algorithm", cert.signature_algorithm_oid._name),
            ("NotBefore", asn1_time(cert.not_valid_before_utc)),
            ("NotAfter", asn1_time(cert.not_valid_after_utc)),
            ("Signature", cert.signature.hex(":").upper())])))
    top.append(("CheckCRC", struct.unpack(">I", img[544:548])[0] == crc(img)))
    if cert is not None:
        top.append(("SignatureCheck", sigcheck == "true"))
    meta = [d for t, _, d in secs if t == 5]
    try:
        m = json.loads(meta[0], parse_int=serde_int)
        b = m["BuildMetadata"]
        fixed = [(k, b[k]) for k in ("BuildTime", "BuildTool", "BuildToolVersion",
                                     "OperatingSystem", "KernelVersion")]
        assert all(isinstance(v, str) for _, v in fixed)
        assert isinstance(m["ImageName"], str) and isinstance(m["ImageVersion"], str)
        custom = m["CustomMetadata"]
        assert custom is None or isinstance(custom, dict)
        md = fixed + [("DockerInfo", value(m["DockerInfo"]))]
        md += value(custom)[1] if custom else []
        top += [("ImageName", m["ImageName"]), ("ImageVersion", m["ImageVersion"]),
                ("Metadata", ("obj", md))]
    except (IndexError, KeyError, ValueError, TypeError, AssertionError):
        pass            # nitro-cli would stop here; Glassbox leaves it out
    sys.stdout.write(dump(("obj", top)) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "expect":
        expect(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "resign":
        a = sys.argv[2:]
        pcr0 = a[a.index("--pcr0") + 1] if "--pcr0" in a else None
        resign(a[0], a[1], a[2], a[3], pcr0, "--flip" in a)
