// Messages: send / ack / broadcast (not to the sender), the BAD_REQUEST rules, idempotent
// retries, history paging, and private messages to an offline recipient.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ISO_MS, T, collect, connectUser, expectNothing, freshRoom, freshUser, request, useParley, waitFor,
} from "./helpers.mjs";

const MAX = 50;  // --max-message-length of this file's server

describe("messages", () => {
  const server = useParley({ flags: ["--max-message-length", String(MAX), "--rate-limit", "100000"] });

  async function room(n, opts = {}) {
    const id = freshRoom();
    const sockets = [];
    for (let i = 0; i < n; i++) {
      const s = await connectUser(server, undefined, opts);
      await request(s, "conversation:join", id);
      sockets.push(s);
    }
    return [id, sockets];
  }

  for (const [setup, transports] of [["websocket", ["websocket"]], ["polling", ["polling"]], ["polling+upgrade", ["polling", "websocket"]]]) {
  it(`stores, acks, and delivers message:new to everyone in the room but the sender (${setup})`, T, async () => {
    const [id, [alice, bob, carol]] = await room(3, { transports });
    const outsider = await connectUser(server);
    const toBob = waitFor(bob, "message:new");
    const toCarol = waitFor(carol, "message:new");
    const ack = await request(alice, "message:send", { conversationId: id, content: "hello 👋", clientMessageId: "c-1" });
    assert.equal(ack.ok, true);
    const m = ack.message;
    assert.equal(typeof m.id, "string");
    assert.equal(m.conversationId, id);
    assert.equal(m.senderId, alice.userId);
    assert.equal(m.content, "hello 👋");
    assert.equal(m.clientMessageId, "c-1");
    assert.match(m.createdAt, ISO_MS);
    assert.deepEqual((await toBob)[0], m);
    assert.deepEqual((await toCarol)[0], m);
    await expectNothing(alice, "message:new");
    await expectNothing(outsider, "message:new", 1);
  });
  }

  it("omits clientMessageId and attachments when there are none", T, async () => {
    const [id, [a]] = await room(1);
    const ack = await request(a, "message:send", { conversationId: id, content: "plain" });
    assert.deepEqual(Object.keys(ack.message).sort(), ["content", "conversationId", "createdAt", "id", "senderId"]);
  });

  it("delivers to a sender's other sockets in the room", T, async () => {
    const id = freshRoom();
    const user = freshUser();
    const tab1 = await connectUser(server, user);
    const tab2 = await connectUser(server, user);
    await request(tab1, "conversation:join", id);
    await request(tab2, "conversation:join", id);
    const got = waitFor(tab2, "message:new");
    const ack = await request(tab1, "message:send", { conversationId: id, content: "sync" });
    assert.equal((await got)[0].id, ack.message.id);
    await expectNothing(tab1, "message:new");
  });

  it("refuses bad input with BAD_REQUEST and stores and sends nothing", T, async () => {
    const [id, [alice, bob]] = await room(2);
    const seen = collect(bob, "message:new");
    const cases = [
      ["no payload", undefined],
      ["a string payload", "hello"],
      ["missing conversationId", { content: "x" }],
      ["non-string conversationId", { conversationId: 7, content: "x" }],
      ["missing content", { conversationId: id }],
      ["empty content", { conversationId: id, content: "" }],
      ["non-string content", { conversationId: id, content: 12 }],
      ["object content", { conversationId: id, content: { text: "x" } }],
      ["content over the limit", { conversationId: id, content: "x".repeat(MAX + 1) }],
      ["emoji over the limit", { conversationId: id, content: "😀".repeat(MAX + 1) }],
      ["non-string clientMessageId", { conversationId: id, content: "x", clientMessageId: 5 }],
      ["bad attachments", { conversationId: id, content: "x", attachments: "file" }],
    ];
    for (const [what, payload] of cases) {
      const ack = await request(alice, "message:send", payload);
      assert.equal(ack.ok, false, what);
      assert.equal(ack.error.code, "BAD_REQUEST", what);
      assert.equal(typeof ack.error.message, "string", what);
      assert.ok(ack.error.message.length > 0, what);
    }
    // Exactly the limit, counted in characters (an emoji is 1, not 4 bytes): accepted.
    const atLimit = await request(alice, "message:send", { conversationId: id, content: "😀".repeat(MAX) });
    assert.equal(atLimit.ok, true);
    await seen.waitCount(1);
    assert.equal(seen.list.length, 1);
    assert.equal(seen.list[0].content, "😀".repeat(MAX));
    const history = await request(alice, "message:history", { conversationId: id });
    assert.equal(history.messages.length, 1);
  });

  it("returns the stored message for a retried clientMessageId and delivers it once", T, async () => {
    const [id, [alice, bob]] = await room(2);
    const seen = collect(bob, "message:new");
    const first = await request(alice, "message:send", { conversationId: id, content: "once", clientMessageId: "retry-1" });
    const again = await request(alice, "message:send", { conversationId: id, content: "once", clientMessageId: "retry-1" });
    assert.equal(first.ok, true);
    assert.deepEqual(again, first);
    await seen.waitCount(1);
    await expectNothing(bob, "message:new");
    assert.equal(seen.list.length, 1);
    const history = await request(bob, "message:history", { conversationId: id });
    assert.deepEqual(history.messages.map((m) => m.id), [first.message.id]);
    // The same clientMessageId from another user is another message.
    const other = await request(bob, "message:send", { conversationId: id, content: "mine", clientMessageId: "retry-1" });
    assert.notEqual(other.message.id, first.message.id);
  });

  it("acks every event that asked for one, and survives bad input for everyone", T, async () => {
    const [id, [alice, bob]] = await room(2);
    alice.emit("message:send", { conversationId: id, content: "" });  // no ack: nothing to answer
    alice.emit("message:send", null, () => {});
    const ack = await request(alice, "message:send", { conversationId: id, content: "still here" });
    assert.equal(ack.ok, true);
    assert.ok(bob.connected);
    assert.equal((await request(bob, "get:online:count")).ok, true);
  });

  it("answers garbage sent to every event with exactly one ack, and stays up", T, async () => {
    const a = await connectUser(server);
    const b = await connectUser(server);
    const events = ["conversation:join", "conversation:leave", "conversation:create", "conversation:list",
      "message:send", "message:history", "private:message", "get:online:count", "users:online",
      "typing:start", "typing:stop", "message:read"];
    let deep = {};
    for (let i = 0; i < 30; i++) deep = { conversationId: deep, content: "x" };
    const payloads = [undefined, null, 0, -1, 1e308, "", "x", true, [], [1, 2], {}, { conversationId: {} },
      { conversationId: ["a"], content: ["b"] }, { recipientUserId: null, content: null }, { messageId: 5 },
      { conversationId: "x", limit: 1e9, before: {} }, deep, Buffer.from([1, 2, 3])];
    for (const event of events) {
      for (const p of payloads) {
        const acks = [];
        await new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no ack for ${event} ${JSON.stringify(p)}`)), 3_000);
          a.emit(event, p, (ack) => {
            acks.push(ack);
            clearTimeout(timer);
            setTimeout(resolve, 5);
          });
        });
        assert.equal(acks.length, 1);
        assert.equal(typeof acks[0].ok, "boolean", `${event} ${JSON.stringify(p)}`);
        if (!acks[0].ok) assert.ok(["BAD_REQUEST", "FORBIDDEN", "NOT_FOUND", "CONFLICT"].includes(acks[0].error.code), `${event}: ${acks[0].error.code}`);
      }
    }
    assert.ok(a.connected && b.connected);
    assert.equal((await request(b, "get:online:count")).ok, true);
  });

  it("acks an unknown event with BAD_REQUEST", T, async () => {
    const a = await connectUser(server);
    const ack = await request(a, "no:such:event", { x: 1 });
    assert.equal(ack.ok, false);
    assert.equal(ack.error.code, "BAD_REQUEST");
  });

  it("pages history backwards: newest `limit` before `before`, oldest first", T, async () => {
    const [id, [a]] = await room(1);
    const ids = [];
    for (let i = 0; i < 7; i++) ids.push((await request(a, "message:send", { conversationId: id, content: `m${i}` })).message.id);

    const all = await request(a, "message:history", { conversationId: id });
    assert.equal(all.ok, true);
    assert.deepEqual(all.messages.map((m) => m.content), ["m0", "m1", "m2", "m3", "m4", "m5", "m6"]);

    const page1 = await request(a, "message:history", { conversationId: id, limit: 3 });
    assert.deepEqual(page1.messages.map((m) => m.content), ["m4", "m5", "m6"]);
    const page2 = await request(a, "message:history", { conversationId: id, limit: 3, before: page1.messages[0].id });
    assert.deepEqual(page2.messages.map((m) => m.content), ["m1", "m2", "m3"]);
    const page3 = await request(a, "message:history", { conversationId: id, limit: 3, before: page2.messages[0].id });
    assert.deepEqual(page3.messages.map((m) => m.content), ["m0"]);
    const page4 = await request(a, "message:history", { conversationId: id, limit: 3, before: page3.messages[0].id });
    assert.deepEqual(page4.messages, []);
    assert.deepEqual(page1.messages[2].id, ids[6]);
  });

  it("defaults to 50 messages and caps the limit at 200", T, async () => {
    const [id, [a]] = await room(1);
    const sends = [];
    for (let i = 0; i < 205; i++) sends.push(request(a, "message:send", { conversationId: id, content: `n${i}` }));
    const acks = await Promise.all(sends);
    assert.ok(acks.every((x) => x.ok));
    const byDefault = await request(a, "message:history", { conversationId: id });
    assert.equal(byDefault.messages.length, 50);
    const capped = await request(a, "message:history", { conversationId: id, limit: 1000 });
    assert.equal(capped.messages.length, 200);
    // Oldest first, and the newest is last.
    const newest = acks.map((x) => x.message.id).sort().at(-1);
    assert.equal(capped.messages.at(-1).id, newest);
    for (let i = 1; i < capped.messages.length; i++) assert.ok(capped.messages[i - 1].id < capped.messages[i].id);
  });

  it("refuses bad history requests", T, async () => {
    const a = await connectUser(server);
    for (const bad of [undefined, {}, { conversationId: 3 }, { conversationId: "x", limit: "ten" }, { conversationId: "x", limit: 0 }]) {
      const ack = await request(a, "message:history", bad);
      assert.equal(ack.ok, false, JSON.stringify(bad));
      assert.equal(ack.error.code, "BAD_REQUEST");
    }
    const empty = await request(a, "message:history", { conversationId: freshRoom("never-used") });
    assert.deepEqual(empty, { ok: true, messages: [] });
  });

  it("stores a private message in the direct conversation; an offline recipient reads it later", T, async () => {
    const alice = await connectUser(server);
    const bobId = freshUser("bob");
    const ack = await request(alice, "private:message", { recipientUserId: bobId, content: "are you there?", clientMessageId: "pm-1" });
    assert.equal(ack.ok, true);
    const conv = ack.message.conversationId;
    assert.equal(typeof conv, "string");
    assert.equal(ack.message.senderId, alice.userId);
    assert.equal(ack.message.content, "are you there?");

    const bob = await connectUser(server, bobId);
    const history = await request(bob, "message:history", { conversationId: conv });
    assert.equal(history.ok, true);
    assert.deepEqual(history.messages, [ack.message]);

    // The direct conversation is private: a third user may not read or join it.
    const eve = await connectUser(server);
    assert.equal((await request(eve, "message:history", { conversationId: conv })).error.code, "FORBIDDEN");
    assert.equal((await request(eve, "conversation:join", conv)).error.code, "FORBIDDEN");
    // Both members see it in their list, private with the two of them.
    const list = await request(bob, "conversation:list");
    const dm = list.conversations.find((c) => c.id === conv);
    assert.equal(dm.private, true);
    assert.deepEqual([...dm.memberIds].sort(), [alice.userId, bobId].sort());
  });

  it("delivers a private message to every recipient socket and the sender's other sockets", T, async () => {
    const aliceId = freshUser("alice");
    const alice1 = await connectUser(server, aliceId);
    const alice2 = await connectUser(server, aliceId);
    const bobId = freshUser("bob");
    const bob1 = await connectUser(server, bobId);
    const bob2 = await connectUser(server, bobId, { transports: ["polling"] });
    const eve = await connectUser(server);
    const got = [waitFor(alice2, "message:new"), waitFor(bob1, "message:new"), waitFor(bob2, "message:new")];
    const ack = await request(alice1, "private:message", { recipientUserId: bobId, content: "hi bob" });
    for (const g of got) assert.deepEqual((await g)[0], ack.message);
    await expectNothing(alice1, "message:new");
    await expectNothing(eve, "message:new", 1);
    // The reply lands in the same conversation.
    const reply = await request(bob2, "private:message", { recipientUserId: aliceId, content: "hi alice" });
    assert.equal(reply.message.conversationId, ack.message.conversationId);
  });

  it("refuses bad private messages", T, async () => {
    const a = await connectUser(server);
    for (const bad of [{ content: "x" }, { recipientUserId: 1, content: "x" }, { recipientUserId: "b", content: "" },
      { recipientUserId: "b", content: "x".repeat(MAX + 1) }]) {
      const ack = await request(a, "private:message", bad);
      assert.equal(ack.error.code, "BAD_REQUEST", JSON.stringify(bad));
    }
  });
});
