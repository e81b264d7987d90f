// Connecting: the JWT handshake (auth payload, header, query), the three connect_error
// messages, and the `connected` event.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ISO_MS, T, connectError, connectUser, freshUser, makeToken, socketFor, tokenFor, useParley, waitFor,
} from "./helpers.mjs";

const NO_TOKEN = "Authentication error: No token provided";
const INVALID = "Authentication error: Invalid token";
const EXPIRED = "Authentication error: Token expired";

describe("connecting", () => {
  const server = useParley();

  it("refuses a handshake without a token", T, async () => {
    const err = await connectError(server, {});
    assert.equal(err.message, NO_TOKEN);
  });

  it("refuses an empty token as missing", T, async () => {
    const err = await connectError(server, { auth: { token: "" } });
    assert.equal(err.message, NO_TOKEN);
  });

  for (const [what, token] of [
    ["garbage", "not-a-jwt"],
    ["a wrong secret", makeToken({ userId: "u1" }, { secret: "another-secret-entirely-0123456789" })],
    ["alg none", makeToken({ userId: "u1" }, { alg: "none" })],
    ["no userId nor sub", makeToken({ name: "nobody" })],
    ["an nbf in the future", makeToken({ userId: "u1", nbf: Math.floor(Date.now() / 1000) + 3600 })],
    ["a tampered payload", (() => {
      const [h, , s] = makeToken({ userId: "u1" }).split(".");
      return `${h}.${Buffer.from(JSON.stringify({ userId: "admin" })).toString("base64url")}.${s}`;
    })()],
  ]) {
    it(`refuses a token with ${what} as invalid`, T, async () => {
      const err = await connectError(server, { auth: { token } });
      assert.equal(err.message, INVALID);
    });
  }

  it("refuses an expired token", T, async () => {
    const token = makeToken({ userId: "u1" }, { ttl: -3600 });
    const err = await connectError(server, { auth: { token } });
    assert.equal(err.message, EXPIRED);
  });

  it("accepts the token in the auth payload and sends `connected`", T, async () => {
    const user = freshUser();
    const s = await connectUser(server, user);
    assert.equal(s.hello.socketId, s.id);
    assert.equal(s.hello.userId, user);
    assert.match(s.hello.serverTime, ISO_MS);
    assert.ok(Math.abs(Date.parse(s.hello.serverTime) - Date.now()) < 60_000);
  });

  it("takes the user id from `sub` when there is no userId", T, async () => {
    const user = freshUser("sub");
    const s = socketFor(server, { auth: { token: makeToken({ sub: user }) } });
    const [hello] = await waitFor(s, "connected", undefined, () => s.connect());
    assert.equal(hello.userId, user);
  });

  it("accepts the token in the Authorization header", T, async () => {
    const user = freshUser();
    const s = socketFor(server, { extraHeaders: { Authorization: `Bearer ${tokenFor(user)}` } });
    const [hello] = await waitFor(s, "connected", undefined, () => s.connect());
    assert.equal(hello.userId, user);
  });

  it("accepts the token in the query string, over polling too", T, async () => {
    const user = freshUser();
    const s = socketFor(server, { query: { token: tokenFor(user) }, transports: ["polling"] });
    const [hello] = await waitFor(s, "connected", undefined, () => s.connect());
    assert.equal(hello.userId, user);
    assert.equal(hello.socketId, s.id);
  });

  it("prefers the auth payload over the header", T, async () => {
    const good = freshUser("good");
    const s = socketFor(server, {
      auth: { token: tokenFor(good) },
      extraHeaders: { Authorization: "Bearer not-a-jwt" },
    });
    const [hello] = await waitFor(s, "connected", undefined, () => s.connect());
    assert.equal(hello.userId, good);
    const bad = await connectError(server, {
      auth: { token: "not-a-jwt" },
      extraHeaders: { Authorization: `Bearer ${tokenFor(freshUser())}` },
    });
    assert.equal(bad.message, INVALID);
  });

  it("sends `connected` over polling with upgrade", T, async () => {
    const user = freshUser();
    const s = await connectUser(server, user, { transports: ["polling", "websocket"] });
    assert.equal(s.hello.socketId, s.id);
    assert.equal(s.hello.userId, user);
  });

});
