#!/usr/bin/env node
// The page's side of tests/e2e/test_policy.py: in Debian's chromium
// (headless, playwright-core, as test_web.mjs), for each job, a fresh
// browser context opens the verifier's page (which pins its keys and its
// tlog-policy on this first visit), optionally gives its own policy on the
// Overview (the "Give another policy" form), then verifies a document and
// reports what the page shows: the verdict's state and reason, the browser
// checks, the quorum and each witness's cosignature, or the error card.
//
// usage: node policy_page.mjs JOBS.json
// JOBS.json: [{ "url": "http://127.0.0.1:PORT", "doc": BASE64,
//               "policy": TEXT or null }]
// Prints one JSON array of results on standard output.
import fs from "node:fs";
import { chromium } from "playwright-core";

const jobs = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync"],
});
const out = [];
try {
  for (const job of jobs) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const problems = [];
    page.on("pageerror", (e) => problems.push(e.message));
    const open = async (hash) => {
      await page.goto("about:blank");
      await page.goto(job.url + "/" + hash);
      await page.waitForSelector('main[aria-busy="false"]');
    };
    await open("#/");
    const pinned = await page.evaluate(() =>
      JSON.parse(localStorage.getItem("glassbox.keys") || "null"));
    if (job.policy !== null) {
      await page.click("text=Give another policy");
      await page.fill("textarea[name=policy]", job.policy);
      await page.click("#use-policy");
      await page.waitForSelector('main[aria-busy="false"]');
    }
    const quorumRule = await page.locator("#policy-quorum").count() ?
      await page.locator("#policy-quorum").innerText() : null;
    await open("#/verify");
    await page.fill("textarea[name=document]", job.doc);
    await page.selectOption("select[name=at]", "now");
    await page.click("form.verify button[type=submit]");
    await page.waitForSelector("#verdict, #verify-result section.card.error");
    const r = { pinnedPolicy: pinned ? pinned.policy : null, quorumRule,
      problems };
    if (await page.locator("#verdict").count()) {
      r.state = await page.locator("#verdict").getAttribute("data-verdict");
      r.reason = await page.locator("#reason").innerText();
      r.steps = (await page.locator("ol.vchecks li").evaluateAll((ls) =>
        ls.map((l) => l.dataset.vcheck + ":" + l.dataset.status))).join(" ");
      r.quorum = await page.locator("#quorum").count() ?
        await page.locator("#quorum").getAttribute("data-quorum") : null;
      r.witnesses = await page.locator("[data-witness]").evaluateAll((ls) =>
        ls.map((l) => [l.dataset.witness, l.dataset.state]));
    } else {
      r.error = await page.locator("#verify-result section.card.error")
        .innerText();
    }
    out.push(r);
    await ctx.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
