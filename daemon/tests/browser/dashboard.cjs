// Drives the coordinator's ops dashboard in headless Chromium (Debian's `chromium`, driven by
// `playwright-core`; no browser download): logs in with the admin token, turns the local-model
// feature off for the fleet and on for one agent, starts a canary rollout of a signed manifest
// and waits — through the page's live updates, without reloading — until the real worker has
// downloaded, verified and installed it; then a manifest signed by a key the workers do not
// trust, refused with `unknown_key`, shown on the dashboard; then model provenance and the
// audit chain. Screenshots go to $SCREENSHOTS. Prints one JSON line of what it saw.
//
// Environment: DASHBOARD_URL, ADMIN_TOKEN, MANIFEST (signed by the fleet key), FOREIGN_MANIFEST
// (signed by another key), AGENT (the one to enable), OTHER_AGENT (left off), SCREENSHOTS,
// CHROMIUM (default /usr/bin/chromium). Run by daemon/tests/swarm.rs.
"use strict";

const { chromium } = require("playwright-core");
const path = require("node:path");

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: this script is run by daemon/tests/swarm.rs`);
  }
  return value;
};

async function main() {
  const url = env("DASHBOARD_URL");
  const agent = env("AGENT");
  const other = env("OTHER_AGENT");
  const shots = env("SCREENSHOTS");
  const seen = { screenshots: [] };
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    chromiumSandbox: false,
    headless: true,
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  const shoot = async (name) => {
    const file = path.join(shots, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    seen.screenshots.push(file);
  };
  try {
    // Log in: the dashboard sends a browser without a session to the login form.
    await page.goto(`${url}/dashboard`);
    await page.waitForURL("**/dashboard/login");
    await page.fill("#token", env("ADMIN_TOKEN"));
    await Promise.all([page.waitForURL(`${url}/dashboard`), page.click("button[type=submit]")]);
    await page.waitForSelector(`tr[data-agent="${agent}"]`);
    await page.waitForSelector(`tr[data-agent="${other}"]`);
    await page.waitForFunction(() => document.getElementById("live").dataset.state === "live");
    await shoot("01-fleet");

    // The local model off for the whole fleet, on for one agent.
    await page.goto(`${url}/dashboard/features`);
    await page.selectOption("#level-form select[name=level]", "fleet");
    await page.selectOption("#level-form select[name=local_model]", "off");
    await page.selectOption("#level-form select[name=mode]", "swarm-only");
    await Promise.all([page.waitForURL("**/dashboard/features?ok=*"), page.click("#level-form button[type=submit]")]);
    await page.goto(`${url}/dashboard/agents/${agent}`);
    await page.selectOption("#feature-form select[name=local_model]", "on");
    await page.selectOption("#feature-form select[name=mode]", "ide-enabled");
    await Promise.all([page.waitForURL("**?ok=*"), page.click("#feature-form button[type=submit]")]);
    seen.agent_local_model = (await page.textContent("#effective-local-model")).trim();
    await shoot("02-agent-feature-on");

    // A canary of two random agents: only the enabled one is offered the model.
    await page.goto(`${url}/dashboard/rollouts`);
    await page.setInputFiles("#start-rollout input[name=manifest]", env("MANIFEST"));
    await page.fill("#start-rollout input[name=canary_count]", "2");
    await Promise.all([page.waitForURL(/\/dashboard\/rollouts\/\d+\?ok=/), page.click("#start-rollout button[type=submit]")]);
    seen.rollout_url = page.url();
    seen.offered = await page.$$eval("#rollout-agents tr[data-agent]", (rows) => rows.map((r) => r.dataset.agent));
    // Live updates carry the worker's reports into the page: no reload from here on.
    const state = `#rollout-agents tr[data-agent="${agent}"] td.state`;
    await page.waitForFunction(
      (selector) => document.querySelector(selector)?.textContent.trim() === "downloading" ||
        document.querySelector(selector)?.textContent.trim() === "staged" ||
        document.querySelector(selector)?.textContent.trim() === "installed",
      state,
      { timeout: 120000 },
    );
    await page.waitForFunction((selector) => document.querySelector(selector)?.textContent.trim() === "installed", state, { timeout: 180000 });
    seen.installed_message = (await page.textContent(`#rollout-agents tr[data-agent="${agent}"]`)).replace(/\s+/g, " ").trim();
    await shoot("03-rollout-installed");
    // The last stage reaches every agent with the feature on: worker-a has it, so it completes.
    await Promise.all([page.waitForURL("**?ok=*"), page.click("text=Advance to the next stage")]);
    seen.after_advance = (await page.textContent("#rollout-state-badge")).trim();

    // A manifest signed by a key the workers do not trust: refused by the worker, halted.
    await page.goto(`${url}/dashboard/rollouts`);
    await page.setInputFiles("#start-rollout input[name=manifest]", env("FOREIGN_MANIFEST"));
    await page.fill("#start-rollout input[name=canary]", agent);
    await page.fill("#start-rollout input[name=max_failure_rate]", "0");
    await Promise.all([page.waitForURL(/\/dashboard\/rollouts\/\d+\?ok=/), page.click("#start-rollout button[type=submit]")]);
    const code = `#rollout-agents tr[data-agent="${agent}"] td.code`;
    await page.waitForFunction((selector) => document.querySelector(selector)?.textContent.trim() !== "", code, { timeout: 120000 });
    await page.waitForFunction(() => document.querySelector("#rollout-state-badge")?.textContent.includes("halted"), null, { timeout: 30000 });
    seen.refusal_code = (await page.textContent(code)).trim();
    await shoot("04-rollout-refused-unknown-key");

    await page.goto(`${url}/dashboard/models`);
    seen.provenance = (await page.textContent("#provenance")).replace(/\s+/g, " ").trim();
    await shoot("05-model-provenance");

    await page.goto(`${url}/dashboard/audit?verify=1`);
    seen.audit_chain = (await page.textContent("#chain")).trim();
    await shoot("06-audit");

    seen.page_errors = errors;
    process.stdout.write(JSON.stringify(seen) + "\n");
  } catch (error) {
    await page.screenshot({ path: path.join(shots, "failure.png"), fullPage: true }).catch(() => {});
    const html = await page.content().catch(() => "");
    process.stderr.write(`dashboard test failed at ${page.url()}: ${error.stack || error}\npage errors: ${JSON.stringify(errors)}\n${html}\n`);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exitCode = 1;
});
