// Requests across members: count and fetch (io.in(room).fetchSockets()), all-rooms, and
// server-side emits with acknowledgements (server-emit, the `ping-servers` event), asked of each
// member in turn, answered with what every member holds.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SETUPS, T, barrier, call, fresh, record, sorted, useCluster, waitFor } from "./cluster.mjs";

const cluster = useCluster();

for (const setup of SETUPS) {
  describe(setup.name, () => {
    test("count: the sockets of a room on every member, several rooms counted once", T, async () => {
      // Member i has i + 1 clients in room r; the first client of each member is in s too.
      const clients = [];
      for (let i = 0; i < cluster.members.length; i++) {
        for (let j = 0; j <= i; j++) clients.push(cluster.connect(i, setup, `m${i}c${j}`));
      }
      const all = await Promise.all(clients);
      const [r, s] = [fresh(), fresh()];
      await Promise.all(all.map((c) => call(c, "join", r)));
      const firsts = all.filter((c) => c.name.endsWith("c0"));
      await Promise.all(firsts.map((c) => call(c, "join", s)));
      for (const src of firsts) {
        assert.equal(await call(src, "count", r), all.length, `count ${r} asked of ${src.member}`);
        assert.equal(await call(src, "count", s), firsts.length, `count ${s} asked of ${src.member}`);
        assert.equal(await call(src, "count", [r, s]), all.length, `count [r, s] asked of ${src.member}`);
        assert.equal(await call(src, "count", fresh("empty")), 0, `an empty room, asked of ${src.member}`);
        assert.equal(await call(src, "count", all.at(-1).id), 1, `a socket id, asked of ${src.member}`);
      }
    });

    test("fetch: id, sorted rooms, data and handshake of the sockets of every member", T, async () => {
      const all = await cluster.clients(setup, 2);
      const [r, extra] = [fresh(), fresh()];
      await Promise.all(all.map((c) => call(c, "join", r)));
      await Promise.all(all.filter((c) => c.name.endsWith("c1")).map((c) => call(c, "join", [extra, "zz-last", "00-first"])));
      const expected = all
        .map((c) => ({
          id: c.id,
          rooms: sorted([c.id, r, ...(c.name.endsWith("c1") ? [extra, "zz-last", "00-first"] : [])]),
          data: { member: c.member.id },
          query: c.name,
        }))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      for (const src of all) {
        assert.deepEqual(await call(src, "fetch", r), expected, `fetch ${r} asked of ${src.member}`);
      }
      // One socket of another member, by id.
      const [src, dst] = [all[0], all[1]];
      assert.deepEqual(await call(src, "fetch", dst.id), expected.filter((e) => e.id === dst.id));
    });

    test("all-rooms: the rooms of every member, socket ids included", T, async () => {
      const all = await cluster.clients(setup);
      const own = all.map(() => fresh("own"));
      const shared = fresh("shared");
      await Promise.all(all.map((c, i) => call(c, "join", [own[i], shared])));
      for (const src of all) {
        const rooms = await call(src, "all-rooms");
        assert.ok(Array.isArray(rooms), `asked of ${src.member}: ${JSON.stringify(rooms)}`);
        assert.deepEqual(rooms, sorted(rooms), "sorted");
        assert.equal(new Set(rooms).size, rooms.length, `a room listed twice: ${JSON.stringify(rooms)}`);
        for (const room of [...own, shared, ...all.map((c) => c.id)]) {
          assert.ok(rooms.includes(room), `${room} missing from the all-rooms of ${src.member}: ${JSON.stringify(rooms)}`);
        }
      }
      // A room its last socket left is gone everywhere.
      await call(all[0], "leave", own[0]);
      for (const src of all) assert.ok(!(await call(src, "all-rooms")).includes(own[0]), `asked of ${src.member}`);
    });

    test("server-emit: every other member answers ping-servers, its own member never", T, async () => {
      const all = await cluster.clients(setup);
      for (const src of all) {
        const others = all.filter((c) => c.member !== src.member);
        const pings = Promise.all(others.map((c) => waitFor(c, "server-ping")));
        const mine = record(src, "server-ping");
        const payload = { from: src.name, n: [1, 2.5, "three", null, true] };
        const result = await call(src, "server-emit", payload);
        assert.equal(result.error, null, JSON.stringify(result));
        assert.deepEqual(sorted(result.responses), sorted(others.map((c) => c.member.id)), `asked of ${src.member}`);
        // Each other member's handler got the payload (shown to its clients as server-ping).
        for (const [i, args] of (await pings).entries()) assert.deepEqual(args, [payload, others[i].member.id]);
        // The emitting member got its own request back from Redis before the barrier, and ignored it.
        await barrier(src, all);
        assert.deepEqual(mine, [], `${src.member} handled its own server-side emit`);
      }
    });
  });
}
