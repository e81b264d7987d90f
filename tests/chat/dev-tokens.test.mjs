// Tokens of the development login (POST /api/dev/login) carry the claim `devLogin: true` and are
// accepted only while the development login is on: a server with the same secret and the
// development login off refuses them, on Socket.IO and on the file routes alike.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { T, closeAll, connectError, connectUser, freshUser, socketFor, startParley, tokenFor, waitFor } from "./helpers.mjs";

const INVALID = "Authentication error: Invalid token";

async function devToken(server, name) {
  const res = await fetch(`${server.url}/api/dev/login`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name }),
  });
  assert.equal(res.status, 200);
  return (await res.json()).token;
}

function upload(server, token) {
  const form = new FormData();
  form.append("file", new Blob(["hello"], { type: "text/plain" }), "hello.txt");
  return fetch(`${server.url}/api/files`, { method: "POST", headers: { Authorization: `Bearer ${token}` }, body: form });
}

describe("development-login tokens", () => {
  // Both with the same secret (helpers.mjs's SECRET): only the development login differs.
  let on, off, token;
  before(async () => {
    [on, off] = await Promise.all([startParley({ flags: ["--dev-login"] }), startParley()]);
    token = await devToken(on, "Dev Dora");
  });
  after(async () => {
    closeAll();
    await Promise.all([on?.stop(), off?.stop()]);
    on?.cleanup();
    off?.cleanup();
  });

  it("are marked as such", T, () => {
    const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
    assert.equal(claims.devLogin, true);
    assert.equal(claims.userId, "dev-dora");
  });

  it("work while the development login is on", T, async () => {
    const s = socketFor(on, { token });
    const [hello] = await waitFor(s, "connected", undefined, () => s.connect());
    assert.equal(hello.userId, "dev-dora");
    assert.equal((await upload(on, token)).status, 201);
  });

  it("are refused on Socket.IO by a server with the same secret and the development login off", T, async () => {
    assert.equal((await connectError(off, { token })).message, INVALID);
    assert.equal((await connectError(off, { auth: {}, extraHeaders: { Authorization: `Bearer ${token}` }, transports: ["polling"] })).message, INVALID);
    assert.equal((await connectError(off, { auth: {}, query: { token } })).message, INVALID);
    // while the same server admits an ordinary token signed with that secret
    await connectUser(off, freshUser());
  });

  it("are refused on the file routes by that server", T, async () => {
    const up = await upload(off, token);
    assert.equal(up.status, 401);
    assert.equal((await up.json()).error.message, INVALID);

    const stored = await upload(off, tokenFor(freshUser()));
    assert.equal(stored.status, 201);
    const { url } = await stored.json();
    const down = await fetch(off.url + url, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(down.status, 401);
    assert.equal((await down.json()).error.message, INVALID);
  });
});
