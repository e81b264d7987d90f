// The rate limits, per user: a token bucket of --rate-limit events/s with bursts of twice that,
// shared by all of a user's sockets; uploads per user (--uploads-per-minute, HTTP 429); and the
// bounds on connections per user and per address (a connect_error that says which).
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { describe, it } from "node:test";
import { T, WAIT_MS, connectError, connectUser, freshRoom, freshUser, request, sleep, tokenFor, useParley } from "./helpers.mjs";

const RATE = 5;  // events per second; burst 10

describe("rate limiting", () => {
  const server = useParley({ flags: ["--rate-limit", String(RATE)] });

  it("acks RATE_LIMITED beyond the burst, and does nothing for those events", T, async () => {
    const a = await connectUser(server);
    const b = await connectUser(server);
    const id = freshRoom();
    await request(b, "conversation:join", id);
    await sleep(500);  // let the bucket refill after the join
    const acks = await Promise.all(
      Array.from({ length: 30 }, (_, i) => request(a, "message:send", { conversationId: id, content: `burst ${i}` })),
    );
    const ok = acks.filter((x) => x.ok);
    const limited = acks.filter((x) => !x.ok);
    assert.ok(ok.length >= 2 * RATE && ok.length <= 2 * RATE + 2, `${ok.length} accepted`);
    assert.equal(ok.length + limited.length, 30);
    for (const x of limited) {
      assert.equal(x.error.code, "RATE_LIMITED");
      assert.equal(typeof x.error.message, "string");
    }
    // Only the accepted ones were stored (another socket's bucket reads the history).
    const history = await request(b, "message:history", { conversationId: id, limit: 200 });
    assert.equal(history.messages.length, ok.length);

    // Another socket is not limited by this one.
    assert.equal((await request(b, "get:online:count")).ok, true);

    // The bucket refills.
    await sleep(1_000);
    const later = await request(a, "get:online:count");
    assert.equal(later.ok, true);
  });

  it("limits a user, not a socket: the user's sockets share one bucket", T, async () => {
    const user = freshUser();
    const sockets = [];
    for (let i = 0; i < 5; i++) sockets.push(await connectUser(server, user));
    const reader = await connectUser(server);
    const id = freshRoom();
    await request(reader, "conversation:join", id);
    // 5 sockets x 10 messages at once: one socket's burst each, were the limit per socket.
    const acks = await Promise.all(sockets.flatMap((s, i) =>
      Array.from({ length: 10 }, (_, j) => request(s, "message:send", { conversationId: id, content: `s${i} m${j}` }))));
    const ok = acks.filter((x) => x.ok).length;
    assert.ok(ok >= 2 * RATE && ok <= 2 * RATE + 2, `${ok} of 50 accepted`);
    for (const x of acks.filter((y) => !y.ok)) assert.equal(x.error.code, "RATE_LIMITED");
    const history = await request(reader, "message:history", { conversationId: id, limit: 200 });
    assert.equal(history.messages.length, ok);
  });
});

// Until the server has seen a socket go, its place may still be taken: retry for a while.
async function connectEventually(server, userId) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      return await connectUser(server, userId);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
}

describe("connections per user", () => {
  const server = useParley({ flags: ["--max-connections-per-user", "3"] });

  it("refuses one more socket of a user with a clear connect_error, and frees the place on disconnect", T, async () => {
    const user = freshUser();
    const held = [];
    for (let i = 0; i < 3; i++) held.push(await connectUser(server, user));
    const err = await connectError(server, { token: tokenFor(user) });
    assert.equal(err.message, "Connection refused: too many connections for this user");
    assert.deepEqual(err.data, { code: "RATE_LIMITED" });
    // Other users are not affected.
    await connectUser(server);
    // A socket that goes gives its place back.
    held[0].disconnect();
    const again = await connectEventually(server, user);
    assert.ok(again.connected);
    assert.equal((await connectError(server, { token: tokenFor(user) })).message,
      "Connection refused: too many connections for this user");
  });
});

describe("connections per address", () => {
  const server = useParley({ flags: ["--max-connections-per-address", "4"] });

  it("refuses one more socket from an address, whoever the user", T, async () => {
    const held = [];
    for (let i = 0; i < 4; i++) held.push(await connectUser(server));
    const err = await connectError(server, { token: tokenFor(freshUser()) });
    assert.equal(err.message, "Connection refused: too many connections from this address");
    assert.deepEqual(err.data, { code: "RATE_LIMITED" });
    held[3].disconnect();
    assert.ok((await connectEventually(server, freshUser())).connected);
  });
});

describe("uploads per user", () => {
  const server = useParley({ flags: ["--uploads-per-minute", "2"] });
  const upload = (token, name) => {
    const form = new FormData();
    form.append("file", new Blob(["some bytes"], { type: "text/plain" }), name);
    return fetch(`${server.url}/api/files`, { method: "POST", headers: { Authorization: `Bearer ${token}` }, body: form });
  };
  const stored = () => readdirSync(server.uploads, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;

  it("answers 429 RATE_LIMITED beyond the user's uploads, and stores nothing of them", T, async () => {
    const token = tokenFor(freshUser());
    const before = stored();
    for (const name of ["a.txt", "b.txt"]) assert.equal((await upload(token, name)).status, 201);
    const refused = await upload(token, "c.txt");
    assert.equal(refused.status, 429);
    const body = await refused.json();
    assert.equal(body.ok, false);
    assert.equal(body.error.code, "RATE_LIMITED");
    assert.equal(typeof body.error.message, "string");
    assert.equal(stored(), before + 2);
    // Another user's uploads are their own.
    assert.equal((await upload(tokenFor(freshUser()), "d.txt")).status, 201);
  });
});
