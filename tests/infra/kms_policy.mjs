// What a Glassbox KMS key policy may allow, checked on the policy as KMS
// reads it (IAM JSON: the one `glassbox kms-policy` prints, the one AWS
// hands back, or infra/terraform's policy document rendered by
// check_terraform.mjs).
//
// The rule (issue 15, item 7): only the PCR-conditioned statements (one
// per release of the rollover window, issue 17) may let anyone decrypt. Every action pattern of every other Allow statement is
// expanded, with IAM's matching (case-insensitive, `*` any run of
// characters, `?` one character), against the KMS actions that decrypt or
// lead to decryption without touching the policy; any match is a back
// door. kms:PutKeyPolicy also leads there, but someone must be able to
// change the policy for a new release: it is allowed only to the
// administration statement, and docs/deploy.md says how to guard it.
//
// usage as a program: node kms_policy.mjs POLICY_JSON [RELEASES]
//   RELEASES: how many releases the policy admits (default 1); prints one
//   FAIL line per finding and "N passed, M failed".
// or: node kms_policy.mjs --admits POLICY_JSON PRINCIPAL ACTION PCRS|none
//   prints "allow" or "deny" (admits() below).
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { check, finish } from "../harness.mjs";

// The KMS actions that decrypt, or obtain decryption for their caller or
// anyone it names, under the current policy.
export const DECRYPTING = [
  "kms:Decrypt",                      // the plaintext itself
  "kms:ReEncryptFrom",                // into a key the caller controls
  "kms:ReEncryptTo",
  "kms:GenerateDataKey",              // data keys under this key: their
  "kms:GenerateDataKeyWithoutPlaintext", // plaintext, or ciphertexts
  "kms:GenerateDataKeyPair",          // only this key should open
  "kms:GenerateDataKeyPairWithoutPlaintext",
  "kms:CreateGrant",                  // a grant can carry Decrypt, no PCRs
  "kms:ReplicateKey",                 // a replica with a policy of its own
  "kms:ImportKeyMaterial",            // key material someone knows
];

// Changes the policy itself: allowed to the administration statement only.
export const POLICY_WRITERS = ["kms:PutKeyPolicy"];

export const ADMIN_SID = "KeyAdministrationWithoutDecrypt";
const PCR_KEY = /^kms:RecipientAttestation:PCR(\d+)$/i;

const list = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

// IAM's action matching: case-insensitive, * and ? wildcards.
export function actionMatches(pattern, action) {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${re}$`, "i").test(action);
}

// Whether a statement allows `action`: by Action patterns, or by not
// matching any NotAction pattern.
export function allows(st, action) {
  if (st.NotAction !== undefined)
    return !list(st.NotAction).some((p) => actionMatches(p, action));
  return list(st.Action).some((p) => actionMatches(p, action));
}

// What a release's statement may allow: decrypt, and data keys for a
// sealed key; with the PCR condition, both only to a Recipient attestation.
export const PCR_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"];

// A PCR-conditioned statement: Allow of kms:Decrypt (and perhaps
// kms:GenerateDataKey), to a named principal (not "*"), under
// StringEqualsIgnoreCase on PCR0, PCR1, PCR2, each key with ONE value: IAM
// ORs the values of a key, so two values per key would admit a mix of two
// releases' PCRs. Releases side by side are separate statements (ORed).
export function isPcrStatement(st) {
  const acts = list(st.Action);
  const cond = st.Condition?.StringEqualsIgnoreCase || {};
  const pcrs = Object.keys(cond).map((k) => k.match(PCR_KEY)?.[1]).filter(
    (x) => x !== undefined);
  const principals = list(st.Principal?.AWS);
  return st.Effect === "Allow" && st.NotAction === undefined &&
    acts.includes("kms:Decrypt") && acts.every((a) => PCR_ACTIONS.includes(a)) &&
    principals.length > 0 && !principals.includes("*") &&
    st.Principal !== "*" && ["0", "1", "2"].every((n) => pcrs.includes(n)) &&
    Object.keys(cond).length === pcrs.length &&
    Object.values(cond).every((v) => list(v).length === 1) &&
    st.Condition !== undefined && Object.keys(st.Condition).length === 1;
}

// Every way the policy lets someone decrypt outside the PCR-conditioned
// statement: [{sid, action, by}], empty when there is none.
export function backDoors(policy) {
  const found = [];
  for (const [i, st] of list(policy.Statement).entries()) {
    if (st.Effect !== "Allow" || isPcrStatement(st))
      continue;
    const sid = st.Sid ?? `#${i}`;
    const allowed = [...DECRYPTING, ...(sid === ADMIN_SID ? [] : POLICY_WRITERS)];
    for (const action of allowed)
      if (allows(st, action))
        found.push({ sid, action, by: st.NotAction !== undefined ?
          { NotAction: st.NotAction } : list(st.Action).filter((p) =>
            actionMatches(p, action)) });
  }
  return found;
}

// The checks test_infra.sh and check_terraform.mjs make of one policy.
export function checkPolicy(label, policy, releases = 1) {
  const sts = list(policy.Statement);
  const pcr = sts.filter(isPcrStatement);
  check(`${label}: one PCR-conditioned Decrypt statement per release`,
    pcr.length === releases, pcr.length);
  const sets = pcr.map((st) => JSON.stringify(Object.entries(
    st.Condition.StringEqualsIgnoreCase).map(([k, v]) => [k.toUpperCase(),
    String(list(v)[0]).toLowerCase()]).sort()));
  check(`${label}: no two statements admit the same PCRs`,
    new Set(sets).size === sets.length, sets);
  const doors = backDoors(policy);
  check(`${label}: no other statement decrypts or leads to decryption`,
    doors.length === 0, doors);
  const admin = sts.find((s) => s.Sid === ADMIN_SID);
  check(`${label}: the administration statement names its actions (no wildcard)`,
    admin !== undefined && admin.NotAction === undefined &&
    list(admin.Action).every((a) => !/[*?]/.test(a)), admin?.Action);
}

// How KMS decides a request under this policy, as far as these policies
// go (IAM's documented evaluation: an Allow statement applies when its
// principal and action match and every condition operator holds; within
// an operator every key must hold (AND), a key holds when the request's
// value equals any of the listed values (OR); a key absent from the
// request does not hold). pcrs: {"0": hex, ...} from the Recipient's
// attestation, or null for a request without a Recipient. No Deny
// statements are evaluated: these policies have none.
export function admits(policy, principal, action, pcrs) {
  const ctx = {};
  for (const [k, v] of Object.entries(pcrs ?? {}))
    ctx[`kms:recipientattestation:pcr${k}`] = v;
  return list(policy.Statement).some((st) => {
    if (st.Effect !== "Allow" || !allows(st, action))
      return false;
    const who = st.Principal === "*" ? ["*"] : list(st.Principal?.AWS);
    if (!who.includes("*") && !who.includes(principal))
      return false;
    for (const [op, keys] of Object.entries(st.Condition ?? {})) {
      if (op !== "StringEqualsIgnoreCase")
        return false;           // not modelled: never assume it holds
      for (const [k, vals] of Object.entries(keys)) {
        const have = ctx[k.toLowerCase()];
        if (have === undefined || !list(vals).some((v) =>
          String(v).toLowerCase() === String(have).toLowerCase()))
          return false;
      }
    }
    return true;
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === "--admits") {
    // node kms_policy.mjs --admits POLICY PRINCIPAL ACTION PCRS_JSON|none
    const [file, who, action, pcrs] = process.argv.slice(3);
    console.log(admits(JSON.parse(fs.readFileSync(file, "utf8")), who, action,
      pcrs === "none" ? null : JSON.parse(pcrs)) ? "allow" : "deny");
    process.exit(0);
  }
  checkPolicy(process.argv[2], JSON.parse(fs.readFileSync(process.argv[2], "utf8")),
    Number(process.argv[3] ?? 1));
  finish();
}
