// The page's own checks (web/check.js), run in Node's WebCrypto against
// ../shared/vectors: the RFC 9162 reference tree, the 196 transparency-dev
// probes, the exhaustive proofs of trees 1..20, and the C2SP signed-note
// vectors. The page trusts these functions to catch a lying server.
//
// usage: node test_check.mjs VECTORS_DIR
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  VerdictError, bytesToHex, cborDecode, checkTlogProof, hexToBytes, openNote,
  parseCheckpoint, parseDocument, parseTlogProof, parseVerifierKey,
  verifyConsistency, verifyInclusion, verifyVerdict,
} from "../../web/check.js";
import { check, finish } from "../harness.mjs";
import * as fx from "./verdict_fixture.mjs";

const V = process.argv[2];
if (!V) {
  console.error("usage: test_check.mjs VECTORS_DIR");
  process.exit(2);
}
const load = (f) => JSON.parse(fs.readFileSync(path.join(V, f), "utf8"));
function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
async function accepts(fn) {
  try {
    return await fn() === true;
  } catch {
    return false;
  }
}

// Every inclusion and consistency proof of the trees of 1..20 leaves.
const ex = load("merkle/generated-exhaustive-1-20.json");
const root = (n) => hexToBytes(ex.roots_by_size[String(n)]);
let ok = 0;
for (const p of ex.inclusion_proofs)
  ok += await accepts(() => verifyInclusion(p.leaf_index, p.tree_size,
    hexToBytes(p.leaf_hash), p.proof, root(p.tree_size))) ? 1 : 0;
check("exhaustive inclusion proofs", ok === ex.inclusion_proofs.length,
  `${ok}/${ex.inclusion_proofs.length}`);
ok = 0;
for (const p of ex.consistency_proofs)
  ok += await accepts(() => verifyConsistency(p.size1, p.size2, root(p.size1),
    root(p.size2), p.proof)) ? 1 : 0;
check("exhaustive consistency proofs", ok === ex.consistency_proofs.length,
  `${ok}/${ex.consistency_proofs.length}`);

// A flipped bit anywhere makes every non-trivial proof fail.
let caught = 0, tried = 0;
for (const p of ex.inclusion_proofs.filter((p) => p.proof.length > 0)) {
  const bad = [...p.proof];
  const b = hexToBytes(bad[0]);
  b[5] ^= 0x10;
  bad[0] = bytesToHex(b);
  tried++;
  caught += await accepts(() => verifyInclusion(p.leaf_index, p.tree_size,
    hexToBytes(p.leaf_hash), bad, root(p.tree_size))) ? 0 : 1;
}
check("altered inclusion proofs are refused", caught === tried,
  `${caught}/${tried}`);
caught = 0;
tried = 0;
for (const p of ex.consistency_proofs.filter((p) => p.size1 < p.size2)) {
  for (const which of [1, 2]) {
    const r1 = root(p.size1), r2 = root(p.size2);
    (which === 1 ? r1 : r2)[7] ^= 0x01;
    tried++;
    caught += await accepts(() => verifyConsistency(p.size1, p.size2, r1, r2,
      p.proof)) ? 0 : 1;
  }
}
check("consistency against a changed root is refused", caught === tried,
  `${caught}/${tried}`);

// transparency-dev/merkle's probes, positive and negative.
for (const [file, run] of [
  ["merkle/inclusion-probes.hex.json", (p) => verifyInclusion(
    BigInt.asUintN(64, BigInt(String(p.leafIdx))), p.treeSize,
    hexToBytes(p.leafHash), p.proof, hexToBytes(p.root))],
  ["merkle/consistency-probes.hex.json", (p) => verifyConsistency(p.size1,
    p.size2, hexToBytes(p.root1), hexToBytes(p.root2), p.proof)],
]) {
  const probes = load(file).probes;
  let agree = 0;
  const wrong = [];
  for (const p of probes) {
    const got = await accepts(() => run(p));
    if (got === !p.wantErr)
      agree++;
    else
      wrong.push(p.file);
  }
  check(`${file}: every verdict`, agree === probes.length,
    `${agree}/${probes.length} ${wrong.join(" ")}`);
}

// The reference tree of RFC 6962 (8 leaves, given in hex).
const ref = load("merkle/rfc6962-reference-tree.json");
const refRoot = (n) => hexToBytes(ref.roots_by_size[String(n)]);
const refLeaf = async (i) => new Uint8Array(await crypto.subtle.digest(
  "SHA-256", Uint8Array.from([0, ...hexToBytes(ref.leaves[i])])));
ok = 0;
for (const p of ref.inclusion_proofs)
  ok += await accepts(async () => verifyInclusion(p.leaf_index, p.tree_size,
    await refLeaf(p.leaf_index), p.proof, refRoot(p.tree_size))) ? 1 : 0;
check("reference tree: inclusion", ok === ref.inclusion_proofs.length &&
  ok === 5, `${ok}/${ref.inclusion_proofs.length}`);
ok = 0;
for (const p of ref.consistency_proofs)
  ok += await accepts(() => verifyConsistency(p.size1, p.size2,
    refRoot(p.size1), refRoot(p.size2), p.proof)) ? 1 : 0;
check("reference tree: consistency", ok === ref.consistency_proofs.length,
  `${ok}/${ref.consistency_proofs.length}`);

// Signed notes.
const notes = load("signed-note/notes.json");
for (const v of notes.valid) {
  const key = await parseVerifierKey(v.vkey);
  check(`note key ${v.vkey.split("+")[0]}`, bytesToHex(key.id) === v.key_id);
  let text = null;
  try {
    text = await openNote(v.note, key);
  } catch (e) {
    text = e.message;
  }
  check(`note by ${key.name} opens`, text === v.text, text);
}
const pn = await parseVerifierKey(notes.valid.find((v) =>
  v.vkey.startsWith("PeterNeumann")).vkey);
for (const c of notes.malformed_notes_must_reject.cases)
  check(`malformed note refused: ${c.desc}`, !await accepts(async () =>
    typeof await openNote(c.note, pn) === "string"));
const first = notes.valid[0];
const k0 = await parseVerifierKey(first.vkey);
const flipped = first.note.replace("example message", "example massage");
check("a changed text is refused", !await accepts(async () =>
  typeof await openNote(flipped, k0) === "string"));
check("a note without the key's signature is refused", !await accepts(
  async () => typeof await openNote(notes.valid[1].note, k0) === "string"));
check("a vkey with a wrong hash is refused", !await accepts(async () =>
  (await parseVerifierKey(first.vkey.replace("+530d903a+", "+530d903b+")),
  true)));
const cp = parseCheckpoint(notes.checkpoint_examples_unverifiable
  .checkpoint.split("\n\n")[0] + "\n");
check("checkpoint parsed", cp.origin === "example.com/behind-the-sofa" &&
  cp.size === 20852163n && cp.root.length === 32);

await verdictTests();
finish();

// --- verifyVerdict (docs/verdict.md) ---------------------------------------

// What verifyVerdict says: "ok", or the reason and claim of its refusal.
async function outcome(args) {
  try {
    await verifyVerdict(args);
    return "ok";
  } catch (e) {
    if (!(e instanceof VerdictError))
      return "threw " + e.message;
    return e.reason + (e.claim ? " " + e.claim : "");
  }
}

async function verdictTests() {
  const nitro = path.join(V, "aws-nitro");
  const manifest = load("aws-nitro/vectors.json").vectors;
  const vec = (f) => manifest.find((v) => v.file === f);
  const bytes = (f) => new Uint8Array(fs.readFileSync(path.join(nitro, f)));

  // The CBOR reader against every vector: the fields the manifest lists.
  let agree = 0, valid = 0;
  for (const v of manifest.filter((v) => v.expected === "valid")) {
    valid++;
    try {
      const d = parseDocument(bytes(v.file));
      const pcrs = Object.fromEntries(Object.entries(d.pcrs)
        .map(([k, x]) => [k, bytesToHex(x)]));
      if (d.module_id === v.module_id && String(d.timestamp) ===
          String(v.timestamp_ms) && JSON.stringify(pcrs) ===
          JSON.stringify(v.pcrs))
        agree++;
    } catch { /* counted as a disagreement */ }
  }
  check("parseDocument: every valid vector's fields", agree === valid &&
    valid > 20, `${agree}/${valid}`);
  for (const v of manifest.filter((v) => /malformed/.test(v.expected)))
    check(`parseDocument refuses ${v.file}`, !await accepts(() =>
      (parseDocument(bytes(v.file)), true)));
  // The real NitroTPM (EC2 instance) documents: nitrotpm_pcrs for pcrs.
  const tpmVectors = manifest.filter((v) => v.pcr_key === "nitrotpm_pcrs");
  check("three NitroTPM vectors", tpmVectors.length === 3);
  for (const v of tpmVectors) {
    let d = null;
    try {
      d = parseDocument(bytes(v.file));
    } catch { /* refused: a failure below */ }
    const regs = d && Object.fromEntries(Object.entries(d.pcrs)
      .map(([k, x]) => [k, bytesToHex(x)]));
    check(`parseDocument reads NitroTPM ${v.file}`, d !== null &&
      d.kind === "nitrotpm" && JSON.stringify(regs) === JSON.stringify(v.pcrs),
      d && d.kind);
  }
  // Edits of one, as tests/unit/test_vectors.c makes them: each refused,
  // so that the claim either checker builds is the same (sha256 only).
  {
    const d = bytes(tpmVectors[0].file);
    const plen = d[8] << 8 | d[9];
    const payload = d.slice(10, 10 + plen);
    const tail = d.slice(10 + plen);
    const key = new TextEncoder().encode("\x6dnitrotpm_pcrs");
    let at = -1;
    for (let i = 0; at < 0 && i + key.length <= payload.length; i++)
      if (key.every((b, j) => payload[i + j] === b))
        at = i + key.length;
    const rebuilt = (p) => concatBytes(d.slice(0, 7),
      new Uint8Array([0x59, p.length >> 8, p.length & 0xff]), p, tail);
    const edit = (from, cut, ins) => rebuilt(concatBytes(
      payload.slice(0, from), ins, payload.slice(from + cut)));
    const parses = (b) => {
      try {
        parseDocument(b);
        return true;
      } catch {
        return false;
      }
    };
    check("NitroTPM: the splice is faithful", at > 0 &&
      parses(edit(0, 0, new Uint8Array(0))));
    const head = payload.slice(at, at + 2);
    check("NitroTPM: a map of 24", head[0] === 0xb8 && head[1] === 24);
    const fewer = concatBytes(new Uint8Array([0xb8, 23]),
      payload.slice(at + 2, at + 2 + 23 * 51));
    check("NitroTPM: 23 registers refused", !parses(edit(at, 2 + 24 * 51,
      fewer)));
    const short = concatBytes(new Uint8Array([0x00, 0x58, 0x20]),
      payload.slice(at + 5, at + 5 + 32));
    check("NitroTPM: a 32-byte register refused", !parses(edit(at + 2, 51,
      short)));
    const both = concatBytes(new TextEncoder().encode("\x64pcrs"),
      new Uint8Array([0xa1, 0x00, 0x58, 0x30]), payload.slice(at + 5,
        at + 5 + 48));
    check("NitroTPM: pcrs beside nitrotpm_pcrs refused",
      !parses(edit(plen - 1, 0, both)));
    const renamed = edit(at - 1, 1, new TextEncoder().encode("z"));
    check("NitroTPM: no registers refused", !parses(renamed));
  }
  const cbor = (hex) => cborDecode(hexToBytes(hex));
  const cborRefused = (hex) => {
    try {
      cbor(hex);
      return false;
    } catch {
      return true;
    }
  };
  check("cbor: a definite and an indefinite map", cbor("a2016161026162")
    .get(2n) === "b" && cbor("bf0161610261 62ff".replace(/ /g, ""))
    .get(1n) === "a");
  check("cbor: trailing bytes refused", cborRefused("a0" + "00"));
  check("cbor: a duplicate key refused", cborRefused("a2016161016162"));
  check("cbor: truncated refused", cborRefused("5a00001000" + "00"));
  check("cbor: an array longer than the input refused",
    cborRefused("9bffffffffffffffff"));
  check("cbor: 17 levels refused, 16 read", cborRefused("81".repeat(17) +
    "00") && !cborRefused("81".repeat(16) + "00"));
  check("cbor: a float refused", cborRefused("f93c00"));
  check("cbor: another tag refused", cborRefused("c100"));
  check("cbor: invalid UTF-8 refused", cborRefused("62c328"));
  check("cbor: a break outside refused", cborRefused("ff"));
  check("cbor: an indefinite integer refused", cborRefused("1f"));
  check("cbor: a chunked string is not a plain one", !(cbor("5f4101ff")
    instanceof Uint8Array) && cborRefused("5f6161ff"));
  check("cbor: 65 pairs refused", cborRefused("b841" + Array.from({ length:
    65 }, (_, i) => (i < 24 ? i.toString(16).padStart(2, "0") :
    "18" + i.toString(16).padStart(2, "0")) + "00").join("")));

  // A log with real leaves, and verdicts about real documents.
  const A = "nitriding-20220804-prod.cbor", B = "marlin-20240303-prod.cbor";
  const docA = bytes(A), docB = bytes(B);
  const dA = fx.documentClaims(docA, vec(A));
  const vk = fx.verdictKey(), lk = fx.logKey("test.glassbox/log");
  const pcrsOf = (v) => ({ 0: v.pcrs["0"], 1: v.pcrs["1"], 2: v.pcrs["2"] });
  const rel = (name, version, pcrs, kind) => JSON.stringify({ type:
    "release_published", statement: "e30=", signature: "sig", signer:
    "f".repeat(40), time_ms: 1, release: { name, version, format: "v1",
    pcrs, ...(kind ? { kind } : {}) } });
  // A real NitroTPM (EC2 instance) document, and releases of both kinds
  // with registers equal to its own or to document A's.
  const TPM = "NEG-nitrotpm-20260201.cbor";
  const docT = bytes(TPM);
  const dT = fx.documentClaims(docT, vec(TPM));
  const regsOf = (v, ks) => Object.fromEntries(ks.map((k) => [k, v.pcrs[k]]));
  const entries = [
    JSON.stringify({ type: "key_added", fingerprint: "f".repeat(40) }),
    rel("enclave-a", "1.0", pcrsOf(vec(A))),
    rel("enclave-b", "2.0", pcrsOf(vec(B))),
    rel("enclave-a", "1.1", { ...pcrsOf(vec(A)), 1: "0".repeat(96) }),
    JSON.stringify({ type: "release_revoked", release: "0".repeat(16) }),
    rel("ami-t", "1.0", regsOf(vec(TPM), ["4", "7", "12"]), "nitrotpm"),
    rel("enclave-t", "1.0", regsOf(vec(TPM), ["4", "12"])),
    rel("ami-a", "1.0", regsOf(vec(A), ["4", "12"]), "nitrotpm"),
    rel("ami-x", "1.0", regsOf(vec(TPM), ["4", "12"]), "vm"),
  ];
  const log = fx.makeLog(lk, entries);
  const release = (i, over = {}) => ({ id: log.id(i), name:
    JSON.parse(entries[i]).release.name, version:
    JSON.parse(entries[i]).release.version, index: i, ...over });
  const checkpoint = { origin: lk.name, size: log.size,
    root: log.root.toString("hex") };
  const now = 1800000000, iat = now - 10;
  const result = new TextEncoder().encode("the enclave's result");
  const resultSha = fx.sha256(result).toString("hex"), nonce = "0a1b2c3d";
  const good = { doc: dA, release: release(1), checkpoint, iat, nonce,
    resultSha };
  // The fixture's verdicts answer "at the document's time".
  const base = { jws: vk.sign(fx.claims(good)), tlogProof: log.proof(1),
    document: docA, result, nonce, verdictKey: vk.jwk, logKey: lk.vkey,
    now, at: "document" };
  const run = (over = {}, claimsOver = null) => outcome({ ...base,
    ...(claimsOver ? { jws: vk.sign(fx.claims({ ...good, ...claimsOver }))
    } : {}), ...over });

  const got = await verifyVerdict(base);
  check("verdict: a good one passes", got.submods.glassbox[
    "glassbox.release"].index === 1, got);
  check("verdict: the proof alone checks", (await checkTlogProof(
    log.proof(1), lk.vkey)).index === 1n);

  // 3. About other inputs.
  const cases = [
    ["document B", { document: docB }, null,
      "verdict_mismatch glassbox.document.sha256"],
    ["another result", { result: new Uint8Array([1]) }, null,
      "verdict_mismatch glassbox.result_sha256"],
    ["no result for a verdict about one", { result: null }, null,
      "verdict_mismatch glassbox.result_sha256"],
    ["a result for a verdict about none", {}, { resultSha: undefined },
      "verdict_mismatch glassbox.result_sha256"],
    ["another nonce", { nonce: "0a1b2c3e" }, null,
      "verdict_mismatch eat_nonce"],
    ["a nonce, and a verdict without one", {}, { nonce: undefined },
      "verdict_mismatch eat_nonce"],
    ["the nonce in upper case", { nonce: "0A1B2C3D" }, null, "ok"],
    ["no nonce given: eat_nonce not compared", { nonce: null }, null, "ok"],
  ];
  for (const f of ["module_id", "timestamp", "digest", "pcrs",
    "public_key_sha256", "user_data_sha256", "nonce"]) {
    const alt = { module_id: "i-0000000000000000-enc0000000000000000",
      timestamp: dA.timestamp + 1, digest: "SHA256",
      pcrs: { ...dA.pcrs, 3: "11".repeat(48) },
      public_key_sha256: "00".repeat(32), user_data_sha256: null,
      nonce: null }[f];
    cases.push([`a signed ${f} that is not the document's`, {},
      { doc: { ...dA, [f]: alt } }, "verdict_mismatch glassbox.document." + f]);
  }
  const lessPcrs = { ...dA.pcrs };
  delete lessPcrs["15"];
  cases.push(["a PCR missing from the signed pcrs", {},
    { doc: { ...dA, pcrs: lessPcrs } },
    "verdict_mismatch glassbox.document.pcrs"]);

  // 1, 2. Form and signature.
  const [h, c, s] = base.jws.split(".");
  const sig = Buffer.from(s, "base64url");
  sig[10] ^= 1;
  const flipped = [h, c, fx.b64url(sig)].join(".");
  const otherKey = fx.verdictKey();
  const claimsBad = JSON.parse(Buffer.from(c, "base64url"));
  claimsBad.submods.glassbox["glassbox.reason"] = "ok";
  claimsBad.exp += 1000;
  cases.push(
    ["a flipped signature byte", { jws: flipped }, null,
      "bad_verdict_signature"],
    ["changed claims", { jws: [h, fx.b64url(JSON.stringify(claimsBad)), s]
      .join(".") }, null, "bad_verdict_signature"],
    ["signed by another key under our kid", { jws: otherKey.sign(
      fx.claims(good), { alg: "EdDSA", kid: vk.kid, typ: "JWT" }) }, null,
    "bad_verdict_signature"],
    ["another kid", { jws: otherKey.sign(fx.claims(good)) }, null,
      "bad_verdict"],
    ["alg none", { jws: vk.sign(fx.claims(good), { alg: "none",
      kid: vk.kid }) }, null, "bad_verdict"],
    ["two parts", { jws: h + "." + c }, null, "bad_verdict"],
    ["no verdict at all", { jws: null }, null, "bad_verdict"],
    ["padding in the signature", { jws: base.jws + "==" }, null,
      "bad_verdict"],
    ["a signature of 63 bytes", { jws: [h, c, fx.b64url(sig.subarray(1))]
      .join(".") }, null, "bad_verdict_signature"],
    ["another eat_profile", {}, { top: { eat_profile: "x" } }, "bad_verdict"],
    ["no exp", {}, { top: { exp: undefined } }, "bad_verdict"],
    ["affirming with a refusal's reason", {}, { reason: "revoked" },
      "bad_verdict"],
    ["affirming without document fields", {}, { doc: { sha256: dA.sha256 } },
      "verdict_mismatch glassbox.document.module_id"],
    ["exp before iat", {}, { ttl: -1, top: {} }, "bad_verdict"],
    ["an unknown reason code", {}, { status: "contraindicated",
      reason: "no_such_reason" }, "bad_verdict"],
    ["no glassbox.at", {}, { sub: { "glassbox.at": undefined } },
      "bad_verdict"],
    ["glassbox.at_ms not a number", {}, { sub: { "glassbox.at_ms": "1" } },
      "bad_verdict"],
    ["no glassbox.freshness", {}, { sub: { "glassbox.freshness": undefined } },
      "bad_verdict"],
    ["glassbox.freshness with a negative age", {}, { sub: {
      "glassbox.freshness": { max_age_ms: -1, skew_ms: 0 } } }, "bad_verdict"],
    ["glassbox.freshness without skew", {}, { sub: {
      "glassbox.freshness": { max_age_ms: 1 } } }, "bad_verdict"],
    ["a checkpoint of size 0", {}, { checkpoint: { ...checkpoint,
      size: 0 } }, "bad_verdict"],
    ["a release without its index", {}, { release: { ...release(1),
      index: undefined } }, "bad_verdict"],
    ["crit in the header", { jws: vk.sign(fx.claims(good), { alg: "EdDSA",
      kid: vk.kid, crit: ["x"] }) }, null, "bad_verdict"],
    ["a duplicate key in the claims", { jws: vk.signRaw(JSON.stringify({
      alg: "EdDSA", kid: vk.kid }), JSON.stringify(fx.claims(good))
      .replace(/^\{/, '{"iat":1,') ) }, null, "bad_verdict"],
    ["claims nested past 32 levels", { jws: vk.signRaw(JSON.stringify({
      alg: "EdDSA", kid: vk.kid }), JSON.stringify(fx.claims(good))
      .replace(/\}$/, ',"x":' + "[".repeat(40) + "]".repeat(40) + "}")) },
    null, "bad_verdict"],
    // The order of the checks: the signature before the inputs, the
    // inputs before the time.
    ["bad signature and document B", { jws: flipped, document: docB }, null,
      "bad_verdict_signature"],
    ["expired and document B", { document: docB, now: iat + 301 }, null,
      "verdict_mismatch glassbox.document.sha256"],
  );

  // 4. Time.
  cases.push(
    ["at exp", { now: iat + 300 }, null, "ok"],
    ["expired", { now: iat + 301 }, null, "verdict_expired"],
    ["signed in the future", { now: iat - 61 }, null, "verdict_expired"],
    ["signed within the allowed skew", { now: iat - 60 }, null, "ok"],
  );

  // 5. The receipt.
  const altPath = fx.inclusionPath(1, log.hashes).map((x) => Buffer.from(x));
  altPath[0][3] ^= 0x40;
  const otherLog = fx.makeLog(fx.logKey("test.glassbox/log"), entries);
  const resigned = fx.makeLog(lk, [...entries, entries[0]]);
  cases.push(
    ["an altered proof hash", { tlogProof: log.proof(1, { path: altPath }) },
      null, "bad_proof"],
    ["a proof of another index", { tlogProof: log.proof(2) }, null,
      "bad_proof"],
    ["a proof whose index line lies", { tlogProof: log.proof(1,
      { index: 2 }) }, null, "bad_proof"],
    ["a release claim with another index", {}, { release: release(1,
      { index: 2 }) }, "bad_proof"],
    ["a checkpoint signed by another key", { tlogProof: otherLog.proof(1) },
      null, "bad_proof"],
    ["a checkpoint of another size", { tlogProof: resigned.proof(1) }, null,
      "bad_proof"],
    ["an entry with other PCRs", { tlogProof: log.proof(3) },
      { release: release(3) }, "bad_proof"],
    ["a release whose id is not its leaf's", {}, { release: release(1,
      { id: log.id(2) }) }, "bad_proof"],
    ["a release of another name", {}, { release: release(1,
      { name: "enclave-b" }) }, "bad_proof"],
    ["an entry that is not a release", { tlogProof: log.proof(0) },
      { release: release(1, { index: 0, id: log.id(0) }) }, "bad_proof"],
    ["no tlog-proof", { tlogProof: null }, null, "bad_proof"],
    ["a tlog-proof without its entry", { tlogProof: log.proof(1,
      { entry: null }) }, null, "bad_proof"],
    ["a garbled tlog-proof", { tlogProof: "c2sp.org/tlog-proof@v1\nindex " +
      "x\n\n" + log.note }, null, "bad_proof"],
    ["a verdict without checkpoint", {}, { checkpoint: null }, "bad_proof"],
    ["a checkpoint claim with another root", {}, { checkpoint: { ...checkpoint,
      root: "00".repeat(32) } }, "bad_proof"],
    ["a checkpoint claim with another origin", {}, { checkpoint: {
      ...checkpoint, origin: "other.log" } }, "bad_proof"],
    ["affirming without a release", {}, { release: null }, "bad_proof"],
  );

  // 6. The question asked (--at): a verdict about another time is not an
  // answer to this one, and one about a time must say its freshness.
  const T = dA.timestamp + 5000, atT = { at: T, atMs: T };
  const iso = new Date(T).toISOString();
  const fresh = { "glassbox.freshness": { max_age_ms: 600000,
    skew_ms: 60000 } };
  cases.push(
    ["asked now (the default), answered at document", { at: undefined },
      null, "verdict_mismatch glassbox.at"],
    ["asked now, answered at document", { at: "now" }, null,
      "verdict_mismatch glassbox.at"],
    ["asked now, answered now", { at: "now" }, { at: "now", atMs: T }, "ok"],
    ["asked now, answered now without freshness", { at: "now" }, { at: "now",
      atMs: T, sub: { "glassbox.freshness": null } },
    "verdict_mismatch glassbox.freshness"],
    ["asked document, answered now", {}, { at: "now", atMs: T },
      "verdict_mismatch glassbox.at"],
    ["asked document, answered document with freshness", {}, { sub: fresh },
      "ok"],
    ["asked a time in ms, answered it", { at: String(T) }, atT, "ok"],
    ["asked a time in RFC 3339, answered it in ms", { at: iso }, atT, "ok"],
    ["asked a time in ms, answered it in RFC 3339", { at: String(T) },
      { at: iso, atMs: T }, "ok"],
    ["asked another time", { at: String(T + 1) }, atT,
      "verdict_mismatch glassbox.at"],
    ["asked a time, answered at document", { at: String(T) }, null,
      "verdict_mismatch glassbox.at"],
    ["asked document, answered a time", {}, atT,
      "verdict_mismatch glassbox.at"],
    ["asked a time, answered now", { at: String(T) }, { at: "now", atMs: T },
      "verdict_mismatch glassbox.at"],
    ["asked a time, answered it without freshness", { at: String(T) },
      { ...atT, sub: { "glassbox.freshness": null } },
    "verdict_mismatch glassbox.freshness"],
    // The question is checked after the receipt, before the verdict's
    // own status.
    ["another question and a bad proof: bad_proof first", { at: "now",
      tlogProof: log.proof(2) }, null, "bad_proof"],
    ["another question and expired: verdict_expired first", { at: "now",
      now: iat + 301 }, null, "verdict_expired"],
    ["another question, contraindicated: the question first", { at: "now" },
      { status: "contraindicated", reason: "revoked" },
    "verdict_mismatch glassbox.at"],
  );

  // 7. Refusals are the verdict's own.
  cases.push(
    ["contraindicated: revoked", {}, { status: "contraindicated",
      reason: "revoked" }, "revoked"],
    ["contraindicated with a bad proof: bad_proof first", { tlogProof:
      log.proof(2) }, { status: "contraindicated", reason: "revoked" },
    "bad_proof"],
  );
  // NitroTPM: the claim names the kind and its registers; a release of
  // the other kind never proves a verdict, whatever its registers.
  cases.push(
    ["enclave: a claim saying kind nitrotpm", {}, { doc: { ...dA,
      kind: "nitrotpm" } }, "verdict_mismatch glassbox.document.kind"],
    ["enclave: an instance release's entry", { tlogProof: log.proof(7) },
      { release: release(7) }, "bad_proof"],
  );
  const goodT = { doc: dT, release: release(5), checkpoint, iat };
  const baseT = { ...base, jws: vk.sign(fx.claims(goodT)),
    tlogProof: log.proof(5), document: docT, result: null, nonce: null };
  const { kind: _k, nitrotpm_pcrs: regsT, ...restT } = dT;
  const changedT = { ...regsT, 12: "11".repeat(48) };
  const tpmCases = [
    ["nitrotpm: a good one", {}, null, "ok"],
    ["nitrotpm: a claim without kind", {}, { doc: { ...dT,
      kind: undefined } }, "verdict_mismatch glassbox.document.kind"],
    ["nitrotpm: registers claimed as pcrs", {}, { doc: { ...restT,
      pcrs: regsT } }, "verdict_mismatch glassbox.document.kind"],
    ["nitrotpm: a register changed in the claim", {}, { doc: { ...dT,
      nitrotpm_pcrs: changedT } },
    "verdict_mismatch glassbox.document.nitrotpm_pcrs"],
    ["nitrotpm: an enclave release's entry", { tlogProof: log.proof(6) },
      { release: release(6) }, "bad_proof"],
    ["nitrotpm: a release of an unknown kind", { tlogProof: log.proof(8) },
      { release: release(8) }, "bad_proof"],
    ["nitrotpm: another document", { document: docA }, null,
      "verdict_mismatch glassbox.document.sha256"],
  ];
  const caseDir = fs.mkdtempSync(path.join(os.tmpdir(), "glassbox-cases-"));
  for (const [name, over, claimsOver, want] of cases) {
    const gotC = await run(over, claimsOver);
    check(`verdict: ${name} -> ${want}`, gotC === want, gotC);
    writeCase(caseDir, name, { ...base, ...(claimsOver ? { jws: vk.sign(
      fx.claims({ ...good, ...claimsOver })) } : {}), ...over }, want);
  }
  for (const [name, over, claimsOver, want] of tpmCases) {
    const a = { ...baseT, ...(claimsOver ? { jws: vk.sign(fx.claims({
      ...goodT, ...claimsOver })) } : {}), ...over };
    const gotT = await outcome(a);
    check(`verdict: ${name} -> ${want}`, gotT === want, gotT);
    writeCase(caseDir, name, a, want);
  }
  // The same cases as folders (docs/verdict.md, "Shared test cases"):
  // check_verdict.mjs agrees with them, and $GB_VERDICT_CASES gets a copy
  // for the C tool.
  const rc = spawnSync(process.execPath, [path.join(path.dirname(
    fileURLToPath(import.meta.url)), "run_cases.mjs"), caseDir],
  { encoding: "utf8" });
  check("check_verdict.mjs over the case folders", rc.status === 0 &&
    /^(\d+) cases agree, 0 differ/m.test(rc.stdout), rc.stdout + rc.stderr);
  if (process.env.GB_VERDICT_CASES)
    fs.cpSync(caseDir, path.join(process.env.GB_VERDICT_CASES, "web"),
      { recursive: true });
  fs.rmSync(caseDir, { recursive: true, force: true });
  const garbage = new TextEncoder().encode("garbage garbage");
  check("verdict: contraindicated malformed, no release", await outcome({
    ...base, document: garbage, result: null, nonce: null, tlogProof: null,
    jws: vk.sign(fx.claims({ doc: { sha256: fx.sha256(garbage)
      .toString("hex") }, iat, status: "contraindicated",
    reason: "malformed" })) }) === "malformed");
  check("verdict: a bad pinned key is not a verdict error", (await outcome({
    ...base, verdictKey: { ...vk.jwk, kid: "00".repeat(8) } }))
    .startsWith("threw") && (await outcome({ ...base, verdictKey: {
    ...vk.jwk, x: fx.b64url(Buffer.alloc(31)) } })).startsWith("threw"));
  const noKid = { ...vk.jwk };
  delete noKid.kid;
  check("verdict: a pinned JWK without kid is its own", await outcome({
    ...base, verdictKey: noKid }) === "ok");

  // The tlog-proof parser's own refusals.
  const refused = (t) => {
    try {
      parseTlogProof(t);
      return false;
    } catch {
      return true;
    }
  };
  const pf = log.proof(1);
  check("tlog-proof: a leading zero in the index refused", refused(
    pf.replace("index 1", "index 01")));
  check("tlog-proof: a hash without its padding refused", refused(
    pf.replace(/^([A-Za-z0-9+/]{43})=$/m, "$1")));
  check("tlog-proof: hashes of 31 and 33 bytes refused", refused(
    pf.replace(/^([A-Za-z0-9+/]{40})[A-Za-z0-9+/]{3}=$/m, "$1AA==")) &&
    refused(pf.replace(/^([A-Za-z0-9+/]{43})=$/m, "$1A")) &&
    !refused(pf.replace(/^([A-Za-z0-9+/]{40})[A-Za-z0-9+/]{3}=$/m,
      "$1AAA=")));
  check("tlog-proof: no extra line refused", refused(pf.replace(
    /^extra .*\n/m, "")));
  check("tlog-proof: nothing after the blank line refused", refused(
    pf.slice(0, pf.indexOf("\n\n") + 2)));
  check("tlog-proof: another header refused", refused(pf.replace("@v1",
    "@v2")));
  check("tlog-proof: no blank line refused", refused(pf.split("\n\n")[0]));

  await cliTests({ vk, lk, log, base, docA, docB, result, nonce, now, good });
}

// One case as a folder of docs/verdict.md's layout.
function writeCase(dir, name, a, want) {
  const c = path.join(dir, name.replace(/[^A-Za-z0-9]+/g, "-"));
  fs.mkdirSync(c);
  const w = (f, data) => fs.writeFileSync(path.join(c, f), data);
  w("answer.json", JSON.stringify({ verdict: a.jws ?? null,
    tlog_proof: a.tlogProof ?? null }));
  w("doc.cbor", a.document);
  if (a.result)
    w("result.bin", a.result);
  if (a.nonce)
    w("nonce.txt", a.nonce + "\n");
  w("verdict_key.json", JSON.stringify(a.verdictKey));
  w("log.vkey", a.logKey + "\n");
  w("now.txt", a.now + "\n");
  if (a.at !== undefined)
    w("at.txt", a.at + "\n");
  const [reason, claim] = want.split(" ");
  w("expect.json", JSON.stringify(reason === "ok" ?
    { exit: 0, reason: null, claim: null } :
    { exit: 1, reason, claim: claim ?? null }));
}

// check_verdict.mjs: the same interface and exit codes as
// glassbox check-verdict.
async function cliTests({ vk, lk, log, base, docA, docB, result, nonce, now,
  good }) {
  const tool = path.join(path.dirname(fileURLToPath(import.meta.url)),
    "check_verdict.mjs");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "glassbox-cv-"));
  const f = (name, data) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, data);
    return p;
  };
  const jwk = f("jwk.json", JSON.stringify(vk.jwk));
  const wk = f("well-known.json", JSON.stringify({ verdict_key: vk.jwk,
    log_key: lk.vkey }));
  const vkey = f("log.vkey", lk.vkey + "\n");
  const answer = f("answer.json", JSON.stringify({ trusted: true,
    verdict: base.jws, tlog_proof: log.proof(1) }));
  const jws = f("verdict.jws", base.jws + "\n");
  const proof = f("proof.tlog-proof", log.proof(1));
  const doc = f("doc.cbor", docA), docHex = f("doc.hex",
    Buffer.from(docA).toString("hex") + "\n");
  const docB64 = f("doc.b64", Buffer.from(docA).toString("base64"));
  const docBf = f("docB.cbor", docB), res = f("result.bin", result);
  const cv = (...args) => {
    const r = spawnSync(process.execPath, [tool, ...args], { encoding:
      "utf8" });
    let json = null;
    try {
      json = JSON.parse(r.stdout);
    } catch { /* not JSON */ }
    return { code: r.status, json, out: r.stdout + r.stderr };
  };
  const common = ["--result", res, "--nonce", nonce, "--now", String(now),
    "--at", "document"];
  let r = cv("--verdict-key", jwk, "--log-key", vkey, ...common, "--json",
    answer, doc);
  check("cli: a good answer exits 0", r.code === 0 && r.json &&
    r.json.valid === true && r.json.reason === null && r.json.claim ===
    null && r.json.claims.submods.glassbox["glassbox.reason"] === "ok",
  r.out);
  r = cv("--verdict-key", wk, "--log-key", wk, ...common, "--proof", proof,
    jws, docHex);
  check("cli: .well-known keys, a bare JWS, a hex document", r.code === 0,
    r.out);
  r = cv("--verdict-key", jwk, "--log-key", vkey, ...common, answer, docB64);
  check("cli: a base64 document", r.code === 0, r.out);
  r = cv("--verdict-key", jwk, "--log-key", vkey, ...common, "--json",
    answer, docBf);
  check("cli: document B exits 1, naming the claim", r.code === 1 &&
    r.json && r.json.valid === false && r.json.reason ===
    "verdict_mismatch" && r.json.claim === "glassbox.document.sha256" &&
    typeof r.json.message === "string" && r.json.claims !== null, r.out);
  r = cv("--verdict-key", jwk, "--log-key", vkey, "--result", res,
    "--nonce", nonce, "--now", String(now), "--json", answer, doc);
  check("cli: without --at, now: a verdict at document is refused",
    r.code === 1 && r.json.reason === "verdict_mismatch" &&
    r.json.claim === "glassbox.at", r.out);
  r = cv("--verdict-key", jwk, "--log-key", vkey, ...common, "--at", "soon",
    answer, doc);
  check("cli: a bad --at is a usage error", r.code === 2 &&
    /bad --at/.test(r.out), r.out);
  r = cv("--verdict-key", jwk, "--log-key", vkey, "--result", res,
    "--nonce", nonce, "--at", "document", "--json", answer, doc);
  check("cli: without --now, today's clock (the verdict is of 2027)",
    r.code === 1 &&
    r.json.reason === "verdict_expired" && r.json.claim === null, r.out);
  r = cv("--verdict-key", jwk, "--log-key", vkey, ...common, "--json",
    jws, doc);
  check("cli: a bare JWS without --proof: bad_proof", r.code === 1 &&
    r.json.reason === "bad_proof", r.out);
  r = cv("--verdict-key", jwk, "--log-key", vkey, ...common,
    "--nonce", "zz", answer, doc);
  check("cli: a bad --nonce is a usage error", r.code === 2, r.out);
  r = cv("--verdict-key", jwk, "--log-key", vkey, answer);
  check("cli: a missing operand is a usage error", r.code === 2, r.out);
  r = cv("--verdict-key", path.join(dir, "none"), "--log-key", vkey, answer,
    doc);
  check("cli: an unreadable key file exits 2", r.code === 2, r.out);
  r = cv("--verdict-key", vkey, "--log-key", vkey, answer, doc);
  check("cli: a key file that is no JWK exits 2", r.code === 2, r.out);
  r = cv("--help");
  check("cli: --help exits 0", r.code === 0 && /check-verdict/.test(r.out));
  fs.rmSync(dir, { recursive: true, force: true });
  void good;
}
