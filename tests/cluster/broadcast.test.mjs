// Broadcasts across members: a client of each member in turn asks its member to broadcast
// (`bcast`, `bcast-except`), the clients of every member receive, over the three transport
// setups. "Nothing arrived" is checked with a barrier (cluster.mjs), never with a sleep.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SETUPS, T, WAIT_MS, barrier, call, fresh, record, useCluster, waitFor } from "./cluster.mjs";

const cluster = useCluster();

// Starts recording `event` on each socket: a Map socket → received argument lists.
const recordAll = (sockets, event) => new Map(sockets.map((s) => [s, record(s, event)]));

// Asserts that each socket of `expected` got `args` exactly once and every other one nothing.
function assertReceived(recs, expected, args, what) {
  for (const [socket, got] of recs) {
    const want = expected.includes(socket) ? [args] : [];
    assert.deepEqual(got, want, `${what}: ${socket.name} (on ${socket.member}) got ${got.length} of ${want.length}`);
  }
}

for (const setup of SETUPS) {
  describe(setup.name, () => {
    test("to a room: its clients on every member get it, the others nothing", T, async () => {
      const inside = await cluster.clients(setup);
      const outside = await cluster.clients(setup);
      const all = [...inside, ...outside];
      const room = fresh();
      await Promise.all(inside.map((c) => call(c, "join", room)));
      // From a client in the room and from one outside it: io.to() includes the sender.
      for (const src of all) {
        const event = fresh("ev");
        const recs = recordAll(all, event);
        assert.equal(await call(src, "bcast", { room, event, payload: { from: src.name } }), true);
        await barrier(src, all);
        assertReceived(recs, inside, [{ from: src.name }], `from ${src.name}`);
      }
    });

    test("to a socket id: that socket only, wherever it is", T, async () => {
      const all = await cluster.clients(setup);
      for (const src of all) {
        for (const dst of all) {
          const event = fresh("ev");
          const recs = recordAll(all, event);
          await call(src, "bcast", { room: dst.id, event, payload: [dst.name] });
          await barrier(src, all);
          assertReceived(recs, [dst], [[dst.name]], `${src.name} to ${dst.name}`);
        }
      }
    });

    test("to several rooms and ids: each client once", T, async () => {
      const [inA, inB, inBoth, byId, none] = await Promise.all([1, 2, 3, 4, 5].map(() => cluster.clients(setup)));
      const all = [inA, inB, inBoth, byId, none].flat();
      const [a, b] = [fresh(), fresh()];
      await Promise.all([
        ...inA.map((c) => call(c, "join", a)),
        ...inB.map((c) => call(c, "join", b)),
        ...inBoth.map((c) => call(c, "join", [a, b])),
      ]);
      // The ids are of sockets in no room, and of one that is in both rooms too.
      const rooms = [a, b, ...byId.map((c) => c.id), inBoth[0].id];
      for (const src of none) {
        const event = fresh("ev");
        const recs = recordAll(all, event);
        await call(src, "bcast", { room: rooms, event, payload: 42 });
        await barrier(src, all);
        assertReceived(recs, [...inA, ...inB, ...inBoth, ...byId], [42], `from ${src.name}`);
      }
    });

    test("to everybody (room null)", T, async () => {
      const all = await cluster.clients(setup, 2);
      for (const src of all.slice(0, cluster.members.length)) {
        const event = fresh("ev");
        const got = Promise.all(all.map((c) => waitFor(c, event)));
        await call(src, "bcast", { room: null, event, payload: "hello" });
        for (const args of await got) assert.deepEqual(args, ["hello"]);
      }
    });

    test("except rooms and ids (bcast and bcast-except)", T, async () => {
      const [kept, inX, inYtoo, excludedById] = await Promise.all([1, 2, 3, 4].map(() => cluster.clients(setup)));
      const all = [kept, inX, inYtoo, excludedById].flat();
      const [r, x, y] = [fresh(), fresh(), fresh()];
      await Promise.all([
        ...all.map((c) => call(c, "join", r)),
        ...inX.map((c) => call(c, "join", x)),
        ...inYtoo.map((c) => call(c, "join", [x, y])),
      ]);
      for (const src of kept) {
        // everybody except room x
        let event = fresh("ev");
        let recs = recordAll(all, event);
        await call(src, "bcast", { room: null, except: x, event, payload: 1 });
        await barrier(src, all);
        assertReceived(recs, [...kept, ...excludedById], [1], `${src.name}: all except ${x}`);
        // room r except room y and some socket ids (bcast-except, an array)
        event = fresh("ev");
        recs = recordAll(all, event);
        const except = [y, ...excludedById.map((c) => c.id)];
        await call(src, "bcast-except", { room: r, except, event, payload: 2 });
        await barrier(src, all);
        assertReceived(recs, [...kept, ...inX], [2], `${src.name}: ${r} except ${y} and ids`);
        // room r except one socket id, on another member
        const victim = kept.find((c) => c.member !== src.member);
        event = fresh("ev");
        recs = recordAll(all, event);
        await call(src, "bcast-except", { room: r, except: victim.id, event, payload: 3 });
        await barrier(src, all);
        assertReceived(recs, all.filter((c) => c !== victim), [3], `${src.name}: ${r} except ${victim.name}`);
      }
    });

    test("volatile: reaches the clients of every member, in order", T, async () => {
      // A volatile packet is dropped for a client whose transport is busy at that instant (a
      // polling client between two requests), so a few are sent until each client has one.
      const all = await cluster.clients(setup);
      const room = fresh();
      await Promise.all(all.map((c) => call(c, "join", room)));
      for (const src of all) {
        const event = fresh("ev");
        const recs = recordAll(all, event);
        for (let i = 0; i < 30 && [...recs.values()].some((got) => got.length === 0); i++) {
          await call(src, "bcast", { room, event, payload: i, volatile: true });
          await barrier(src, all);
        }
        for (const [c, got] of recs) {
          assert.ok(got.length > 0, `${c.name} (on ${c.member}) got no volatile packet from ${src.name}`);
          const seen = got.map(([i]) => i);
          assert.deepEqual(seen, [...seen].sort((p, q) => p - q), `${c.name}: out of order`);
        }
      }
    });

    test("local: the sender's member only, nothing published", T, async () => {
      const all = await cluster.clients(setup, 2);
      for (const src of all.slice(0, cluster.members.length)) {
        const event = fresh("ev");
        const recs = recordAll(all, event);
        await call(src, "bcast", { room: null, event, payload: "mine", local: true });
        await barrier(src, all);
        assertReceived(recs, all.filter((c) => c.member === src.member), ["mine"], `local from ${src.name}`);
        // local to a room, too
        const room = fresh();
        await Promise.all(all.map((c) => call(c, "join", room)));
        const event2 = fresh("ev");
        const recs2 = recordAll(all, event2);
        await call(src, "bcast", { room, event: event2, payload: 7, local: true });
        await barrier(src, all);
        assertReceived(recs2, all.filter((c) => c.member === src.member), [7], `local to a room from ${src.name}`);
      }
    });

    test("binary arguments arrive intact on every member", T, async () => {
      const all = await cluster.clients(setup);
      const room = fresh();
      await Promise.all(all.map((c) => call(c, "join", room)));
      const bytes = (n, seed) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) % 256));
      for (const [k, src] of all.entries()) {
        const payload = {
          small: bytes(3, k),
          empty: Buffer.alloc(0),
          nested: [1, { deep: bytes(70_000, k + 1) }, "text"],
          notBinary: { _placeholder: false, num: 0 },
        };
        const event = fresh("ev");
        const got = Promise.all(all.map((c) => waitFor(c, event, WAIT_MS)));
        await call(src, "bcast", { room, event, payload });
        for (const [i, [received]] of (await got).entries()) {
          const who = `${all[i].name} from ${src.name}`;
          assert.ok(Buffer.isBuffer(received.small), `${who}: small is ${typeof received.small}`);
          assert.ok(Buffer.isBuffer(received.nested[1].deep), `${who}: nested is not a Buffer`);
          assert.deepEqual(received, payload, who);
        }
      }
    });
  });
}
