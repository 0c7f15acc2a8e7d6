// The checks an auditor runs in the browser, with WebCrypto only: signed
// notes (C2SP signed-note, Ed25519), checkpoints (C2SP tlog-checkpoint) and
// RFC 9162 inclusion and consistency proofs. Nothing here trusts the server:
// every function takes the bytes and answers true or throws CheckError.

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

export async function leafHash(data) {
  return sha256(concat(Uint8Array.of(0), enc.encode(data)));
}

async function nodeHash(l, r) {
  return sha256(concat(Uint8Array.of(1), l, r));
}

const lsb = (n) => (n & 1n) === 1n;

function hashes(proof) {
  const out = proof.map(hexToBytes);
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

// A compact JWS with alg EdDSA, checked with an Ed25519 JWK's x.
export async function verifyJws(jws, jwk) {
  const parts = jws.split(".");
  if (parts.length !== 3)
    throw new CheckError("the verdict is not a compact JWS");
  const head = JSON.parse(new TextDecoder().decode(b64ToBytes(parts[0])));
  if (head.alg !== "EdDSA" || head.kid !== jwk.kid)
    throw new CheckError("the verdict names another key or algorithm");
  if (!(await ed25519Verify(b64ToBytes(jwk.x), b64ToBytes(parts[2]),
    enc.encode(parts[0] + "." + parts[1]))))
    throw new CheckError("the verdict's signature does not verify");
  return JSON.parse(new TextDecoder().decode(b64ToBytes(parts[1])));
}
