// Presence: user:<id> rooms with several sockets per user, user:online / user:offline, and the
// online count and list.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ISO_MS, T, collect, connectUser, expectNothing, freshUser, request, sleep, useParley, waitFor,
} from "./helpers.mjs";

describe("presence", () => {
  const server = useParley();

  it("announces a user's first socket and last disconnect to everyone else", T, async () => {
    const watcher = await connectUser(server);
    const alice = freshUser("alice");

    const online = waitFor(watcher, "user:online");
    const a1 = await connectUser(server, alice);
    assert.deepEqual((await online)[0], { userId: alice });

    // A second socket of the same user: no second user:online.
    const onlineEvents = collect(watcher, "user:online");
    const a2 = await connectUser(server, alice);
    // The user's first socket hears nothing of its own second socket either.
    await expectNothing(a1, "user:online", 300);
    assert.deepEqual(onlineEvents.list.filter((e) => e.userId === alice), []);

    // First of two sockets leaves: still online.
    const offlineEvents = collect(watcher, "user:offline");
    a1.disconnect();
    await sleep(300);
    assert.deepEqual(offlineEvents.list.filter((e) => e.userId === alice), []);

    // The last one: offline, with lastSeen.
    const offline = waitFor(watcher, "user:offline");
    const before = Date.now();
    a2.disconnect();
    const [event] = await offline;
    assert.equal(event.userId, alice);
    assert.match(event.lastSeen, ISO_MS);
    assert.ok(Math.abs(Date.parse(event.lastSeen) - before) < 5_000);
  });

  it("counts distinct users and lists them", T, async () => {
    const watcher = await connectUser(server);
    const base = (await request(watcher, "get:online:count")).count;
    const baseList = (await request(watcher, "users:online")).userIds;
    assert.ok(baseList.includes(watcher.userId));
    assert.equal(baseList.length, base);

    const bob = freshUser("bob");
    const carol = freshUser("carol");
    const b1 = await connectUser(server, bob);
    await connectUser(server, bob);
    await connectUser(server, carol);
    await connectUser(server, carol, { transports: ["polling"] });

    const count = await request(watcher, "get:online:count");
    assert.equal(count.count, base + 2);
    const list = await request(b1, "users:online");
    assert.ok(Array.isArray(list.userIds));
    assert.equal(new Set(list.userIds).size, list.userIds.length);
    for (const u of [watcher.userId, bob, carol]) assert.ok(list.userIds.includes(u), u);
  });

  it("every socket of a user is in the room user:<userId> (private messages reach them all)", T, async () => {
    const dave = freshUser("dave");
    const d1 = await connectUser(server, dave);
    const d2 = await connectUser(server, dave, { transports: ["polling"] });
    const sender = await connectUser(server);
    const got1 = waitFor(d1, "message:new");
    const got2 = waitFor(d2, "message:new");
    const ack = await request(sender, "private:message", { recipientUserId: dave, content: "to every tab" });
    assert.equal(ack.ok, true);
    assert.equal((await got1)[0].id, ack.message.id);
    assert.equal((await got2)[0].id, ack.message.id);
  });
});
