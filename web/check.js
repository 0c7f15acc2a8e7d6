// The checks an auditor runs in the browser (and in Node 20), with
// WebCrypto only: signed notes (C2SP signed-note, Ed25519), checkpoints
// (C2SP tlog-checkpoint), RFC 9162 inclusion and consistency proofs, a
// strict CBOR reader for Nitro documents, C2SP tlog-proof receipts and the
// verifier's signed verdicts (docs/verdict.md). Nothing here trusts the
// server: every function takes the bytes and answers, or throws CheckError.

export class CheckError extends Error {}

const enc = new TextEncoder();

export function hexToBytes(hex) {
  if (typeof hex !== "string" || !/^([0-9a-fA-F]{2})*$/.test(hex))
    throw new CheckError("not hex");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++)
    out[i] = parseInt(hex.substr(2 * i, 2), 16);
  return out;
}

export function bytesToHex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export function b64ToBytes(s) {
  let bin;
  try {
    bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    throw new CheckError("not base64");
  }
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export function bytesToB64(b) {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000)
    s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
  return btoa(s);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

async function ed25519Verify(pub, sig, msg) {
  const key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" },
    false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, sig, msg);
}

// A verifier key "name+hash+base64(0x01 || key)"; the hash must be the first
// 4 bytes of SHA-256(name || "\n" || 0x01 || key).
export async function parseVerifierKey(vkey) {
  // The name has no '+'; the base64 after the hash may.
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey);
  const parts = m ? m.slice(1) : [];
  if (!m)
    throw new CheckError("the log key is not a note verifier key");
  const raw = b64ToBytes(parts[2]);
  if (raw.length !== 33 || raw[0] !== 1)
    throw new CheckError("the log key is not an Ed25519 note key");
  const id = (await sha256(concat(enc.encode(parts[0] + "\n"), raw)))
    .slice(0, 4);
  if (bytesToHex(id) !== parts[1])
    throw new CheckError("the log key's hash does not match its name and key");
  return { name: parts[0], id, pub: raw.slice(1) };
}

// Opens a signed note: its text is trusted only when a signature line by the
// key verifies over it. Returns the text.
export async function openNote(note, key) {
  const cut = note.lastIndexOf("\n\n");
  if (cut < 0 || !note.endsWith("\n"))
    throw new CheckError("not a signed note");
  const text = note.slice(0, cut + 1);
  // Every line after the blank one must be a signature, whoever made it.
  const lines = note.slice(cut + 2, -1).split("\n").map((line) => {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/]+=*)$/.exec(line);
    if (!m)
      throw new CheckError("a signature line is malformed");
    return m;
  });
  for (const m of lines) {
    if (m[1] !== key.name)
      continue;
    const sig = b64ToBytes(m[2]);
    if (sig.length !== 68 || !equal(sig.slice(0, 4), key.id))
      continue;
    if (await ed25519Verify(key.pub, sig.slice(4), enc.encode(text)))
      return text;
    throw new CheckError("the log key's signature does not verify");
  }
  throw new CheckError("the note is not signed by the log key");
}

// A checkpoint's text: origin, size, base64 root, extension lines.
export function parseCheckpoint(text) {
  const lines = text.split("\n");
  if (lines.length < 4 || !/^(0|[1-9][0-9]*)$/.test(lines[1]))
    throw new CheckError("not a checkpoint");
  const root = b64ToBytes(lines[2]);
  if (root.length !== 32)
    throw new CheckError("the checkpoint's root is not a SHA-256 hash");
  return { origin: lines[0], size: BigInt(lines[1]), root };
}

export async function openCheckpoint(note, key) {
  return parseCheckpoint(await openNote(note, key));
}

// RFC 9162 leaf hash of an entry given as text (its UTF-8 bytes) or bytes.
export async function leafHash(data) {
  return sha256(concat(Uint8Array.of(0),
    typeof data === "string" ? enc.encode(data) : data));
}

async function nodeHash(l, r) {
  return sha256(concat(Uint8Array.of(1), l, r));
}

const lsb = (n) => (n & 1n) === 1n;

// RFC 9162 2.1.1: the root of the tree over these leaf hashes.
export async function treeRoot(leaves) {
  async function mth(lo, hi) {
    if (hi - lo === 1)
      return leaves[lo];
    let k = 1;
    while (k * 2 < hi - lo)
      k *= 2;
    return nodeHash(await mth(lo, lo + k), await mth(lo + k, hi));
  }
  return leaves.length === 0 ? sha256(new Uint8Array(0)) :
    mth(0, leaves.length);
}

function hashes(proof) {
  const out = proof.map((p) => (p instanceof Uint8Array ? p : hexToBytes(p)));
  if (out.some((h) => h.length !== 32))
    throw new CheckError("a proof hash is not 32 bytes");
  return out;
}

// RFC 9162 2.1.3.2.
export async function verifyInclusion(index, size, leaf, proof, root) {
  let fn = BigInt(index), sn = BigInt(size) - 1n, r = leaf;
  if (fn > sn)
    throw new CheckError("the entry is not in a tree of this size");
  if (leaf.length !== 32 || root.length !== 32)
    throw new CheckError("a hash is not 32 bytes");
  for (const p of hashes(proof)) {
    if (sn === 0n)
      throw new CheckError("the inclusion proof is too long");
    if (lsb(fn) || fn === sn) {
      r = await nodeHash(p, r);
      while (!lsb(fn) && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n)
    throw new CheckError("the inclusion proof is too short");
  if (!equal(r, root))
    throw new CheckError("the inclusion proof leads to " +
      bytesToHex(r).slice(0, 16) + "..., not to the checkpoint's root");
  return true;
}

// RFC 9162 2.1.4.2. A proof from the empty tree proves nothing and is
// refused, as transparency-dev/merkle does.
export async function verifyConsistency(size1, size2, root1, root2, proof) {
  const n1 = BigInt(size1), n2 = BigInt(size2);
  let path = hashes(proof);
  if (n1 > n2)
    throw new CheckError("the first tree is larger than the second");
  if (n1 === 0n)
    throw new CheckError("no consistency proof from the empty tree");
  if (n1 === n2) {
    if (path.length !== 0 || !equal(root1, root2))
      throw new CheckError("two checkpoints of one size differ");
    return true;
  }
  if (root1.length !== 32 || root2.length !== 32)
    throw new CheckError("a root is not 32 bytes");
  if ((n1 & (n1 - 1n)) === 0n)
    path = [root1, ...path];
  if (path.length === 0)
    throw new CheckError("the consistency proof is empty");
  let fn = n1 - 1n, sn = n2 - 1n;
  while (lsb(fn)) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n)
      throw new CheckError("the consistency proof is too long");
    if (lsb(fn) || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while (!lsb(fn) && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n)
    throw new CheckError("the consistency proof is too short");
  if (!equal(fr, root1))
    throw new CheckError("the proof does not lead to the older root");
  if (!equal(sr, root2))
    throw new CheckError("the proof does not lead to the newer root");
  return true;
}

// --- CBOR (RFC 8949), only what a Nitro document needs --------------------
//
// A strict reader for the page to show the fields of the document the user
// gave (never the server's summary of it): unsigned and negative integers,
// byte and text strings (indefinite ones only as chunks of definite strings
// of the same type, returned as a Chunked so that fields needing a plain
// string refuse them, as the verifier does), arrays and maps (definite or
// indefinite), null, true, false and tag 18 (COSE_Sign1). Floats, other
// simple values and other tags are refused; so are duplicate map keys, map
// keys other than integers and strings, invalid UTF-8 and trailing bytes.

export const DOC_MAX_BYTES = 16384;      // GB_DOC_MAX_BYTES
export const CBOR_MAX_DEPTH = 16;        // GB_MAX_DEPTH
export const CBOR_MAP_MAX_PAIRS = 64;    // GB_CBOR_MAP_MAX_PAIRS
const PCR_MAX_COUNT = 32;                // GB_PCR_MAX_COUNT
const NITROTPM_PCR_COUNT = 24;           // GB_NITROTPM_PCR_COUNT (PCR0..23)
const MODULE_ID_MAX_BYTES = 128;         // GB_MODULE_ID_MAX_BYTES
const CERT_MAX_BYTES = 1024;             // GB_CERT_MAX_BYTES
const CABUNDLE_MAX_CERTS = 8;            // GB_CABUNDLE_MAX_CERTS
const OPT_FIELD_MAX_BYTES = 1024;        // GB_OPT_FIELD_MAX_BYTES
const TIMESTAMP_MAX_MS = 253402300799999n;  // GB_TIMESTAMP_MAX_MS

// An indefinite-length string, kept apart from plain ones.
export class Chunked {
  constructor(value) {
    this.value = value;
  }
}

// A tagged item.
export class Tagged {
  constructor(tag, value) {
    this.tag = tag;
    this.value = value;
  }
}

const BREAK = Symbol("break");
const utf8 = new TextDecoder("utf-8", { fatal: true });

// Decodes exactly one item filling bytes. Maps become Map objects (integer
// keys as BigInt, text keys as strings, byte-string keys as Uint8Array).
export function cborDecode(bytes, maxBytes = DOC_MAX_BYTES) {
  if (!(bytes instanceof Uint8Array))
    throw new CheckError("CBOR: not bytes");
  if (bytes.length > maxBytes)
    throw new CheckError(`CBOR: ${bytes.length} bytes, more than the ` +
      `limit of ${maxBytes}`);
  let pos = 0;
  const need = (n) => {
    if (n > BigInt(bytes.length - pos))
      throw new CheckError(`CBOR: truncated at byte ${pos}`);
    return Number(n);
  };
  // The head of an item: major type, and its argument (BigInt) or null for
  // the indefinite length.
  function head() {
    need(1n);
    const ib = bytes[pos++], major = ib >> 5, ai = ib & 31;
    let arg;
    if (ai < 24) {
      arg = BigInt(ai);
    } else if (ai <= 27) {
      const n = need(BigInt(1 << (ai - 24)));
      arg = 0n;
      for (let i = 0; i < n; i++)
        arg = (arg << 8n) | BigInt(bytes[pos++]);
    } else if (ai === 31) {
      arg = null;
    } else {
      throw new CheckError(`CBOR: reserved additional information ${ai}`);
    }
    return { major, arg };
  }
  function string(major, arg) {
    const n = need(arg);
    const b = bytes.subarray(pos, pos + n);
    pos += n;
    if (major === 2)
      return b;
    try {
      return utf8.decode(b);
    } catch {
      throw new CheckError("CBOR: a text string is not UTF-8");
    }
  }
  function item(depth) {
    if (depth > CBOR_MAX_DEPTH)
      throw new CheckError(`CBOR: nested deeper than ${CBOR_MAX_DEPTH}`);
    const { major, arg } = head();
    switch (major) {
    case 0:
      if (arg === null)
        break;
      return arg;
    case 1:
      if (arg === null)
        break;
      return -1n - arg;
    case 2:
    case 3: {
      if (arg !== null)
        return string(major, arg);
      const parts = [];
      for (;;) {
        need(1n);
        if (bytes[pos] === 0xff) {
          pos++;
          break;
        }
        const c = head();
        if (c.major !== major || c.arg === null)
          throw new CheckError("CBOR: a chunk of an indefinite string is " +
            "not a definite string of its type");
        parts.push(string(major, c.arg));
      }
      return new Chunked(major === 2 ? concat(...parts) : parts.join(""));
    }
    case 4: {
      // Every item takes at least one byte: a longer claim is refused
      // before anything is read.
      if (arg !== null)
        need(arg);
      const out = [];
      for (let i = 0n; arg === null || i < arg; i++) {
        const v = item(depth + 1);
        if (v === BREAK) {
          if (arg !== null)
            throw new CheckError("CBOR: a break inside a definite array");
          break;
        }
        out.push(v);
      }
      return out;
    }
    case 5: {
      if (arg !== null && arg > BigInt(CBOR_MAP_MAX_PAIRS))
        throw new CheckError(`CBOR: a map of more than ` +
          `${CBOR_MAP_MAX_PAIRS} pairs`);
      const out = new Map(), seen = new Set();
      for (let i = 0n; arg === null || i < arg; i++) {
        const k = item(depth + 1);
        if (k === BREAK) {
          if (arg !== null)
            throw new CheckError("CBOR: a break inside a definite map");
          break;
        }
        if (seen.size === CBOR_MAP_MAX_PAIRS)
          throw new CheckError(`CBOR: a map of more than ` +
            `${CBOR_MAP_MAX_PAIRS} pairs`);
        let id;
        if (typeof k === "bigint")
          id = "i" + k;
        else if (typeof k === "string")
          id = "t" + k;
        else if (k instanceof Uint8Array)
          id = "b" + bytesToHex(k);
        else
          throw new CheckError("CBOR: a map key is not an integer or a " +
            "definite string");
        if (seen.has(id))
          throw new CheckError("CBOR: a duplicate map key");
        seen.add(id);
        const v = item(depth + 1);
        if (v === BREAK)
          throw new CheckError("CBOR: a map key without a value");
        out.set(k, v);
      }
      return out;
    }
    case 6:
      if (arg !== 18n)
        throw new CheckError(`CBOR: tag ${arg} (only 18, COSE_Sign1, ` +
          "is read)");
      return new Tagged(arg, item(depth + 1));
    case 7:
      if (arg === null)
        return BREAK;
      if (arg === 20n)
        return false;
      if (arg === 21n)
        return true;
      if (arg === 22n)
        return null;
      throw new CheckError("CBOR: a float or simple value other than " +
        "null, true or false");
    }
    throw new CheckError(`CBOR: major type ${major} cannot be indefinite`);
  }
  const v = item(0);
  if (v === BREAK)
    throw new CheckError("CBOR: a break outside an indefinite item");
  if (pos !== bytes.length)
    throw new CheckError(`CBOR: ${bytes.length - pos} trailing bytes`);
  return v;
}

// The fields of a Nitro attestation document (COSE_Sign1 with the payload
// of AWS's "Verifying the root of trust"), with the verifier's rules on
// their types and sizes. It does not check the signature or the chain: the
// verifier does, and its signed verdict says so. Throws CheckError.
export function parseDocument(bytes) {
  let top = cborDecode(bytes);
  if (top instanceof Tagged)
    top = top.value;
  if (!Array.isArray(top) || top.length !== 4)
    throw new CheckError("not a COSE_Sign1 (an array of 4 items)");
  const [prot, unprot, payloadBytes, sig] = top;
  if (!(prot instanceof Uint8Array) || !(unprot instanceof Map) ||
      !(payloadBytes instanceof Uint8Array) || !(sig instanceof Uint8Array))
    throw new CheckError("COSE_Sign1: a part has the wrong type");
  const hdr = cborDecode(prot);
  if (!(hdr instanceof Map) || hdr.size !== 1 || hdr.get(1n) !== -35n)
    throw new CheckError("protected header is not {1: -35} (ES384)");
  if (unprot.size !== 0)
    throw new CheckError("unprotected header is not empty");
  const p = cborDecode(payloadBytes);
  if (!(p instanceof Map))
    throw new CheckError("payload: not a map");
  const bad = (f, what) => {
    throw new CheckError(`${f}: ${what}`);
  };
  // An enclave's document has "pcrs"; an EC2 instance's NitroTPM document
  // has "nitrotpm_pcrs" instead (24 SHA-384 registers); never both.
  const tpm = !p.has("pcrs") && p.has("nitrotpm_pcrs");
  const regsKey = tpm ? "nitrotpm_pcrs" : "pcrs";
  for (const f of ["module_id", "digest", "timestamp", regsKey,
    "certificate", "cabundle"])
    if (!p.has(f))
      bad(f, "missing");
  const isBytes = (v, min, max) => v instanceof Uint8Array &&
    v.length >= min && v.length <= max;
  const module = p.get("module_id");
  if (typeof module !== "string" || module.length < 1 ||
      module.length > MODULE_ID_MAX_BYTES || !/^[\x21-\x7e]+$/.test(module))
    bad("module_id", "not printable ASCII text of 1..128 bytes");
  if (p.get("digest") !== "SHA384")
    bad("digest", "not \"SHA384\"");
  const ts = p.get("timestamp");
  if (typeof ts !== "bigint" || ts <= 0n || ts > TIMESTAMP_MAX_MS)
    bad("timestamp", "not a positive integer of milliseconds");
  if (p.has("pcrs") && p.has("nitrotpm_pcrs"))
    bad("pcrs", "present beside nitrotpm_pcrs: a document is an " +
      "enclave's or an instance's, never both");
  const pm = p.get(regsKey);
  const maxIndex = tpm ? NITROTPM_PCR_COUNT : PCR_MAX_COUNT;
  if (!(pm instanceof Map) || pm.size === 0)
    bad(regsKey, "not a non-empty map");
  const pcrs = {};
  for (const [k, v] of pm) {
    if (typeof k !== "bigint" || k < 0n || k >= BigInt(maxIndex))
      bad(regsKey, `key is not an index 0..${maxIndex - 1}`);
    if (!(v instanceof Uint8Array) || (tpm ? v.length !== 48 :
      ![32, 48, 64].includes(v.length)))
      bad(regsKey, `PCR${k} is not ${tpm ? "48" : "32, 48 or 64"} bytes`);
    pcrs[String(k)] = v;
  }
  if (tpm && pm.size !== NITROTPM_PCR_COUNT)
    bad(regsKey, `${pm.size} registers, not the ${NITROTPM_PCR_COUNT} of a TPM`);
  if (!isBytes(p.get("certificate"), 1, CERT_MAX_BYTES))
    bad("certificate", "not a byte string of 1..1024 bytes");
  const cab = p.get("cabundle");
  if (!Array.isArray(cab) || cab.length < 1 ||
      cab.length > CABUNDLE_MAX_CERTS ||
      !cab.every((c) => isBytes(c, 1, CERT_MAX_BYTES)))
    bad("cabundle", "not an array of 1..8 certificates");
  const out = { module_id: module, digest: "SHA384", timestamp: ts,
    kind: tpm ? "nitrotpm" : "enclave", pcrs,
    certificate: p.get("certificate"), cabundle: cab };
  for (const f of ["public_key", "user_data", "nonce"]) {
    const v = p.has(f) ? p.get(f) : null;
    if (v !== null && !isBytes(v, 0, OPT_FIELD_MAX_BYTES))
      bad(f, "not null or a byte string of at most 1024 bytes");
    out[f] = v;
  }
  return out;
}

// --- The signed verdict (docs/verdict.md) ---------------------------------

// A verdict refused: reason is the stable code, claim the claim that
// differs (for verdict_mismatch) or null; claims once the signature
// verified. signed is true when every check passed and the refusal is the
// verdict's own.
export class VerdictError extends CheckError {
  constructor(reason, message, claim = null) {
    super(message);
    this.reason = reason;
    this.claim = claim;
    this.signed = false;
    this.claims = null;
  }
}

export const EAR_PROFILE = "tag:github.com,2023:veraison/ear";
// How far ahead of now a verdict's iat may be (clocks differ), as
// GB_VERDICT_SKEW_S.
export const VERDICT_MAX_SKEW_S = 60;
// A whole compact JWS (GB_VERDICT_JWS_MAX_BYTES) and a whole tlog-proof
// (GB_TLOG_PROOF_MAX_BYTES: a leaf of up to ~110 KiB, base64 again).
export const VERDICT_JWS_MAX_BYTES = 65536;
export const TLOG_PROOF_MAX_BYTES = 262144;
// The longest inclusion proof (GB_MERKLE_MAX_PROOF: a tree of 2^64 leaves).
export const TLOG_PROOF_MAX_HASHES = 64;
// Nesting of the JWS's JSON, as GB_JSON_MAX_DEPTH.
const JSON_MAX_DEPTH = 32;
// The verifier's reason codes (lib/src/err.c): a verdict names one of them.
export const REASONS = ["ok", "malformed", "bad_header", "bad_field",
  "untrusted_root", "bad_chain", "cert_expired", "cert_not_yet_valid",
  "bad_signature", "debug_mode", "stale", "future", "nonce_mismatch",
  "nonce_unknown", "unknown_measurement", "revoked", "bad_result_signature",
  "no_public_key", "result_not_bound", "wrong_signer"];

const HEX64 = /^[0-9a-f]{64}$/;

// base64url without padding (RFC 7515 2): only its alphabet, not empty.
function b64url(s, what) {
  if (typeof s !== "string" || !/^[A-Za-z0-9_-]+$/.test(s) ||
      s.length % 4 === 1)
    throw new VerdictError("bad_verdict", `${what} is not base64url`);
  return b64ToBytes(s);
}

// Standard base64 of a tlog-proof line (RFC 4648 4): its alphabet, then
// at most two '=', a multiple of 4 long.
function b64Line(s) {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(s) || s.length % 4 !== 0)
    throw new CheckError("not base64");
  return b64ToBytes(s);
}

// JSON as the verifier's parser takes it: no duplicate keys, nesting at
// most JSON_MAX_DEPTH. JSON.parse() checks the grammar; this walk only
// looks for what JSON.parse() lets through.
function strictJson(text) {
  const v = JSON.parse(text);
  const keys = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"')
        j += text[j] === "\\" ? 2 : 1;
      const str = text.slice(i, j + 1);
      i = j;
      let k = i + 1;
      while (k < text.length && /\s/.test(text[k]))
        k++;
      const top = keys[keys.length - 1];
      if (text[k] === ":" && top instanceof Set) {
        const name = JSON.parse(str);
        if (top.has(name))
          throw new SyntaxError("a duplicate key");
        top.add(name);
      }
    } else if (ch === "{" || ch === "[") {
      if (++depth > JSON_MAX_DEPTH)
        throw new SyntaxError("nested too deep");
      keys.push(ch === "{" ? new Set() : null);
    } else if (ch === "}" || ch === "]") {
      depth--;
      keys.pop();
    }
  }
  return v;
}

function jsonPart(bytes, what) {
  let v;
  try {
    v = strictJson(utf8.decode(bytes));
  } catch {
    throw new VerdictError("bad_verdict", `${what} is not JSON text`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new VerdictError("bad_verdict", `${what} is not a JSON object`);
  return v;
}

const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isInt = (v) => Number.isSafeInteger(v);

// Two JSON values are equal (objects whatever their keys' order).
function jsonEqual(a, b) {
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) &&
      jsonEqual(a[k], b[k]));
  }
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  return a === b;
}

// The pinned verdict key: an Ed25519 JWK (kty OKP, crv Ed25519, x); its
// kid, when it has one, must be its own (the first 8 bytes of SHA-256 of
// x, hex). Returns { x, kid }.
async function verdictPub(jwk) {
  if (!isObj(jwk) || jwk.kty !== "OKP" || jwk.crv !== "Ed25519" ||
      typeof jwk.x !== "string")
    throw new CheckError("the verdict key is not an Ed25519 JWK (kty OKP, " +
      "crv Ed25519, x)");
  let x;
  try {
    x = b64url(jwk.x, "the verdict key's x");
  } catch {
    throw new CheckError("the verdict key's x is not base64url");
  }
  if (x.length !== 32)
    throw new CheckError("the verdict key's x is not 32 bytes");
  const kid = bytesToHex((await sha256(x)).slice(0, 8));
  if ("kid" in jwk && jwk.kid !== kid)
    throw new CheckError(`the verdict key's kid is not its key's (${kid})`);
  return { x, kid };
}

// The claims' shape (docs/verdict.md); throws bad_verdict.
function checkShape(c) {
  const no = (what) => {
    throw new VerdictError("bad_verdict", "the claims are not a verdict: " +
      what);
  };
  if (c.eat_profile !== EAR_PROFILE)
    no("eat_profile is not the EAR profile");
  if (!isInt(c.iat) || !isInt(c.exp) || c.exp < c.iat)
    no("iat and exp are not whole seconds, exp after iat");
  if ("eat_nonce" in c && typeof c.eat_nonce !== "string")
    no("eat_nonce is not a string");
  if (!isObj(c.submods) || !isObj(c.submods.glassbox))
    no("submods.glassbox is missing");
  const g = c.submods.glassbox;
  const status = g["ear.status"], reason = g["glassbox.reason"];
  if (typeof status !== "string" || typeof reason !== "string" ||
      typeof g["glassbox.message"] !== "string")
    no("ear.status, glassbox.reason or glassbox.message is missing");
  if (!REASONS.includes(reason))
    no("glassbox.reason is not a reason code");
  if (!(status === "affirming" && reason === "ok") &&
      !(status === "contraindicated" && reason !== "ok"))
    no("ear.status does not agree with glassbox.reason");
  if (!("glassbox.at" in g) || !(isInt(g["glassbox.at_ms"]) ||
      g["glassbox.at_ms"] === null))
    no("glassbox.at or glassbox.at_ms is missing");
  const f = g["glassbox.freshness"];
  const nonneg = (v) => isInt(v) && v >= 0;
  if (f === undefined || (f !== null && (!isObj(f) ||
      !nonneg(f.max_age_ms) || !nonneg(f.skew_ms))))
    no("glassbox.freshness is not null nor {max_age_ms, skew_ms}");
  const d = g["glassbox.document"];
  if (!isObj(d) || typeof d.sha256 !== "string" || !HEX64.test(d.sha256))
    no("glassbox.document.sha256 is missing");
  if ("glassbox.result_sha256" in g &&
      (typeof g["glassbox.result_sha256"] !== "string" ||
        !HEX64.test(g["glassbox.result_sha256"])))
    no("glassbox.result_sha256 is not a SHA-256 in hex");
  const r = g["glassbox.release"], cp = g["glassbox.checkpoint"];
  if (r === undefined || cp === undefined)
    no("glassbox.release or glassbox.checkpoint is missing");
  if (r !== null && (!isObj(r) || typeof r.id !== "string" ||
      !/^[0-9a-f]{16}$/.test(r.id) || typeof r.name !== "string" ||
      typeof r.version !== "string" || !isInt(r.index) || r.index < 0))
    no("glassbox.release is not {id, name, version, index}");
  if (cp !== null && (!isObj(cp) || typeof cp.origin !== "string" ||
      !isInt(cp.size) || cp.size < 1 || typeof cp.root !== "string" ||
      !HEX64.test(cp.root)))
    no("glassbox.checkpoint is not {origin, size, root}");
}

// The document claim a checker builds from the document it holds: only
// sha256 when the document cannot be parsed.
// A NitroTPM document's claim names its kind and has nitrotpm_pcrs for
// pcrs; an enclave's has no kind.
const DOC_CLAIMS = ["sha256", "module_id", "timestamp", "digest", "kind",
  "pcrs", "nitrotpm_pcrs", "public_key_sha256", "user_data_sha256", "nonce"];

async function documentClaim(bytes, doc) {
  const out = { sha256: bytesToHex(await sha256(bytes)) };
  if (doc === null)
    return out;
  const h = async (b) => (b === null ? null : bytesToHex(await sha256(b)));
  const regs = Object.fromEntries(Object.entries(doc.pcrs)
    .map(([k, v]) => [k, bytesToHex(v)]));
  return { ...out, module_id: doc.module_id,
    timestamp: Number(doc.timestamp), digest: doc.digest,
    ...(doc.kind === "nitrotpm" ? { kind: "nitrotpm", nitrotpm_pcrs: regs } :
      { pcrs: regs }),
    public_key_sha256: await h(doc.public_key),
    user_data_sha256: await h(doc.user_data),
    nonce: doc.nonce === null ? null : bytesToHex(doc.nonce) };
}

// A C2SP tlog-proof@v1 text: { extra (bytes), index (BigInt), hashes
// (Uint8Array[]), checkpoint (the note text) }. The extra line is required
// here: it carries the logged entry. Throws CheckError.
export function parseTlogProof(text) {
  if (typeof text !== "string" || text.length > TLOG_PROOF_MAX_BYTES)
    throw new CheckError("the tlog-proof is missing or larger than its " +
      "limit");
  let pos = 0;
  const line = () => {
    const nl = text.indexOf("\n", pos);
    if (nl < 0)
      return null;
    const l = text.slice(pos, nl);
    pos = nl + 1;
    return l;
  };
  if (line() !== "c2sp.org/tlog-proof@v1")
    throw new CheckError("the tlog-proof does not start with " +
      "c2sp.org/tlog-proof@v1");
  const ex = line();
  if (ex === null || !ex.startsWith("extra "))
    throw new CheckError("the tlog-proof carries no entry (its extra line)");
  const extra = b64Line(ex.slice(6));
  const m = /^index (0|[1-9][0-9]*)$/.exec(line() ?? "");
  if (!m || BigInt(m[1]) >= 1n << 64n)
    throw new CheckError("the tlog-proof's index line is malformed");
  const hashes = [];
  for (;;) {
    const l = line();
    if (l === null)
      throw new CheckError("the tlog-proof has no checkpoint");
    if (l === "")
      break;
    if (hashes.length === TLOG_PROOF_MAX_HASHES)
      throw new CheckError("the tlog-proof has more hashes than any proof");
    const hash = b64Line(l);
    if (hash.length !== 32)
      throw new CheckError("a proof hash is not 32 bytes");
    hashes.push(hash);
  }
  if (pos === text.length)
    throw new CheckError("the tlog-proof has no checkpoint");
  return { extra, index: BigInt(m[1]), hashes, checkpoint: text.slice(pos) };
}

// Checks a tlog-proof against the log key: its checkpoint's signature and
// the inclusion of its entry. Returns the opened checkpoint, the entry's
// bytes, its leaf hash and index. Throws CheckError.
export async function checkTlogProof(text, logKey) {
  const p = parseTlogProof(text);
  const key = typeof logKey === "string" ?
    await parseVerifierKey(logKey.trim()) : logKey;
  const cp = await openCheckpoint(p.checkpoint, key);
  const hash = await leafHash(p.extra);
  await verifyInclusion(p.index, cp.size, hash, p.hashes, cp.root);
  return { cp, entry: p.extra, hash, index: p.index };
}

// --- C2SP tlog-policy (gb/tlog_policy.h, the same rules) -------------------

// The limits tlog-policy recommends, as GB_TLOG_POLICY_*: more is refused.
export const POLICY_LOGS_MAX = 32;
export const POLICY_WITNESSES_MAX = 32;
export const POLICY_GROUPS_MAX = 32;
export const POLICY_MAX_BYTES = 65536;
export const POLICY_LINE_MAX = 2048;
export const POLICY_NAME_MAX = 255;
// How far a cosignature's timestamp may be ahead of now (s), as
// GB_TLOG_POLICY_SKEW_S.
export const COSIG_MAX_SKEW_S = 60;
const COSIG_TIME_MAX = (1n << 63n) - 1n;

// Strict standard base64 (padded, nothing else), as the C reader's
// b64_exact(): null when s is not that.
function b64Strict(s) {
  if (s.length === 0 || s.length % 4 !== 0 ||
      !/^[A-Za-z0-9+/]*={0,2}$/.test(s))
    return null;
  try {
    return b64ToBytes(s);
  } catch {
    return null;
  }
}

// A witness's cosignature/v1 verifier key "NAME+KEYID+BASE64(0x04 || PUB)":
// NAME printable ASCII without space or '+', KEYID the first 4 bytes of
// SHA-256(NAME || "\n" || 0x04 || PUB). Throws CheckError.
export async function parseCosigKey(vkey) {
  const m = /^([\x21-\x2a\x2c-\x7e]{1,255})\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/
    .exec(vkey);
  const raw = m ? b64Strict(m[3]) : null;
  if (!m || raw === null || raw.length !== 33 || raw[0] !== 4)
    throw new CheckError("not a cosignature/v1 witness key");
  const id = (await sha256(concat(enc.encode(m[1] + "\n"), raw))).slice(0, 4);
  if (bytesToHex(id) !== m[2])
    throw new CheckError("the witness key's id does not match its name " +
      "and key");
  return { name: m[1], id, pub: raw.slice(1) };
}

// Parses a policy file (a string, read as UTF-8 bytes, or the bytes):
// { logs: [{ key, url }], witnesses: [{ name, key, url }], nodes, quorum
// (a node index, -1 for none), quorumName }. Names are compared as octets.
// Throws CheckError naming the line, as gb_tlog_policy_parse() refuses.
export async function parsePolicy(input) {
  const bytes = typeof input === "string" ? enc.encode(input) : input;
  const fail = (line, what) => {
    throw new CheckError(line ? `policy line ${line}: ${what}` :
      `policy: ${what}`);
  };
  if (!(bytes instanceof Uint8Array))
    fail(0, "not text");
  if (bytes.length > POLICY_MAX_BYTES)
    fail(0, `larger than ${POLICY_MAX_BYTES} bytes`);
  for (const c of bytes)
    if ((c < 0x20 && c !== 9 && c !== 10) || c === 0x7f)
      fail(0, "a control character other than tab and newline");
  // One char per octet: names and URLs stay opaque octets.
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000)
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  const p = { logs: [], witnesses: [], nodes: [], quorum: null,
    quorumName: null };
  const find = (name) => p.nodes.findIndex((n) => n.name === name);
  const newName = (line, name) => {
    if (name.length > POLICY_NAME_MAX)
      fail(line, `a name is longer than ${POLICY_NAME_MAX} bytes`);
    if (name === "none")
      fail(line, "none is predefined and cannot be defined again");
    if (find(name) >= 0)
      fail(line, "a witness or group of this name is defined already");
  };
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "")
    lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const ln = i + 1, l = lines[i];
    if (l.length > POLICY_LINE_MAX)
      fail(ln, `a line is longer than ${POLICY_LINE_MAX} bytes`);
    const it = l.split(/[ \t]+/).filter((x) => x !== "");
    if (it.length === 0 || it[0].startsWith("#"))
      continue;
    if (it[0] === "log") {
      if (it.length !== 2 && it.length !== 3)
        fail(ln, "a log line is \"log VKEY [URL]\"");
      if (p.logs.length === POLICY_LOGS_MAX)
        fail(ln, `more logs than the limit of ${POLICY_LOGS_MAX}`);
      let key;
      try {
        key = await parseVerifierKey(it[1]);
      } catch {
        fail(ln, "the log key is not an Ed25519 signed-note verifier key");
      }
      if (p.logs.some((x) => equal(x.key.pub, key.pub)))
        fail(ln, "a log with this public key is listed already");
      p.logs.push({ key, url: it[2] ?? null });
    } else if (it[0] === "witness") {
      if (it.length !== 3 && it.length !== 4)
        fail(ln, "a witness line is \"witness NAME VKEY [URL]\"");
      newName(ln, it[1]);
      if (p.witnesses.length === POLICY_WITNESSES_MAX)
        fail(ln, `more witnesses than the limit of ${POLICY_WITNESSES_MAX}`);
      let key;
      try {
        key = await parseCosigKey(it[2]);
      } catch {
        fail(ln, "the witness key is not a cosignature/v1 verifier key");
      }
      if (p.witnesses.some((x) => equal(x.key.pub, key.pub)))
        fail(ln, "a witness with this public key is listed already");
      const w = { name: it[1], key, url: it[3] ?? null, group: false };
      p.witnesses.push(w);
      p.nodes.push(w);
    } else if (it[0] === "group") {
      if (it.length < 4)
        fail(ln, "a group line is \"group NAME all|any|K MEMBER...\"");
      newName(ln, it[1]);
      if (p.nodes.length - p.witnesses.length === POLICY_GROUPS_MAX)
        fail(ln, `more groups than the limit of ${POLICY_GROUPS_MAX}`);
      const n = it.length - 3, t = it[2];
      // As the C reader: at most 9 digits, and past the number of names
      // a policy can define it is out of range anyway.
      const k = t === "all" ? n : t === "any" ? 1 :
        /^[0-9]{1,9}$/.test(t) && Number(t) <= POLICY_WITNESSES_MAX +
          POLICY_GROUPS_MAX ? Number(t) : 0;
      if (k < 1 || k > n)
        fail(ln, "the threshold is not all, any or a decimal K with " +
          "1 <= K <= the number of members");
      const members = [];
      for (const m of it.slice(3)) {
        if (m === "none")
          fail(ln, "none cannot be a group member");
        const idx = find(m);
        if (idx < 0)
          fail(ln, "a member is not a witness or group defined on an " +
            "earlier line");
        if (members.includes(idx))
          fail(ln, "a member is listed twice in one group");
        members.push(idx);
      }
      p.nodes.push({ name: it[1], group: true, k, members });
    } else if (it[0] === "quorum") {
      if (it.length !== 2)
        fail(ln, "a quorum line is \"quorum NAME\"");
      if (p.quorum !== null)
        fail(ln, "a second quorum line (a policy has exactly one)");
      const idx = it[1] === "none" ? -1 : find(it[1]);
      if (idx === -1 && it[1] !== "none")
        fail(ln, "the quorum is not a witness or group defined on an " +
          "earlier line");
      p.quorum = idx;
      p.quorumName = it[1];
    } else {
      fail(ln, "an unknown kind of line (log, witness, group, quorum, a " +
        "comment or a blank line)");
    }
  }
  if (p.quorum === null)
    fail(0, "the policy has no quorum line");
  return p;
}

// A name as the page shows it: its octets read as UTF-8.
export function policyName(name) {
  return new TextDecoder().decode(Uint8Array.from(name, (c) =>
    c.charCodeAt(0)));
}

// Evaluates a checkpoint note (with its cosignature lines) against a
// parsed policy at now (seconds), as gb_tlog_policy_check(): { logSigned,
// quorum, bad, trusted, reason (null, "bad_log_signature",
// "bad_cosignature" or "below_quorum"), witnesses: [{ name, state
// ("missing", "verified", "bad", "future"), time }], quorumName }. Throws
// CheckError when the note is not a checkpoint note.
export async function checkPolicy(policy, note, now) {
  const cut = note.indexOf("\n\n");
  if (cut < 0 || !note.endsWith("\n") || note.length === cut + 2)
    throw new CheckError("not a signed note");
  const text = note.slice(0, cut + 1);
  parseCheckpoint(text);
  const sigLines = note.slice(cut + 2, -1).split("\n");
  let logSigned = policy.logs.length === 0;
  for (const l of policy.logs) {
    try {
      await openNote(note, l.key);
      logSigned = true;
    } catch { /* another listed log may have signed it */ }
  }
  const tbytes = enc.encode(text);
  const witnessed = [], out = [];
  let bad = false;
  for (const n of policy.nodes) {
    if (n.group) {
      witnessed.push(n.members.filter((i) => witnessed[i]).length >= n.k);
      continue;
    }
    let state = "missing", time = null;
    for (const line of sigLines) {
      const m = /^\u2014 ([^ ]+) (.*)$/.exec(line);
      if (!m) {
        state = "bad";
        break;
      }
      if (m[1] !== n.key.name)
        continue;
      const sig = b64Strict(m[2]);
      if (sig === null || sig.length !== 76 || !equal(sig.slice(0, 4),
        n.key.id))
        continue;
      let t = 0n;
      for (const b of sig.slice(4, 12))
        t = (t << 8n) | BigInt(b);
      if (t > COSIG_TIME_MAX) {
        state = "bad";
        break;
      }
      const msg = concat(enc.encode(`cosignature/v1\ntime ${t}\n`), tbytes);
      if (!(await ed25519Verify(n.key.pub, sig.slice(12), msg))) {
        state = "bad";
        break;
      }
      state = now < 0 || t > BigInt(Math.floor(now)) +
        BigInt(COSIG_MAX_SKEW_S) ? "future" : "verified";
      time = Number(t);
      break;
    }
    witnessed.push(state === "verified");
    bad ||= state === "bad" || state === "future";
    out.push({ name: n.name, state, time });
  }
  const quorum = policy.quorum < 0 || witnessed[policy.quorum];
  return { logSigned, quorum, bad, trusted: logSigned && quorum && !bad,
    reason: !logSigned ? "bad_log_signature" : bad ? "bad_cosignature" :
      !quorum ? "below_quorum" : null, witnesses: out,
    quorumName: policy.quorumName };
}

// Days from 1970-01-01 to a proleptic Gregorian date (as
// gb_days_from_civil()).
function daysFromCivil(y, m, d) {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400), yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const RFC3339 = new RegExp("^(\\d{4})-(\\d{2})-(\\d{2})[Tt ]" +
  "(\\d{2}):(\\d{2}):(\\d{2})(?:\\.(\\d+))?(?:[Zz]|([+-])(\\d{2}):(\\d{2}))$");

// RFC 3339 5.6 as gb_time_parse_rfc3339() reads it ('t', 'z' and a space
// for 'T' too; the fraction cut to ms; a leap second reads as 59.999):
// ms since 1970, or null.
export function parseRfc3339(s) {
  const m = RFC3339.exec(s);
  if (!m)
    return null;
  const [y, mo, d, h, mi] = m.slice(1, 6).map(Number);
  let sec = Number(m[6]), frac = Number((m[7] ?? "").slice(0, 3)
    .padEnd(3, "0"));
  const oh = m[9] === undefined ? 0 : Number(m[9]);
  const om = m[10] === undefined ? 0 : Number(m[10]);
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const mdays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
      mi > 59 || sec > 60 || oh > 23 || om > 59)
    return null;
  if (sec === 60) {
    sec = 59;
    frac = 999;
  }
  const sign = m[8] === "-" ? -1 : m[8] === "+" ? 1 : 0;
  return (daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
    sign * (oh * 3600 + om * 60)) * 1000 + frac;
}

// The time a client asked, as POST /api/v1/verify takes it: "now",
// "document", ms since 1970 (a number, or up to 15 digits as
// gb_time_parse_at() reads them) or RFC 3339 at or after 1970. Returns
// { kind: "now" | "document" | "time", ms }, or null.
export function parseAt(at) {
  if (at === "now" || at === "document")
    return { kind: at, ms: null };
  let ms = null;
  if (typeof at === "number")
    ms = Number.isSafeInteger(at) ? at : null;
  else if (typeof at === "string")
    ms = /^[0-9]{1,15}$/.test(at) ? Number(at) : parseRfc3339(at);
  return ms === null || ms < 0 ? null : { kind: "time", ms };
}

// The checks of docs/verdict.md, in its order. at is the time the client
// asked (parseAt()'s forms; "now" by default). policy (a tlog-policy's
// text, or parsePolicy()'s result; null: none) makes the receipt's
// checkpoint need its quorum (below_quorum); report, an object, gets
// .quorum (checkPolicy()'s answer) once the checkpoint was evaluated. Returns the claims, or
// throws VerdictError (reason, claim; claims once the signature verified)
// or, for a bad pinned key or argument, CheckError.
export async function verifyVerdict({ jws, tlogProof, document: docBytes,
  result, nonce, verdictKey, logKey, now, at = "now", policy = null,
  report = null }) {
  const { x, kid } = await verdictPub(verdictKey);
  const key = await parseVerifierKey(String(logKey).trim());
  // A policy as text is parsed here (a bad one is the caller's error).
  const pol = policy === null || policy === undefined ? null :
    typeof policy === "string" || policy instanceof Uint8Array ?
      await parsePolicy(policy) : policy;
  if (!(docBytes instanceof Uint8Array))
    throw new CheckError("the document is not bytes");
  if (!Number.isFinite(now))
    throw new CheckError("now is not a number of seconds");
  const asked = parseAt(at);
  if (asked === null)
    throw new CheckError("at is not now, document, ms since 1970 or " +
      "RFC 3339");

  // 1. The JWS's form, its header, the claims' shape.
  if (typeof jws !== "string")
    throw new VerdictError("bad_verdict", "there is no verdict");
  if (jws.length > VERDICT_JWS_MAX_BYTES)
    throw new VerdictError("bad_verdict", "the verdict is larger than " +
      `${VERDICT_JWS_MAX_BYTES} bytes`);
  const parts = jws.split(".");
  if (parts.length !== 3)
    throw new VerdictError("bad_verdict", "the verdict is not a compact " +
      "JWS of three parts");
  const head = jsonPart(b64url(parts[0], "the JWS header"), "the JWS header");
  const claimBytes = b64url(parts[1], "the JWS claims");
  const sig = b64url(parts[2], "the JWS signature");
  if (head.alg !== "EdDSA")
    throw new VerdictError("bad_verdict", "the JWS header is not " +
      "{\"alg\":\"EdDSA\",...}");
  if ("crit" in head)
    throw new VerdictError("bad_verdict", "the JWS header has critical " +
      "extensions");
  if (head.kid !== kid)
    throw new VerdictError("bad_verdict", "the JWS kid is not the pinned " +
      "verdict key's");
  const claims = jsonPart(claimBytes, "the JWS claims");
  checkShape(claims);

  // 2. The signature under the pinned key.
  if (sig.length !== 64)
    throw new VerdictError("bad_verdict_signature", `the signature is ` +
      `${sig.length} bytes, not 64 (Ed25519)`);
  if (!(await ed25519Verify(x, sig, enc.encode(parts[0] + "." + parts[1]))))
    throw new VerdictError("bad_verdict_signature", "the verdict's " +
      "signature does not verify under the pinned verdict key");

  // From here on the claims are the verifier's: a refusal carries them.
  const refuse = (reason, what, claim = null) => {
    const e = new VerdictError(reason, what, claim);
    e.claims = claims;
    throw e;
  };

  // 3. The verdict is about these inputs.
  const g = claims.submods.glassbox, d = g["glassbox.document"];
  let doc = null;
  try {
    doc = parseDocument(docBytes);
  } catch { /* doc stays null: only the sha256 is compared */ }
  const want = await documentClaim(docBytes, doc);
  for (const f of DOC_CLAIMS)
    if ((f in d) !== (f in want) || (f in d && !jsonEqual(d[f], want[f])))
      refuse("verdict_mismatch", `the verdict's glassbox.document.${f} is ` +
        "not this document's: it is about another document",
      "glassbox.document." + f);
  const res = g["glassbox.result_sha256"];
  if (result !== null && result !== undefined) {
    if (res !== bytesToHex(await sha256(result)))
      refuse("verdict_mismatch", `the verdict is ${res === undefined ?
        "about no result" : "about another result"}`,
      "glassbox.result_sha256");
  } else if (res !== undefined) {
    refuse("verdict_mismatch", "the verdict is about a result, and none " +
      "was given", "glassbox.result_sha256");
  }
  if (nonce !== null && nonce !== undefined &&
      claims.eat_nonce !== String(nonce).toLowerCase())
    refuse("verdict_mismatch", `the verdict is ${claims.eat_nonce ===
      undefined ? "about no nonce" : "about another nonce"}`, "eat_nonce");

  // 4. Its time.
  if (now > claims.exp)
    refuse("verdict_expired", `the verdict expired at ${claims.exp}, ` +
      `before ${now}`);
  if (claims.iat > now + VERDICT_MAX_SKEW_S)
    refuse("verdict_expired", `the verdict was signed at ${claims.iat}, ` +
      `more than ${VERDICT_MAX_SKEW_S} s after now (${now})`);

  // 5. The receipt: the release is in the log, at the signed checkpoint.
  const rel = g["glassbox.release"], cpc = g["glassbox.checkpoint"];
  if (g["ear.status"] === "affirming" || rel !== null) {
    const fail = (what) => refuse("bad_proof", what);
    if (rel === null)
      fail("the verdict affirms but names no release");
    if (cpc === null)
      fail("the verdict names a release but no checkpoint");
    if (tlogProof === null || tlogProof === undefined)
      fail("no tlog-proof was given for the release the verdict names");
    let p, cp;
    try {
      p = parseTlogProof(tlogProof);
    } catch (e) {
      fail(e.message);
    }
    try {
      cp = await openCheckpoint(p.checkpoint, key);
    } catch (e) {
      fail("the tlog-proof's checkpoint is not signed by the pinned log " +
        "key: " + e.message);
    }
    if (cp.origin !== cpc.origin || cp.size !== BigInt(cpc.size) ||
        bytesToHex(cp.root) !== cpc.root)
      fail("the tlog-proof's checkpoint is not the one the verdict names");
    if (p.index !== BigInt(rel.index))
      fail("the tlog-proof's index is not the release's");
    const hash = await leafHash(p.extra);
    let leaf;
    try {
      leaf = strictJson(utf8.decode(p.extra));
    } catch {
      leaf = null;
    }
    const r = isObj(leaf) ? leaf.release : null;
    if (!isObj(leaf) || leaf.type !== "release_published" || !isObj(r) ||
        !isObj(r.pcrs) || Object.keys(r.pcrs).length === 0)
      fail("the logged entry is not a release_published leaf");
    if (!jsonEqual(r.name, rel.name) || !jsonEqual(r.version, rel.version))
      fail("the logged entry is another release (name or version)");
    if (bytesToHex(hash.slice(0, 8)) !== rel.id)
      fail("the logged entry's id is not the release's");
    if (doc === null)
      fail("the document cannot be read to compare its PCRs");
    // A release of an instance image says kind "nitrotpm"; one of an
    // enclave image has no kind. Only a document of that kind matches.
    if ((r.kind !== undefined && r.kind !== "nitrotpm") ||
        (r.kind !== undefined) !== (doc.kind === "nitrotpm"))
      fail("the release describes another kind of image than the " +
        "document's (an enclave's, or an instance's)");
    for (const [k, v] of Object.entries(r.pcrs)) {
      if (!/^(0|[1-9][0-9]?)$/.test(k) || Number(k) >= PCR_MAX_COUNT ||
          typeof v !== "string" || !/^([0-9a-fA-F]{2}){1,64}$/.test(v))
        fail("the release declares a PCR that cannot be read");
      if (!doc.pcrs[k] || bytesToHex(doc.pcrs[k]) !== v.toLowerCase())
        fail("a PCR the release declares differs from the document's");
    }
    try {
      await verifyInclusion(p.index, cp.size, hash, p.hashes, cp.root);
    } catch {
      fail("the inclusion proof does not lead to the checkpoint's root");
    }
    // Last of step 5: the checkpoint under the client's policy.
    if (pol !== null) {
      let q;
      try {
        q = await checkPolicy(pol, p.checkpoint, now);
      } catch {
        fail("the tlog-proof's checkpoint cannot be read under the policy");
      }
      if (report !== null)
        report.quorum = q;
      if (!q.logSigned)
        fail("the tlog-proof's checkpoint is not signed by a log the " +
          "policy lists");
      if (q.bad)
        fail("a witness's cosignature on the tlog-proof's checkpoint does " +
          "not verify, or is dated after now");
      if (!q.quorum) {
        const got = q.witnesses.filter((w) => w.state === "verified")
          .map((w) => w.name).join(", ");
        refuse("below_quorum", "the tlog-proof's checkpoint is not " +
          `cosigned by the policy's quorum (${q.quorumName}): cosigned by ` +
          (got || "no witness"));
      }
    }
  }

  // 6. The question asked: "now" and "document" as words, a time by the
  // ms the checks were evaluated at (the verdict keeps the text as it was
  // written). A question about a time needs the freshness checked.
  const word = g["glassbox.at"];
  const kind = word === "now" || word === "document" ? word : "time";
  const names = { now: "now", document: "document", time: "a time" };
  if (kind !== asked.kind)
    refuse("verdict_mismatch", "the verdict answers another question: at " +
      `${names[kind]}, not at ${names[asked.kind]}`, "glassbox.at");
  if (kind === "time" && g["glassbox.at_ms"] !== asked.ms)
    refuse("verdict_mismatch", "the verdict was evaluated at another time " +
      `than the ${asked.ms} ms asked`, "glassbox.at");
  if (asked.kind !== "document" && !isObj(g["glassbox.freshness"]))
    refuse("verdict_mismatch", "the verdict checked no freshness, and the " +
      "question was about a time, not the document's own",
    "glassbox.freshness");

  // 7. The verdict itself.
  if (g["ear.status"] !== "affirming") {
    const e = new VerdictError(g["glassbox.reason"], g["glassbox.message"]);
    e.signed = true;     // every check passed: the refusal is the verdict's
    e.claims = claims;
    throw e;
  }
  return claims;
}
