// The auditor page: views over the verifier's public API. Every value from
// the API goes into the page as text (textContent), never as HTML, and every
// proof is checked here with WebCrypto (check.js) rather than believed.

import {
  CheckError, VerdictError, b64ToBytes, bytesToB64, bytesToHex, hexToBytes,
  leafHash, openCheckpoint, parseDocument, parsePolicy, parseVerifierKey,
  policyName, sha256, treeRoot, verifyConsistency, verifyInclusion,
  verifyVerdict,
} from "./check.js";

const main = document.getElementById("main");
const PAGE = 25;               // log entries per page
const SAVED = "glassbox.checkpoint";
const PINNED = "glassbox.keys";
// A tlog-policy the user gave this browser instead of the pinned one.
const USER_POLICY = "glassbox.policy";
// The most log entries the page reads (and hashes) to compute the releases
// and their revocations itself; past it, it says what it did not read. An
// auditor (or a test) may lower it in localStorage "glassbox.logReadMax".
const LOG_READ_LIMIT = 10000;
const LOG_READ_MAX = Math.min(LOG_READ_LIMIT, Math.max(1,
  Math.floor(Number(localStorage.getItem("glassbox.logReadMax"))) ||
  LOG_READ_LIMIT));
// Pages of the server's own release list compared with the log (1000
// releases a page, as many as LOG_READ_LIMIT entries could hold).
const SERVER_LIST_PAGES = 10;
const ENTRIES_PAGE = 1000;     // the API's most entries per request

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
// A time in ms as ISO 8601; a number no Date can hold is shown as it is.
function when(ms) {
  if (ms === undefined || ms === null)
    return "";
  const d = new Date(Number(ms));
  return Number.isNaN(d.getTime()) ? String(ms) :
    d.toISOString().replace(".000Z", "Z");
}

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

// The service's keys, pinned in this browser on the first visit (as a
// remembered checkpoint is): every check uses the pinned keys. Keys the
// service serves later that differ are shown as a warning, and nothing
// signed by them is trusted until the user accepts them.
let service;
const keyText = (j) => (j && typeof j === "object" ?
  [j.kty, j.crv, j.x, j.kid].join(" ") : "");

// The tlog-policy the verifier serves (GET /api/v1/log/policy, which
// /.well-known/glassbox names as log_policy), or null without one.
async function servedPolicy(w) {
  return w.log_policy === "/api/v1/log/policy" ?
    api("/api/v1/log/policy") : null;
}

async function wellKnown() {
  if (!service) {
    const w = await api("/.well-known/glassbox");
    const served = { verdict_key: w.verdict_key, log_key: w.log_key,
      policy: await servedPolicy(w) };
    let pinned = null, firstVisit = false;
    try {
      pinned = JSON.parse(localStorage.getItem(PINNED));
    } catch { /* pinned stays null */ }
    if (!pinned || typeof pinned !== "object" || !pinned.verdict_key ||
        typeof pinned.log_key !== "string") {
      pinned = { ...served, since: new Date().toISOString() };
      localStorage.setItem(PINNED, JSON.stringify(pinned));
      firstVisit = true;
    }
    // Keys pinned before policies were served: the policy is pinned on
    // this visit, its first.
    if (!("policy" in pinned)) {
      pinned.policy = served.policy;
      localStorage.setItem(PINNED, JSON.stringify(pinned));
    }
    const changed = keyText(pinned.verdict_key) !==
      keyText(served.verdict_key) || pinned.log_key !== served.log_key ||
      pinned.policy !== served.policy;
    // The policy every check uses: the user's, else the pinned one.
    const userText = localStorage.getItem(USER_POLICY);
    const policyText = userText !== null ? userText : pinned.policy;
    let policy = null, policyError = null;
    if (policyText !== null && policyText !== undefined) {
      try {
        policy = await parsePolicy(policyText);
      } catch (e) {
        policyError = e.message;
      }
    }
    service = { ...w, pinned, served, changed, firstVisit,
      logKey: await parseVerifierKey(pinned.log_key), policy, policyText,
      policyError, policyFrom: userText !== null ? "user" : "pinned" };
  }
  return service;
}

function keyWarning(s) {
  const accept = () => {
    localStorage.setItem(PINNED, JSON.stringify({ ...s.served,
      since: new Date().toISOString() }));
    service = undefined;
    logCache = null;
    route();
  };
  return h("section", { class: "card error", role: "alert",
    id: "key-warning" },
  h("h2", null, "This service's keys changed"),
  h("p", null, "The keys it publishes now are not the ones this browser " +
    `pinned on ${s.pinned.since}. Everything on this page is still ` +
    "checked with the pinned keys, so nothing signed by the new ones is " +
    "trusted until you accept them. Accept only if the operator announced " +
    "the change somewhere you trust."),
  dl([
    ["Pinned verdict key", mono(keyText(s.pinned.verdict_key))],
    ["Served verdict key", mono(keyText(s.served.verdict_key))],
    ["Pinned log key", mono(s.pinned.log_key)],
    ["Served log key", mono(String(s.served.log_key))],
    ["Pinned policy", h("pre", null, s.pinned.policy ?? "none")],
    ["Served policy", h("pre", null, s.served.policy ?? "none")],
  ]),
  h("button", { type: "button", id: "accept-keys", onclick: accept },
    "Accept the new keys"));
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

// The log read whole (up to LOG_READ_MAX entries) and checked in this
// browser: every entry's leaf hash, the tree's root rebuilt from them and
// compared with a checkpoint signed by the pinned log key (for a longer log,
// the checkpoint at LOG_READ_MAX, proven consistent with the latest).
// Releases and revocations are derived from these leaves only.
let logCache = null;

async function verifiedLog() {
  const cp = await checkpoint();
  if (!logCache || logCache.note !== cp.note)
    logCache = { note: cp.note, value: readLog(cp) };
  return logCache.value;
}

async function readLog(cp) {
  const size = Number(cp.size);
  const n = Math.min(size, LOG_READ_MAX);
  let at = cp;
  if (n < size) {
    at = await checkpoint(n);
    await proveConsistency(at, cp);
  }
  const hashes = [], leaves = [];
  for (let start = 0; start < n; start += ENTRIES_PAGE) {
    const end = Math.min(n, start + ENTRIES_PAGE);
    const page = await api(`/api/v1/log/entries?start=${start}&end=${end}`);
    const got = page && Array.isArray(page.entries) ? page.entries : [];
    if (got.length !== end - start)
      throw new CheckError(`the log sent ${got.length} entries for ` +
        `${start}..${end - 1}`);
    for (const [i, e] of got.entries()) {
      if (!e || e.index !== start + i || typeof e.data !== "string")
        throw new CheckError(`the log did not send entry ${start + i}`);
      hashes.push(await leafHash(e.data));
      let leaf = null;
      try {
        leaf = JSON.parse(e.data);
      } catch { /* not a leaf this page can read: it adds nothing */ }
      leaves.push(leaf);
    }
  }
  const root = await treeRoot(hashes);
  if (bytesToHex(root) !== bytesToHex(at.root))
    throw new CheckError(`the log's ${n} entries lead to the root ` +
      `${bytesToHex(root).slice(0, 16)}\u2026, not to the one of its ` +
      `signed checkpoint of size ${at.size}`);
  const releases = new Map(), keys = new Map();
  leaves.forEach((leaf, i) => {
    if (!leaf || typeof leaf !== "object")
      return;
    const r = leaf.release, fpr = leaf.fingerprint;
    if (leaf.type === "key_added" && typeof fpr === "string" &&
        !keys.has(fpr))
      keys.set(fpr, { fingerprint: fpr, index: i, revoked: null });
    else if (leaf.type === "key_revoked" && keys.has(fpr) &&
        keys.get(fpr).revoked === null)
      keys.get(fpr).revoked = i;
    if (leaf.type === "release_published" && r && typeof r === "object") {
      const id = bytesToHex(hashes[i].slice(0, 8));
      const pcrs = {};
      for (const [k, v] of Object.entries(r.pcrs || {}))
        if (typeof v === "string")
          pcrs[k] = v;
      // An instance image's release says kind "nitrotpm": its PCRs are
      // NitroTPM registers, found by PCR4 (an enclave's by PCR0).
      const kind = r.kind === "nitrotpm" ? "nitrotpm" : "enclave";
      releases.set(id, { id, index: i, name: String(r.name),
        version: String(r.version), kind, pcrs, revoked: null,
        reason: null });
    } else if (leaf.type === "release_revoked" && typeof r === "string") {
      const rel = releases.get(r);
      if (rel && rel.revoked === null) {
        rel.revoked = i;
        rel.reason = String(leaf.reason);
      }
    }
  });
  return { cp, read: n, size, releases, keys };
}

// What was read of the log, and what was not.
function logCoverage(vl) {
  const kids = [outcome(true, `Computed in this browser from the log's ` +
    `${vl.read === vl.size ? "" : "first "}${vl.read} entries: each ` +
    "entry's leaf hash, and the tree they make, match a checkpoint signed " +
    "by the log key.")];
  if (vl.read < vl.size)
    kids.push(h("p", { class: "warn", id: "log-unread" }, `Not checked: ` +
      `the log has ${vl.size} entries and this page reads at most ` +
      `${LOG_READ_MAX}. Entries ${vl.read} to ${vl.size - 1} were not ` +
      "read, so releases published there are not listed, and a release " +
      "shown as not revoked may have been revoked there."));
  return h("div", { id: "log-coverage" }, kids);
}

// The server's own list of releases, compared with the verified log.
async function serverListCheck(vl) {
  const list = [];
  let complete = false;
  try {
    // The list comes in pages (next is the following page's URL); read
    // at most SERVER_LIST_PAGES of them, as the log itself is read up to
    // LOG_READ_MAX entries.
    let url = "/api/v1/releases?limit=1000";
    for (let page = 0; url && page < SERVER_LIST_PAGES; page++) {
      const body = await api(url);
      if (!Array.isArray(body.releases))
        throw new CheckError("not a list");
      list.push(...body.releases);
      if (body.next !== null && (typeof body.next !== "string" ||
          !body.next.startsWith("/api/v1/releases?")))
        throw new CheckError("its next page is not a release list URL");
      url = body.next;
    }
    complete = url === null;
  } catch (e) {
    return outcome(false, "The server's list of releases could not be " +
      "read: " + e.message);
  }
  const diffs = [], seen = new Set();
  for (const r of list) {
    const d = r && vl.releases.get(r.id);
    if (r && typeof r.index === "number" && r.index >= vl.read)
      continue;    // past what was read: not compared
    seen.add(r && r.id);
    if (!d)
      diffs.push(`it lists ${r && r.id}, which the log does not have`);
    else if (r.name !== d.name || r.version !== d.version ||
        r.index !== d.index)
      diffs.push(`it describes ${d.id} otherwise than the log`);
    else if ((r.revoked ?? null) !== d.revoked && !(d.revoked === null &&
        typeof r.revoked === "number" && r.revoked >= vl.read))
      diffs.push(`it says ${d.name} ${d.version} is ` +
        (r.revoked === null || r.revoked === undefined ? "not revoked" :
          "revoked") + ", the log says " + (d.revoked === null ?
        "it is not" : `it is, by entry ${d.revoked}`));
  }
  for (const d of vl.releases.values())
    if (!seen.has(d.id) && complete)
      diffs.push(`it omits ${d.name} ${d.version} (${d.id})`);
  return h("div", { id: "server-list" }, diffs.length === 0 ?
    outcome(true, "The server's own list of releases agrees with its log.") :
    outcome(false, "The server's own list of releases (/api/v1/releases) " +
      "disagrees with its verified log: " + diffs.slice(0, 5).join("; ") +
      (diffs.length > 5 ? `; and ${diffs.length - 5} more.` : ".")));
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
  kids.push(section("Keys and root this service uses",
    h("p", { class: "muted", id: "pinned-note" }, w.firstVisit ?
      "This browser pinned these keys now, on its first visit: compare " +
      "them once with the ones the operator publishes elsewhere." :
      `This browser pinned these keys on ${w.pinned.since}; every check ` +
      "here uses them."),
    dl([
      ["AWS Nitro root (SHA-256 of the certificate)", mono(w.root_sha256)],
      ["Log key (pinned)", mono(w.pinned.log_key)],
      ["Verdict key (pinned; Ed25519 JWK x)", mono(w.pinned.verdict_key.x)],
      ["Verdict key id", mono(w.pinned.verdict_key.kid)],
      ["Software", w.version],
    ])));
  kids.push(policySection(w));
  const v = await api("/api/v1/verdicts");
  const seen = v.reasons.filter((r) => r.total > 0);
  kids.push(section("Recent verdicts",
    h("p", { class: "muted" }, `Last ${v.recent_seconds / 60} minutes, and ` +
      `since the service started at ${v.since}, as the service counts ` +
      "them (not signed)."),
    seen.length === 0 ? h("p", null, "No documents verified yet.") :
      table(["Reason", "Last hour", "Since start", "Meaning"],
        seen.map((r) => [r.reason === "ok" ? badge("ok", "ok") :
          mono(r.reason), String(r.recent), String(r.total), r.text]),
        "verdicts")));
  return kids;
}

// The tlog-policy (C2SP) verdicts are checked under: pinned from the
// verifier (GET /api/v1/log/policy) on the first visit, or one the user
// gives here, kept in this browser.
function policySection(w) {
  const text = h("textarea", { name: "policy", rows: 6, spellcheck: "false",
    "aria-label": "tlog-policy", placeholder: "log VKEY\nwitness NAME " +
      "VKEY\ngroup G 2 A B C\nquorum G" }, w.policyText ?? "");
  const use = () => {
    localStorage.setItem(USER_POLICY, text.value);
    service = undefined;
    route();
  };
  const pinned = () => {
    localStorage.removeItem(USER_POLICY);
    service = undefined;
    route();
  };
  const p = w.policy;
  return section("Witness policy",
    h("p", { class: "muted", id: "policy-note" }, w.policyText === null ||
      w.policyText === undefined ? "This verifier serves no tlog-policy " +
      "and none was given here: verdicts are checked without a quorum of " +
      "witnesses." : w.policyFrom === "user" ? "Verdicts are checked " +
      "under the policy given in this browser." : "Verdicts are checked " +
      "under the policy this browser pinned from the verifier " +
      "(/api/v1/log/policy)."),
    w.policyError ? outcome(false, "The policy cannot be used: " +
      w.policyError + ". No verdict naming a release is trusted until it " +
      "is fixed.") : null,
    p ? dl([
      ["Quorum", h("span", { id: "policy-quorum" }, policyName(p.quorumName))],
      ["Logs", String(p.logs.length)],
      ["Witnesses", h("span", { id: "policy-witnesses" }, p.witnesses.map(
        (x) => `${policyName(x.name)} (${x.key.name})`).join(", ") ||
        "none")],
    ]) : null,
    h("details", null, h("summary", null, "Give another policy"),
      text, h("div", { class: "row" },
        h("button", { type: "button", id: "use-policy", onclick: use },
          "Use this policy"),
        h("button", { type: "button", id: "pinned-policy",
          onclick: pinned }, "Use the pinned policy"))));
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
  const input = h("input", { type: "search", name: "q", value: q,
    placeholder: "name, or any PCR value (96 hex digits)",
    "aria-label": "Search releases" });
  const form = h("form", { class: "search", onsubmit: (ev) => {
    ev.preventDefault();
    location.hash = "#/releases?q=" + encodeURIComponent(input.value.trim());
  } }, input, h("button", { type: "submit" }, "Search"));
  let vl;
  try {
    vl = await verifiedLog();
  } catch (e) {
    return [h("h1", null, "Releases"), form, section("Not verified",
      outcome(false, "The log could not be verified, so no release is " +
        "shown: " + e.message))];
  }
  const all = [...vl.releases.values()];
  const found = all.filter((r) => (isPcr ? Object.values(r.pcrs).includes(
    q.toLowerCase()) : q === "" || r.name.toLowerCase().includes(
    q.toLowerCase()))).sort((a, b) => b.index - a.index);
  return [
    h("h1", null, "Releases"), form, logCoverage(vl),
    await serverListCheck(vl),
    h("p", { class: "muted", id: "release-count" }, q === "" ?
      `${found.length} published, newest first.` :
      `${found.length} of ${all.length} match ${isPcr ? "this PCR" : "\u201c" +
        q + "\u201d"}.`),
    found.length === 0 ? null : table(["Name", "Version", "Release",
      "Kind", "Key PCR", "Log entry", "Status"], found.map((r) => [
      h("span", { class: "name" }, r.name), r.version,
      link("#/release/" + r.id, mono(r.id)),
      r.kind === "nitrotpm" ? "instance (NitroTPM)" : "enclave",
      mono((r.kind === "nitrotpm" ? "PCR4 " + (r.pcrs["4"] || "") :
        "PCR0 " + (r.pcrs["0"] || "")).slice(0, 21) + "\u2026"),
      link("#/entry/" + r.index, String(r.index)),
      r.revoked !== null ? badge("bad", "revoked") : vl.read < vl.size ?
        badge("warn", "not revoked before entry " + vl.read) :
        badge("ok", "active")]), "releases"),
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
  let vl, vlErr, release = null, apiErr;
  try {
    vl = await verifiedLog();
  } catch (e) {
    vlErr = e;
  }
  const fromLog = vl ? vl.releases.get(id) : undefined;
  try {
    release = (await api("/api/v1/releases/" + encodeURIComponent(id)))
      .release;
  } catch (e) {
    apiErr = e;
  }
  if (!fromLog && !release)
    throw apiErr || new CheckError("no such release");
  const index = fromLog ? fromLog.index : release.index;
  let proved, err;
  try {
    proved = await proveEntry(index);
    // What is shown comes from the proven leaf, and must be this release.
    const want = bytesToHex((proved.hash).slice(0, 8));
    if (proved.leaf.type !== "release_published" || want !== id)
      throw new CheckError(`entry ${index} is not release ${id}`);
  } catch (e) {
    err = e;
  }
  const leaf = proved ? proved.leaf : null;
  const rel = leaf ? leaf.release : release || fromLog;
  // The status comes from the verified log only; the server's word is
  // compared with it, never shown as the status.
  let status, lie = null;
  if (fromLog) {
    status = fromLog.revoked !== null ? [badge("bad", "revoked"),
      " by log entry ", link("#/entry/" + fromLog.revoked,
        String(fromLog.revoked)), " \u2014 ", fromLog.reason] :
      vl.read < vl.size ? [badge("warn", "not revoked before entry " +
        vl.read), ` (entries ${vl.read} to ${vl.size - 1} were not read)`] :
        [badge("ok", "active"), ` (no revocation in the log's ${vl.size} ` +
          "entries)"];
    if (release && (release.revoked ?? null) !== fromLog.revoked)
      lie = outcome(false, "The server's answer for this release says it " +
        `is ${release.revoked === null || release.revoked === undefined ?
          "not revoked" : "revoked"}; its verified log says ` +
        (fromLog.revoked === null ? "it is not." : `it is, by entry ` +
          `${fromLog.revoked}.`));
  } else if (vl && index < vl.read) {
    status = badge("bad", "not in the log");
    lie = outcome(false, `The server names release ${id} at entry ` +
      `${index}, but the verified log has no such release there.`);
  } else {
    status = [badge("warn", "not verified"), " ", vl ? `entry ${index} is ` +
      `past the ${vl.read} entries this page reads` : vlErr.message];
  }
  return [
    h("h1", null, "Release ", h("span", { class: "name" }, rel.name), " ",
      rel.version),
    inclusionCard(index, proved, err),
    section("Release", lie, dl([
      ["Status", h("span", { id: "release-status" }, status)],
      ["Id (leaf hash prefix)", mono(id)],
      ["Log entry", link("#/entry/" + index, String(index))],
      ["Describes", (rel.kind || (release && release.kind)) === "nitrotpm" ?
        "an EC2 instance image (its PCRs are NitroTPM registers)" :
        "an enclave image"],
      ["Signer key", link("#/keys", mono(leaf ? leaf.signer : release ?
        release.signer : "(not verified)"))],
      leaf && ["Published", when(leaf.time_ms)],
    ])),
    section((rel.kind || (release && release.kind)) === "nitrotpm" ?
      (leaf ? "NitroTPM registers" : "NitroTPM registers (as the server " +
        "says; not verified)") :
      (leaf ? "PCRs" : "PCRs (as the server says; not verified)"),
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
  const head = [h("h1", null, "Signing keys"),
    h("p", { class: "muted" }, "Release managers' OpenPGP keys. Each was " +
      "added, and may be revoked, by an entry of the log.")];
  let vl;
  try {
    vl = await verifiedLog();
  } catch (e) {
    return [...head, section("Not verified", outcome(false, "The log " +
      "could not be verified, so no key is shown: " + e.message))];
  }
  // The server's list, compared with the verified log.
  let agree;
  try {
    const { keys } = await api("/api/v1/keys");
    const inLog = [...vl.keys.values()];
    agree = Array.isArray(keys) && keys.filter((k) => k.index < vl.read)
      .length === inLog.length && keys.every((k) => k.index >= vl.read ||
      (vl.keys.has(k.fingerprint) && vl.keys.get(k.fingerprint).index ===
        k.index && ((k.revoked ?? null) === vl.keys.get(k.fingerprint)
        .revoked || (vl.keys.get(k.fingerprint).revoked === null &&
          k.revoked >= vl.read))));
  } catch {
    agree = false;
  }
  return [...head, logCoverage(vl),
    h("div", { id: "server-keys" }, agree ? outcome(true, "The server's " +
      "own list of keys agrees with its log.") : outcome(false, "The " +
      "server's own list of keys (/api/v1/keys) disagrees with its " +
      "verified log.")),
    table(["Fingerprint", "Added by", "Status"], [...vl.keys.values()]
      .map((k) => [mono(k.fingerprint), link("#/entry/" + k.index, "entry " +
        k.index), k.revoked !== null ? [badge("bad", "revoked"), " by ",
        link("#/entry/" + k.revoked, "entry " + k.revoked)] :
        vl.read < vl.size ? badge("warn", "not revoked before entry " +
          vl.read) : badge("ok", "active")]), "keys")];
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
    section("Entries", h("p", { class: "muted" }, "As the server lists " +
      "them; each entry's page checks its inclusion in the signed log."),
    pager, rows.length ? table(["#", "Type", "Time",
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


// The document's bytes from hex or base64 text; null if it is neither.
function documentBytes(text) {
  const t = text.replace(/\s+/g, "");
  if (t === "")
    return null;
  if (/^([0-9a-fA-F]{2})+$/.test(t))
    return hexToBytes(t);
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) {
    try {
      return b64ToBytes(t);
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
    h("p", { class: "muted" }, "The verifier checks the document and signs " +
      "its verdict. This browser then checks the verdict: its signature " +
      "under the pinned verdict key, that it is about this very document, " +
      "that it has not expired, and that its release is in the log. Only " +
      "a verdict that passes all of these is shown as Trusted or Refused."),
    section("Document", form), out,
  ];
}

// The checks this browser makes on the verdict (docs/verdict.md), and the
// reason code that says each one failed.
const VERDICT_CHECKS = [
  ["form", "bad_verdict", "A signed EAR verdict (EdDSA JWS under the " +
    "pinned key's id)"],
  ["signature", "bad_verdict_signature", "Its signature verifies under the " +
    "pinned verdict key"],
  ["inputs", "verdict_mismatch", "It is about this document (its SHA-256 " +
    "and fields, computed in this browser)"],
  ["time", "verdict_expired", "It has not expired"],
  ["receipt", "bad_proof", "Its release is in the log (tlog-proof against " +
    "a checkpoint signed by the pinned log key)"],
  ["quorum", "below_quorum", "That checkpoint is cosigned by the policy's " +
    "quorum of witnesses"],
  ["question", "verdict_mismatch", "It answers the question asked (the " +
    "time to check at)"],
];

// The verifier's own account of its checks, in order (not signed).
const CHECKS = {
  cbor: "COSE_Sign1 structure (CBOR)",
  header: "Protected header: ES384",
  fields: "Required fields and their sizes",
  root: "Chain ends at the pinned root",
  chain: "Certificate chain",
  validity: "Certificates valid at the time asked",
  signature: "Document signature (ECDSA P-384)",
  debug: "Not a debug-mode enclave (none for an instance)",
  freshness: "Fresh (not when asked at the document\u2019s own time)",
  nonce: "Nonce (only when one is given)",
  release: "PCRs are a published, unrevoked release of the document\u2019s kind",
  result: "Result signature (only with a result)",
};

async function verifyDocument(text, at) {
  const bytes = documentBytes(text);
  if (bytes === null)
    return [notADocument()];
  let v;
  try {
    v = await api("/api/v1/verify", { method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ document: bytesToB64(bytes), at }) });
  } catch (e) {
    return [errorCard(e)];
  }
  const s = await wellKnown();
  let claims = null, err = null;
  const report = {};
  try {
    // A policy that cannot be read trusts nothing that needs it.
    if (s.policyError)
      throw new VerdictError("below_quorum", "the witness policy cannot " +
        "be used: " + s.policyError);
    claims = await verifyVerdict({ jws: v.verdict, tlogProof:
      v.tlog_proof ?? null, document: bytes, result: null, nonce: null,
    verdictKey: s.pinned.verdict_key, logKey: s.pinned.log_key,
    now: Math.floor(Date.now() / 1000), at, policy: s.policy, report });
  } catch (e) {
    // verifyVerdict() refuses a verdict about another question than this
    // page asked (verdict_mismatch, glassbox.at or glassbox.freshness).
    err = e;
  }
  const kids = [verdictCard(v, claims, err, s, report)];
  if (report.quorum)
    kids.push(quorumCard(report.quorum));
  kids.push(await documentCard(bytes));
  const g = (claims || (err && err.signed ? err.claims : null))?.submods
    .glassbox;
  if (g && g["glassbox.release"]) {
    const r = g["glassbox.release"], cp = g["glassbox.checkpoint"];
    kids.push(section("Matching release (signed in the verdict)", dl([
      ["Name", h("span", { class: "name" }, r.name)],
      ["Version", r.version],
      ["Release", link("#/release/" + r.id, mono(r.id))],
      ["Log entry", link("#/entry/" + r.index, String(r.index))],
      ["At the checkpoint", `of size ${cp.size}, root ` +
        `${cp.root.slice(0, 16)}\u2026`],
      ["Status then", h("span", { id: "verdict-release-status" },
        claims ? badge("ok", "not revoked") : g["glassbox.reason"] ===
          "revoked" ? badge("bad", "revoked") : mono(g["glassbox.reason"]))],
    ]), h("p", { class: "muted" }, "What the verifier signed about the " +
      "release at that checkpoint; the release's page computes its status " +
      "now from the log.")));
  }
  return kids;
}

// The witnesses whose cosignatures of the receipt's checkpoint this
// browser checked (cosignature/v1), and whether the quorum holds.
function quorumCard(q) {
  const states = { verified: ["ok", "verified"], missing: ["bad",
    "no cosignature"], bad: ["bad", "does not verify"], future: ["bad",
    "dated in the future"] };
  return section("Witness cosignatures (checked in this browser)",
    h("div", { id: "quorum", "data-quorum": q.trusted ? "met" : "not_met" },
      outcome(q.trusted, q.trusted ? `The policy's quorum ` +
        `(${policyName(q.quorumName)}) holds for the receipt's checkpoint.` :
        `The policy's quorum (${policyName(q.quorumName)}) does not hold ` +
        `for the receipt's checkpoint (${q.reason}).`),
      table(["Witness", "Cosignature", "Signed at"], q.witnesses.map((x) =>
        [policyName(x.name), h("span", { "data-witness": policyName(x.name),
          "data-state": x.state }, badge(...states[x.state])),
        x.time === null ? "\u2014" : when(x.time * 1000)]), "witnesses")));
}

// Input that is neither hex nor base64 never reaches the verifier.
function notADocument() {
  return h("section", { class: "card verdict bad", id: "verdict" },
    h("h2", null, "Not a document"),
    h("p", null, "Reason ", h("code", { id: "reason" }, "malformed"), ": " +
      "the input is neither hex nor base64, so it cannot be a document " +
      "(checked in this browser; nothing was sent)."),
    h("ol", { class: "checks" }, Object.keys(CHECKS).map((c, i) =>
      h("li", { class: i === 0 ? "fail" : "not_run", "data-check": c,
        "data-status": i === 0 ? "fail" : "not_run" },
      h("span", { class: "status" }, i === 0 ? "fail" : "not run"),
      h("span", { class: "title" }, CHECKS[c])))));
}

// Trusted and Refused come from a verdict that passed every check here;
// anything else is Unverified, with the check that failed.
function verdictCard(v, claims, err, s, report) {
  const refused = err instanceof VerdictError && err.signed;
  const state = claims ? "trusted" : refused ? "refused" : "unverified";
  const signedClaims = claims || (refused ? err.claims : null);
  const g = signedClaims ? signedClaims.submods.glassbox : null;
  const reason = g ? g["glassbox.reason"] : err instanceof VerdictError ?
    err.reason : "error";
  const failAt = claims || refused ? VERDICT_CHECKS.length :
    err instanceof VerdictError ? (err.claim === "glassbox.at" ||
      err.claim === "glassbox.freshness" ? 6 :
      VERDICT_CHECKS.findIndex(([, r]) => r === err.reason)) : 0;
  const noRelease = g && g["ear.status"] !== "affirming" &&
    !g["glassbox.release"];
  const steps = h("ol", { class: "vchecks" }, VERDICT_CHECKS.map(
    ([id, , title], i) => {
      // The quorum is skipped without a policy, or without a receipt.
      const skip = (id === "receipt" && noRelease) || (id === "quorum" &&
        (noRelease || !report.quorum) && !(s.policyError && i === failAt));
      const st = i < failAt ? (skip ? "skipped" : "pass") : i === failAt ?
        "fail" : "not_run";
      return h("li", { class: st, "data-vcheck": id, "data-status": st },
        h("span", { class: "status" }, st.replace("_", " ")),
        h("span", { class: "title" }, title),
        i === failAt ? h("span", { class: "why" }, mono(err.reason),
          err.claim ? [" ", mono(err.claim)] : null, " ", err.message) :
          null);
    }));
  // The answer's unsigned summary must agree with what was verified.
  const said = `trusted: ${v.trusted}, reason ${v.reason}`;
  const summary = !g ? h("p", { class: "muted", id: "unsigned-summary" },
    `The server's unsigned summary (${said}) is not shown as a verdict.`) :
    v.trusted !== Boolean(claims) || v.reason !== g["glassbox.reason"] ?
      h("div", { id: "unsigned-summary" }, outcome(false, "The answer's " +
        `unsigned summary (${said}) contradicts its signed verdict ` +
        `(${g["ear.status"]}, ${g["glassbox.reason"]}).`)) : null;
  const heads = { trusted: "Trusted", refused: "Refused",
    unverified: "Unverified" };
  return h("section", { class: "card verdict " + (state === "trusted" ?
    "good" : state === "refused" ? "bad" : "unverified"), id: "verdict",
  "data-verdict": state },
  h("h2", null, heads[state]),
  h("p", null, "Reason ", h("code", { id: "reason" }, reason), ": ",
    g ? g["glassbox.message"] : "the verdict could not be verified in " +
      "this browser, so it says nothing: " + err.message),
  g ? dl([
    ["Evaluated at", g["glassbox.at_ms"] === null ? "\u2014" :
      when(g["glassbox.at_ms"])],
    ["Signed", `${when(signedClaims.iat * 1000)}, good until ` +
      when(signedClaims.exp * 1000)],
  ]) : null,
  h("h3", null, "Checked in this browser"), steps, summary,
  Array.isArray(v.checks) ? h("details", { class: "server-checks" },
    h("summary", null, "The verifier's account of its checks (not signed)"),
    h("ol", { class: "checks" }, v.checks.map((c) =>
      h("li", { class: c.status, "data-check": c.check,
        "data-status": c.status },
      h("span", { class: "status" }, String(c.status).replace("_", " ")),
      h("span", { class: "title" }, CHECKS[c.check] || c.check),
      c.reason ? h("span", { class: "why" }, mono(c.reason), " ",
        c.text || "") : null)))) : null);
}

// The document's fields, read from its bytes in this browser.
async function documentCard(bytes) {
  const digest = bytesToHex(await sha256(bytes));
  let d;
  try {
    d = parseDocument(bytes);
  } catch (e) {
    return section("Document (read in this browser)", dl([
      ["SHA-256", mono(digest)]]), outcome(false, "This browser cannot " +
      "read it as a Nitro attestation document: " + e.message));
  }
  const hex = (b) => (b === null ? "none" : b.length === 0 ? "empty" :
    mono(bytesToHex(b)));
  const pcrs = Object.fromEntries(Object.entries(d.pcrs).map(([k, x]) =>
    [k, bytesToHex(x)]).filter(([, x]) => !/^0*$/.test(x)));
  // An EC2 instance's NitroTPM document: its 24 registers, and no debug
  // mode (PCR0..2 measure AWS's firmware there).
  const tpm = d.kind === "nitrotpm";
  const debug = !tpm && ["0", "1", "2"].every((k) => d.pcrs[k] &&
    d.pcrs[k].every((x) => x === 0));
  return h("div", { id: "document-fields" },
    section("Document (read in this browser)", dl([
      ["SHA-256", mono(digest)],
      ["Module", d.module_id],
      ["Time", `${when(Number(d.timestamp))} (${d.timestamp} ms)`],
      ["Digest", d.digest],
      ["Kind", tpm ? "EC2 instance (NitroTPM: nitrotpm_pcrs)" :
        "enclave (pcrs)"],
      ["Debug mode", tpm ? "not an enclave" : debug ?
        "yes (PCRs 0 to 2 are zero)" : "no"],
      ["Public key", hex(d.public_key)],
      ["User data", hex(d.user_data)],
      ["Nonce", hex(d.nonce)],
    ]), h("p", { class: "muted" }, "Read from the bytes you gave; their " +
      "signature and certificates are what the verifier's signed verdict " +
      "speaks for.")),
    section(tpm ? "NitroTPM registers" : "PCRs", Object.keys(pcrs).length ?
      pcrTable(pcrs) : h("p", null, "Every PCR is zero.")),
    h("p", { class: "muted" }, "PCRs that are all zero are not shown." +
      (tpm ? " PCR4 (boot manager code: the image), PCR7 (Secure Boot " +
        "policy) and PCR12 (kernel command line) are what an instance " +
        "release is held to." : "")));
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
  let kids, warn = null;
  try {
    const s = await wellKnown();
    if (s.changed)
      warn = keyWarning(s);
    const r = routes.find(([re]) => re.test(path));
    kids = r ? await r[1](r[0].exec(path), params) :
      [h("h1", null, "Not found"), h("p", null, "No such view.")];
  } catch (e) {
    kids = [errorCard(e)];
  }
  kids = [warn, kids];
  main.replaceChildren(...[kids].flat(Infinity).filter(Boolean));
  main.setAttribute("aria-busy", "false");
}

window.addEventListener("hashchange", route);
route();
