// Broadcasts with acknowledgements across members (`bcast-ack`): the responses of the clients of
// every member are collected by the member that emitted, within the broadcast's timeout; a client
// that does not answer makes it complete with an error and the responses that came.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SETUPS, T, call, fresh, sorted, useCluster } from "./cluster.mjs";

const cluster = useCluster();

// Every socket of `sockets` answers `event` with `answer(socket, payload)`.
function answer(sockets, event, fn = (s) => s.name) {
  for (const s of sockets) s.on(event, (payload, ack) => ack(fn(s, payload)));
}

for (const setup of SETUPS) {
  describe(setup.name, () => {
    test("collects the responses of the room's clients on every member", T, async () => {
      const inside = await cluster.clients(setup, 2);
      const outside = await cluster.clients(setup);
      const room = fresh();
      await Promise.all(inside.map((c) => call(c, "join", room)));
      const event = fresh("ask");
      answer([...inside, ...outside], event, (s, payload) => `${s.name}:${payload}`);
      for (const src of outside) {
        const started = Date.now();
        const result = await call(src, "bcast-ack", { room, event, payload: src.name, timeout: 2_000 });
        assert.equal(result.error, null, `from ${src.name}: ${JSON.stringify(result)}`);
        assert.deepEqual(sorted(result.responses), sorted(inside.map((c) => `${c.name}:${src.name}`)), `from ${src.name}`);
        // Complete once every member reported and every client answered, not at the timeout.
        assert.ok(Date.now() - started < 1_500, `from ${src.name}: took ${Date.now() - started} ms`);
      }
    });

    test("to several rooms: each client answers once; binary responses stay binary", T, async () => {
      const [inA, inBoth] = await Promise.all([cluster.clients(setup), cluster.clients(setup)]);
      const [a, b] = [fresh(), fresh()];
      await Promise.all([...inA.map((c) => call(c, "join", a)), ...inBoth.map((c) => call(c, "join", [a, b]))]);
      const event = fresh("ask");
      answer([...inA, ...inBoth], event, (s) => Buffer.from(s.name));
      for (const src of inA) {
        const result = await call(src, "bcast-ack", { room: [a, b], event, payload: null, timeout: 2_000 });
        assert.equal(result.error, null, JSON.stringify(result));
        for (const r of result.responses) assert.ok(Buffer.isBuffer(r), `a response is ${typeof r}: ${JSON.stringify(r)}`);
        assert.deepEqual(sorted(result.responses.map(String)), sorted([...inA, ...inBoth].map((c) => c.name)));
      }
    });

    test("a client that does not answer: an error at the timeout, with the other responses", T, async () => {
      const all = await cluster.clients(setup);
      const room = fresh();
      await Promise.all(all.map((c) => call(c, "join", room)));
      for (const [k, silent] of all.entries()) {
        const event = fresh("ask");
        answer(all.filter((c) => c !== silent), event);
        silent.on(event, () => {}); // receives it, never acknowledges
        const src = all[(k + 1) % all.length]; // the silent client is on another member
        const started = Date.now();
        const result = await call(src, "bcast-ack", { room, event, payload: 1, timeout: 500 });
        const took = Date.now() - started;
        assert.equal(typeof result.error, "string", `silent ${silent.name}: ${JSON.stringify(result)}`);
        assert.deepEqual(sorted(result.responses), sorted(all.filter((c) => c !== silent).map((c) => c.name)));
        assert.ok(took >= 450 && took < 2_000, `completed after ${took} ms, the timeout being 500 ms`);
      }
    });

    test("nobody in the room: no error, no response, at once", T, async () => {
      const all = await cluster.clients(setup);
      for (const src of all) {
        const started = Date.now();
        const result = await call(src, "bcast-ack", { room: fresh("empty"), event: "nobody", payload: 0, timeout: 2_000 });
        assert.deepEqual(result, { error: null, responses: [] });
        assert.ok(Date.now() - started < 1_500, `took ${Date.now() - started} ms`);
      }
    });
  });
}
