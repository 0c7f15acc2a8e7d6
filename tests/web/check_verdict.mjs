#!/usr/bin/env node
// check_verdict.mjs: web/check.js's verifyVerdict() as a command, with the
// interface and exit codes of `glassbox check-verdict`, so that both can be
// run over the same cases (docs/verdict.md).
import fs from "node:fs";
import { parseArgs } from "node:util";
import { CheckError, VerdictError, parseAt, parsePolicy, policyName,
  verifyVerdict } from "../../web/check.js";

const USAGE = `usage: check_verdict.mjs --verdict-key JWK_FILE
       --log-key VKEY_FILE [--policy FILE] [--proof FILE] [--result FILE]
       [--nonce HEX]
       [--at now|document|MS|RFC3339] [--now UNIX_S] [--json] ANSWER DOC

Checks a verifier's signed verdict offline, as glassbox check-verdict does.
  ANSWER  the JSON answer of POST /api/v1/verify (verdict, tlog_proof), or
          a file holding the bare compact JWS (then give --proof)
  DOC     the document: raw CBOR, or base64 or hex text
  --verdict-key  the verifier's JWK, or its /.well-known/glassbox JSON
  --log-key      the log's note verifier key, or the /.well-known/glassbox JSON
  --policy       a C2SP tlog-policy: the receipt's checkpoint must be
                 cosigned by its quorum (below_quorum)
  --proof        the tlog-proof (overrides the answer's tlog_proof)
  --result       the result the verdict is about
  --nonce        the nonce the verdict is about, hex
  --at           the time that was asked (default: now): a verdict about
                 another time is refused (verdict_mismatch, glassbox.at)
  --now          the time to check exp at, seconds since 1970 (default: now)
  --json         print the outcome as JSON
Exit 0: valid; 1: refused, with a reason code; 2: usage or I/O error.
`;
// Inputs larger than this are not verdicts, keys or documents.
const MAX_FILE_BYTES = 1 << 20;
const DOC_MAX_BYTES = 16384;   // GB_DOC_MAX_BYTES

class UsageError extends Error {}

function readFile(file, what) {
  let st;
  try {
    st = fs.statSync(file);
    if (!st.isFile())
      throw new Error("not a file");
    if (st.size > MAX_FILE_BYTES)
      throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
    return fs.readFileSync(file);
  } catch (e) {
    throw new UsageError(`${what} ${file}: ${e.message}`);
  }
}

function jsonOf(buf) {
  try {
    return JSON.parse(buf.toString("utf8"));
  } catch {
    return undefined;
  }
}

// The document as the verifier got it: decoded as glassbox verify decodes
// it (gb_doc_decode_input(): raw CBOR, first byte 0x84 or 0xd2, kept; else
// hex; else base64 text), or else its bytes as they are (the CBOR form of
// a verify request takes any bytes).
function documentBytes(buf) {
  const raw = new Uint8Array(buf);
  if (buf.length > 0 && (buf[0] === 0x84 || buf[0] === 0xd2))
    return raw;
  const t = buf.toString("latin1").replace(/\s+/g, "");
  let out = null;
  if (/^([0-9a-fA-F]{2})+$/.test(t))
    out = Buffer.from(t, "hex");
  else if (/^[A-Za-z0-9+/]+={0,2}$/.test(t) && (t.length % 4 === 0 ||
      !t.includes("=")) && t.length % 4 !== 1)
    out = Buffer.from(t, "base64");
  return out === null || out.length > DOC_MAX_BYTES ? raw :
    new Uint8Array(out);
}

async function main() {
  let opts;
  try {
    opts = parseArgs({ allowPositionals: true, options: {
      "verdict-key": { type: "string" }, "log-key": { type: "string" },
      proof: { type: "string" }, result: { type: "string" },
      nonce: { type: "string" }, now: { type: "string" },
      at: { type: "string" }, policy: { type: "string" },
      json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    } });
  } catch (e) {
    throw new UsageError(e.message);
  }
  const o = opts.values;
  if (o.help) {
    process.stdout.write(USAGE.replace("check_verdict.mjs",
      "check_verdict.mjs (glassbox check-verdict)"));
    return 0;
  }
  if (opts.positionals.length !== 2 || !o["verdict-key"] || !o["log-key"])
    throw new UsageError("give --verdict-key, --log-key, ANSWER and DOC");
  const [answerFile, docFile] = opts.positionals;
  if (o.nonce !== undefined && !/^([0-9a-fA-F]{2}){1,1024}$/.test(o.nonce))
    throw new UsageError("bad --nonce (want hex, at most 1024 bytes)");
  if (o.now !== undefined && !/^(0|[1-9][0-9]{0,15})$/.test(o.now))
    throw new UsageError("bad --now (want seconds since 1970)");
  const at = o.at ?? "now";
  if (parseAt(at) === null)
    throw new UsageError("bad --at (want now, document, ms since 1970 or " +
      "RFC 3339)");

  const jwkIn = jsonOf(readFile(o["verdict-key"], "verdict key"));
  const jwk = jwkIn && jwkIn.verdict_key !== undefined ? jwkIn.verdict_key :
    jwkIn;
  if (!jwk || typeof jwk !== "object" || jwk.kty === undefined)
    throw new UsageError(`verdict key ${o["verdict-key"]}: not an Ed25519 ` +
      "JWK nor /.well-known/glassbox with one");
  const vkeyBuf = readFile(o["log-key"], "log key");
  const vkeyJson = jsonOf(vkeyBuf);
  const vkey = vkeyJson && typeof vkeyJson.log_key === "string" ?
    vkeyJson.log_key : vkeyBuf.toString("utf8").trim();

  const answerBuf = readFile(answerFile, "answer");
  const answerText = answerBuf.toString("utf8").trim();
  let jws, proof = null;
  if (answerText.startsWith("{")) {
    const a = jsonOf(answerBuf);
    if (!a || typeof a !== "object")
      throw new UsageError(`answer ${answerFile}: not JSON`);
    jws = a.verdict;
    proof = typeof a.tlog_proof === "string" ? a.tlog_proof : null;
  } else {
    jws = answerText;
  }
  if (o.proof !== undefined)
    proof = readFile(o.proof, "proof").toString("utf8");
  // A file saved with `jq -r` or an editor may end in a second newline,
  // which is no part of the note.
  if (proof !== null)
    proof = proof.replace(/\n\n+$/, "\n");
  const doc = documentBytes(readFile(docFile, "document"));
  const result = o.result !== undefined ?
    new Uint8Array(readFile(o.result, "result")) : null;
  const now = o.now !== undefined ? Number(o.now) :
    Math.floor(Date.now() / 1000);

  let policy = null;
  if (o.policy !== undefined) {
    try {
      policy = await parsePolicy(new Uint8Array(readFile(o.policy,
        "policy")));
    } catch (e) {
      throw new UsageError(`${o.policy}: ${e.message}`);
    }
  }
  // As glassbox check-verdict --json prints it: null, or {met, rule,
  // witnesses: [{name, state, time}]}.
  const report = {};
  const quorum = () => (report.quorum ? { met: report.quorum.quorum,
    rule: policyName(report.quorum.quorumName), witnesses:
      report.quorum.witnesses.map((w) => ({ name: policyName(w.name),
        state: w.state, time: w.time })) } : null);
  let claims;
  try {
    claims = await verifyVerdict({ jws, tlogProof: proof, document: doc,
      result, nonce: o.nonce ?? null, verdictKey: jwk, logKey: vkey, now,
      at, policy, report });
  } catch (e) {
    if (!(e instanceof VerdictError)) {
      if (e instanceof CheckError)
        throw new UsageError("keys: " + e.message);
      throw e;
    }
    if (o.json)
      console.log(JSON.stringify({ valid: false, reason: e.reason,
        claim: e.claim, message: e.message, claims: e.claims,
        quorum: quorum() }));
    else
      console.log(`refused: ${e.reason}${e.claim ? " (" + e.claim + ")" :
        ""}: ${e.message}`);
    return 1;
  }
  const g = claims.submods.glassbox, rel = g["glassbox.release"];
  if (o.json)
    console.log(JSON.stringify({ valid: true, reason: null, claim: null,
      message: g["glassbox.message"], claims, quorum: quorum() }));
  else
    console.log(`valid: ${rel.name} ${rel.version} (release ${rel.id}, ` +
      `log entry ${rel.index}): ${g["glassbox.message"]}`);
  return 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error("check_verdict: " + (e instanceof UsageError ? e.message :
    e.stack));
  if (e instanceof UsageError)
    console.error(USAGE);
  process.exit(2);
});
