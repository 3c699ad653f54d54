// The sidebar's page in real headless Chromium with a recorded daemon event stream: its CSP
// (no violations, no inline scripts run, nothing remote), untrusted text shown as text, the plan
// / code / test view and the diff view drawn from the events (screenshots into test-output/),
// and the buttons posting the right messages to the extension.

import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";

import { type Browser, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type AgentEvent, emptyTimeline, parseAgentEvent, reduce } from "../../src/core/events";
import { statusView } from "../../src/core/status";
import { parseSse } from "../../src/core/sse";
import { sidebarHtml } from "../../src/webview/html";

const root = path.resolve(__dirname, "../..");
const shots = path.join(root, "test-output");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const events: AgentEvent[] = parseSse(fs.readFileSync(path.join(root, "test/fixtures/task-calc.sse"), "utf8")).map((e) => parseAgentEvent(e.data));
const reviews = JSON.parse(fs.readFileSync(path.join(root, "test/fixtures/reviews.json"), "utf8"));
const status = JSON.parse(fs.readFileSync(path.join(root, "test/fixtures/status.json"), "utf8"));

let server: http.Server;
let origin: string;
let browser: Browser;
let page: Page;
const errors: string[] = [];
const requests: string[] = [];

beforeAll(async () => {
  for (const file of ["dist/webview.js", "media/webview.css"]) {
    if (!fs.existsSync(path.join(root, file))) {
      throw new Error(`${file} is missing: run \`npm run build\` first`);
    }
  }
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium package (apt install chromium) or set CHROMIUM`);
  }
  fs.mkdirSync(shots, { recursive: true });
  server = http.createServer((req, res) => {
    const url = req.url ?? "/";
    if (url === "/") {
      res.setHeader("Content-Type", "text/html; charset=utf-8");
      res.end(sidebarHtml({ cspSource: origin, nonce: "n0nce0123456789abcdefABCDEF", scriptUri: `${origin}/dist/webview.js`, styleUri: `${origin}/media/webview.css` }));
      return;
    }
    if (url === "/favicon.ico") {
      // Chromium's own request for the tab icon (a webview has none), not the page's.
      res.statusCode = 204;
      res.end();
      return;
    }
    const file = path.join(root, url.replace(/^\//, ""));
    if (!["/dist/webview.js", "/media/webview.css"].includes(url)) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader("Content-Type", url.endsWith(".js") ? "text/javascript" : "text/css");
    res.end(fs.readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, chromiumSandbox: false });
  page = await browser.newPage({ viewport: { width: 420, height: 900 }, deviceScaleFactor: 1 });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("request", (r) => requests.push(r.url()));
  // VS Code's webview API, as the page sees it; what the page posts is kept for the assertions.
  await page.addInitScript(() => {
    const w = window as unknown as { __posted: unknown[]; __violations: string[]; acquireVsCodeApi: () => unknown };
    w.__posted = [];
    w.__violations = [];
    document.addEventListener("securitypolicyviolation", (e) => w.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    let state: unknown;
    w.acquireVsCodeApi = () => ({
      postMessage: (m: unknown) => w.__posted.push(m),
      getState: () => state,
      setState: (s: unknown) => {
        state = s;
      },
    });
  });
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === "ready"));
});

afterAll(async () => {
  await browser?.close();
  server?.close();
});

async function post(message: unknown): Promise<void> {
  await page.evaluate((m) => window.postMessage(m, "*"), message);
}

async function settle(): Promise<void> {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

describe("the sidebar", () => {
  it("runs under its strict CSP: the script only by nonce, nothing remote, no inline code", async () => {
    const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute("content");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'nonce-");
    expect(csp).not.toContain("unsafe-inline");
    expect(await page.locator("[onclick], [onerror], [onload], [style]").count()).toBe(0);
    // An inline script injected now is refused by the policy.
    const ran = await page.evaluate(() => {
      const s = document.createElement("script");
      s.textContent = "window.__inline = true";
      document.body.append(s);
      return (window as unknown as { __inline?: boolean }).__inline === true;
    });
    expect(ran).toBe(false);
    expect(await page.evaluate(() => (window as unknown as { __violations: string[] }).__violations)).toEqual(["script-src-elem inline"]);
  });

  it("draws plan, code and test runs live from the recorded events", async () => {
    const started = events.find((e) => e.event === "started")!;
    const timeline = emptyTimeline(started.event === "started" ? started.task_id : "", started.event === "started" ? started.task : "");
    await post({ type: "status", view: statusView({ daemon: { up: true, status, where: "unix:/run/user/1000/edgecoder/edgecoderd.sock" }, reviews: [], task: timeline }) });
    await post({ type: "task", timeline });
    const firstTest = events.findIndex((e) => e.event === "transition" && e.detail.kind === "tested");
    expect(firstTest, "the recorded task has a test run").toBeGreaterThan(0);
    const sofar = emptyTimeline(timeline.taskId, timeline.task);
    for (const event of events.slice(0, firstTest + 1)) {
      await post({ type: "event", event });
      reduce(sofar, event);
    }
    await post({ type: "status", view: statusView({ daemon: { up: true, status, where: "unix:/run/user/1000/edgecoder/edgecoderd.sock" }, reviews: [], task: sofar }) });
    await settle();
    expect(await page.locator(".status .badge").textContent()).toBe("running locally");
    await expect.poll(() => page.locator("[data-iteration]").count()).toBeGreaterThan(0);
    expect(await page.locator(".card.task .task-text").textContent()).toBe(timeline.task);
    expect(await page.locator("section.card h2", { hasText: "Plan" }).count()).toBe(1);
    expect(await page.locator("[data-iteration='1'] h3", { hasText: /Test run: \d+\/\d+ passed/ }).count()).toBe(1);
    expect(await page.locator("[data-action=cancel]").count()).toBe(1);
    await page.screenshot({ path: path.join(shots, "sidebar-plan-code-test.png"), fullPage: true });
  });

  it("ends in the diff with Apply / Show diff / Reject, which post to the extension", async () => {
    const firstTest = events.findIndex((e) => e.event === "transition" && e.detail.kind === "tested");
    for (const event of events.slice(firstTest + 1)) {
      await post({ type: "event", event });
    }
    await post({ type: "reviews", entries: reviews });
    const final = events.reduce((t, e) => reduce(t, e), emptyTimeline("", ""));
    await post({ type: "status", view: statusView({ daemon: { up: true, status, where: "unix:/run/user/1000/edgecoder/edgecoderd.sock" }, reviews, task: final }) });
    await settle();
    expect(await page.locator(".status .badge").textContent()).toBe("queued for cloud");
    expect(final.report?.state).toBe("done");
    await expect.poll(() => page.locator("pre.diff").count()).toBeGreaterThan(0);
    const diffText = await page.locator(".card pre.diff").last().textContent();
    expect(diffText).toContain("--- a/calc.py");
    expect(await page.locator(".diff .add").count()).toBeGreaterThan(0);
    expect(await page.locator("[data-iteration]").count()).toBe(final.iterations.length);
    expect(await page.locator("[data-review]").count()).toBe(reviews.length);
    await page.locator("section.card", { hasText: "Result" }).screenshot({ path: path.join(shots, "sidebar-diff.png") });
    await page.screenshot({ path: path.join(shots, "sidebar-full.png"), fullPage: true });
    for (const action of ["apply", "show-diff", "reject"]) {
      await page.locator(`[data-action=${action}]`).click();
    }
    const posted = await page.evaluate(() => (window as unknown as { __posted: { type: string }[] }).__posted.map((m) => m.type));
    expect(posted).toEqual(["ready", "apply", "show-diff", "reject"]);
  });

  it("shows untrusted text as text, never as HTML", async () => {
    const hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    await post({ type: "error", message: hostile });
    await post({ type: "event", event: { event: "token", state: "code", text: hostile } });
    await settle();
    expect(await page.locator("[data-role=error]").textContent()).toBe(hostile);
    expect(await page.locator("img").count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(errors.filter((e) => !e.includes("Content Security Policy"))).toEqual([]);
    expect(requests.filter((u) => !u.startsWith(origin))).toEqual([]);
  });
});
