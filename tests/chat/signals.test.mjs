// Typing indicators (relay, expiry, stop on disconnect) and read receipts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ISO_MS, T, collect, connectUser, expectNothing, freshRoom, request, sleep, useParley, waitFor,
} from "./helpers.mjs";

const TYPING_MS = 400;  // --typing-timeout-ms of this file's server

describe("typing and read receipts", () => {
  const server = useParley({ flags: ["--typing-timeout-ms", String(TYPING_MS)] });

  async function room(n) {
    const id = freshRoom();
    const sockets = [];
    for (let i = 0; i < n; i++) {
      const s = await connectUser(server);
      await request(s, "conversation:join", id);
      sockets.push(s);
    }
    return [id, sockets];
  }

  it("relays typing:start and typing:stop to the others in the conversation", T, async () => {
    const [id, [alice, bob, carol]] = await room(3);
    const start = [waitFor(bob, "typing:start"), waitFor(carol, "typing:start")];
    alice.emit("typing:start", { conversationId: id });
    for (const s of start) assert.deepEqual((await s)[0], { userId: alice.userId, conversationId: id });
    const stop = waitFor(bob, "typing:stop");
    alice.emit("typing:stop", { conversationId: id });
    assert.deepEqual((await stop)[0], { userId: alice.userId, conversationId: id });
    await expectNothing(alice, "typing:start", 1);
    await expectNothing(alice, "typing:stop", 200);
  });

  it("expires a typing:start with a server-sent typing:stop", T, async () => {
    const [id, [alice, bob]] = await room(2);
    const started = waitFor(bob, "typing:start");
    const t0 = Date.now();
    alice.emit("typing:start", { conversationId: id });
    await started;
    const [stop] = await waitFor(bob, "typing:stop", TYPING_MS + 2_000);
    const elapsed = Date.now() - t0;
    assert.deepEqual(stop, { userId: alice.userId, conversationId: id });
    assert.ok(elapsed >= TYPING_MS - 50, `expired after ${elapsed} ms`);
  });

  it("a repeated typing:start pushes the expiry back", T, async () => {
    const [id, [alice, bob]] = await room(2);
    const stops = collect(bob, "typing:stop");
    alice.emit("typing:start", { conversationId: id });
    await sleep(TYPING_MS * 0.6);
    alice.emit("typing:start", { conversationId: id });
    await sleep(TYPING_MS * 0.6);
    assert.equal(stops.list.length, 0);
    await stops.waitCount(1, TYPING_MS + 2_000);
    await sleep(TYPING_MS);
    assert.equal(stops.list.length, 1);
  });

  it("an explicit stop cancels the expiry: one typing:stop only", T, async () => {
    const [id, [alice, bob]] = await room(2);
    const stops = collect(bob, "typing:stop");
    alice.emit("typing:start", { conversationId: id });
    await waitFor(bob, "typing:start");
    alice.emit("typing:stop", { conversationId: id });
    await stops.waitCount(1);
    await sleep(TYPING_MS + 200);
    assert.equal(stops.list.length, 1);
  });

  it("sends typing:stop when the typing socket disconnects", T, async () => {
    const [id, [alice, bob]] = await room(2);
    alice.emit("typing:start", { conversationId: id });
    await waitFor(bob, "typing:start");
    const stop = waitFor(bob, "typing:stop", TYPING_MS / 2);
    alice.disconnect();
    assert.deepEqual((await stop)[0], { userId: alice.userId, conversationId: id });
  });

  it("acks typing events when asked, and refuses a bad payload", T, async () => {
    const [id, [alice]] = await room(1);
    assert.deepEqual(await request(alice, "typing:start", { conversationId: id }), { ok: true, conversationId: id });
    assert.deepEqual(await request(alice, "typing:stop", { conversationId: id }), { ok: true, conversationId: id });
    assert.equal((await request(alice, "typing:start", {})).error.code, "BAD_REQUEST");
  });

  it("notifies every socket of the sender once when a message is read", T, async () => {
    const id = freshRoom();
    const alice1 = await connectUser(server);
    const alice2 = await connectUser(server, alice1.userId);
    const bob = await connectUser(server);
    const carol = await connectUser(server);
    for (const s of [alice1, bob, carol]) await request(s, "conversation:join", id);
    const sent = await request(alice1, "message:send", { conversationId: id, content: "read me" });

    const r1 = collect(alice1, "message:read");
    const r2 = collect(alice2, "message:read");
    const ack = await request(bob, "message:read", { messageId: sent.message.id, conversationId: id });
    assert.equal(ack.ok, true);
    await r1.waitCount(1);
    await r2.waitCount(1);
    const receipt = r1.list[0];
    assert.equal(receipt.messageId, sent.message.id);
    assert.equal(receipt.conversationId, id);
    assert.equal(receipt.readBy, bob.userId);
    assert.match(receipt.readAt, ISO_MS);
    assert.deepEqual(r2.list[0], receipt);
    await expectNothing(carol, "message:read", 1);
    await expectNothing(bob, "message:read", 1);

    // Reading twice notifies once.
    const again = await request(bob, "message:read", { messageId: sent.message.id });
    assert.equal(again.ok, true);
    await sleep(300);
    assert.equal(r1.list.length, 1);
    assert.equal(r2.list.length, 1);

    // Another reader is another receipt.
    await request(carol, "message:read", { messageId: sent.message.id });
    await r1.waitCount(2);
    assert.equal(r1.list[1].readBy, carol.userId);
  });

  it("refuses read receipts for unknown messages and outsiders of private conversations", T, async () => {
    const owner = await connectUser(server);
    const outsider = await connectUser(server);
    const unknown = await request(outsider, "message:read", { messageId: "m9999999999999999999" });
    assert.deepEqual(unknown, { ok: false, error: { code: "NOT_FOUND", message: "message not found" } });
    assert.equal((await request(outsider, "message:read", {})).error.code, "BAD_REQUEST");
    const id = freshRoom("priv");
    await request(owner, "conversation:create", { conversationId: id, private: true });
    const sent = await request(owner, "message:send", { conversationId: id, content: "secret" });
    const reads = collect(owner, "message:read");
    const refused = await request(outsider, "message:read", { messageId: sent.message.id });
    assert.deepEqual(refused, unknown);  // as if it did not exist
    await sleep(200);
    assert.equal(reads.list.length, 0);
  });

  it("tells an outsider nothing about a direct message: the answer of no message, and no receipt", T, async () => {
    const alice = await connectUser(server);
    const bob = await connectUser(server);
    const eve = await connectUser(server);
    const dm = await request(alice, "private:message", { recipientUserId: bob.userId, content: "between us" });
    assert.equal(dm.ok, true);
    const { id: messageId, conversationId } = dm.message;
    const receipts = collect(alice, "message:read");
    const missing = "m9999999999999999999";

    // Eve guesses who talks to whom: the message in the right conversation, in a wrong one, in
    // none, and a message that does not exist, in each. Every answer is the same.
    const probes = [
      { messageId },
      { messageId, conversationId },
      { messageId, conversationId: `dm:${alice.userId}:${eve.userId}` },
      { messageId, conversationId: freshRoom("public") },
      { messageId: missing },
      { messageId: missing, conversationId },
    ];
    const answers = [];
    for (const p of probes) answers.push(await request(eve, "message:read", p));
    for (const [i, a] of answers.entries())
      assert.deepEqual(a, { ok: false, error: { code: "NOT_FOUND", message: "message not found" } }, JSON.stringify(probes[i]));
    await sleep(300);
    assert.equal(receipts.list.length, 0);

    // A member still reads it, and the sender hears of that once.
    const ack = await request(bob, "message:read", { messageId, conversationId });
    assert.equal(ack.ok, true);
    await receipts.waitCount(1);
    assert.equal(receipts.list[0].readBy, bob.userId);
    // A member naming the wrong conversation: not found there, and no receipt.
    const wrong = await request(bob, "message:read", { messageId, conversationId: freshRoom() });
    assert.equal(wrong.error.code, "NOT_FOUND");
  });
});
