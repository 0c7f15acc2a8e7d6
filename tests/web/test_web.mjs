// Browser tests of the auditor page: Debian's chromium, headless, driven by
// playwright-core, against glassbox-verifier on 127.0.0.1 with a registry
// seeded here with real gpg keys and the CLI. Proxies in front of the
// verifier lie (a wrong checkpoint, unsigned or mis-signed verdicts, release
// lists and statuses that contradict the log, a changed key) to show that
// the page catches every lie.
//
// The verdicts the page checks are minted by the proxy (the "minting" proxy
// re-signs the real verifier's answers, in docs/verdict.md's claim set, with
// a verdict key of this test, and adds the tlog-proof built from the real
// log): they do not depend on the verifier emitting the new claims. One
// check ("real verifier's own verdict") does, and says which it saw.
//
// usage: node test_web.mjs GLASSBOX VERIFIER VECTORS_DIR ARTIFACTS_DIR
// Screenshots of every view (desktop and phone width) go to ARTIFACTS_DIR.

import { execFileSync, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { check, counts, finish } from "../harness.mjs";
import * as fx from "./verdict_fixture.mjs";

const [GB, VERIFIER, VECTORS, ARTIFACTS] = process.argv.slice(2);
if (!ARTIFACTS) {
  console.error("usage: test_web.mjs GLASSBOX VERIFIER VECTORS_DIR ARTIFACTS_DIR");
  process.exit(2);
}
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "glassbox-web-"));
const DB = path.join(TMP, "reg.db");
const env = { ...process.env, GNUPGHOME: path.join(TMP, "gnupg") };
fs.mkdirSync(env.GNUPGHOME, { mode: 0o700 });
fs.mkdirSync(ARTIFACTS, { recursive: true });


function run(cmd, ...args) {
  try {
    return execFileSync(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] })
      .toString();
  } catch (e) {
    throw new Error(`${cmd} ${args.join(" ")}: ${e.stderr}`);
  }
}
const gpg = (...args) => run("gpg", "--batch", "--yes", ...args);
const reg = (...args) => run(GB, "registry", "--db", DB, ...args);

function signed(name, obj, uid = "rm@example.com") {
  const file = path.join(TMP, name);
  fs.writeFileSync(file, JSON.stringify(obj));
  gpg("--armor", "--local-user", uid, "--detach-sign", file);
  return [file, file + ".asc"];
}

function publish(name, version, pcrs) {
  reg("publish", ...signed(`${name.replace(/\W/g, "_")}-${version}.json`,
    { version, pcrs, docker_image: { name, tag: "x", digest: "sha256:0" } }));
}

const hex96 = (c) => c.repeat(96);

// --- the registry ---------------------------------------------------------
for (const uid of ["rm@example.com", "old@example.com"])
  gpg("--passphrase", "", "--quick-gen-key", `Test <${uid}>`, "ed25519",
    "sign", "1y");
for (const uid of ["rm", "old"])
  fs.writeFileSync(path.join(TMP, uid + ".asc"),
    gpg("--armor", "--export", `${uid}@example.com`));
reg("init", "--origin", "web.glassbox.test/log");
reg("key", "add", path.join(TMP, "rm.asc"));
reg("key", "add", path.join(TMP, "old.asc"));

const manifest = JSON.parse(fs.readFileSync(path.join(VECTORS, "aws-nitro",
  "vectors.json")));
const real = manifest.vectors.find((v) => v.expected === "valid" &&
  !/^0+$/.test(v.pcrs["0"]));
const realDoc = fs.readFileSync(path.join(VECTORS, "aws-nitro", real.file));
const otherDoc = fs.readFileSync(path.join(VECTORS, "aws-nitro",
  manifest.vectors.find((v) => v.expected === "valid" && v !== real &&
    v.pcrs["0"] !== real.pcrs["0"]).file));
publish("real-enclave", "1", { 0: real.pcrs["0"], 1: real.pcrs["1"],
  2: real.pcrs["2"] });
publish("payments", "1.0", { 0: hex96("a"), 1: hex96("b"), 2: hex96("c") });
publish("payments", "1.1", { 0: hex96("d"), 1: hex96("e"), 2: hex96("f") });
// Names are printable ASCII without spaces: enough for markup.
const EVIL = "<script>window.pwned=1</script><img/src=x/onerror=alert(1)>";
publish(EVIL, "6.6.6", { 0: hex96("1"), 1: hex96("2"), 2: hex96("3") });
reg("revoke", ...signed("revoke.json", { action: "revoke",
  origin: "web.glassbox.test/log", pcr0: hex96("a"),
  reason: "CVE in 1.0" }));
const oldFpr = JSON.parse(run(GB, "registry", "--db", DB, "--json", "key",
  "list")).find((k) => k.index === 1).fingerprint;
reg("key", "revoke", oldFpr, "--reason", "left the team");
const SIZE = 8;   // 2 keys, 4 releases, 1 revocation, 1 key revocation

// --- the verifier, and a proxy that can lie about the checkpoint ----------
function startVerifier() {
  const p = spawn(VERIFIER, ["--db", DB, "--listen", "127.0.0.1:0",
    "--threads", "4"], { env, stdio: ["ignore", "pipe", "pipe"] });
  const log = fs.createWriteStream(path.join(TMP, "verifier.log"));
  p.stderr.pipe(log);
  return new Promise((resolve, reject) => {
    p.stdout.once("data", (d) => {
      const m = /listening on (http:\/\/\S+?)\/?$/m.exec(d.toString());
      m ? resolve({ p, url: m[1] }) : reject(new Error("verifier: " + d));
    });
    p.once("exit", (c) => reject(new Error("verifier exited " + c)));
  });
}

// PRIVATE+KEY+name+hash+base64(0x01 || seed); the base64 may hold '+'.
const skey = fs.readFileSync(DB + ".key", "utf8").trim().split("+");
skey[4] = skey.slice(4).join("+");
const seed = Buffer.from(skey[4], "base64").subarray(1);
const logKey = crypto.createPrivateKey({ format: "der", type: "pkcs8",
  key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"),
    seed]) });

// A checkpoint with the root changed: signed by the real log key when
// resign is set (so only the proof can catch it), else the old signature.
function forge(note, resign) {
  const lines = note.split("\n");
  const root = Buffer.from(lines[2], "base64");
  root[0] ^= 1;
  lines[2] = root.toString("base64");
  const text = lines.slice(0, 3).join("\n") + "\n";
  if (!resign)
    return text + note.slice(note.indexOf("\n\n") + 1);
  const name = skey[2];
  const id = Buffer.from(skey[3], "hex");
  const sig = crypto.sign(null, Buffer.from(text), logKey);
  return `${text}\n\u2014 ${name} ${Buffer.concat([id, sig]).toString("base64")}\n`;
}

const collect = (stream) => new Promise((resolve, reject) => {
  const chunks = [];
  stream.on("data", (c) => chunks.push(c));
  stream.on("end", () => resolve(Buffer.concat(chunks)));
  stream.on("error", reject);
});

// A proxy in front of the verifier: rewrite({ url, method, reqBody, status,
// body }) may return another body (a string or Buffer) for any answer.
function startProxy(target, rewrite) {
  const srv = http.createServer(async (req, res) => {
    try {
      const reqBody = await collect(req);
      const ur = await new Promise((resolve, reject) => {
        const up = http.request(target + req.url, { method: req.method,
          headers: req.headers }, resolve);
        up.on("error", reject);
        up.end(reqBody);
      });
      let body = await collect(ur);
      const out = await rewrite({ url: req.url, method: req.method, reqBody,
        status: ur.statusCode, body });
      if (out !== undefined && out !== null)
        body = Buffer.from(out);
      res.writeHead(ur.statusCode, { ...ur.headers,
        "content-length": body.length });
      res.end(body);
    } catch (e) {
      problems.push("proxy: " + e.stack);
      res.writeHead(502);
      res.end();
    }
  });
  return new Promise((resolve) => srv.listen(0, "127.0.0.1", () =>
    resolve({ srv, url: `http://127.0.0.1:${srv.address().port}` })));
}

// Verify answers 503 not_ready until the log watch's first audit is done.
async function waitReady(url) {
  for (let i = 0; i < 600; i++) {      // bounded: 30 s
    const r = await fetch(url + "/readyz");
    if (r.status === 200 || !(await r.text()).includes("pending")) return;
    await new Promise((res) => setTimeout(res, 50));
  }
}

const problems = [];
const ver = await startVerifier();
await waitReady(ver.url);
const forging = (resign) => ({ url, body }) => (url ===
  "/api/v1/log/checkpoint" ? forge(body.toString(), resign) : undefined);
const proxyResigned = await startProxy(ver.url, forging(true));
const proxyUnsigned = await startProxy(ver.url, forging(false));

// --- the minting, lying proxy ----------------------------------------------
const K1 = fx.verdictKey(), K2 = fx.verdictKey();
const getJson = async (p) => (await fetch(ver.url + p)).json();
const sha = (b) => fx.sha256(b).toString("hex");

// The real verifier's answer, re-signed in docs/verdict.md's claim set with
// key, with its tlog-proof built from the real log.
async function mint(reqBody, answer, key, over = {}) {
  const asked = JSON.parse(reqBody.toString());
  const bytes = Buffer.from(asked.document, "base64");
  const d = answer.document;
  const hashed = (hex) => (hex === null ? null :
    sha(Buffer.from(hex, "hex")));
  // An instance's NitroTPM document: its kind and nitrotpm_pcrs, as the
  // verifier's claim has them (docs/verdict.md).
  const regs = d && d.kind === "nitrotpm" ?
    { kind: "nitrotpm", nitrotpm_pcrs: d.nitrotpm_pcrs } : { pcrs: d && d.pcrs };
  const doc = d ? { sha256: sha(bytes), module_id: d.module_id,
    timestamp: d.timestamp, digest: "SHA384", ...regs,
    public_key_sha256: hashed(d.public_key),
    user_data_sha256: hashed(d.user_data), nonce: d.nonce } :
    { sha256: sha(bytes) };
  const r = answer.release, p = answer.proof;
  const release = r ? { id: r.id, name: r.name, version: r.version,
    index: r.index } : null;
  const checkpoint = r && p ? { origin: p.checkpoint.note.split("\n")[0],
    size: p.checkpoint.size, root: p.checkpoint.root } : null;
  let tlog = null;
  if (r && p) {
    const e = (await getJson(`/api/v1/log/entries?start=${r.index}` +
      `&end=${r.index + 1}`)).entries[0];
    tlog = fx.tlogProof({ entry: e.data, index: r.index, path:
      p.inclusion.map((x) => Buffer.from(x, "hex")),
    note: p.checkpoint.note });
  }
  const claims = fx.claims({ doc, release, checkpoint,
    status: answer.trusted ? "affirming" : "contraindicated",
    reason: answer.reason, iat: Math.floor(Date.now() / 1000),
    at: answer.at, ...over });
  return { ...answer, verdict: key.sign(claims), tlog_proof: tlog };
}

// lie.mode says how the minting proxy lies; lie.key is the verdict key it
// publishes and signs with.
const lie = { mode: "none", key: K1 };
async function lying({ url, method, reqBody, body }) {
  if (url === "/.well-known/glassbox") {
    const w = JSON.parse(body);
    return JSON.stringify({ ...w, verdict_key: lie.key.jwk });
  }
  if (url === "/api/v1/verify" && method === "POST") {
    const real = JSON.parse(body);
    switch (lie.mode) {
    case "trusted-revoked": {
      // A verdict that says revoked, signed; a summary that says trusted.
      const a = await mint(reqBody, real, lie.key, {
        status: "contraindicated", reason: "revoked" });
      return JSON.stringify({ ...a, trusted: true, reason: "ok" });
    }
    case "bad-jws": {
      const a = await mint(reqBody, real, lie.key);
      const [h, c, sg] = a.verdict.split(".");
      const sig = Buffer.from(sg, "base64url");
      sig[0] ^= 0x80;
      return JSON.stringify({ ...a, verdict: [h, c, fx.b64url(sig)]
        .join(".") });
    }
    case "no-jws": {
      const a = await mint(reqBody, real, lie.key);
      delete a.verdict;
      return JSON.stringify(a);
    }
    case "other-document": {
      const other = JSON.stringify({ document: otherDoc.toString("base64"),
        at: "document" });
      const a = await mint(Buffer.from(other), real, lie.key);
      return JSON.stringify(a);
    }
    case "other-question":
      return JSON.stringify(await mint(reqBody, real, lie.key,
        { at: "now" }));
    default:
      return JSON.stringify(await mint(reqBody, real, lie.key));
    }
  }
  if (lie.mode === "revoked-null" && (url.startsWith("/api/v1/releases") ||
      url === "/api/v1/keys")) {
    const j = JSON.parse(body);
    for (const r of j.releases || j.keys || [j.release])
      r.revoked = null;
    return JSON.stringify(j);
  }
  if (lie.mode === "rewritten-list" && url.split("?")[0] === "/api/v1/releases") {
    const j = JSON.parse(body);
    const fake = { ...j.releases[0], id: "0123456789abcdef",
      name: "injected", version: "9.9", index: 3, revoked: null };
    j.releases = [...j.releases.filter((r) => r.name !== "payments"), fake];
    return JSON.stringify(j);
  }
  if (lie.mode === "hidden-revocation" &&
      url.startsWith("/api/v1/log/entries")) {
    // Entry 6 (the revocation) becomes a copy of entry 0, its parse too.
    const j = JSON.parse(body);
    const zero = (await getJson("/api/v1/log/entries?start=0&end=1"))
      .entries[0];
    j.entries = j.entries.map((e) => (e.index === 6 ? { ...zero, index: 6 } :
      e));
    return JSON.stringify(j);
  }
  return undefined;
}
const proxyLying = await startProxy(ver.url, lying);

// --- the browser ----------------------------------------------------------
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync"],
});
const external = [];
async function newPage(width, height) {
  const ctx = await browser.newContext({ viewport: { width, height } });
  const page = await ctx.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning")
      problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push("pageerror: " + e.message));
  page.on("dialog", (d) => {
    problems.push("dialog: " + d.message());
    d.dismiss();
  });
  page.on("request", (r) => {
    if (!r.url().startsWith("http://127.0.0.1:"))
      external.push(r.url());
  });
  return page;
}

async function open(page, base, hash) {
  await page.goto("about:blank");   // a fresh load, even for the same URL
  await page.goto(base + "/" + hash);
  await page.waitForSelector('main[aria-busy="false"]');
}
const text = (page, sel) => page.locator(sel).first().innerText();
const shot = (page, name) => page.screenshot({ fullPage: true,
  path: path.join(ARTIFACTS, name + ".png") });

const page = await newPage(1280, 900);
try {
  // The page and its headers.
  const res = await fetch(ver.url + "/");
  const html = await res.text();
  const csp = res.headers.get("content-security-policy") || "";
  check("GET / is the page", res.status === 200 &&
    res.headers.get("content-type").startsWith("text/html"));
  check("strict CSP", /script-src 'self'/.test(csp) &&
    /default-src 'none'/.test(csp) && !/unsafe-inline/.test(csp), csp);
  check("no inline script in the page", [...html.matchAll(/<script[^>]*>/g)]
    .every((m) => / src="\/[^"]+"/.test(m[0])));
  check("no inline style", !/ style=|<style/.test(html));
  check("unknown path is 404", (await fetch(ver.url + "/nothing")).status ===
    404);

  // Overview.
  await open(page, ver.url, "#/");
  check("overview: log size", await text(page, "#log-size") === String(SIZE));
  check("overview: checkpoint verified", (await page.locator(
    "[data-outcome=pass]").count()) >= 1);
  check("overview: root fingerprint", (await page.content()).includes(
    (await (await fetch(ver.url + "/.well-known/glassbox")).json())
      .root_sha256));
  await shot(page, "overview");

  // Releases, newest first; revoked marked; search by any PCR.
  await open(page, ver.url, "#/releases");
  const names = await page.locator("table.releases tbody tr td:first-child")
    .allInnerTexts();
  check("releases: 4, newest first", JSON.stringify(names) === JSON.stringify(
    [EVIL, "payments", "payments", "real-enclave"]), JSON.stringify(names));
  check("releases: revoked marked", (await page.locator(
    "table.releases .badge.bad").count()) === 1);
  check("releases: <script> name shown as text", names[0] === EVIL);
  check("releases: no script injected", await page.evaluate(() =>
    window.pwned === undefined && document.querySelectorAll(
      "main script, main img").length === 0));
  await shot(page, "releases");
  await page.fill("input[name=q]", hex96("e"));
  await page.click("form.search button");
  // The new view has replaced the list when the count speaks of a match.
  await page.waitForFunction(() => /match/.test((document.querySelector(
    "#release-count") || {}).textContent));
  const hits = await page.locator("table.releases tbody tr").allInnerTexts();
  check("search by PCR1", hits.length === 1 && hits[0].includes("1.1"),
    JSON.stringify(hits));
  await shot(page, "releases-search-pcr");
  await open(page, ver.url, "#/releases?q=PAY");
  check("search by name", (await page.locator("table.releases tbody tr")
    .count()) === 2);

  // A release: its inclusion proof checked in the browser.
  const rels = (await (await fetch(ver.url + "/api/v1/releases")).json())
    .releases;
  const r11 = rels.find((r) => r.version === "1.1");
  await open(page, ver.url, "#/release/" + r11.id);
  check("release: proof verified", (await page.locator(
    "[data-outcome=pass]").first().innerText()).includes("checkpoint of size 8"));
  check("release: PCRs shown", (await page.content()).includes(hex96("f")));
  check("release: armored signature shown", (await page.content()).includes(
    "BEGIN PGP SIGNATURE"));
  await shot(page, "release");
  const evil = rels.find((r) => r.version === "6.6.6");
  await open(page, ver.url, "#/release/" + evil.id);
  check("release: <script> name as text", (await text(page, "h1 .name")) ===
    EVIL && await page.evaluate(() => window.pwned === undefined));
  await shot(page, "release-script-name");

  // The same release through a server that serves a wrong checkpoint.
  const bad = await newPage(1280, 900);
  await open(bad, proxyResigned.url, "#/release/" + r11.id);
  const o1 = await bad.locator(".outcome").first();
  check("wrong root, good signature: proof fails",
    await o1.getAttribute("data-outcome") === "fail" &&
    (await o1.innerText()).includes("not to the checkpoint's root"),
    await o1.innerText());
  await shot(bad, "release-wrong-checkpoint");
  await open(bad, proxyUnsigned.url, "#/release/" + r11.id);
  const o2 = await bad.locator(".outcome").first();
  check("altered checkpoint: signature fails",
    await o2.getAttribute("data-outcome") === "fail" &&
    (await o2.innerText()).includes("signature does not verify"),
    await o2.innerText());
  await open(bad, proxyUnsigned.url, "#/entry/4");
  check("altered checkpoint: an entry is shown unverified", await bad.locator(
    ".outcome").first().getAttribute("data-outcome") === "fail" &&
    (await bad.content()).includes("release_published"));
  await open(bad, proxyUnsigned.url, "#/");
  check("altered checkpoint: overview says so", await bad.locator(
    ".outcome").first().getAttribute("data-outcome") === "fail");
  await bad.context().close();

  // Keys.
  await open(page, ver.url, "#/keys");
  check("keys: two, one revoked", (await page.locator("table.keys tbody tr")
    .count()) === 2 && (await page.locator("table.keys .badge.bad").count())
    === 1);
  check("keys: revoked by entry 7", (await page.content()).includes(
    'href="#/entry/7"'));
  check("keys: the server's list agrees with the log", await page.locator(
    "#server-keys .outcome").getAttribute("data-outcome") === "pass");
  await shot(page, "keys");

  // The log: entries, consistency, checkpoints, one entry.
  await open(page, ver.url, "#/log");
  check("log: entries", (await page.locator("table.entries tbody tr").count())
    === SIZE);
  await page.fill("input[name=from]", "3");
  await page.fill("input[name=to]", "7");
  await page.click("button:text(\"Check consistency\")");
  await page.waitForSelector("#consistency-result .outcome");
  check("log: consistency 3..7 verified", await page.locator(
    "#consistency-result .outcome").getAttribute("data-outcome") === "pass");
  await page.fill("input[name=size]", "5");
  await page.click("button:text(\"Show checkpoint\")");
  await page.waitForSelector("#checkpoint-result .outcome");
  check("log: checkpoint of size 5", (await text(page, "#checkpoint-result"))
    .includes("\n5\n"));
  await shot(page, "log");
  await open(page, ver.url, "#/log?end=5");
  const idx = await page.locator("table.entries tbody tr td:first-child")
    .allInnerTexts();
  check("log: a page ending at 5, newest first", idx.join(",") ===
    "4,3,2,1,0", idx.join(","));
  await page.click("nav.pager a");
  await page.waitForFunction(() => /entries 0.7 of 8/.test(
    document.querySelector("nav.pager").textContent));
  check("log: newer page", (await page.locator(
    "table.entries tbody tr").count()) === SIZE);
  await open(page, ver.url, "#/entry/0");
  check("entry: key_added, proved", (await page.content()).includes(
    "key_added") && await page.locator(".outcome").first()
    .getAttribute("data-outcome") === "pass");
  await shot(page, "entry");

  await open(page, ver.url, "#/entry/999");
  check("entry past the end: said plainly", (await page.content()).includes(
    "The log has no such entry: it holds 8."));

  // Remember a checkpoint, publish more, come back: still consistent.
  await open(page, ver.url, "#/");
  await page.click(".saved button");
  await page.waitForSelector(".saved .outcome");
  publish("payments", "1.2", { 0: hex96("7"), 1: hex96("8"), 2: hex96("9") });
  await open(page, ver.url, "#/");
  const saved = await page.locator(".saved .outcome");
  check("saved checkpoint: log grew consistently",
    await saved.getAttribute("data-outcome") === "pass" &&
    (await saved.innerText()).includes("size 8) to size 9"),
    await saved.innerText());

  // Verify a document, through the minting proxy (verdicts in the new claim
  // set, signed by K1): a real one at its own time, garbage, a file.
  const M = proxyLying.url;
  const verify = async (pg, base, input, at = "document") => {
    await open(pg, base, "#/verify");
    await pg.fill("textarea[name=document]", input);
    await pg.selectOption("select[name=at]", at);
    await pg.click("form.verify button[type=submit]");
    await pg.waitForSelector("#verdict");
    return {
      state: await pg.locator("#verdict").getAttribute("data-verdict"),
      head: await text(pg, "#verdict h2"),
      reason: await text(pg, "#reason"),
      steps: (await pg.locator("ol.vchecks li").evaluateAll((ls) =>
        ls.map((l) => l.dataset.vcheck + ":" + l.dataset.status))).join(" "),
    };
  };
  let got = await verify(page, M, realDoc.toString("base64"));
  check("verify real document: Trusted, ok", got.state === "trusted" &&
    got.head === "Trusted" && got.reason === "ok", got);
  check("verify: every browser check passed", got.steps === "form:pass " +
    "signature:pass inputs:pass time:pass receipt:pass quorum:skipped " +
    "question:pass",
  got.steps);
  const statuses = await page.locator("ol.checks li").evaluateAll((ls) =>
    ls.map((l) => l.dataset.check + ":" + l.dataset.status));
  check("verify: the verifier's checks in order", statuses.join(" ") ===
    "cbor:pass header:pass fields:pass root:pass chain:pass validity:pass " +
    "signature:pass debug:pass freshness:skipped nonce:skipped release:pass " +
    "result:skipped", statuses.join(" "));
  check("verify: matching release (signed)", (await text(page,
    "#verdict-release-status")) === "not revoked" &&
    (await page.content()).includes("real-enclave"));
  const fields = await text(page, "#document-fields");
  check("verify: fields read in the browser", fields.includes(
    real.pcrs["0"]) && fields.includes(real.module_id) &&
    fields.includes(crypto.createHash("sha256").update(realDoc)
      .digest("hex")), fields);
  await shot(page, "verify-real");

  got = await verify(page, M, realDoc.toString("hex"), "now");
  check("verify hex, at now: Refused, cert_expired", got.state ===
    "refused" && got.reason === "cert_expired" && got.steps.includes(
    "receipt:skipped"), got);

  for (const [what, input] of [["base64 garbage", "Z2FyYmFnZSBnYXJiYWdl"],
    ["not base64 at all", "this is not a document!"]]) {
    got = await verify(page, M, input);
    check(`verify ${what}: malformed, not trusted`, got.reason ===
      "malformed" && got.state !== "trusted", got);
    check(`verify ${what}: first check fails`, await page.locator(
      'ol.checks li[data-check=cbor]').getAttribute("data-status") === "fail");
  }
  await shot(page, "verify-garbage");

  const cbor = path.join(TMP, "doc.cbor");
  fs.writeFileSync(cbor, realDoc);
  await open(page, M, "#/verify");
  await page.setInputFiles("input[type=file]", cbor);
  await page.waitForFunction(() => document.querySelector("textarea")
    .value.length > 100);
  await page.click("form.verify button[type=submit]");
  await page.waitForSelector("#verdict");
  check("verify a .cbor file: Trusted", await text(page, "#reason") === "ok" &&
    await page.locator("#verdict").getAttribute("data-verdict") ===
      "trusted");

  // An EC2 instance's NitroTPM document: genuine, no instance release
  // published here, so refused; the browser shows its kind and registers.
  const tpm = manifest.vectors.find((v) => v.pcr_key === "nitrotpm_pcrs");
  got = await verify(page, M, fs.readFileSync(path.join(VECTORS, "aws-nitro",
    tpm.file)).toString("base64"));
  check("verify a NitroTPM document: Refused, unknown_measurement",
    got.state === "refused" && got.reason === "unknown_measurement", got);
  const tpmFields = await text(page, "#document-fields");
  check("verify a NitroTPM document: kind and registers shown",
    tpmFields.includes("EC2 instance (NitroTPM") &&
    tpmFields.includes("NitroTPM registers") &&
    tpmFields.includes("not an enclave") &&
    tpmFields.includes(tpm.pcrs["4"]), tpmFields);
  await shot(page, "verify-nitrotpm");

  // Lies about the verdict: none is ever Trusted.
  const liar = await newPage(1280, 900);
  for (const [mode, want] of [
    ["trusted-revoked", { state: "refused", reason: "revoked" }],
    ["bad-jws", { state: "unverified", reason: "bad_verdict_signature",
      failed: "signature" }],
    ["no-jws", { state: "unverified", reason: "bad_verdict",
      failed: "form" }],
    ["other-document", { state: "unverified", reason: "verdict_mismatch",
      failed: "inputs" }],
    ["other-question", { state: "unverified", reason: "verdict_mismatch",
      failed: "question" }],
  ]) {
    lie.mode = mode;
    got = await verify(liar, M, realDoc.toString("base64"));
    check(`lie ${mode}: ${want.state} ${want.reason}`, got.state ===
      want.state && got.reason === want.reason && got.head !== "Trusted" &&
      (!want.failed || got.steps.includes(want.failed + ":fail")), got);
    if (mode === "trusted-revoked") {
      check("lie trusted-revoked: the summary is shown contradicting",
        await liar.locator("#unsigned-summary .outcome").getAttribute(
          "data-outcome") === "fail");
      check("lie trusted-revoked: the release is shown revoked", await text(
        liar, "#verdict-release-status") === "revoked");
    } else {
      check(`lie ${mode}: no release shown from an unverified verdict`,
        await liar.locator("#verdict-release-status").count() === 0);
    }
    await shot(liar, "lie-" + mode);
  }
  lie.mode = "none";

  // Lies about releases: revoked: null, a rewritten list, a hidden
  // revocation. The status comes from the verified log, never "active".
  const r10 = rels.find((r) => r.version === "1.0");
  lie.mode = "revoked-null";
  await open(liar, M, "#/releases");
  const row10 = liar.locator("table.releases tbody tr", { hasText: "1.0" });
  check("lie revoked-null: the list still says revoked", await row10.locator(
    ".badge").innerText() === "revoked");
  check("lie revoked-null: the server's list fails the check", await liar
    .locator("#server-list .outcome").getAttribute("data-outcome") ===
    "fail" && (await text(liar, "#server-list")).includes("not revoked"));
  await shot(liar, "lie-revoked-null");
  await open(liar, M, "#/release/" + r10.id);
  check("lie revoked-null: the release page says revoked", (await text(liar,
    "#release-status")).startsWith("revoked"), await text(liar,
    "#release-status"));
  check("lie revoked-null: the server's word fails", (await liar.locator(
    ".outcome[data-outcome=fail]").allInnerTexts()).some((t) =>
    t.includes("says it is not revoked")));
  await shot(liar, "lie-revoked-null-release");
  await open(liar, M, "#/keys");
  check("lie revoked-null: the key is still revoked, the server's list " +
    "fails", await liar.locator("table.keys .badge.bad").count() === 1 &&
    await liar.locator("#server-keys .outcome").getAttribute(
      "data-outcome") === "fail");

  lie.mode = "rewritten-list";
  await open(liar, M, "#/releases");
  const listed = await liar.locator("table.releases tbody tr td:first-child")
    .allInnerTexts();
  check("lie rewritten-list: the page lists the log's releases",
    listed.filter((n) => n === "payments").length === 3 &&
    !listed.includes("injected"), listed);
  check("lie rewritten-list: the server's list fails the check", await liar
    .locator("#server-list .outcome").getAttribute("data-outcome") ===
    "fail" && /omits payments|0123456789abcdef/.test(await text(liar,
    "#server-list")), await text(liar, "#server-list"));

  lie.mode = "hidden-revocation";
  await open(liar, M, "#/releases");
  check("lie hidden-revocation: the log fails, no release listed", await liar
    .locator(".outcome").first().getAttribute("data-outcome") === "fail" &&
    await liar.locator("table.releases").count() === 0 &&
    (await text(liar, "main")).includes("not to the one of its signed"));
  await open(liar, M, "#/release/" + r10.id);
  check("lie hidden-revocation: the release is not shown active", await liar
    .locator("#release-status .badge").innerText() === "not verified");
  await shot(liar, "lie-hidden-revocation");
  lie.mode = "none";

  // A long log read only in part (the limit lowered to 5 entries).
  await liar.evaluate(() => localStorage.setItem("glassbox.logReadMax", "5"));
  await open(liar, M, "#/releases");
  check("partial log: says what it did not read", (await text(liar,
    "#log-unread")).includes("Entries 5 to 8 were not read"));
  check("partial log: only the releases read", (await liar.locator(
    "table.releases tbody tr").count()) === 3 && (await liar.locator(
    "table.releases .badge.ok").count()) === 0);
  await shot(liar, "releases-partial-log");
  await liar.evaluate(() => localStorage.removeItem("glassbox.logReadMax"));

  // A changed verifier key: a warning, and nothing trusted under it until
  // the user accepts it.
  lie.key = K2;
  await open(liar, M, "#/");
  check("changed key: the warning shows", await liar.locator(
    "#key-warning").count() === 1);
  await shot(liar, "changed-key");
  got = await verify(liar, M, realDoc.toString("base64"));
  check("changed key: the verdict is unverified", got.state ===
    "unverified" && got.reason === "bad_verdict" &&
    await liar.locator("#key-warning").count() === 1, got);
  await liar.click("#accept-keys");
  await liar.waitForFunction(() => !document.querySelector("#key-warning") &&
    document.querySelector('main[aria-busy="false"]'));
  got = await verify(liar, M, realDoc.toString("base64"));
  check("changed key, accepted: Trusted", got.state === "trusted", got);
  lie.key = K1;
  await liar.context().close();

  // The real verifier's own verdict, without the proxy. It is Trusted only
  // once the verifier signs docs/verdict.md's claims; before that the page
  // must say it could not verify it (bad_verdict), never Trusted.
  const direct = await (await fetch(ver.url + "/api/v1/verify", { method:
    "POST", headers: { "Content-Type": "application/json" }, body:
    JSON.stringify({ document: realDoc.toString("base64"),
      at: "document" }) })).json();
  const newClaims = "glassbox.document" in JSON.parse(Buffer.from(
    direct.verdict.split(".")[1], "base64url")).submods.glassbox;
  got = await verify(page, ver.url, realDoc.toString("base64"));
  console.log("real verifier's own verdict: " + (newClaims ?
    "docs/verdict.md's claims" : "the old claims") + `, page says ` +
    `${got.state} ${got.reason}`);
  check("real verifier's own verdict", newClaims ? got.state === "trusted" :
    got.state === "unverified" && got.reason === "bad_verdict", got);

  // Verdict counts on the overview: the verifier's, as it tells them.
  await open(page, ver.url, "#/");
  const rows = await page.locator("table.verdicts tbody tr").allInnerTexts();
  const vc = await getJson("/api/v1/verdicts");
  const want = vc.reasons.filter((r) => r.total > 0);
  check("overview: verdict counts", rows.length === want.length &&
    want.every((r) => rows.some((x) => x.startsWith(`${r.reason}\t` +
      `${r.recent}\t${r.total}`))) && want.find((r) => r.reason === "ok")
    .total >= 2, JSON.stringify(rows));

  // Phone width: every view fits, nothing scrolls sideways but tables.
  const phone = await newPage(390, 844);
  for (const [name, hash] of [["overview", "#/"], ["releases", "#/releases"],
    ["release", "#/release/" + r11.id], ["keys", "#/keys"], ["log", "#/log"],
    ["verify", "#/verify"]]) {
    await open(phone, ver.url, hash);
    check(`phone: ${name} fits`, await phone.evaluate(() =>
      document.documentElement.scrollWidth <= window.innerWidth));
    await shot(phone, "phone-" + name);
  }
  await phone.context().close();
} catch (e) {
  check("no exception", false, e.stack);
} finally {
  await browser.close();
  ver.p.kill("SIGTERM");
  proxyResigned.srv.close();
  proxyUnsigned.srv.close();
  proxyLying.srv.close();
  run("gpgconf", "--kill", "gpg-agent");
}

check("no console errors or dialogs", problems.length === 0,
  problems.join("\n"));
check("no request leaves 127.0.0.1", external.length === 0, external.join(" "));
check("verifier stopped cleanly", await new Promise((r) =>
  ver.p.exitCode !== null ? r(ver.p.exitCode === 0) :
    ver.p.once("exit", (c) => r(c === 0))));
if (counts.failed === 0)
  fs.rmSync(TMP, { recursive: true, force: true });
else
  console.log("kept " + TMP);
finish(`; screenshots in ${ARTIFACTS}`);
