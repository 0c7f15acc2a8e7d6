#!/usr/bin/env node
// Runs a verdict checker over shared case folders (docs/verdict.md, "Shared
// test cases") and says where it disagrees with expect.json.
//
// usage: run_cases.mjs CASES_DIR [-- COMMAND ARGS...]
// COMMAND defaults to this folder's check_verdict.mjs (web/check.js); give
// e.g. `-- build/cli/glassbox check-verdict` for the C tool. Exit 0 when
// every case agrees, 1 when one does not, 2 on usage errors.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const cut = args.indexOf("--");
const dir = args[0];
if (!dir || (cut !== -1 && cut !== 1) || (cut === -1 && args.length !== 1)) {
  console.error("usage: run_cases.mjs CASES_DIR [-- COMMAND ARGS...]");
  process.exit(2);
}
const cmd = cut === -1 ? [process.execPath, path.join(path.dirname(
  fileURLToPath(import.meta.url)), "check_verdict.mjs")] : args.slice(2);
if (cmd.length === 0) {
  console.error("run_cases: no command after --");
  process.exit(2);
}

let agree = 0, differ = 0;
const names = fs.readdirSync(dir).filter((n) => fs.statSync(
  path.join(dir, n)).isDirectory()).sort();
for (const name of names) {
  const c = path.join(dir, name);
  const has = (f) => fs.existsSync(path.join(c, f));
  const read = (f) => fs.readFileSync(path.join(c, f), "utf8").trim();
  const want = JSON.parse(read("expect.json"));
  const argv = ["--verdict-key", path.join(c, "verdict_key.json"),
    "--log-key", path.join(c, "log.vkey"), "--json"];
  if (has("result.bin"))
    argv.push("--result", path.join(c, "result.bin"));
  if (has("nonce.txt"))
    argv.push("--nonce", read("nonce.txt"));
  if (has("now.txt"))
    argv.push("--now", read("now.txt"));
  if (has("at.txt"))
    argv.push("--at", read("at.txt"));
  if (has("policy.txt"))
    argv.push("--policy", path.join(c, "policy.txt"));
  argv.push(path.join(c, "answer.json"), path.join(c, "doc.cbor"));
  const r = spawnSync(cmd[0], [...cmd.slice(1), ...argv],
    { encoding: "utf8" });
  let out = null;
  try {
    out = JSON.parse(r.stdout);
  } catch { /* compared as null */ }
  const got = { exit: r.status, reason: out ? out.reason ?? null : null,
    claim: out ? out.claim ?? null : null };
  if (got.exit === want.exit && got.reason === (want.reason ?? null) &&
      got.claim === (want.claim ?? null)) {
    agree++;
  } else {
    differ++;
    console.log(`DIFFERS ${name}: want ${JSON.stringify(want)}, got ` +
      `${JSON.stringify(got)} ${(r.stderr || "").trim().split("\n")[0]}`);
  }
}
console.log(`${agree} cases agree, ${differ} differ (${names.length} in ` +
  `${dir})`);
process.exit(differ === 0 && names.length > 0 ? 0 : 1);
