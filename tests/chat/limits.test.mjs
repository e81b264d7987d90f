// One user cannot make another's account unusable: a cap on the members of a conversation, a
// per-user limit on creates, a paged conversation:list, and no list reply over the reply bound
// (4 MiB of JSON, a quarter of the Engine.IO send-queue bound that closes a connection).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { T, connectUser, freshRoom, freshUser, request, sleep, useParley } from "./helpers.mjs";

const REPLY_BOUND = 4 * 1024 * 1024;
// The size of a reply as it crossed the wire (JSON.stringify escapes as the server does).
const size = (reply) => Buffer.byteLength(JSON.stringify(reply));

describe("the attack of issue 9: a flood of conversations naming the victim", () => {
  const server = useParley();  // the default limits

  it("leaves the victim's list small and its connection open", T, async () => {
    const attacker = await connectUser(server);
    const victim = await connectUser(server);
    // As reported: 100 creates at once, each with 1000 member ids of 200 bytes, the victim among them.
    const filler = Array.from({ length: 999 }, (_, i) => `${i}`.padStart(200, "x"));
    const creates = await Promise.all(
      Array.from({ length: 100 }, () =>
        request(attacker, "conversation:create", { private: true, memberIds: [victim.userId, ...filler] })),
    );
    // Refused for the member cap, or for the rate of events (100 at once is over its burst).
    for (const c of creates) assert.ok(["BAD_REQUEST", "RATE_LIMITED"].includes(c.error?.code), JSON.stringify(c).slice(0, 200));
    assert.ok(creates.some((c) => c.error.code === "BAD_REQUEST"));
    // Within the member cap, as fast as it can (once the burst of events is back): a few, then
    // RATE_LIMITED.
    await sleep(2_100);
    const allowed = filler.slice(0, 98);
    const small = await Promise.all(
      Array.from({ length: 100 }, () =>
        request(attacker, "conversation:create", { private: true, memberIds: [victim.userId, ...allowed] })),
    );
    const made = small.filter((c) => c.ok).length;
    assert.ok(made >= 1 && made <= 10, `${made} created`);
    for (const c of small.filter((x) => !x.ok)) assert.equal(c.error.code, "RATE_LIMITED");

    // The victim's list (as the web page asks on every connection) answers, small, and the
    // socket stays connected; a new connection of the victim too.
    const list = await request(victim, "conversation:list");
    assert.equal(list.ok, true);
    assert.equal(list.conversations.length, made);
    assert.ok(size(list) < 300_000, `${size(list)} bytes`);
    assert.ok(victim.connected);
    const again = await connectUser(server, victim.userId);
    assert.equal((await request(again, "conversation:list")).ok, true);
    await sleep(200);
    assert.ok(victim.connected && again.connected);
  });
});

describe("conversation limits", () => {
  const server = useParley({ flags: ["--max-conversation-members", "5", "--conversation-creates-per-minute", "3"] });

  it("refuses a conversation of more members than --max-conversation-members, the creator included", T, async () => {
    const owner = await connectUser(server);
    const others = Array.from({ length: 5 }, () => freshUser());
    const id = freshRoom("big");
    const refused = await request(owner, "conversation:create", { conversationId: id, private: true, memberIds: others });
    assert.equal(refused.ok, false);
    assert.equal(refused.error.code, "BAD_REQUEST");
    assert.match(refused.error.message, /at most 5/);
    // Nothing was created: the id is still free.
    const fits = await request(owner, "conversation:create", { conversationId: id, private: true, memberIds: others.slice(0, 4) });
    assert.equal(fits.ok, true);
    assert.equal(fits.conversation.memberIds.length, 5);
    // Duplicates and the creator count once.
    const dup = await request(owner, "conversation:create", { memberIds: [others[0], others[0], owner.userId] });
    assert.equal(dup.ok, true);
  });

  it("limits how many conversations a user creates, over all of the user's sockets", T, async () => {
    const a1 = await connectUser(server);
    const a2 = await connectUser(server, a1.userId);
    const acks = [];
    for (let i = 0; i < 3; i++) acks.push(await request(i % 2 ? a2 : a1, "conversation:create", {}));
    assert.deepEqual(acks.map((x) => x.ok), [true, true, true]);
    for (const s of [a1, a2]) {
      const over = await request(s, "conversation:create", { title: "one more" });
      assert.equal(over.ok, false);
      assert.equal(over.error.code, "RATE_LIMITED");
      assert.equal(typeof over.error.message, "string");
    }
    // Another user is not limited by this one.
    const b = await connectUser(server);
    assert.equal((await request(b, "conversation:create", {})).ok, true);
  });
});

describe("conversation:list pages", () => {
  const server = useParley({ flags: ["--conversation-creates-per-minute", "0", "--rate-limit", "0"] });

  it("pages newest first with limit and before, next null at the end; no argument is the first page", T, async () => {
    const owner = await connectUser(server);
    const member = await connectUser(server);
    const ids = [];
    for (let i = 0; i < 45; i++) {
      const c = await request(owner, "conversation:create", { private: true, memberIds: [member.userId], title: `t${i}` });
      assert.equal(c.ok, true);
      ids.push(c.conversation);
    }
    // Newest first: created_at descending, then id descending (as bytes).
    const expected = [...ids]
      .sort((x, y) => (x.createdAt === y.createdAt ? (x.id < y.id ? 1 : -1) : x.createdAt < y.createdAt ? 1 : -1))
      .map((c) => c.id);

    const first = await request(member, "conversation:list");
    assert.equal(first.ok, true);
    assert.equal(first.conversations.length, 20);
    assert.equal(typeof first.next, "string");
    assert.deepEqual(first.conversations.map((c) => c.id), expected.slice(0, 20));
    assert.deepEqual(first.conversations[0].memberIds, [owner.userId, member.userId].sort());

    const seen = [];
    let before;
    let pages = 0;
    do {
      const page = await request(member, "conversation:list", before ? { limit: 7, before } : { limit: 7 });
      assert.equal(page.ok, true);
      assert.ok(page.conversations.length <= 7);
      seen.push(...page.conversations.map((c) => c.id));
      before = page.next;
      pages++;
      // Created meanwhile: newer than every page, so it shifts none of the following ones.
      if (pages === 1) await request(owner, "conversation:create", { private: true, memberIds: [member.userId] });
    } while (before !== null);
    assert.equal(pages, 7);
    assert.deepEqual(seen, expected);

    assert.equal((await request(member, "conversation:list", { before: "bm90IGEgY3Vyc29y" })).error.code, "BAD_REQUEST");
    assert.equal((await request(member, "conversation:list", { limit: 0 })).error.code, "BAD_REQUEST");
    const capped = await request(member, "conversation:list", { limit: 1e6 });
    assert.equal(capped.conversations.length, 46);  // at most 100 a page
    assert.equal(capped.next, null);
  });
});

describe("no list reply over the reply bound", () => {
  // Long messages of control characters (each sent as \u0001, six bytes) make pages large fast.
  const server = useParley({ flags: ["--max-message-length", "100000", "--rate-limit", "0"] });

  it("stops a history page early, with the newest, and paging back misses nothing", T, async () => {
    const alice = await connectUser(server);
    const id = freshRoom();
    const sent = [];
    for (let i = 0; i < 10; i++) {
      const content = `#${i} ` + "\u0001".repeat(100_000 - 4);
      const ack = await request(alice, "message:send", { conversationId: id, content });
      assert.equal(ack.ok, true);
      sent.push(ack.message.id);
    }
    // 10 messages of 600 kB of JSON each: more than one reply may carry.
    const page = await request(alice, "message:history", { conversationId: id, limit: 200 });
    assert.equal(page.ok, true);
    assert.ok(size(page) <= REPLY_BOUND, `${size(page)} bytes`);
    const got = page.messages.map((m) => m.id);
    assert.ok(got.length >= 1 && got.length < 10, `${got.length} messages`);
    assert.deepEqual(got, sent.slice(10 - got.length));
    const rest = await request(alice, "message:history", { conversationId: id, limit: 200, before: got[0] });
    assert.ok(size(rest) <= REPLY_BOUND);
    assert.deepEqual([...rest.messages.map((m) => m.id), ...got], sent);
    assert.ok(alice.connected);
  });
});
