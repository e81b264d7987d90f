// The web page served by parley, in a real browser (Debian's chromium, driven by playwright-core):
// two users sign in with the development login, create a conversation, exchange messages, see
// typing and read marks, share an image, write privately, page back through history, see more
// conversations than one page of conversation:list holds, and one of
// them comes back after a server restart to the messages sent meanwhile. Takes screenshots of
// the main screens: to a temporary folder, or to docs/screenshots/ (the README's pictures) with
// SCREENSHOTS=docs, so that running the tests leaves the checkout as it was.
//
//   PARLEY_BIN=build/apps/parley/parley node --test tests/web/
//   SCREENSHOTS=docs node --test tests/web/chat.test.mjs      # refresh docs/screenshots/
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { io } from "socket.io-client";

import { launchChromium, makePng, Parley, repoRoot, watch } from "./helpers.mjs";

const SHOTS =
  process.env.SCREENSHOTS === "docs"
    ? path.join(repoRoot, "docs/screenshots")
    : mkdtempSync(path.join(tmpdir(), "parley-screenshots-"));
const DESKTOP = { width: 1180, height: 760 };
const PHONE = { width: 390, height: 780 };
const MAX_UPLOAD = 256 * 1024;
const STEP = { timeout: 60_000 };
const WAIT = { timeout: 10_000 };

describe("the web page", { timeout: 300_000 }, () => {
  const server = new Parley(["--dev-login", "--max-upload-bytes", String(MAX_UPLOAD)]);
  const problems = []; // per page, from watch()
  let browser, alice, bob;

  // A new page (in a browser context of its own: another user) at the server's "/".
  async function openPage(name, viewport = DESKTOP) {
    const context = await browser.newContext({ viewport, deviceScaleFactor: 1, locale: "en-GB", timezoneId: "UTC" });
    const page = await context.newPage();
    problems.push(watch(page, name));
    page.setDefaultTimeout(WAIT.timeout);
    await page.goto(server.url);
    return page;
  }

  const exactly = (text) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  const conversationItem = (page, title) =>
    page.locator("#conversation-list .conversation-item").filter({ has: page.locator(".item-title", { hasText: exactly(title) }) });
  const message = (page, text) => page.locator("#message-list .message", { hasText: text });
  const mark = (page, text) => message(page, text).locator(".mark");
  const state = (page) => page.locator("#connection").getAttribute("data-state");
  const waitState = (page, s) => page.locator(`#connection[data-state="${s}"]`).waitFor();

  async function signIn(page, name) {
    await page.locator("#dev-login-form").waitFor();
    await page.fill("#dev-name", name);
    await page.click("#dev-login-form button[type=submit]");
    await waitState(page, "connected");
    assert.equal(await page.textContent("#me-name"), name);
  }

  async function send(page, text) {
    await page.fill("#message-input", text);
    await page.press("#message-input", "Enter");
  }

  async function screenshot(page, name) {
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, name), animations: "disabled", caret: "hide" });
  }

  before(async () => {
    await server.start();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server.cleanup();
    assert.deepEqual(problems.flat(), [], "the pages had errors");
  });

  it("serves the page, the client bundle and the dev login with strict headers", STEP, async () => {
    const page = await fetch(server.url + "/");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type"), /^text\/html/);
    const csp = page.headers.get("content-security-policy");
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    const etag = page.headers.get("etag");
    assert.ok(etag);
    const again = await fetch(server.url + "/", { headers: { "If-None-Match": etag } });
    assert.equal(again.status, 304);

    const bundle = readFileSync(path.join(repoRoot, "node_modules/socket.io-client/dist/socket.io.min.js"), "utf8");
    for (const p of ["/socket.io/socket.io.min.js", "/socket.io/socket.io.js"]) {
      const res = await fetch(server.url + p);
      assert.equal(res.status, 200, p);
      assert.match(res.headers.get("content-type"), /^text\/javascript/);
      assert.equal(await res.text(), bundle, p);
    }
    for (const p of ["/app.js", "/style.css", "/js/client.js"]) assert.equal((await fetch(server.url + p)).status, 200, p);
    for (const p of ["/nothing-here", "/socket.io/socket.io.js.map", "/socket.io.min.js"])
      assert.equal((await fetch(server.url + p)).status, 404, p);

    assert.equal((await fetch(server.url + "/api/dev/login")).status, 200);
    const login = await fetch(server.url + "/api/dev/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "  Zoë  O'Neil " }),
    });
    assert.equal(login.status, 200);
    const body = await login.json();
    assert.equal(body.userId, "zo-o-neil");
    assert.equal(body.name, "Zoë  O'Neil");
    assert.match(body.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const refused = await fetch(server.url + "/api/dev/login", {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify({ name: "mallory" }),
    });
    assert.equal(refused.status, 415);

    // Off by default.
    const plain = new Parley();
    try {
      await plain.start();
      assert.equal((await fetch(plain.url + "/api/dev/login")).status, 404);
      const post = await fetch(plain.url + "/api/dev/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: "alice" }),
      });
      assert.equal(post.status, 404);
    } finally {
      await plain.cleanup();
    }
  });

  it("signs two users in with the development login", STEP, async () => {
    alice = await openPage("alice");
    await page0Screenshot(alice);
    await signIn(alice, "Alice");
    bob = await openPage("bob");
    await signIn(bob, "Bob");
    // Each sees the other online.
    await alice.locator('#online-list button[data-user="bob"]').waitFor();
    await bob.locator('#online-list button[data-user="alice"]').waitFor();
  });

  async function page0Screenshot(page) {
    await page.locator("#dev-login-form").waitFor();
    await page.fill("#dev-name", "Alice");
    await screenshot(page, "login.png");
    await page.fill("#dev-name", "");
  }

  it("creates a private conversation with a chosen member", STEP, async () => {
    await alice.click("#new-conversation");
    await alice.fill("#create-name", "Project Parley");
    await alice.check('#create-people input[value="bob"]');
    await alice.check("#create-private");
    await alice.click("#create-submit");
    await conversationItem(alice, "Project Parley").waitFor();
    assert.equal(await alice.textContent("#conversation-title"), "Project Parley");
    assert.match(await alice.textContent("#conversation-subtitle"), /Private · alice, bob/);

    // Bob is told nothing by the server: the page's list refresh finds it.
    await bob.click("#refresh-conversations");
    await conversationItem(bob, "Project Parley").waitFor();
  });

  it("sends with a pending then sent mark, escapes HTML, counts unread and shows read marks", STEP, async () => {
    const evil = "<img src=x onerror=alert(1)> is just text";
    await send(alice, evil);
    await message(alice, evil).waitFor();
    await alice.locator('#message-list .message.mine[data-status="sent"]', { hasText: evil }).waitFor();

    // Bob's list counts it as unread until he opens the conversation.
    await conversationItem(bob, "Project Parley").locator(".badge", { hasText: "1" }).waitFor();
    assert.match(await bob.title(), /^\(1\) Parley/);
    await conversationItem(bob, "Project Parley").click();
    const shown = message(bob, evil);
    await shown.waitFor();
    assert.equal(await shown.locator(".content").textContent(), evil);
    assert.equal(await bob.locator("#message-list img").count(), 0, "the message became markup");
    await conversationItem(bob, "Project Parley").locator(".badge").waitFor({ state: "detached" });

    // Bob has read it: Alice's mark turns to read.
    await alice.locator('#message-list .message.mine[data-status="read"]', { hasText: evil }).waitFor();
    assert.equal(await mark(alice, evil).getAttribute("aria-label"), "Read");
  });

  it("shows who is typing, and the reply", STEP, async () => {
    await bob.click("#message-input");
    await bob.keyboard.type("Hi Alice", { delay: 30 });
    await alice.locator("#typing", { hasText: "bob is typing" }).waitFor();
    await bob.press("#message-input", "Enter");
    await message(alice, "Hi Alice").waitFor();
    await alice.locator("#typing", { hasText: "typing" }).waitFor({ state: "detached" }).catch(() => {});
    await alice.waitForFunction(() => !document.getElementById("typing").textContent.includes("typing"));
    // Alice had the conversation open: Bob's reply is marked read at once.
    await bob.locator('#message-list .message.mine[data-status="read"]', { hasText: "Hi Alice" }).waitFor();
  });

  it("writes privately to someone online, with an unread count on the other side", STEP, async () => {
    await bob.click('#online-list button[data-user="alice"]');
    assert.equal(await bob.textContent("#conversation-title"), "alice");
    await send(bob, "psst, just between us");
    await bob.locator('#message-list .message.mine[data-status="sent"]', { hasText: "psst" }).waitFor();

    // Alice is in "Project Parley": the direct conversation appears with one unread message.
    const dm = conversationItem(alice, "bob");
    await dm.locator(".badge", { hasText: "1" }).waitFor();
    await dm.click();
    await message(alice, "psst, just between us").waitFor();
    await dm.locator(".badge").waitFor({ state: "detached" });
    await send(alice, "noted");
    await message(bob, "noted").waitFor();
    await bob.locator('#message-list .message.mine[data-status="read"]', { hasText: "psst" }).waitFor();
    await conversationItem(alice, "Project Parley").click();
    await conversationItem(bob, "Project Parley").click();
  });

  it("shares an image, previewed for both, with a download link", STEP, async () => {
    await alice.setInputFiles("#file-input", { name: "sunset.png", mimeType: "image/png", buffer: makePng() });
    await alice.locator("#attachments-pending .chip", { hasText: "sunset.png" }).waitFor();
    await alice.fill("#message-input", "The new logo colours");
    await alice.click("#send");
    await alice.locator('#message-list .message.mine[data-status]:not([data-status="pending"])', { hasText: "The new logo colours" }).waitFor();

    const shared = message(bob, "The new logo colours");
    await shared.waitFor();
    const img = shared.locator("img.preview");
    await img.waitFor();
    await bob.waitForFunction((el) => el.complete && el.naturalWidth === 240, await img.elementHandle());
    assert.match(await img.getAttribute("src"), /^blob:/);
    assert.equal(await img.getAttribute("alt"), "sunset.png");
    const download = shared.locator("button.download");
    assert.match(await download.textContent(), /sunset\.png/);
    const [file] = await Promise.all([bob.waitForEvent("download"), download.click()]);
    assert.equal(file.suggestedFilename(), "sunset.png");

    // The main screen, for the README: Bob is typing while Alice looks at the conversation.
    await bob.click("#message-input");
    await bob.keyboard.type("Looks great", { delay: 20 });
    await alice.locator("#typing", { hasText: "bob is typing" }).waitFor();
    await screenshot(alice, "conversation.png");
    await bob.press("#message-input", "Enter");
    await message(alice, "Looks great").waitFor();

    // A file over the server's limit: the message fails, with the reason and a retry button.
    await alice.setInputFiles("#file-input", { name: "huge.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(MAX_UPLOAD + 1) });
    await alice.fill("#message-input", "too big to share");
    await alice.click("#send");
    const failed = alice.locator('#message-list .message.mine[data-status="failed"]', { hasText: "too big to share" });
    await failed.waitFor();
    assert.match(await failed.locator(".failure").textContent(), /larger than/);
    await failed.locator("button.retry").waitFor();

  });

  it("retries an unacknowledged message with the same clientMessageId: stored and shown once", STEP, async () => {
    // A frozen server takes the message but cannot answer: the ack times out (10 s), the
    // message is marked failed; once the server runs again, Retry gets the stored one back.
    server.pause();
    try {
      await send(alice, "sent into the void");
      await alice.locator('#message-list .message.mine[data-status="pending"]', { hasText: "sent into the void" }).waitFor();
      await alice.locator('#message-list .message.mine[data-status="failed"]', { hasText: "sent into the void" })
        .waitFor({ timeout: 15_000 });
    } finally {
      server.resume();
    }
    await message(bob, "sent into the void").waitFor();
    const failed = alice.locator('#message-list .message.mine[data-status="failed"]', { hasText: "sent into the void" });
    await failed.locator("button.retry").click();
    await alice.locator('#message-list .message.mine:not([data-status="failed"]):not([data-status="pending"])', { hasText: "sent into the void" }).waitFor();
    await bob.waitForTimeout(300);
    assert.equal(await message(bob, "sent into the void").count(), 1);
    assert.equal(await message(alice, "sent into the void").count(), 1);
  });

  it("loads older history as the user scrolls up", STEP, async () => {
    // 70 messages in a public conversation, written by a plain socket.io client as "carol".
    const login = await fetch(server.url + "/api/dev/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "Carol" }),
    }).then((r) => r.json());
    const carol = io(server.url, { auth: { token: login.token }, transports: ["websocket"], forceNew: true });
    try {
      await new Promise((resolve, reject) => (carol.once("connect", resolve), carol.once("connect_error", reject)));
      const created = await carol.emitWithAck("conversation:create", { conversationId: "history-demo", title: "History demo" });
      assert.equal(created.ok, true);
      for (let i = 1; i <= 70; i++) {
        const res = await carol.emitWithAck("message:send", { conversationId: "history-demo", content: `history #${i}` });
        if (res.ok === false && res.error.code === "RATE_LIMITED") {
          await new Promise((r) => setTimeout(r, 500));
          i--;
          continue;
        }
        assert.equal(res.ok, true, JSON.stringify(res));
      }
    } finally {
      carol.disconnect();
    }

    await bob.fill("#join-id", "history-demo");
    await bob.press("#join-id", "Enter");
    await message(bob, "history #70").waitFor();
    assert.equal(await bob.locator("#message-list .content", { hasText: /^history #10$/ }).count(), 0,
      "more than the first page was loaded");
    // Scrolled to the top, twice if need be: the older pages come in above.
    const first = bob.locator("#message-list .content", { hasText: /^history #1$/ });
    for (let i = 0; i < 5 && !(await first.count()); i++) {
      await bob.locator("#messages").evaluate((el) => (el.scrollTop = 0));
      await bob.waitForTimeout(400);
    }
    await first.waitFor();
    assert.equal(await bob.locator("#message-list .message").count(), 70);
    await bob.locator("#history-status", { hasText: "Beginning of the conversation" }).waitFor();
  });

  it("lists every conversation, though the server answers the list a page at a time", STEP, async () => {
    // 24 private conversations with bob, newer than all of his others, made by three plain
    // socket.io clients (a user may create 10 a minute); a page of conversation:list holds 20.
    const titles = [];
    for (const name of ["Dave", "Erin", "Frank"]) {
      const login = await fetch(server.url + "/api/dev/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name }),
      }).then((r) => r.json());
      const creator = io(server.url, { auth: { token: login.token }, transports: ["websocket"], forceNew: true });
      try {
        await new Promise((resolve, reject) => (creator.once("connect", resolve), creator.once("connect_error", reject)));
        for (let i = 1; i <= 8; i++) {
          const title = `${name}'s room ${i}`;
          const res = await creator.emitWithAck("conversation:create", { title, private: true, memberIds: ["bob"] });
          assert.equal(res.ok, true, JSON.stringify(res));
          titles.push(title);
        }
      } finally {
        creator.disconnect();
      }
    }
    await bob.click("#refresh-conversations");
    for (const title of titles) await conversationItem(bob, title).waitFor();
    await conversationItem(bob, "Project Parley").waitFor();
  });

  it("reconnects after a server restart and catches up with what was sent meanwhile", STEP, async () => {
    await conversationItem(bob, "Project Parley").click();
    await conversationItem(alice, "Project Parley").click();
    // Bob's page stays away until we let it: its Engine.IO requests fail.
    const engineIo = (url) => url.pathname === "/socket.io/";
    await bob.context().route(engineIo, (route) => route.abort("connectionrefused"));

    await server.stop();
    await waitState(alice, "reconnecting");
    await waitState(bob, "reconnecting");
    // Written while the server is down: pending, and sent by itself once it is back.
    await send(alice, "written while the server was down");
    await alice.locator('#message-list .message.mine[data-status="pending"]', { hasText: "written while the server was down" }).waitFor();

    await server.start();
    await waitState(alice, "connected");
    await alice.locator('#message-list .message.mine[data-status="sent"]', { hasText: "written while the server was down" }).waitFor();
    await send(alice, "sent while Bob was away");
    await alice.locator('#message-list .message.mine[data-status="sent"]', { hasText: "sent while Bob was away" }).waitFor();
    assert.equal(await state(bob), "reconnecting");
    assert.equal(await message(bob, "sent while Bob was away").count(), 0);

    await bob.context().unroute(engineIo);
    await waitState(bob, "connected");
    await message(bob, "written while the server was down").waitFor();
    await message(bob, "sent while Bob was away").waitFor();
    // Bob has the conversation open: both are read, Alice sees it.
    await alice.locator('#message-list .message.mine[data-status="read"]', { hasText: "sent while Bob was away" }).waitFor();
    // Messages still sent and received live.
    await send(bob, "back online");
    await message(alice, "back online").waitFor();
  });

  it("fits a phone-sized screen: the list, then the conversation with a back button", STEP, async () => {
    await bob.setViewportSize(PHONE);
    await bob.locator("#back").waitFor();
    assert.equal(await bob.locator(".sidebar").isVisible(), false);
    await screenshot(bob, "phone.png");
    await bob.click("#back");
    await bob.locator(".sidebar").waitFor();
    assert.equal(await bob.locator(".conversation").isVisible(), false);
    await conversationItem(bob, "Project Parley").click();
    await message(bob, "back online").waitFor();
    const overflow = await bob.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  });

  it("shows the offline state when the browser loses its network", STEP, async () => {
    await alice.context().setOffline(true);
    await waitState(alice, "offline");
    await alice.context().setOffline(false);
    await waitState(alice, "connected");
  });
});
