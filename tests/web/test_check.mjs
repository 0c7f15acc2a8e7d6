// The page's own checks (web/check.js), run in Node's WebCrypto against
// ../shared/vectors: the RFC 9162 reference tree, the 196 transparency-dev
// probes, the exhaustive proofs of trees 1..20, and the C2SP signed-note
// vectors. The page trusts these functions to catch a lying server.
//
// usage: node test_check.mjs VECTORS_DIR
import fs from "node:fs";
import path from "node:path";
import {
  bytesToHex, hexToBytes, openNote, parseCheckpoint, parseVerifierKey,
  verifyConsistency, verifyInclusion,
} from "../../web/check.js";
import { check, finish } from "../harness.mjs";

const V = process.argv[2];
if (!V) {
  console.error("usage: test_check.mjs VECTORS_DIR");
  process.exit(2);
}
const load = (f) => JSON.parse(fs.readFileSync(path.join(V, f), "utf8"));
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

finish();
