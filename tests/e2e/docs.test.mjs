// The OpenAPI document and its reference page. The document must be valid
// OpenAPI 3.1 (checked against the official schemas by
// @seriousme/openapi-schema-validator, which also refuses a broken copy),
// and /docs, drawn by the vendored Swagger UI in Debian's Chromium, must
// authorise with a token and run one call against the daemon.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { parse, stringify } from "yaml";
import { initDb, token, serve, launchChromium } from "./arald.mjs";

const ROOT = new URL("../../", import.meta.url).pathname;
const DOC = join(ROOT, "docs/openapi.yaml");

test("docs/openapi.yaml is valid OpenAPI 3.1", async () => {
  const v = new Validator();
  const res = await v.validate(readFileSync(DOC, "utf8"));
  assert.deepEqual(res.errors ?? [], [], JSON.stringify(res.errors, null, 1));
  assert.equal(res.valid, true);
  assert.equal(v.version, "3.1");
  // and the validator does refuse a broken document
  const broken = parse(readFileSync(DOC, "utf8"));
  broken.paths["/v1/health"].get.responses["200"] = { content: {} }; // no description
  const bad = await new Validator().validate(stringify(broken));
  assert.equal(bad.valid, false);
});

async function startDaemon() {
  const { dir, db } = initDb("docs", ["--classes", "cat,dog", "--dim", "4"]);
  const admin = token(db, "admin");
  return { ...(await serve(db, dir)), token: admin };
}

test("/docs authorises with a token and runs GET /v1/project", async () => {
  const d = await startDaemon();
  const browser = await launchChromium();
  const problems = [], outside = [];
  try {
    const page = await browser.newPage();
    page.on("pageerror", (e) => problems.push(e.message));
    page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
    page.on("request", (r) => { if (!r.url().startsWith(d.base)) outside.push(r.url()); });
    await page.goto(d.base + "/docs");
    await page.waitForSelector(".opblock-tag-section");
    await page.click("button.authorize");
    await page.fill(".auth-container input", d.token);
    await page.click(".auth-btn-wrapper button.authorize");
    await page.click("button.btn-done");
    const op = page.locator("#operations-health-project");
    await op.locator(".opblock-summary").click();
    await op.locator("button.try-out__btn").click();
    await op.locator("button.execute").click();
    const status = op.locator(".live-responses-table tr.response .response-col_status").first();
    await status.waitFor();
    assert.equal((await status.textContent()).trim(), "200");
    const body = await op.locator(".live-responses-table tr.response .microlight").first().textContent();
    assert.deepEqual(JSON.parse(body).classes.map((c) => c.name), ["cat", "dog"]);
    await page.screenshot({ path: join(ROOT, "build/docs-page.png"), fullPage: false });
    assert.deepEqual(outside, []);
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    d.proc.kill("SIGTERM");
  }
});
