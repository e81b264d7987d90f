// npm @socket.io/redis-emitter 5.1 (uid "emitter", a process that is no server) reaching the
// clients of every member: broadcasts with to / except, binary, volatile, socketsJoin /
// socketsLeave, disconnectSockets, and serverSideEmit (which each member shows its clients as
// `server-ping`).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Emitter } from "@socket.io/redis-emitter";
import { SETUPS, T, call, fresh, record, sorted, until, useCluster, waitFor } from "./cluster.mjs";

const cluster = useCluster();
// An emitter on the tests' own Redis connection (made in the cluster's before hook).
const emitter = () => new Emitter(cluster.control);

// The emitter's own barrier: what it published before reached every receiver that was to get it.
async function emitterBarrier(receivers) {
  const event = fresh("barrier");
  const got = Promise.all(receivers.map((r) => waitFor(r, event)));
  emitter().emit(event);
  await got;
}

const recordAll = (sockets, event) => new Map(sockets.map((s) => [s, record(s, event)]));

function assertReceived(recs, expected, args, what) {
  for (const [socket, got] of recs) {
    const want = expected.includes(socket) ? [args] : [];
    assert.deepEqual(got, want, `${what}: ${socket.name} (on ${socket.member}) got ${got.length} of ${want.length}`);
  }
}

for (const setup of SETUPS) {
  describe(setup.name, () => {
    test("emit to everybody", T, async () => {
      const all = await cluster.clients(setup, 2);
      const event = fresh("ev");
      const got = Promise.all(all.map((c) => waitFor(c, event)));
      emitter().emit(event, "a", { b: [1, 2] }, null);
      for (const args of await got) assert.deepEqual(args, ["a", { b: [1, 2] }, null]);
    });

    test("to a room, to several rooms and ids, except rooms and ids", T, async () => {
      const [inA, inB, inBoth, none] = await Promise.all([1, 2, 3, 4].map(() => cluster.clients(setup)));
      const all = [inA, inB, inBoth, none].flat();
      const [a, b] = [fresh(), fresh()];
      await Promise.all([
        ...inA.map((c) => call(c, "join", a)),
        ...inB.map((c) => call(c, "join", b)),
        ...inBoth.map((c) => call(c, "join", [a, b])),
      ]);
      const cases = [
        ["to a", (e) => e.to(a), [...inA, ...inBoth]],
        ["to [a, b] and an id", (e) => e.to([a, b]).to(none[0].id), [...inA, ...inB, ...inBoth, none[0]]],
        ["everybody except b", (e) => e.except(b), [...inA, ...none]],
        ["a except b and an id", (e) => e.to(a).except([b, inA[1].id]), inA.filter((c) => c !== inA[1])],
      ];
      for (const [what, op, expected] of cases) {
        const event = fresh("ev");
        const recs = recordAll(all, event);
        op(emitter()).emit(event, what);
        await emitterBarrier(all);
        assertReceived(recs, expected, [what], what);
      }
    });

    test("binary arguments", T, async () => {
      const all = await cluster.clients(setup);
      const event = fresh("ev");
      const payload = { one: Buffer.from([0, 1, 2, 255]), list: [Buffer.alloc(40_000, 7), "x"] };
      const got = Promise.all(all.map((c) => waitFor(c, event)));
      emitter().emit(event, payload, Buffer.from("second"));
      for (const [first, second] of await got) {
        assert.ok(Buffer.isBuffer(first.one) && Buffer.isBuffer(first.list[0]) && Buffer.isBuffer(second));
        assert.deepEqual(first, payload);
        assert.deepEqual(second, Buffer.from("second"));
      }
    });

    test("volatile reaches the clients of every member", T, async () => {
      const all = await cluster.clients(setup);
      const event = fresh("ev");
      const recs = recordAll(all, event);
      for (let i = 0; i < 30 && [...recs.values()].some((got) => got.length === 0); i++) {
        emitter().volatile.emit(event, i);
        await emitterBarrier(all);
      }
      for (const [c, got] of recs) assert.ok(got.length > 0, `${c.name} (on ${c.member}) got no volatile packet`);
    });

    test("socketsJoin and socketsLeave", T, async () => {
      const inside = await cluster.clients(setup);
      const outside = await cluster.clients(setup);
      const [from, to] = [fresh("from"), fresh("to")];
      await Promise.all(inside.map((c) => call(c, "join", from)));
      emitter().in(from).socketsJoin(to);
      await until(async () => (await call(outside[0], "count", to)) === inside.length, `${inside.length} sockets in ${to}`);
      const fetched = await call(outside.at(-1), "fetch", to);
      assert.deepEqual(fetched.map((s) => s.id), sorted(inside.map((c) => c.id)));
      for (const s of fetched) assert.deepEqual(s.rooms, sorted([s.id, from, to]));
      // One socket by id joins, then everybody but the room leaves (nobody is left in `to`).
      emitter().in(outside[1].id).socketsJoin([to]);
      await until(async () => (await call(outside[0], "count", to)) === inside.length + 1, `${outside[1].name} in ${to}`);
      emitter().in(to).except(from).socketsLeave(to);
      await until(async () => (await call(outside[0], "count", to)) === inside.length, `${outside[1].name} out of ${to}`);
      emitter().socketsLeave(to);
      await until(async () => (await call(outside[0], "count", to)) === 0, `${to} empty`);
    });

    test("disconnectSockets", T, async () => {
      const inside = await cluster.clients(setup);
      const outside = await cluster.clients(setup);
      const room = fresh("kick");
      await Promise.all(inside.map((c) => call(c, "join", room)));
      const gone = Promise.all(inside.map((c) => waitFor(c, "disconnect")));
      const stray = outside.map((c) => record(c, "disconnect"));
      emitter().in(room).disconnectSockets();
      for (const [reason] of await gone) assert.equal(reason, "io server disconnect");
      await emitterBarrier(outside);
      for (const [i, c] of outside.entries()) assert.deepEqual(stray[i], [], `${c.name} was disconnected`);
      // close: true closes the whole connection too.
      const victim = outside[1];
      const [closed, engineClosed] = [waitFor(victim, "disconnect"), waitFor(victim.io, "close")];
      emitter().in(victim.id).disconnectSockets(true);
      assert.equal((await closed)[0], "io server disconnect");
      await engineClosed;
    });

    test("serverSideEmit reaches every member", T, async () => {
      const all = await cluster.clients(setup);
      const got = Promise.all(all.map((c) => waitFor(c, "server-ping")));
      emitter().serverSideEmit("ping-servers", { from: "emitter", n: 1.5 });
      for (const [i, args] of (await got).entries()) {
        assert.deepEqual(args, [{ from: "emitter", n: 1.5 }, all[i].member.id]);
      }
    });
  });
}
