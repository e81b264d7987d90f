// A member that hangs (SIGSTOP) then dies (SIGKILL), and one that just dies: the survivors keep
// serving their clients; their requests fail with an error after --requests-timeout while Redis
// still counts the hung member (PUBSUB NUMSUB), and succeed again once it is gone (the kernel
// closes a killed process's connections, so Redis drops it at once). What the reference does,
// and what the Parley member must do. Fresh members for each test, their clients over mixed
// transports (member i: SETUPS[i % 3]).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  SETUPS, T, call, exited, fresh, numsub, sorted, until, useCluster, waitFor, waitSubscribed,
} from "./cluster.mjs";

const REQUESTS_TIMEOUT = 1_000;
const cluster = useCluster({ requestsTimeout: REQUESTS_TIMEOUT, perTest: true });

// One client per member, all in `room`, answering `ask` with their name.
async function setUp(room) {
  const clients = await Promise.all(cluster.members.map((m, i) => cluster.connect(i, SETUPS[i % SETUPS.length], `m${i}`)));
  await Promise.all(clients.map((c) => call(c, "join", room)));
  for (const c of clients) c.on("ask", (_payload, ack) => ack(c.name));
  return clients;
}

// Every survivor's requests and broadcasts account for exactly the `alive` clients.
async function assertHealthy(alive, room) {
  const ids = sorted(alive.map((c) => c.member.id));
  for (const src of alive) {
    const what = `asked of ${src.member}`;
    assert.equal(await call(src, "count", room), alive.length, what);
    assert.deepEqual((await call(src, "fetch", room)).map((s) => s.id), sorted(alive.map((c) => c.id)), what);
    const rooms = await call(src, "all-rooms");
    assert.ok(Array.isArray(rooms) && rooms.includes(room), `${what}: ${JSON.stringify(rooms)}`);
    const emitted = await call(src, "server-emit", 1);
    assert.deepEqual({ ...emitted, responses: sorted(emitted.responses) }, { error: null, responses: ids.filter((id) => id !== src.member.id) }, what);
    const acks = await call(src, "bcast-ack", { room, event: "ask", payload: null, timeout: 2_000 });
    assert.deepEqual({ ...acks, responses: sorted(acks.responses) }, { error: null, responses: sorted(alive.map((c) => c.name)) }, what);
    const event = fresh("ev");
    const got = Promise.all(alive.map((c) => waitFor(c, event)));
    await call(src, "bcast", { room, event, payload: src.name });
    await got;
  }
}

// The victim is member 0 or member 1: with the default mixed line-up, a Parley member and a Node
// member in turn (and each survivor sees a member of the other kind die).
for (const victimIndex of [0, 1]) {
  test(`member ${victimIndex} hangs: requests time out with an error; killed: they succeed again`, T, async () => {
    const room = fresh();
    const clients = await setUp(room);
    const victim = cluster.members[victimIndex];
    const survivors = clients.filter((c) => c.member !== victim);
    await assertHealthy(clients, room);

    victim.kill("SIGSTOP"); // still subscribed, as far as Redis knows: it just does not answer
    const ids = sorted(survivors.map((c) => c.member.id));
    const timed = async (what, fn) => {
      const started = Date.now();
      const result = await fn();
      const took = Date.now() - started;
      assert.ok(took >= REQUESTS_TIMEOUT - 100 && took < REQUESTS_TIMEOUT + 1_500,
        `${what}: answered after ${took} ms, the requests timeout being ${REQUESTS_TIMEOUT} ms`);
      return result;
    };
    // Every survivor asks everything at once: the requests are pending together.
    await Promise.all(survivors.map(async (src) => {
      const what = `asked of ${src.member} while ${victim} hangs`;
      const [count, fetched, rooms, emitted, acks] = await Promise.all([
        timed(`count, ${what}`, () => call(src, "count", room)),
        timed(`fetch, ${what}`, () => call(src, "fetch", room)),
        timed(`all-rooms, ${what}`, () => call(src, "all-rooms")),
        timed(`server-emit, ${what}`, () => call(src, "server-emit", 2)),
        // A broadcast with acks waits for the hung member's client count until its own timeout.
        call(src, "bcast-ack", { room, event: "ask", payload: null, timeout: 800 }),
      ]);
      assert.equal(typeof count?.error, "string", `count, ${what}: ${JSON.stringify(count)}`);
      assert.equal(typeof fetched?.error, "string", `fetch, ${what}: ${JSON.stringify(fetched)}`);
      assert.equal(typeof rooms?.error, "string", `all-rooms, ${what}: ${JSON.stringify(rooms)}`);
      assert.equal(typeof emitted.error, "string", `server-emit, ${what}: ${JSON.stringify(emitted)}`);
      assert.deepEqual(sorted(emitted.responses), ids.filter((id) => id !== src.member.id), `server-emit, ${what}`);
      assert.equal(typeof acks.error, "string", `bcast-ack, ${what}: ${JSON.stringify(acks)}`);
      assert.deepEqual(sorted(acks.responses), sorted(survivors.map((c) => c.name)), `bcast-ack, ${what}`);
    }));
    // Broadcasts between the survivors go on.
    for (const src of survivors) {
      const event = fresh("ev");
      const got = Promise.all(survivors.map((c) => waitFor(c, event)));
      await call(src, "bcast", { room, event, payload: 1 });
      await got;
    }

    victim.kill("SIGKILL");
    await exited(victim);
    await waitSubscribed(cluster.control, cluster.members.length - 1);
    await assertHealthy(survivors, room);
  });
}

test("members SIGKILLed one after the other: the survivors recover at once, their clients stay", T, async () => {
  const room = fresh();
  let alive = await setUp(room);
  // Kill all but the last member, one at a time; the clients of the dead lose their connection.
  for (const victim of cluster.members.slice(0, -1)) {
    const orphan = alive.find((c) => c.member === victim);
    const lost = waitFor(orphan, "disconnect");
    victim.kill("SIGKILL");
    await exited(victim);
    assert.match((await lost)[0], /^transport (close|error)$/); // websocket: close; polling: a failed request
    alive = alive.filter((c) => c !== orphan);
    await until(async () => (await numsub(cluster.control)) === alive.length, `NUMSUB ${alive.length}`);
    for (const c of alive) assert.ok(c.connected, `${c.name} lost its connection when ${victim} died`);
    await assertHealthy(alive, room);
  }
});
