// Verdicts and tlog-proofs made by the tests themselves, with node:crypto
// only (nothing from web/check.js, the code under test): an Ed25519 verdict
// key and its JWK, a signed-note log key, an RFC 9162 tree over real leaves,
// its checkpoints and inclusion proofs, and the C2SP tlog-proof text
// (docs/verdict.md). test_check.mjs and the lying proxy of test_web.mjs
// build their cases from these.
import crypto from "node:crypto";

export const sha256 = (b) => crypto.createHash("sha256").update(b).digest();
export const b64url = (b) => Buffer.from(b).toString("base64url");

// An Ed25519 key pair from a 32-byte seed (PKCS #8 wrapping of RFC 8410).
export function ed25519FromSeed(seed) {
  const priv = crypto.createPrivateKey({ format: "der", type: "pkcs8",
    key: Buffer.concat([Buffer.from("302e020100300506032b657004220420",
      "hex"), seed]) });
  const pub = crypto.createPublicKey(priv).export({ format: "der",
    type: "spki" }).subarray(-32);
  return { priv, pub };
}

// The verdict key: sign(claims) gives the compact JWS the verifier would.
export function verdictKey(seed = crypto.randomBytes(32)) {
  const { priv, pub } = ed25519FromSeed(seed);
  const kid = sha256(pub).subarray(0, 8).toString("hex");
  const jwk = { kty: "OKP", crv: "Ed25519", x: b64url(pub), kid,
    alg: "EdDSA" };
  // Sorted keys and no white space, as docs/verdict.md says.
  const canon = (v) => Array.isArray(v) ? `[${v.map(canon).join(",")}]` :
    v !== null && typeof v === "object" ? `{${Object.keys(v).sort()
      .filter((k) => v[k] !== undefined)
      .map((k) => JSON.stringify(k) + ":" + canon(v[k])).join(",")}}` :
      JSON.stringify(v);
  function sign(claims, header = { alg: "EdDSA", kid, typ: "JWT" }) {
    const input = b64url(canon(header)) + "." + b64url(canon(claims));
    return input + "." + b64url(crypto.sign(null, Buffer.from(input), priv));
  }
  // Any header and claims text, signed as they are.
  function signRaw(headerText, claimsText) {
    const input = b64url(headerText) + "." + b64url(claimsText);
    return input + "." + b64url(crypto.sign(null, Buffer.from(input), priv));
  }
  return { jwk, kid, sign, signRaw };
}

// A signed-note log key: vkey text, and signCheckpoint(origin, size, root).
export function logKey(name, seed = crypto.randomBytes(32)) {
  const { priv, pub } = ed25519FromSeed(seed);
  const raw = Buffer.concat([Buffer.of(1), pub]);
  const id = sha256(Buffer.concat([Buffer.from(name + "\n"), raw]))
    .subarray(0, 4);
  const vkey = `${name}+${id.toString("hex")}+${raw.toString("base64")}`;
  function signNote(text) {
    const sig = crypto.sign(null, Buffer.from(text), priv);
    return `${text}\n\u2014 ${name} ${Buffer.concat([id, sig])
      .toString("base64")}\n`;
  }
  const signCheckpoint = (size, root, origin = name) =>
    signNote(`${origin}\n${size}\n${Buffer.from(root).toString("base64")}\n`);
  return { name, vkey, signNote, signCheckpoint };
}

// RFC 9162 2.1.1: the tree hash of leaf hashes, and 2.1.3.1: the inclusion
// path of leaf m.
const node = (l, r) => sha256(Buffer.concat([Buffer.of(1), l, r]));
export const leafHash = (entry) => sha256(Buffer.concat([Buffer.of(0),
  Buffer.from(entry)]));
const split = (n) => {
  let k = 1;
  while (k * 2 < n)
    k *= 2;
  return k;
};
export function treeRoot(hashes) {
  if (hashes.length === 0)
    return sha256(Buffer.alloc(0));
  if (hashes.length === 1)
    return hashes[0];
  const k = split(hashes.length);
  return node(treeRoot(hashes.slice(0, k)), treeRoot(hashes.slice(k)));
}
export function inclusionPath(m, hashes) {
  if (hashes.length <= 1)
    return [];
  const k = split(hashes.length);
  return m < k ? [...inclusionPath(m, hashes.slice(0, k)),
    treeRoot(hashes.slice(k))] : [...inclusionPath(m - k, hashes.slice(k)),
    treeRoot(hashes.slice(0, k))];
}

// c2sp.org/tlog-proof@v1 with the entry as its extra data.
export function tlogProof({ entry, index, path, note }) {
  return "c2sp.org/tlog-proof@v1\n" +
    (entry === null ? "" : `extra ${Buffer.from(entry).toString("base64")}\n`) +
    `index ${index}\n` +
    path.map((h) => Buffer.from(h).toString("base64") + "\n").join("") +
    "\n" + note;
}

// A log over the given entries (strings), signed by key at its full size:
// proof(i) is entry i's tlog-proof against that checkpoint.
export function makeLog(key, entries) {
  const hashes = entries.map(leafHash);
  const root = treeRoot(hashes);
  const note = key.signCheckpoint(entries.length, root);
  return {
    entries, hashes, root, note, size: entries.length,
    id: (i) => hashes[i].subarray(0, 8).toString("hex"),
    proof: (i, over = {}) => tlogProof({ entry: entries[i], index: i,
      path: inclusionPath(i, hashes), note, ...over }),
  };
}

// The document claims of a vector from ../shared/vectors/aws-nitro's
// manifest (not from parsing the document: independent of check.js).
export function documentClaims(bytes, v) {
  const opt = (hex) => (hex === undefined || hex === null || hex === "None" ?
    null : hex);
  const hashed = (hex) => (opt(hex) === null ? null :
    sha256(Buffer.from(hex, "hex")).toString("hex"));
  // An EC2 instance's NitroTPM document: its kind and its registers under
  // their own name; an enclave's claim has no kind.
  const regs = v.pcr_key === "nitrotpm_pcrs" ?
    { kind: "nitrotpm", nitrotpm_pcrs: v.pcrs } : { pcrs: v.pcrs };
  return {
    sha256: sha256(bytes).toString("hex"), module_id: v.module_id,
    timestamp: Number(v.timestamp_ms), digest: v.digest, ...regs,
    public_key_sha256: hashed(v.public_key_hex),
    user_data_sha256: hashed(v.user_data_hex), nonce: opt(v.nonce_hex),
  };
}

// The claims of a verdict, docs/verdict.md's table; sub changes (or, with
// undefined, drops) claims of the glassbox submodule, top of the top level.
export function claims({ doc, release, checkpoint, status = "affirming",
  reason = "ok", iat, ttl = 300, nonce, resultSha, at = "document",
  atMs = null, top = {}, sub = {} }) {
  const g = {
    "ear.status": status, "glassbox.reason": reason,
    "glassbox.message": reason === "ok" ? "trusted" : "refused: " + reason,
    "glassbox.at": at, "glassbox.at_ms": atMs ?? doc.timestamp ?? null,
    // The verifier's defaults (max-age 600 s, skew 60 s); none at
    // "document".
    "glassbox.freshness": at === "document" ? null :
      { max_age_ms: 600000, skew_ms: 60000 },
    "glassbox.document": doc, "glassbox.release": release ?? null,
    "glassbox.checkpoint": checkpoint ?? null,
  };
  if (resultSha !== undefined)
    g["glassbox.result_sha256"] = resultSha;
  Object.assign(g, sub);
  const c = {
    eat_profile: "tag:github.com,2023:veraison/ear", iat, exp: iat + ttl,
    "ear.verifier-id": { developer: "glassbox",
      build: "glassbox-verifier test" },
    submods: { glassbox: g },
  };
  if (nonce !== undefined)
    c.eat_nonce = nonce;
  return { ...c, ...top };
}
