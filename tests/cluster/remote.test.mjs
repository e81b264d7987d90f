// Operations on the sockets of every member: sockets-join / sockets-leave
// (io.in(from).socketsJoin(to)) and kick (io.in(room).disconnectSockets()), asked of each member
// in turn. The reference applies them on the asking member too only when its own request comes
// back from Redis, so their effect is awaited (bounded), not assumed at the ack.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SETUPS, T, barrier, call, fresh, record, sorted, until, useCluster, waitFor } from "./cluster.mjs";

const cluster = useCluster();

// The rooms of `socket` as the cluster reports them, asked of `via`'s member.
async function roomsOf(via, socket) {
  const [found] = await call(via, "fetch", socket.id);
  return found ? found.rooms : null;
}

for (const setup of SETUPS) {
  describe(setup.name, () => {
    test("sockets-join and sockets-leave reach the sockets of every member", T, async () => {
      const inside = await cluster.clients(setup);
      const outside = await cluster.clients(setup);
      const all = [...inside, ...outside];
      const from = fresh("from");
      await Promise.all(inside.map((c) => call(c, "join", from)));
      for (const src of all) {
        const [to1, to2] = [fresh("to"), fresh("to")];
        assert.equal(await call(src, "sockets-join", { from, to: [to1, to2] }), true);
        await until(async () => (await call(src, "count", to1)) === inside.length &&
          (await call(src, "count", to2)) === inside.length, `${inside.length} sockets in ${to1} and ${to2}`);
        for (const c of all) {
          const want = inside.includes(c) ? sorted([c.id, from, to1, to2]) : [c.id];
          assert.deepEqual(await roomsOf(src, c), want, `the rooms of ${c.name}, asked of ${src.member}`);
        }
        // A broadcast to the new room reaches them, wherever they are.
        const event = fresh("ev");
        const got = Promise.all(inside.map((c) => waitFor(c, event)));
        await call(src, "bcast", { room: to1, event, payload: 1 });
        await got;

        assert.equal(await call(src, "sockets-leave", { from, to: to1 }), true);
        await until(async () => (await call(src, "count", to1)) === 0, `${to1} empty`);
        for (const c of inside) {
          assert.deepEqual(await roomsOf(src, c), sorted([c.id, from, to2]), `the rooms of ${c.name} after leave`);
        }
        await call(src, "sockets-leave", { from, to: [to2] });
        await until(async () => (await call(src, "count", to2)) === 0, `${to2} empty`);
      }
    });

    test("sockets-join of one socket id, on another member", T, async () => {
      const all = await cluster.clients(setup);
      for (const src of all) {
        for (const dst of all.filter((c) => c.member !== src.member)) {
          const to = fresh("to");
          await call(src, "sockets-join", { from: dst.id, to });
          await until(async () => (await call(src, "count", to)) === 1, `${dst.name} in ${to}`);
          assert.deepEqual(await call(src, "fetch", to).then((f) => f.map((s) => s.id)), [dst.id]);
          await call(src, "sockets-leave", { from: dst.id, to });
          await until(async () => (await call(src, "count", to)) === 0, `${dst.name} out of ${to}`);
        }
      }
    });

    test("kick: the room's sockets on every member are disconnected, the others stay", T, async () => {
      for (const [k] of cluster.members.entries()) {
        const inside = await cluster.clients(setup);
        const outside = await cluster.clients(setup);
        const src = outside[k];
        const room = fresh("kick");
        await Promise.all(inside.map((c) => call(c, "join", room)));
        const gone = Promise.all(inside.map((c) => waitFor(c, "disconnect")));
        const stray = outside.map((c) => record(c, "disconnect"));
        assert.equal(await call(src, "kick", room), true);
        for (const [reason] of await gone) assert.equal(reason, "io server disconnect");
        await barrier(src, outside);
        for (const [i, c] of outside.entries()) {
          assert.deepEqual(stray[i], [], `${c.name} was disconnected`);
          assert.ok(c.connected, `${c.name} is not connected`);
        }
        await until(async () => (await call(src, "count", room)) === 0, `${room} empty`);
        for (const c of outside) c.disconnect();
      }
    });

    test("kick one socket id, on another member", T, async () => {
      const all = await cluster.clients(setup);
      for (const [k, src] of all.entries()) {
        const victim = await cluster.connect((k + 1) % all.length, setup, `victim${k}`);
        const gone = waitFor(victim, "disconnect");
        await call(src, "kick", victim.id);
        assert.equal((await gone)[0], "io server disconnect");
        await barrier(src, all);
        for (const c of all) assert.ok(c.connected, `${c.name} was disconnected too`);
      }
    });
  });
}
