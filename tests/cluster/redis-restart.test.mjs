// Redis killed under traffic, then started again on the same port: every member keeps serving its
// own clients (local delivery goes on), cross-member requests fail cleanly instead of hanging,
// and the cluster heals once Redis is back (the members reconnect and subscribe again).
//
// What the two kinds of member do differently while Redis is down (README.md):
//  - Parley answers count / fetch / all-rooms / server-emit with an error, within the requests
//    timeout, while Redis is still down; what it broadcasts meanwhile is not published (never
//    reaches the other members, even after the restart).
//  - the reference (Node) queues its Redis commands in node-redis' offline queue: its requests
//    neither fail nor answer until Redis is back, then complete against whoever has subscribed
//    again by then (a count can come back short); its broadcasts of the outage are published
//    after the restart.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  SETUPS, T, WAIT_MS, barrier, call, fresh, record, sorted, sleep, until, useCluster, waitFor, waitSubscribed,
} from "./cluster.mjs";

const REQUESTS_TIMEOUT = 1_000;
const cluster = useCluster({ requestsTimeout: REQUESTS_TIMEOUT, perTest: true });

test("Redis killed under traffic and restarted: local delivery goes on, requests fail cleanly, the cluster heals", { timeout: 60_000 }, async () => {
  const room = fresh();
  // Two clients per member, over mixed transports.
  const clients = [];
  for (const [i] of cluster.members.entries()) {
    for (let j = 0; j < 2; j++) clients.push(cluster.connect(i, SETUPS[(i + j) % SETUPS.length], `m${i}c${j}`));
  }
  const all = await Promise.all(clients);
  await Promise.all(all.map((c) => call(c, "join", room)));
  for (const c of all) c.on("ask", (_payload, ack) => ack(c.name));
  const dropped = all.map((c) => record(c, "disconnect"));
  const mine = (src) => all.filter((c) => c.member === src.member);
  const senders = all.filter((c) => c.name.endsWith("c0"));

  // Traffic from every client through the whole outage: broadcasts, half of them local. Every
  // one is acknowledged by its member, Redis or not.
  let running = true;
  let sent = 0;
  const traffic = all.map(async (c) => {
    for (let i = 0; running; i++) {
      assert.equal(await call(c, "bcast", { room, event: "traffic", payload: i, local: i % 2 === 0 }), true);
      sent++;
      await sleep(5);
    }
  });
  await until(() => sent >= 3 * all.length, "some traffic");

  await cluster.redis.stop({ crash: true });

  // Local delivery goes on.
  const outage = new Map();
  for (const src of senders) {
    const event = fresh("outage");
    outage.set(src, { event, recs: new Map(all.map((c) => [c, record(c, event)])) });
    const got = Promise.all(mine(src).map((c) => waitFor(c, event)));
    assert.equal(await call(src, "bcast", { room, event, payload: src.name }), true);
    await got;
  }

  // Requests: Parley fails them while Redis is down; Node answers once it is back.
  const pending = [];
  await Promise.all(senders.map(async (src) => {
    const what = `asked of ${src.member} while Redis is down`;
    // A broadcast with acks completes with the answers of the member's own clients.
    const acks = await call(src, "bcast-ack", { room, event: "ask", payload: null, timeout: 800 });
    assert.deepEqual(sorted(acks.responses), sorted(mine(src).map((c) => c.name)), `bcast-ack, ${what}: ${JSON.stringify(acks)}`);
    assert.ok(acks.error === null || typeof acks.error === "string", `bcast-ack, ${what}: ${JSON.stringify(acks)}`);
    const requests = [["count", room], ["fetch", room], ["all-rooms", undefined], ["server-emit", 3]];
    if (src.member.kind === "parley") {
      await Promise.all(requests.map(async ([event, arg]) => {
        const started = Date.now();
        const answer = await call(src, event, arg, REQUESTS_TIMEOUT + 2_000);
        assert.equal(typeof answer?.error, "string", `${event}, ${what}: ${JSON.stringify(answer)}`);
        assert.ok(Date.now() - started < REQUESTS_TIMEOUT + 1_500, `${event}, ${what}: took ${Date.now() - started} ms`);
      }));
    } else {
      for (const [event, arg] of requests) pending.push([`${event}, ${what}`, call(src, event, arg, 15_000)]);
    }
  }));
  for (const c of all) assert.ok(c.connected, `${c.name} lost its connection`);

  await cluster.redis.start();
  // The reference's queued requests answer now (with an error, or a value computed against the
  // members that had subscribed again by then).
  for (const [what, answer] of pending) assert.notEqual(await answer, undefined, what);

  // The cluster heals: everybody subscribed again, requests and broadcasts cross members.
  await waitSubscribed(cluster.control, cluster.members.length, 15_000);
  for (const src of senders) {
    await until(async () => (await call(src, "count", room)) === all.length, `count ${all.length} from ${src.member}`, 10_000);
    const emitted = await call(src, "server-emit", 4);
    assert.deepEqual({ ...emitted, responses: sorted(emitted.responses) }, {
      error: null, responses: sorted(cluster.members.filter((m) => m !== src.member).map((m) => m.id)),
    });
    const event = fresh("healed");
    const got = Promise.all(all.map((c) => waitFor(c, event, WAIT_MS)));
    await call(src, "bcast", { room, event, payload: 5 });
    await got;
  }

  // What a Parley member broadcast during the outage was dropped, not published late.
  for (const src of senders.filter((c) => c.member.kind === "parley")) {
    await barrier(src, all);
    const { event, recs } = outage.get(src);
    for (const [c, got] of recs) {
      if (c.member !== src.member) assert.deepEqual(got, [], `${c.name} got ${event} of ${src.member} after the restart`);
    }
  }

  running = false;
  await Promise.all(traffic);
  for (const [i, c] of all.entries()) {
    assert.deepEqual(dropped[i], [], `${c.name} was disconnected`);
    assert.ok(c.connected, `${c.name} is not connected`);
  }
});
