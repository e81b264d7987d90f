// Loading the web page, signed out, with the development login off (the default) and on: no
// console error at all (not even a failed request: the page asks only what is answered 200), and
// the page reaches network idle (every response it asks for is read to its end).
//
//   PARLEY_BIN=build/apps/parley/parley node --test tests/web/load.test.mjs
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { launchChromium, Parley } from "./helpers.mjs";

const STEP = { timeout: 60_000 };

describe("loading the page", { timeout: 120_000 }, () => {
  let browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  // Loads the page signed out; resolves with every console error and failed request, and
  // whether the network went idle within 10 s.
  async function load(server) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on("console", (msg) => msg.type() === "error" && errors.push(`console: ${msg.text()}`));
    page.on("pageerror", (err) => errors.push(`uncaught: ${err.message}`));
    page.on("requestfailed", (req) => errors.push(`failed: ${req.url()} ${req.failure()?.errorText}`));
    page.on("response", (res) => res.status() >= 400 && errors.push(`${res.status()}: ${res.url()}`));
    await page.goto(server.url);
    const idle = await page.waitForLoadState("networkidle", { timeout: 10_000 }).then(() => true, () => false);
    const signin = { devLogin: await page.isVisible("#dev-login-form"), token: await page.isVisible("#token-form") };
    await context.close();
    return { errors, idle, signin };
  }

  for (const [name, flags, devLogin] of [
    ["off", [], false],
    ["on", ["--dev-login"], true],
  ]) {
    it(`with the development login ${name}: no console error, network idle`, STEP, async () => {
      const server = new Parley(flags);
      try {
        await server.start();
        const probe = await fetch(`${server.url}/api/web/config`);
        assert.equal(probe.status, 200);
        assert.deepEqual(await probe.json(), { devLogin });
        const r = await load(server);
        assert.deepEqual(r.errors, []);
        assert.equal(r.idle, true, "the page never reached network idle");
        assert.deepEqual(r.signin, { devLogin, token: true });
      } finally {
        await server.cleanup();
      }
    });
  }
});
