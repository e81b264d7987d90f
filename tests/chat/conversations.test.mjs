// Conversations: create / list / join / leave, public and private, CONFLICT and FORBIDDEN.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ISO_MS, T, connectUser, expectNothing, freshRoom, freshUser, request, useParley, waitFor,
} from "./helpers.mjs";

describe("conversations", () => {
  const server = useParley();

  it("joins and leaves with a string or { conversationId }", T, async () => {
    const s = await connectUser(server);
    const room = freshRoom();
    assert.deepEqual(await request(s, "conversation:join", room), { ok: true, conversationId: room });
    assert.deepEqual(await request(s, "conversation:leave", { conversationId: room }), { ok: true, conversationId: room });
    assert.deepEqual(await request(s, "conversation:join", { conversationId: room }), { ok: true, conversationId: room });
    assert.deepEqual(await request(s, "conversation:leave", room), { ok: true, conversationId: room });
  });

  it("join puts the socket in the room; leave takes it out", T, async () => {
    const a = await connectUser(server);
    const b = await connectUser(server);
    const room = freshRoom();
    await request(a, "conversation:join", room);
    const got = waitFor(a, "message:new");
    await request(b, "message:send", { conversationId: room, content: "in" });
    assert.equal((await got)[0].content, "in");
    await request(a, "conversation:leave", room);
    await request(b, "message:send", { conversationId: room, content: "out" });
    await expectNothing(a, "message:new");
  });

  it("join works without an ack callback", T, async () => {
    const a = await connectUser(server);
    const b = await connectUser(server);
    const room = freshRoom();
    a.emit("conversation:join", room);
    await request(a, "users:online");  // handled in order: the join is done
    const got = waitFor(a, "message:new");
    await request(b, "message:send", { conversationId: room, content: "no ack join" });
    assert.equal((await got)[0].content, "no ack join");
  });

  it("refuses bad join payloads", T, async () => {
    const s = await connectUser(server);
    for (const bad of [undefined, "", 42, {}, { conversationId: 5 }, null]) {
      const ack = await request(s, "conversation:join", bad);
      assert.equal(ack.ok, false, JSON.stringify(bad));
      assert.equal(ack.error.code, "BAD_REQUEST");
      assert.equal(typeof ack.error.message, "string");
    }
  });

  it("refuses the per-user rooms as conversations", T, async () => {
    const s = await connectUser(server);
    const ack = await request(s, "conversation:join", `user:${freshUser()}`);
    assert.equal(ack.ok, false);
    assert.equal(ack.error.code, "FORBIDDEN");
  });

  it("creates a conversation with a given id, and refuses it twice", T, async () => {
    const s = await connectUser(server);
    const id = freshRoom("team");
    const other = freshUser("member");
    const ack = await request(s, "conversation:create", { conversationId: id, title: "Team", private: false, memberIds: [other] });
    assert.equal(ack.ok, true);
    assert.equal(ack.conversation.id, id);
    assert.equal(ack.conversation.title, "Team");
    assert.equal(ack.conversation.private, false);
    assert.deepEqual([...ack.conversation.memberIds].sort(), [other, s.userId].sort());
    assert.equal(ack.conversation.createdBy, s.userId);
    assert.match(ack.conversation.createdAt, ISO_MS);

    const again = await request(s, "conversation:create", { conversationId: id });
    assert.equal(again.ok, false);
    assert.equal(again.error.code, "CONFLICT");
    assert.equal(typeof again.error.message, "string");
  });

  it("picks an id when none is given; the creator is always a member", T, async () => {
    const s = await connectUser(server);
    const ack = await request(s, "conversation:create", {});
    assert.equal(ack.ok, true);
    assert.equal(typeof ack.conversation.id, "string");
    assert.ok(ack.conversation.id.length > 0);
    assert.deepEqual(ack.conversation.memberIds, [s.userId]);
    assert.equal(ack.conversation.private, false);
    const second = await request(s, "conversation:create", { title: "other" });
    assert.notEqual(second.conversation.id, ack.conversation.id);
  });

  it("refuses bad create payloads", T, async () => {
    const s = await connectUser(server);
    for (const bad of [{ private: "yes" }, { memberIds: "a" }, { memberIds: [1] }, { conversationId: 3 }, "x"]) {
      const ack = await request(s, "conversation:create", bad);
      assert.equal(ack.ok, false, JSON.stringify(bad));
      assert.equal(ack.error.code, "BAD_REQUEST");
    }
  });

  it("lists the conversations the user is a member of", T, async () => {
    const alice = await connectUser(server);
    const bob = await connectUser(server);
    const mine = freshRoom("mine");
    const shared = freshRoom("shared");
    const notMine = freshRoom("notmine");
    await request(alice, "conversation:create", { conversationId: mine });
    await request(bob, "conversation:create", { conversationId: shared, private: true, memberIds: [alice.userId] });
    await request(bob, "conversation:create", { conversationId: notMine, private: true });
    const list = await request(alice, "conversation:list");
    assert.equal(list.ok, true);
    const ids = list.conversations.map((c) => c.id);
    assert.ok(ids.includes(mine));
    assert.ok(ids.includes(shared));
    assert.ok(!ids.includes(notMine));
    const sharedConv = list.conversations.find((c) => c.id === shared);
    assert.equal(sharedConv.private, true);
    assert.deepEqual([...sharedConv.memberIds].sort(), [alice.userId, bob.userId].sort());
  });

  it("lets only members join, read, send to, and see a private conversation", T, async () => {
    const owner = await connectUser(server);
    const member = await connectUser(server);
    const outsider = await connectUser(server);
    const id = freshRoom("secret");
    await request(owner, "conversation:create", { conversationId: id, private: true, memberIds: [member.userId] });

    assert.deepEqual(await request(member, "conversation:join", id), { ok: true, conversationId: id });
    assert.deepEqual(await request(owner, "conversation:join", { conversationId: id }), { ok: true, conversationId: id });

    const join = await request(outsider, "conversation:join", id);
    assert.equal(join.ok, false);
    assert.equal(join.error.code, "FORBIDDEN");
    assert.equal(typeof join.error.message, "string");

    const send = await request(outsider, "message:send", { conversationId: id, content: "let me in" });
    assert.equal(send.error.code, "FORBIDDEN");
    const history = await request(outsider, "message:history", { conversationId: id });
    assert.equal(history.error.code, "FORBIDDEN");
    const typing = await request(outsider, "typing:start", { conversationId: id });
    assert.equal(typing.error.code, "FORBIDDEN");

    // Nothing from the outsider reached the members.
    await expectNothing(member, "message:new", 200);
    await expectNothing(member, "typing:start", 1);

    // Members talk; the outsider hears nothing.
    const got = waitFor(member, "message:new");
    const sent = await request(owner, "message:send", { conversationId: id, content: "members only" });
    assert.equal(sent.ok, true);
    assert.equal((await got)[0].content, "members only");
    await expectNothing(outsider, "message:new", 200);
    const own = await request(member, "message:history", { conversationId: id });
    assert.deepEqual(own.messages.map((m) => m.content), ["members only"]);
  });

  it("treats an id never created as public: anyone joins, and a message creates it", T, async () => {
    const a = await connectUser(server);
    const b = await connectUser(server);
    const id = freshRoom("adhoc");
    assert.equal((await request(a, "conversation:join", id)).ok, true);
    assert.equal((await request(b, "conversation:join", id)).ok, true);
    const got = waitFor(a, "message:new");
    const sent = await request(b, "message:send", { conversationId: id, content: "first" });
    assert.equal(sent.ok, true);
    assert.equal((await got)[0].conversationId, id);
    // It exists now, public: creating it conflicts, a third user joins it.
    const create = await request(a, "conversation:create", { conversationId: id, private: true });
    assert.equal(create.error.code, "CONFLICT");
    const c = await connectUser(server);
    assert.equal((await request(c, "conversation:join", id)).ok, true);
    assert.equal((await request(c, "message:history", { conversationId: id })).messages.length, 1);
  });

  it("creating a private conversation removes non-members who joined it as a plain room", T, async () => {
    const early = await connectUser(server);
    const owner = await connectUser(server);
    const id = freshRoom("claimed");
    assert.equal((await request(early, "conversation:join", id)).ok, true);
    const created = await request(owner, "conversation:create", { conversationId: id, private: true });
    assert.equal(created.ok, true);
    await request(owner, "conversation:join", id);
    assert.equal((await request(owner, "message:send", { conversationId: id, content: "private now" })).ok, true);
    await expectNothing(early, "message:new", 300);
  });
});
