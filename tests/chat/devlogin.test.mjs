// The development login of the web page: on only with --dev-login.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { T, closeAll, request, socketFor, startParley, waitFor } from "./helpers.mjs";

async function json(res) {
  return { status: res.status, body: await res.json().catch(() => null) };
}

describe("development login", () => {
  let on, off;
  before(async () => {
    [on, off] = await Promise.all([startParley({ flags: ["--dev-login"] }), startParley()]);
  });
  after(async () => {
    closeAll();
    await Promise.all([on?.stop(), off?.stop()]);
    on?.cleanup();
    off?.cleanup();
  });

  it("is off by default (404)", T, async () => {
    assert.equal((await fetch(`${off.url}/api/dev/login`)).status, 404);
    const post = await json(await fetch(`${off.url}/api/dev/login`, { method: "POST", body: JSON.stringify({ name: "x" }) }));
    assert.equal(post.status, 404);
    assert.equal(post.body.error.code, "NOT_FOUND");
  });

  it("gives a working token for a name when on", T, async () => {
    assert.equal((await fetch(`${on.url}/api/dev/login`)).status, 200);
    const res = await json(await fetch(`${on.url}/api/dev/login`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: "Alice" }),
    }));
    assert.equal(res.status, 200);
    assert.equal(res.body.userId, "alice");  // the name, normalised (see src/parley/http/web.cpp)
    assert.equal(res.body.name, "Alice");
    assert.equal(typeof res.body.token, "string");
    const s = socketFor(on, { token: res.body.token });
    const [hello] = await waitFor(s, "connected", undefined, () => s.connect());
    assert.equal(hello.userId, "alice");
    assert.equal((await request(s, "get:online:count")).ok, true);
  });

  it("refuses a missing or too long name", T, async () => {
    for (const body of ["{}", JSON.stringify({ name: "" }), JSON.stringify({ name: "x".repeat(65) }), "not json"]) {
      const res = await json(await fetch(`${on.url}/api/dev/login`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body,
      }));
      assert.equal(res.status, 400, body);
      assert.equal(res.body.error.code, "BAD_REQUEST");
    }
  });

  it("refuses a body that is not JSON by its content type (no cross-site form posts)", T, async () => {
    const res = await fetch(`${on.url}/api/dev/login`, { method: "POST", body: JSON.stringify({ name: "x" }) });
    assert.equal(res.status, 415);
  });
});
