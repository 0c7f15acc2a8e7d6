// The auditor page: views over the verifier's public API. Every value from
// the API goes into the page as text (textContent), never as HTML, and every
// proof is checked here with WebCrypto (check.js) rather than believed.

import {
  CheckError, b64ToBytes, bytesToB64, bytesToHex, hexToBytes, leafHash,
  openCheckpoint, parseVerifierKey, verifyConsistency,
  verifyInclusion, verifyJws,
} from "./check.js";

const main = document.getElementById("main");
const PAGE = 25;               // log entries per page
const SAVED = "glassbox.checkpoint";

// h("p", {class: "x"}, "text", child): an element; strings become text.
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false)
      continue;
    if (k.startsWith("on"))
      el.addEventListener(k.slice(2), v);
    else
      el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === undefined || kid === null || kid === false)
      continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

const link = (href, ...kids) => h("a", { href }, ...kids);
const mono = (s) => h("code", { class: "hex" }, s);
const badge = (kind, text) => h("span", { class: "badge " + kind }, text);
const when = (ms) => (ms === undefined || ms === null ? "" :
  new Date(Number(ms)).toISOString().replace(".000Z", "Z"));

function section(title, ...kids) {
  return h("section", { class: "card" }, h("h2", null, title), ...kids);
}

function dl(rows) {
  return h("dl", null, rows.filter(Boolean).map(([k, v]) =>
    [h("dt", null, k), h("dd", null, v)]));
}

function table(head, rows, cls) {
  return h("div", { class: "scroll" }, h("table", { class: cls },
    h("thead", null, h("tr", null, head.map((x) => h("th", null, x)))),
    h("tbody", null, rows.map((r) => h("tr", null,
      r.map((x) => h("td", null, x)))))));
}

// A result line of a check done here: pass or fail, and why.
function outcome(ok, text) {
  return h("p", { class: "outcome " + (ok ? "pass" : "fail"),
    "data-outcome": ok ? "pass" : "fail" },
  h("span", { class: "mark", "aria-hidden": "true" }, ok ? "\u2713" : "\u2717"),
  " ", text);
}

class ApiError extends Error {
  constructor(status, reason, detail) {
    super(detail || reason);
    this.status = status;
    this.reason = reason;
  }
}

async function api(path, opts) {
  const res = await fetch(path, opts);
  const type = res.headers.get("Content-Type") || "";
  const body = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok)
    throw new ApiError(res.status, body.reason || "http_" + res.status,
      body.detail || String(res.status));
  return body;
}

// The service's keys, once per page load.
let service;
async function wellKnown() {
  if (!service) {
    const w = await api("/.well-known/glassbox");
    service = { ...w, logKey: await parseVerifierKey(w.log_key) };
  }
  return service;
}

// The latest checkpoint (or the one of a size), its signature checked.
async function checkpoint(size) {
  const { logKey } = await wellKnown();
  const note = await api("/api/v1/log/checkpoint" +
    (size === undefined ? "" : "?size=" + size));
  return { note, ...(await openCheckpoint(note, logKey)) };
}

// Proves that entry index is in the signed checkpoint cp (default: the
// latest): its exact bytes, their leaf hash, the path to cp's root.
async function proveEntry(index, cp) {
  cp = cp || await checkpoint();
  const [page, proof] = await Promise.all([
    api(`/api/v1/log/entries?start=${index}&end=${index + 1}`),
    api(`/api/v1/log/proof/inclusion?index=${index}&size=${cp.size}`),
  ]);
  const entry = page.entries[0];
  if (!entry || entry.index !== index)
    throw new CheckError("the log did not return entry " + index);
  const hash = await leafHash(entry.data);
  await verifyInclusion(index, cp.size, hash, proof.inclusion, cp.root);
  return { cp, entry, leaf: JSON.parse(entry.data), hash };
}

// Proves that the log of checkpoint c2 extends that of c1 (both opened);
// returns the number of proof hashes.
async function proveConsistency(c1, c2) {
  const p = await api(`/api/v1/log/proof/consistency?from=${c1.size}` +
    `&to=${c2.size}`);
  await verifyConsistency(c1.size, c2.size, c1.root, c2.root, p.consistency);
  return p.consistency.length;
}

function inclusionCard(index, proved, err) {
  if (err)
    return section("Inclusion in the log",
      outcome(false, "Not verified: " + err.message),
      h("p", { class: "muted" }, "The entry could not be shown to be in the " +
        "log's signed checkpoint. Do not rely on it."));
  return section("Inclusion in the log",
    outcome(true, `Entry ${index} is in the log's checkpoint of size ` +
      `${proved.cp.size}, signed by the log key (checked in this browser).`),
    dl([
      ["Leaf hash", mono(bytesToHex(proved.hash))],
      ["Checkpoint root", mono(bytesToHex(proved.cp.root))],
      ["Checkpoint", h("pre", null, proved.cp.note)],
    ]));
}

function errorCard(e) {
  const reason = e instanceof ApiError ? e.reason : "error";
  return h("section", { class: "card error", role: "alert" },
    h("h2", null, "Something went wrong"),
    h("p", null, mono(reason), " ", e.message));
}

// --- Overview -------------------------------------------------------------

async function viewOverview() {
  const w = await wellKnown();
  const kids = [h("h1", null, "Overview")];
  let cp, cpErr;
  try {
    cp = await checkpoint();
  } catch (e) {
    cpErr = e;
  }
  kids.push(section("The log",
    cpErr ? outcome(false, "The latest checkpoint is not valid: " +
      cpErr.message) : [
      outcome(true, "The latest checkpoint is signed by the log key " +
        "(checked in this browser)."),
      dl([
        ["Entries", h("span", { id: "log-size" }, String(cp.size))],
        ["Origin", cp.origin],
        ["Root hash", mono(bytesToHex(cp.root))],
        ["Checkpoint", h("pre", null, cp.note)],
      ]),
      await savedCheckpointCard(cp),
    ]));
  kids.push(section("Keys and root this service uses", dl([
    ["Pinned root (SHA-256 of the certificate)", mono(w.root_sha256)],
    ["Log key", mono(w.log_key)],
    ["Verdict key (Ed25519 JWK x)", mono(w.verdict_key.x)],
    ["Verdict key id", mono(w.verdict_key.kid)],
    ["Software", w.version],
  ])));
  const v = await api("/api/v1/verdicts");
  const seen = v.reasons.filter((r) => r.total > 0);
  kids.push(section("Recent verdicts",
    h("p", { class: "muted" }, `Last ${v.recent_seconds / 60} minutes, and ` +
      `since the service started at ${v.since}.`),
    seen.length === 0 ? h("p", null, "No documents verified yet.") :
      table(["Reason", "Last hour", "Since start", "Meaning"],
        seen.map((r) => [r.reason === "ok" ? badge("ok", "ok") :
          mono(r.reason), String(r.recent), String(r.total), r.text]),
        "verdicts")));
  return kids;
}

// An auditor keeps a checkpoint in this browser; each visit proves the log
// grew from it without rewriting anything.
async function savedCheckpointCard(cp) {
  const saved = localStorage.getItem(SAVED);
  const save = h("button", { type: "button", onclick: () => {
    localStorage.setItem(SAVED, cp.note);
    route();
  } }, "Remember this checkpoint");
  if (!saved)
    return h("div", { class: "saved" }, h("p", { class: "muted" },
      "Remember this checkpoint, and later visits will check that the log " +
      "only grew from it."), save);
  let text;
  try {
    const old = await openCheckpoint(saved, (await wellKnown()).logKey);
    if (old.size === 0n)
      return h("div", { class: "saved" }, outcome(true, "You remembered " +
        "the empty log, which every log extends: remember this one."), save);
    if (old.size > cp.size)
      throw new CheckError(`it has ${old.size} entries, the log now ` +
        `${cp.size}`);
    await proveConsistency(old, cp);
    text = outcome(true, `The log grew consistently from the checkpoint ` +
      `you remembered (size ${old.size}) to size ${cp.size}.`);
  } catch (e) {
    text = outcome(false, "The log is not consistent with the checkpoint " +
      "you remembered: " + e.message);
  }
  return h("div", { class: "saved" }, text, save);
}

// --- Releases -------------------------------------------------------------

async function viewReleases(params) {
  const q = (params.get("q") || "").trim();
  const isPcr = /^[0-9a-fA-F]{96}$/.test(q);
  const all = (await api("/api/v1/releases" +
    (isPcr ? "?pcr=" + q.toLowerCase() : ""))).releases;
  const found = all.filter((r) => isPcr || q === "" ||
    r.name.toLowerCase().includes(q.toLowerCase()))
    .sort((a, b) => b.index - a.index);
  const input = h("input", { type: "search", name: "q", value: q,
    placeholder: "name, or any PCR value (96 hex digits)",
    "aria-label": "Search releases" });
  const form = h("form", { class: "search", onsubmit: (ev) => {
    ev.preventDefault();
    location.hash = "#/releases?q=" + encodeURIComponent(input.value.trim());
  } }, input, h("button", { type: "submit" }, "Search"));
  return [
    h("h1", null, "Releases"), form,
    h("p", { class: "muted", id: "release-count" }, q === "" ?
      `${found.length} published, newest first.` :
      `${found.length} of ${all.length} match ${isPcr ? "this PCR" : "\u201c" +
        q + "\u201d"}.`),
    found.length === 0 ? null : table(["Name", "Version", "Release",
      "PCR0", "Log entry", "Status"], found.map((r) => [
      h("span", { class: "name" }, r.name), r.version,
      link("#/release/" + r.id, mono(r.id)),
      mono(r.pcrs["0"].slice(0, 16) + "\u2026"),
      link("#/entry/" + r.index, String(r.index)),
      r.revoked === null ? badge("ok", "active") :
        badge("bad", "revoked")]), "releases"),
  ];
}

function pcrTable(pcrs) {
  return table(["PCR", "Value"], Object.keys(pcrs)
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => [k, mono(pcrs[k])]), "pcrs");
}

// The signed bytes as they are (not reformatted: gpg checks these bytes).
function statementText(b64) {
  return new TextDecoder().decode(b64ToBytes(b64));
}

async function viewRelease(id) {
  const { release } = await api("/api/v1/releases/" +
    encodeURIComponent(id));
  let proved, err;
  try {
    proved = await proveEntry(release.index);
    // What is shown comes from the proven leaf, and must be this release.
    const want = bytesToHex((proved.hash).slice(0, 8));
    if (proved.leaf.type !== "release_published" || want !== id)
      throw new CheckError(`entry ${release.index} is not release ${id}`);
  } catch (e) {
    err = e;
  }
  const leaf = proved ? proved.leaf : null;
  const rel = leaf ? leaf.release : release;
  return [
    h("h1", null, "Release ", h("span", { class: "name" }, rel.name), " ",
      rel.version),
    inclusionCard(release.index, proved, err),
    section("Release", dl([
      ["Status", release.revoked === null ? badge("ok", "active") :
        [badge("bad", "revoked"), " by log entry ",
          link("#/entry/" + release.revoked, String(release.revoked))]],
      ["Id (leaf hash prefix)", mono(id)],
      ["Log entry", link("#/entry/" + release.index, String(release.index))],
      ["Signer key", link("#/keys", mono(leaf ? leaf.signer :
        release.signer))],
      leaf && ["Published", when(leaf.time_ms)],
    ])),
    section(leaf ? "PCRs" : "PCRs (as the server says; not verified)",
      pcrTable(rel.pcrs)),
    leaf && section("Signed statement", h("pre", { class: "statement" },
      statementText(leaf.statement)), h("p", { class: "muted" },
      "Exactly the bytes that were signed.")),
    leaf && section("Armored signature", h("pre", null, leaf.signature),
      h("p", { class: "muted" }, "Check it yourself: save the statement " +
        "(no newline added) and the signature, import the signer's key " +
        "from its log entry, then gpg --verify.")),
  ];
}

// --- Keys -----------------------------------------------------------------

async function viewKeys() {
  const { keys } = await api("/api/v1/keys");
  return [
    h("h1", null, "Signing keys"),
    h("p", { class: "muted" }, "Release managers' OpenPGP keys. Each was " +
      "added, and may be revoked, by an entry of the log."),
    table(["Fingerprint", "Added by", "Status"], keys.map((k) => [
      mono(k.fingerprint), link("#/entry/" + k.index, "entry " + k.index),
      k.revoked === null ? badge("ok", "active") :
        [badge("bad", "revoked"), " by ",
          link("#/entry/" + k.revoked, "entry " + k.revoked)]]), "keys"),
  ];
}

// --- The log --------------------------------------------------------------

function summary(leaf) {
  switch (leaf.type) {
  case "release_published":
    return [h("span", { class: "name" }, leaf.release.name), " ",
      leaf.release.version];
  case "release_revoked":
    return ["release ", mono(leaf.release), " \u2014 ", leaf.reason];
  case "key_added":
    return mono(leaf.fingerprint);
  case "key_revoked":
    return [mono(leaf.fingerprint), " \u2014 ", leaf.reason];
  default:
    return "";
  }
}

async function viewLog(params) {
  const cp = await checkpoint();
  const size = Number(cp.size);
  let end = Number(params.get("end") || size);
  if (!Number.isSafeInteger(end) || end > size || end < 0)
    end = size;
  const start = Math.max(0, end - PAGE);
  const page = await api(`/api/v1/log/entries?start=${start}&end=${end}`);
  const rows = page.entries.slice().reverse().map((e) => [
    link("#/entry/" + e.index, String(e.index)), mono(e.leaf.type),
    when(e.leaf.time_ms), summary(e.leaf)]);
  const pager = h("nav", { class: "pager" },
    end < size ? link("#/log?end=" + Math.min(size, end + PAGE),
      "\u2190 Newer") : null,
    h("span", null, size === 0 ? "no entries" :
      `entries ${start}\u2013${end - 1} of ${size}`),
    start > 0 ? link("#/log?end=" + start, "Older \u2192") : null);
  return [
    h("h1", null, "The log"),
    section("Entries", pager, rows.length ? table(["#", "Type", "Time",
      "What"], rows, "entries") : null),
    consistencyCard(size, params),
    checkpointCard(size, params),
  ];
}

function numberInput(name, value, max) {
  return h("input", { type: "number", name, min: 0, max, value,
    inputmode: "numeric", required: true });
}

// "Check consistency between size A and B", in the browser: both
// checkpoints' signatures, then the proof between their roots.
function consistencyCard(size, params) {
  const saved = localStorage.getItem(SAVED);
  let a0 = params.get("from") || "";
  if (a0 === "" && saved) {
    try {
      a0 = saved.split("\n")[1];
    } catch { /* a0 stays empty */ }
  }
  const a = numberInput("from", a0 || Math.min(1, size), size);
  const b = numberInput("to", params.get("to") || size, size);
  const out = h("div", { id: "consistency-result", "aria-live": "polite" });
  const form = h("form", { class: "inline", onsubmit: async (ev) => {
    ev.preventDefault();
    out.replaceChildren(h("p", { class: "muted" }, "Checking\u2026"));
    out.replaceChildren(await checkConsistency(a.value, b.value));
  } }, h("label", null, "From size ", a), h("label", null, "to size ", b),
  h("button", { type: "submit" }, "Check consistency"));
  return section("Consistency", h("p", { class: "muted" }, "Proves that " +
    "the log of size B extends the log of size A without changing any " +
    "entry: both checkpoints' signatures and the RFC 9162 proof are " +
    "checked in this browser."), form, out);
}

async function checkConsistency(from, to) {
  if (!/^[0-9]+$/.test(from) || !/^[0-9]+$/.test(to) || Number(from) < 1 ||
      Number(from) > Number(to))
    return outcome(false, "Give sizes with 1 \u2264 A \u2264 B: a proof " +
      "from the empty log proves nothing.");
  try {
    const [c1, c2] = await Promise.all([checkpoint(from), checkpoint(to)]);
    const n = await proveConsistency(c1, c2);
    return outcome(true, `Consistent: the signed checkpoint of size ` +
      `${c2.size} extends the signed checkpoint of size ${c1.size} ` +
      `(${n} proof hashes).`);
  } catch (e) {
    return outcome(false, "Not consistent: " + e.message);
  }
}

function checkpointCard(size) {
  const n = numberInput("size", size, size);
  const out = h("div", { id: "checkpoint-result" });
  const form = h("form", { class: "inline", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const cp = await checkpoint(n.value);
      out.replaceChildren(outcome(true, `Signed by the log key; root ` +
        bytesToHex(cp.root)), h("pre", null, cp.note));
    } catch (e) {
      out.replaceChildren(outcome(false, e.message));
    }
  } }, h("label", null, "Size ", n),
  h("button", { type: "submit" }, "Show checkpoint"));
  return section("Checkpoints", h("p", { class: "muted" }, "The log signs " +
    "a checkpoint at every size; any of them can be fetched and checked."),
  form, out);
}

async function viewEntry(index) {
  let cp, proved, err;
  try {
    cp = await checkpoint();
  } catch (e) {
    err = e;
  }
  if (cp && BigInt(index) >= cp.size)
    return [h("h1", null, `Log entry ${index}`),
      h("p", null, `The log has no such entry: it holds ${cp.size}.`)];
  if (cp) {
    try {
      proved = await proveEntry(index, cp);
    } catch (e) {
      err = e;
    }
  }
  const entry = proved ? proved.entry : (await api(
    `/api/v1/log/entries?start=${index}&end=${index + 1}`)).entries[0];
  const leaf = JSON.parse(entry.data);
  return [
    h("h1", null, `Log entry ${index}`),
    inclusionCard(index, proved, err),
    section("Entry", dl([
      ["Type", mono(leaf.type)],
      ["Time", when(leaf.time_ms)],
      ["What", summary(leaf)],
      leaf.type === "release_published" && proved &&
        ["Release", link("#/release/" + bytesToHex(proved.hash.slice(0, 8)),
          mono(bytesToHex(proved.hash.slice(0, 8))))],
    ]), h("pre", { class: "leaf" }, JSON.stringify(leaf, null, 2))),
  ];
}

// --- Verify a document ----------------------------------------------------

const CHECKS = {
  cbor: "COSE_Sign1 structure (CBOR)",
  header: "Protected header: ES384",
  fields: "Required fields and their sizes",
  root: "Chain ends at the pinned root",
  chain: "Certificate chain",
  validity: "Certificates valid at the time asked",
  signature: "Document signature (ECDSA P-384)",
  debug: "Not a debug-mode enclave",
  freshness: "Fresh (only when asked at \u201cnow\u201d)",
  nonce: "Nonce (only when one is given)",
  release: "PCRs are a published, unrevoked release",
  result: "Result signature (only with a result)",
};

// Hex or base64 text to base64; null if it is neither.
function documentBase64(text) {
  const t = text.replace(/\s+/g, "");
  if (t === "")
    return null;
  if (/^([0-9a-fA-F]{2})+$/.test(t))
    return bytesToB64(hexToBytes(t));
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) {
    try {
      return bytesToB64(b64ToBytes(t));
    } catch {
      return null;
    }
  }
  return null;
}

function viewVerify() {
  const text = h("textarea", { name: "document", rows: 6, spellcheck: "false",
    placeholder: "Attestation document, base64 or hex",
    "aria-label": "Attestation document, base64 or hex" });
  const file = h("input", { type: "file", name: "file",
    accept: ".cbor,application/cbor", "aria-label": "Document file" });
  const at = h("select", { name: "at", "aria-label": "Time" },
    h("option", { value: "document" }, "at the document's own time"),
    h("option", { value: "now" }, "now"));
  const out = h("div", { id: "verify-result", "aria-live": "polite" });
  file.addEventListener("change", async () => {
    const f = file.files[0];
    if (f)
      text.value = bytesToB64(new Uint8Array(await f.arrayBuffer()));
  });
  const form = h("form", { class: "verify", onsubmit: async (ev) => {
    ev.preventDefault();
    out.replaceChildren(h("p", { class: "muted" }, "Verifying\u2026"));
    out.replaceChildren(...await verifyDocument(text.value, at.value));
  } }, text, h("div", { class: "row" }, h("label", null, "or a file ", file),
    h("label", null, "Check ", at),
    h("button", { type: "submit" }, "Verify")));
  return [
    h("h1", null, "Verify a document"),
    h("p", { class: "muted" }, "The verifier checks the document; its " +
      "signed verdict is then checked in this browser."),
    section("Document", form), out,
  ];
}

async function verifyDocument(text, at) {
  const doc = documentBase64(text);
  if (doc === null)
    return [verdictCard({ trusted: false, reason: "malformed",
      message: "the input is neither hex nor base64, so it cannot be a " +
        "document", checks: Object.keys(CHECKS).map((c, i) => ({
        check: c, status: i === 0 ? "fail" : "not_run",
        reason: i === 0 ? "malformed" : undefined })) }, null)];
  let v;
  try {
    v = await api("/api/v1/verify", { method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ document: doc, at }) });
  } catch (e) {
    return [errorCard(e)];
  }
  let jws;
  try {
    const claims = await verifyJws(v.verdict, (await wellKnown()).verdict_key);
    const sub = claims.submods.glassbox;
    if (sub["glassbox.reason"] !== v.reason)
      throw new CheckError("the signed verdict says " +
        sub["glassbox.reason"]);
    jws = outcome(true, "The verdict is signed by this service's verdict " +
      "key (checked in this browser).");
  } catch (e) {
    jws = outcome(false, "The verdict's signature: " + e.message);
  }
  const kids = [verdictCard(v, jws)];
  if (v.document) {
    const d = v.document;
    kids.push(section("Document", dl([
      ["Module", d.module_id],
      ["Time", `${when(d.timestamp)} (${d.timestamp} ms)`],
      ["Debug mode", d.debug ? "yes (PCRs are zero)" : "no"],
      ["Public key", d.public_key ? mono(d.public_key) : "none"],
      ["User data", d.user_data ? mono(d.user_data) : "none"],
      ["Nonce", d.nonce ? mono(d.nonce) : "none"],
    ])), section("PCRs", pcrTable(Object.fromEntries(
      Object.entries(d.pcrs).filter(([, x]) => !/^0*$/.test(x))))),
    h("p", { class: "muted" }, "PCRs that are all zero are not shown."));
  }
  if (v.release)
    kids.push(section("Matching release", dl([
      ["Name", h("span", { class: "name" }, v.release.name)],
      ["Version", v.release.version],
      ["Release", link("#/release/" + v.release.id, mono(v.release.id))],
      ["Status", v.release.revoked === null ? badge("ok", "active") :
        badge("bad", "revoked")],
    ])));
  return kids;
}

function verdictCard(v, jws) {
  const checks = h("ol", { class: "checks" }, v.checks.map((c) =>
    h("li", { class: c.status, "data-check": c.check,
      "data-status": c.status },
    h("span", { class: "status" }, c.status.replace("_", " ")),
    h("span", { class: "title" }, CHECKS[c.check] || c.check),
    c.reason ? h("span", { class: "why" }, mono(c.reason), " ",
      c.text || "") : null)));
  return h("section", { class: "card verdict " + (v.trusted ? "good" : "bad"),
    id: "verdict" },
  h("h2", null, v.trusted ? "Trusted" : "Not trusted"),
  h("p", null, "Reason ", h("code", { id: "reason" }, v.reason), ": ",
    v.message),
  checks, jws);
}

// --- Routing --------------------------------------------------------------

const routes = [
  [/^#?\/?$/, () => viewOverview()],
  [/^#\/releases$/, (m, p) => viewReleases(p)],
  [/^#\/release\/([0-9a-f]{16})$/, (m) => viewRelease(m[1])],
  [/^#\/keys$/, () => viewKeys()],
  [/^#\/log$/, (m, p) => viewLog(p)],
  [/^#\/entry\/([0-9]{1,15})$/, (m) => viewEntry(Number(m[1]))],
  [/^#\/verify$/, () => viewVerify()],
];

async function route() {
  const [path, query] = location.hash.split("?");
  const params = new URLSearchParams(query || "");
  for (const a of document.querySelectorAll("header nav a"))
    a.toggleAttribute("aria-current", a.getAttribute("href") ===
      "#/" + (path.split("/")[1] || "").replace(/^release$/, "releases")
        .replace(/^entry$/, "log"));
  main.setAttribute("aria-busy", "true");
  let kids;
  try {
    const r = routes.find(([re]) => re.test(path));
    kids = r ? await r[1](r[0].exec(path), params) :
      [h("h1", null, "Not found"), h("p", null, "No such view.")];
  } catch (e) {
    kids = [errorCard(e)];
  }
  main.replaceChildren(...[kids].flat().filter(Boolean));
  main.setAttribute("aria-busy", "false");
}

window.addEventListener("hashchange", route);
route();
