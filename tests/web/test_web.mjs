// Browser tests of the auditor page: Debian's chromium, headless, driven by
// playwright-core, against glassbox-verifier on 127.0.0.1 with a registry
// seeded here with real gpg keys and the CLI. A small proxy in front of the
// verifier serves a wrong checkpoint to show that the page catches it.
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

function startProxy(target, resign) {
  const srv = http.createServer((req, res) => {
    const up = http.request(target + req.url, { method: req.method,
      headers: req.headers }, (ur) => {
      const chunks = [];
      ur.on("data", (c) => chunks.push(c));
      ur.on("end", () => {
        let body = Buffer.concat(chunks);
        if (req.url === "/api/v1/log/checkpoint")
          body = Buffer.from(forge(body.toString(), resign));
        const h = { ...ur.headers, "content-length": body.length };
        res.writeHead(ur.statusCode, h);
        res.end(body);
      });
    });
    req.pipe(up);
  });
  return new Promise((resolve) => srv.listen(0, "127.0.0.1", () =>
    resolve({ srv, url: `http://127.0.0.1:${srv.address().port}` })));
}

const ver = await startVerifier();
const proxyResigned = await startProxy(ver.url, true);
const proxyUnsigned = await startProxy(ver.url, false);

// --- the browser ----------------------------------------------------------
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync"],
});
const problems = [];
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

  // Verify a document: a real one at its own time, garbage, a file.
  await open(page, ver.url, "#/verify");
  await page.fill("textarea[name=document]", realDoc.toString("base64"));
  await page.click("form.verify button[type=submit]");
  await page.waitForSelector("#verdict");
  check("verify real document: ok", await text(page, "#reason") === "ok");
  const statuses = await page.locator("ol.checks li").evaluateAll((ls) =>
    ls.map((l) => l.dataset.check + ":" + l.dataset.status));
  check("verify: every check in order", statuses.join(" ") ===
    "cbor:pass header:pass fields:pass root:pass chain:pass validity:pass " +
    "signature:pass debug:pass freshness:skipped nonce:skipped release:pass " +
    "result:skipped", statuses.join(" "));
  check("verify: verdict signature checked", (await page.locator(
    "#verdict [data-outcome=pass]").count()) === 1);
  check("verify: matching release", (await page.content()).includes(
    "real-enclave"));
  check("verify: PCR0 shown", (await page.content()).includes(real.pcrs["0"]));
  await shot(page, "verify-real");

  await page.fill("textarea[name=document]", realDoc.toString("hex"));
  await page.selectOption("select[name=at]", "now");
  await page.click("form.verify button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#reason") &&
    document.querySelector("#reason").textContent !== "ok");
  check("verify hex, at now: old certificates expired", await text(page,
    "#reason") === "cert_expired", await text(page, "#reason"));

  for (const [what, input] of [["base64 garbage", "Z2FyYmFnZSBnYXJiYWdl"],
    ["not base64 at all", "this is not a document!"]]) {
    await open(page, ver.url, "#/verify");
    await page.fill("textarea[name=document]", input);
    await page.click("form.verify button[type=submit]");
    await page.waitForSelector("#verdict");
    check(`verify ${what}: malformed`, await text(page, "#reason") ===
      "malformed");
    check(`verify ${what}: first check fails`, await page.locator(
      'ol.checks li[data-check=cbor]').getAttribute("data-status") === "fail");
  }
  await shot(page, "verify-garbage");

  const cbor = path.join(TMP, "doc.cbor");
  fs.writeFileSync(cbor, realDoc);
  await open(page, ver.url, "#/verify");
  await page.setInputFiles("input[type=file]", cbor);
  await page.waitForFunction(() => document.querySelector("textarea")
    .value.length > 100);
  await page.click("form.verify button[type=submit]");
  await page.waitForSelector("#verdict");
  check("verify a .cbor file: ok", await text(page, "#reason") === "ok");

  // Verdict counts on the overview.
  await open(page, ver.url, "#/");
  const counts = await page.locator("table.verdicts tbody tr").allInnerTexts();
  check("overview: verdict counts", counts.some((r) => r.startsWith("ok\t2")) &&
    counts.some((r) => r.startsWith("malformed\t1")) &&
    counts.some((r) => r.startsWith("cert_expired\t1")), JSON.stringify(counts));

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
