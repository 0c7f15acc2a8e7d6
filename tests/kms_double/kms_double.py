#!/usr/bin/env python3
"""A test double of AWS KMS's Decrypt and GenerateDataKey with attestation
(issue 17), written from AWS's documentation and independently of the C
code it tests:

- HTTPS on 127.0.0.1 with a certificate for the KMS host name, issued by a
  test CA made by make_ca();
- the JSON protocol (X-Amz-Target: TrentService.*, x-amz-json-1.1) and
  SigV4, checked with botocore's signer against the credentials the test
  registers (unknown key: UnrecognizedClientException; bad signature:
  InvalidSignatureException; a token marked expired or past its
  Expiration: ExpiredTokenException);
- Recipient {KeyEncryptionAlgorithm: RSAES_OAEP_SHA_256,
  AttestationDocument}: the COSE_Sign1 document is verified against the
  simulator's root (ES384 over the Sig_structure, the certificate chain,
  validity times), and the key policy's kms:RecipientAttestation:PCRn and
  :ImageSha384 conditions (StringEquals / StringEqualsIgnoreCase) are
  evaluated against its PCRs; the answer's CiphertextForRecipient is made
  by `openssl cms -encrypt` (RSAES-OAEP-SHA-256, AES-256-CBC) to the
  document's public_key, and Plaintext is null;
- CiphertextBlob: the double's own opaque format (AES-GCM under the key's
  secret, the EncryptionContext as associated data).

Tests use it in-process (KmsDouble); run as a program it serves a double
and an IMDS for the demo (see main()).
"""
import base64
import datetime
import hashlib
import http.server
import json
import os
import shutil
import ssl
import struct
import subprocess
import sys
import tempfile
import threading

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID


# ---- CBOR (RFC 8949), just what attestation documents use ----------------

class CborError(ValueError):
    pass


def cbor_decode(data):
    """The one item of data (no trailing bytes)."""
    v, off = _item(data, 0, 0)
    if off != len(data):
        raise CborError("trailing bytes")
    return v


def _arg(data, off, ai):
    if ai < 24:
        return ai, off
    n = {24: 1, 25: 2, 26: 4, 27: 8}.get(ai)
    if n is None or off + n > len(data):
        raise CborError("bad length")
    return int.from_bytes(data[off:off + n], "big"), off + n


def _item(data, off, depth):
    if depth > 16 or off >= len(data):
        raise CborError("too deep or short")
    ib = data[off]
    mt, ai = ib >> 5, ib & 31
    off += 1
    if ai == 31 and mt in (2, 3, 4, 5):
        if mt in (2, 3):
            parts = []
            while data[off] != 0xFF:
                p, off = _item(data, off, depth + 1)
                parts.append(p)
            return (b"" if mt == 2 else "").join(parts), off + 1
        if mt == 4:
            out = []
            while data[off] != 0xFF:
                v, off = _item(data, off, depth + 1)
                out.append(v)
            return out, off + 1
        out = {}
        while data[off] != 0xFF:
            k, off = _item(data, off, depth + 1)
            v, off = _item(data, off, depth + 1)
            if k in out:
                raise CborError("duplicate key")
            out[k] = v
        return out, off + 1
    n, off = _arg(data, off, ai)
    if mt == 0:
        return n, off
    if mt == 1:
        return -1 - n, off
    if mt in (2, 3):
        if off + n > len(data):
            raise CborError("short string")
        b = data[off:off + n]
        return (b if mt == 2 else b.decode()), off + n
    if mt == 4:
        out = []
        for _ in range(n):
            v, off = _item(data, off, depth + 1)
            out.append(v)
        return out, off
    if mt == 5:
        out = {}
        for _ in range(n):
            k, off = _item(data, off, depth + 1)
            v, off = _item(data, off, depth + 1)
            if k in out:
                raise CborError("duplicate key")
            out[k] = v
        return out, off
    if mt == 6:
        return _item(data, off, depth + 1)     # tags (18) are dropped
    if mt == 7:
        if ai in (20, 21):
            return ai == 21, off
        if ai in (22, 23):
            return None, off
    raise CborError("unsupported item")


def _head(mt, n):
    if n < 24:
        return bytes([mt << 5 | n])
    for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([mt << 5 | ai]) + n.to_bytes(size, "big")
    raise CborError("too long")


def sig_structure(protected, payload):
    """CBOR ["Signature1", protected, h'', payload] (RFC 9052 4.4)."""
    return (_head(4, 4) + _head(3, 10) + b"Signature1" + _head(2, len(protected)) + protected +
            _head(2, 0) + _head(2, len(payload)) + payload)


# ---- attestation documents -------------------------------------------------

class AttestationError(ValueError):
    pass


def verify_attestation(doc, root_der, now=None):
    """The payload of a valid document under root_der, or AttestationError."""
    try:
        cose = cbor_decode(doc)
        protected, _unprot, payload, sig = cose
        if cbor_decode(protected) != {1: -35} or len(sig) != 96:
            raise AttestationError("not an ES384 COSE_Sign1")
        p = cbor_decode(payload)
        leaf = x509.load_der_x509_certificate(p["certificate"])
        bundle = [x509.load_der_x509_certificate(c) for c in p["cabundle"]]
    except (CborError, KeyError, TypeError, ValueError) as e:
        raise AttestationError(f"malformed: {e}")
    if p["cabundle"][0] != root_der:
        raise AttestationError("untrusted root")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    chain = bundle + [leaf]
    for i, c in enumerate(chain):
        if not (c.not_valid_before_utc <= now <= c.not_valid_after_utc):
            raise AttestationError("certificate not valid now")
        if i > 0:
            try:
                c.verify_directly_issued_by(chain[i - 1])
            except (InvalidSignature, ValueError, TypeError) as e:
                raise AttestationError(f"bad chain: {e}")
    r, s = int.from_bytes(sig[:48], "big"), int.from_bytes(sig[48:], "big")
    try:
        leaf.public_key().verify(utils.encode_dss_signature(r, s),
                                 sig_structure(protected, payload), ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise AttestationError("bad signature")
    return p


# ---- the test CA ---------------------------------------------------------

def make_ca(directory, host):
    """A CA and a server certificate for host; returns (ca.pem, cert.pem,
    key.pem) paths in directory."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "glassbox test KMS CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(directory, n) for n in ("ca.pem", "server.pem", "server.key")]
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


# ---- the CMS envelope ----------------------------------------------------

def cms_envelope(public_key, plaintext, workdir):
    """CMS EnvelopedData (DER) of plaintext for an RSA public key:
    RSAES-OAEP-SHA-256 key transport, AES-256-CBC content, made by the
    openssl command. openssl wants a recipient certificate: one carrying
    the key, signed by a throwaway key (nothing checks it)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    signer = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kms recipient")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1)).sign(signer, hashes.SHA256()))
    with tempfile.TemporaryDirectory(dir=workdir) as d:
        cp, ip, op = (os.path.join(d, n) for n in ("r.pem", "in.bin", "out.der"))
        with open(cp, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(ip, "wb") as f:
            f.write(plaintext)
        subprocess.run(["openssl", "cms", "-encrypt", "-binary", "-in", ip, "-out", op,
                        "-outform", "DER", "-aes-256-cbc", "-recip", cp,
                        "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256",
                        "-keyopt", "rsa_mgf1_md:sha256"], check=True, capture_output=True)
        with open(op, "rb") as f:
            return f.read()


# ---- key policies --------------------------------------------------------

def _as_list(v):
    return v if isinstance(v, list) else [v]


def _action_matches(patterns, action):
    for p in _as_list(patterns):
        if p == "*" or p == "kms:*" or p.lower() == action.lower():
            return True
        if p.endswith("*") and action.lower().startswith(p[:-1].lower()):
            return True
    return False


def _principal_matches(principal, caller):
    if principal == "*":
        return True
    for p in _as_list(principal.get("AWS", [])):
        if p == "*" or p == caller:
            return True
        # The account's root admits the account's principals (IAM then
        # decides; the double's callers have every IAM permission).
        if p.endswith(":root") and caller.split(":")[4] == p.split(":")[4]:
            return True
    return False


def _condition_holds(cond, context):
    """cond: {"StringEqualsIgnoreCase": {key: value(s)}, ...}; context:
    {condition key: value}. A key absent from the context fails."""
    for op, pairs in cond.items():
        if op not in ("StringEquals", "StringEqualsIgnoreCase"):
            return False            # an operator the double does not know
        for key, want in pairs.items():
            have = context.get(key)
            if have is None:
                return False
            wants = _as_list(want)
            if op == "StringEqualsIgnoreCase":
                ok = have.lower() in [w.lower() for w in wants]
            else:
                ok = have in wants
            if not ok:
                return False
    return True


def policy_allows(policy, action, caller, context):
    allowed = False
    for st in _as_list(policy.get("Statement", [])):
        if not _action_matches(st.get("Action", []), action):
            continue
        if not _principal_matches(st.get("Principal", {}), caller):
            continue
        if not _condition_holds(st.get("Condition", {}), context):
            continue
        if st.get("Effect") == "Deny":
            return False
        if st.get("Effect") == "Allow":
            allowed = True
    return allowed


# ---- the service ---------------------------------------------------------

class KmsError(Exception):
    def __init__(self, status, type_, message):
        super().__init__(message)
        self.status, self.type, self.message = status, type_, message


class KmsDouble:
    """KMS keys, credentials and the HTTPS server. Test-only switches:
    envelope_to_other_key (answer with an envelope for a key the caller
    does not hold)."""

    def __init__(self, root_der, certfile, keyfile, region="us-east-1", account="111122223333"):
        self.root_der = root_der
        self.region, self.account = region, account
        self.keys = {}                  # arn -> {"policy", "secret", "enabled"}
        self.creds = {}                 # access key -> {...}
        self.calls = []                 # (op, key, recipient?, access key, outcome)
        self.issued = []                # data keys handed out (for log checks)
        self.envelope_to_other_key = False
        self.workdir = tempfile.mkdtemp(prefix="kms-double-")
        self.lock = threading.Lock()
        double = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                try:
                    out = double.handle(self.command, self.path, self.headers, body)
                    status, data = 200, json.dumps(out).encode()
                except KmsError as e:
                    status = e.status
                    data = json.dumps({"__type": e.type, "message": e.message}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- set-up --
    def create_key(self, policy, key_id=None):
        key_id = key_id or os.urandom(16).hex()
        arn = f"arn:aws:kms:{self.region}:{self.account}:key/{key_id}"
        self.keys[arn] = {"policy": policy, "secret": AESGCM.generate_key(256), "enabled": True}
        return arn

    def add_creds(self, access_key, secret, token, principal, expires=None):
        self.creds[access_key] = {"secret": secret, "token": token, "principal": principal,
                                  "expired": False, "expires": expires}

    def expire(self, access_key):
        self.creds[access_key]["expired"] = True

    # -- requests --
    def _authenticate(self, method, path, headers, body):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        auth = headers.get("Authorization", "")
        try:
            alg, rest = auth.split(" ", 1)
            parts = dict(p.strip().split("=", 1) for p in rest.split(","))
            akid, date, region, service, term = parts["Credential"].split("/")
            signed = parts["SignedHeaders"].split(";")
            sig = parts["Signature"]
        except (ValueError, KeyError):
            raise KmsError(400, "IncompleteSignatureException", "bad Authorization header")
        if alg != "AWS4-HMAC-SHA256" or service != "kms" or term != "aws4_request" \
                or region != self.region:
            raise KmsError(400, "IncompleteSignatureException", "bad credential scope")
        c = self.creds.get(akid)
        if c is None:
            raise KmsError(400, "UnrecognizedClientException",
                           "The security token included in the request is invalid.")
        for h in ("host", "x-amz-date", "content-type", "x-amz-target"):
            if h not in signed:
                raise KmsError(400, "IncompleteSignatureException", f"{h} is not signed")
        token = headers.get("X-Amz-Security-Token")
        if c["token"] and (token != c["token"] or "x-amz-security-token" not in signed):
            raise KmsError(400, "UnrecognizedClientException",
                           "The security token included in the request is invalid.")
        amzdate = headers.get("X-Amz-Date", "")
        try:
            when = datetime.datetime.strptime(amzdate, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc)
        except ValueError:
            raise KmsError(400, "IncompleteSignatureException", "bad X-Amz-Date")
        now = datetime.datetime.now(datetime.timezone.utc)
        if abs((now - when).total_seconds()) > 300 or not amzdate.startswith(date):
            raise KmsError(400, "InvalidSignatureException", "Signature expired")
        req = AWSRequest(method=method, url=f"https://{headers['Host']}{path}", data=body,
                         headers={h: headers[h] for h in signed if headers.get(h) is not None})
        req.context["timestamp"] = amzdate
        signer = SigV4Auth(Credentials(akid, c["secret"], c["token"] or None), "kms", region)
        want = signer.signature(signer.string_to_sign(req, signer.canonical_request(req)), req)
        if want != sig:
            raise KmsError(400, "InvalidSignatureException",
                           "The request signature we calculated does not match the signature "
                           "you provided." + (" " + ";".join(signed) if os.environ.get("KMS_DOUBLE_DEBUG") else ""))
        if c["expired"] or (c["expires"] is not None and c["expires"] <= now):
            raise KmsError(400, "ExpiredTokenException", "The security token included in the "
                           "request is expired")
        return akid, c["principal"]

    def handle(self, method, path, headers, body):
        target = headers.get("X-Amz-Target", "")
        op = target.removeprefix("TrentService.")
        cred = headers.get("Authorization", "").partition("Credential=")[2]
        akid = cred.split("/", 1)[0] or None
        try:
            if headers.get("Content-Type") != "application/x-amz-json-1.1":
                raise KmsError(400, "SerializationException", "bad Content-Type")
            _, caller = self._authenticate(method, path, headers, body)
            try:
                req = json.loads(body)
            except ValueError:
                raise KmsError(400, "SerializationException", "not JSON")
            if op == "GenerateDataKey":
                out = self.generate_data_key(req, caller)
            elif op == "Decrypt":
                out = self.decrypt(req, caller)
            else:
                raise KmsError(400, "UnknownOperationException", op)
            outcome = "ok"
            return out
        except KmsError as e:
            outcome = e.type
            raise
        finally:
            with self.lock:
                req = json.loads(body) if body.startswith(b"{") else {}
                self.calls.append({"op": op, "recipient": "Recipient" in req,
                                   "key": req.get("KeyId"), "access_key": akid,
                                   "outcome": outcome})

    def _key(self, key_id):
        k = self.keys.get(key_id)
        if k is None:
            raise KmsError(400, "NotFoundException", f"Key '{key_id}' does not exist")
        if not k["enabled"]:
            raise KmsError(400, "DisabledException", f"{key_id} is disabled.")
        return k

    def _attested(self, req):
        """(context for conditions, RSA public key or None)."""
        r = req.get("Recipient")
        if r is None:
            return {}, None
        if r.get("KeyEncryptionAlgorithm") != "RSAES_OAEP_SHA_256":
            raise KmsError(400, "ValidationException", "KeyEncryptionAlgorithm")
        try:
            doc = base64.b64decode(r["AttestationDocument"], validate=True)
            p = verify_attestation(doc, self.root_der)
            pub = serialization.load_der_public_key(p["public_key"])
        except (AttestationError, KeyError, TypeError, ValueError) as e:
            raise KmsError(400, "ValidationException", f"Invalid attestation document: {e}")
        if not isinstance(pub, rsa.RSAPublicKey) or not 2048 <= pub.key_size <= 4096:
            raise KmsError(400, "ValidationException", "the public key is not RSA 2048..4096")
        ctx = {f"kms:RecipientAttestation:PCR{i}": v.hex() for i, v in p["pcrs"].items()}
        ctx["kms:RecipientAttestation:ImageSha384"] = p["pcrs"][0].hex()
        return ctx, pub

    def _answer_key(self, out, data_key, pub):
        with self.lock:
            self.issued.append(data_key)
        if pub is None:
            out["Plaintext"] = base64.b64encode(data_key).decode()
            return out
        if self.envelope_to_other_key:
            pub = rsa.generate_private_key(65537, pub.key_size).public_key()
        out["CiphertextForRecipient"] = base64.b64encode(
            cms_envelope(pub, data_key, self.workdir)).decode()
        out["Plaintext"] = None
        return out

    def _context_aad(self, req):
        ctx = req.get("EncryptionContext") or {}
        if not isinstance(ctx, dict) or not all(isinstance(v, str) for v in ctx.values()):
            raise KmsError(400, "ValidationException", "EncryptionContext")
        return json.dumps(ctx, sort_keys=True).encode()

    def generate_data_key(self, req, caller):
        arn = req.get("KeyId")
        k = self._key(arn)
        if req.get("KeySpec") != "AES_256" or "NumberOfBytes" in req:
            raise KmsError(400, "ValidationException", "KeySpec AES_256 only")
        ctx, pub = self._attested(req)
        if not policy_allows(k["policy"], "kms:GenerateDataKey", caller, ctx):
            raise KmsError(400, "AccessDeniedException",
                           f"User: {caller} is not authorized to perform: kms:GenerateDataKey "
                           f"on resource: {arn} because no resource-based policy allows the "
                           "kms:GenerateDataKey action")
        data_key = os.urandom(32)
        nonce = os.urandom(12)
        kid = hashlib.sha256(arn.encode()).digest()[:16]
        blob = b"GBK1" + kid + nonce + AESGCM(k["secret"]).encrypt(
            nonce, data_key, self._context_aad(req))
        return self._answer_key({"KeyId": arn, "CiphertextBlob": base64.b64encode(blob).decode()},
                                data_key, pub)

    def decrypt(self, req, caller):
        try:
            blob = base64.b64decode(req["CiphertextBlob"], validate=True)
        except (KeyError, TypeError, ValueError):
            raise KmsError(400, "ValidationException", "CiphertextBlob")
        if len(blob) < 4 + 16 + 12 + 16 or blob[:4] != b"GBK1":
            raise KmsError(400, "InvalidCiphertextException", "")
        arn = next((a for a in self.keys
                    if hashlib.sha256(a.encode()).digest()[:16] == blob[4:20]), None)
        if arn is None:
            raise KmsError(400, "InvalidCiphertextException", "")
        if req.get("KeyId") not in (None, arn):
            raise KmsError(400, "IncorrectKeyException",
                           "The key ID in the request does not identify a CMK that can perform "
                           "this operation.")
        k = self._key(arn)
        ctx, pub = self._attested(req)
        if not policy_allows(k["policy"], "kms:Decrypt", caller, ctx):
            raise KmsError(400, "AccessDeniedException",
                           f"User: {caller} is not authorized to perform: kms:Decrypt on "
                           f"resource: {arn} because no resource-based policy allows the "
                           "kms:Decrypt action")
        try:
            data_key = AESGCM(k["secret"]).decrypt(blob[20:32], blob[32:], self._context_aad(req))
        except Exception:
            raise KmsError(400, "InvalidCiphertextException", "")
        return self._answer_key({"KeyId": arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"},
                                data_key, pub)


class FakeImds:
    """IMDSv2 on 127.0.0.1: PUT /latest/api/token, then the role's
    credentials; set(...) changes what it hands out."""

    def __init__(self, role="glassbox-enclave-role"):
        self.role = role
        self.current = None
        self.hits = 0
        self.tokens = set()
        imds = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, status, body=b""):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self):
                ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
                if self.path != "/latest/api/token" or not ttl or not ttl.isdigit():
                    return self.reply(400)
                t = base64.b64encode(os.urandom(24)).decode()
                imds.tokens.add(t)
                self.reply(200, t.encode())

            def do_GET(self):
                if self.headers.get("X-aws-ec2-metadata-token") not in imds.tokens:
                    return self.reply(401)
                base = "/latest/meta-data/iam/security-credentials/"
                if self.path == base:
                    return self.reply(200, imds.role.encode())
                if self.path == base + imds.role and imds.current is not None:
                    imds.hits += 1
                    return self.reply(200, json.dumps(imds.current).encode())
                self.reply(404)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set(self, access_key, secret, token, expires):
        self.current = {"Code": "Success", "LastUpdated": "2026-01-01T00:00:00Z",
                        "Type": "AWS-HMAC", "AccessKeyId": access_key, "SecretAccessKey": secret,
                        "Token": token,
                        "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def new_creds(double, imds, principal, lifetime=datetime.timedelta(hours=6)):
    """Fresh credentials known to the double and handed out by imds."""
    akid = "ASIA" + os.urandom(8).hex().upper()
    secret = base64.b64encode(os.urandom(30)).decode()
    token = base64.b64encode(os.urandom(600)).decode()
    expires = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + lifetime
    double.add_creds(akid, secret, token, principal, expires)
    imds.set(akid, secret, token, expires)
    return akid, secret, token


def main():
    """Serves a double with one key whose policy is --policy (a file, e.g.
    `glassbox kms-policy` output with kms:GenerateDataKey added) and an
    IMDS whose role the policy names. Prints the ports, the key ARN and the
    CA file; runs until interrupted."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True, help="the simulator's level0.der")
    ap.add_argument("--policy", required=True)
    ap.add_argument("--dir", required=True, help="where ca.pem is written")
    ap.add_argument("--host", default="kms.us-east-1.amazonaws.com")
    ap.add_argument("--role-arn", default="arn:aws:iam::111122223333:role/glassbox-enclave-role")
    a = ap.parse_args()
    ca, cert, key = make_ca(a.dir, a.host)
    with open(a.root, "rb") as f:
        double = KmsDouble(f.read(), cert, key)
    with open(a.policy) as f:
        arn = double.create_key(json.load(f))
    imds = FakeImds(a.role_arn.rsplit("/", 1)[1])
    new_creds(double, imds, a.role_arn)
    print(json.dumps({"kms_port": double.port, "imds_port": imds.port, "key": arn, "ca": ca}),
          flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
