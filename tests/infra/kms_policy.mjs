// What a Glassbox KMS key policy may allow, checked on the policy as KMS
// reads it (IAM JSON: the one `glassbox kms-policy` prints, the one AWS
// hands back, or infra/terraform's policy document rendered by
// check_terraform.mjs).
//
// The rule (issue 15, item 7): only the PCR-conditioned statement may let
// anyone decrypt. Every action pattern of every other Allow statement is
// expanded, with IAM's matching (case-insensitive, `*` any run of
// characters, `?` one character), against the KMS actions that decrypt or
// lead to decryption without touching the policy; any match is a back
// door. kms:PutKeyPolicy also leads there, but someone must be able to
// change the policy for a new release: it is allowed only to the
// administration statement, and docs/deploy.md says how to guard it.
//
// usage as a program: node kms_policy.mjs POLICY_JSON
//   prints one FAIL line per finding and "N passed, M failed".
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

// The PCR-conditioned statement: Allow of kms:Decrypt alone, to a named
// principal (not "*"), under StringEqualsIgnoreCase on PCR0, PCR1, PCR2.
export function isPcrStatement(st) {
  const acts = list(st.Action);
  const cond = st.Condition?.StringEqualsIgnoreCase || {};
  const pcrs = Object.keys(cond).map((k) => k.match(PCR_KEY)?.[1]).filter(
    (x) => x !== undefined);
  const principals = list(st.Principal?.AWS);
  return st.Effect === "Allow" && st.NotAction === undefined &&
    acts.length === 1 && acts[0] === "kms:Decrypt" &&
    principals.length > 0 && !principals.includes("*") &&
    st.Principal !== "*" && ["0", "1", "2"].every((n) => pcrs.includes(n)) &&
    Object.keys(st.Condition).length === 1;
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
export function checkPolicy(label, policy) {
  const sts = list(policy.Statement);
  const pcr = sts.filter(isPcrStatement);
  check(`${label}: exactly one PCR-conditioned Decrypt statement`,
    pcr.length === 1, pcr.length);
  const doors = backDoors(policy);
  check(`${label}: no other statement decrypts or leads to decryption`,
    doors.length === 0, doors);
  const admin = sts.find((s) => s.Sid === ADMIN_SID);
  check(`${label}: the administration statement names its actions (no wildcard)`,
    admin !== undefined && admin.NotAction === undefined &&
    list(admin.Action).every((a) => !/[*?]/.test(a)), admin?.Action);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  checkPolicy(process.argv[2], JSON.parse(fs.readFileSync(process.argv[2], "utf8")));
  finish();
}
