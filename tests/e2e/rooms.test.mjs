// Rooms and every broadcast operator: to, except, broadcast (all but the sender),
// namespace-wide emit, volatile, local, timeout with acks from all recipients.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  SETUPS, T, call, connect, freshNsp, freshRoom, record, sleep, until, useServer,
} from "./harness.mjs";

const server = useServer();

// Connects `n` sockets to `nsp`, each on its own connection.
async function sockets(setup, nsp, n) {
  return Promise.all(Array.from({ length: n }, () => connect(server, setup, nsp)));
}

// Waits until every socket has had a round trip with the server, so that anything the
// server sent to it before has arrived (one connection delivers in order).
async function settle(list) {
  await Promise.all(list.map((s) => call(s, "echo")));
}

const sorted = (xs) => [...xs].sort();

for (const setup of SETUPS) {
  describe(setup.name, () => {
    test("join and leave with ack report the socket's rooms", T, async () => {
      const socket = await connect(server, setup);
      const [a, b] = [freshRoom("a"), freshRoom("b")];
      assert.deepEqual(await call(socket, "join", a), sorted([socket.id, a]));
      assert.deepEqual(await call(socket, "join", [b, a]), sorted([socket.id, a, b]));
      assert.deepEqual(await call(socket, "leave", a), sorted([socket.id, b]));
      assert.deepEqual(await call(socket, "leave", "never-joined"), sorted([socket.id, b]));
      assert.deepEqual(await call(socket, "leave", b), [socket.id]);
    });

    test("to several rooms reaches each member once", T, async () => {
      const nsp = freshNsp();
      const [s1, s2, s3, s4] = await sockets(setup, nsp, 4);
      const [a, b] = [freshRoom("a"), freshRoom("b")];
      await call(s1, "join", a);
      await call(s2, "join", [a, b]);
      await call(s3, "join", b);
      const got = [s1, s2, s3, s4].map((s) => record(s, "news"));
      assert.deepEqual(await call(s4, "operator", { action: "emit", to: [a, b], event: "news", args: ["hi", { n: 1 }] }), { ok: true });
      await until(() => got[0].length && got[1].length && got[2].length, "the room members");
      await settle([s1, s2, s3, s4]);
      assert.deepEqual(got, [[["hi", { n: 1 }]], [["hi", { n: 1 }]], [["hi", { n: 1 }]], []]);
    });

    test("to a socket id reaches that socket only", T, async () => {
      const [s1, s2] = await sockets(setup, freshNsp(), 2);
      const got1 = record(s1, "dm");
      const got2 = record(s2, "dm");
      await call(s2, "operator", { action: "emit", to: [s1.id], event: "dm", args: ["psst"] });
      await until(() => got1.length === 1, "the direct message");
      await settle([s1, s2]);
      assert.deepEqual(got1, [["psst"]]);
      assert.deepEqual(got2, []);
    });

    test("except leaves out the members of the excepted rooms", T, async () => {
      const nsp = freshNsp();
      const [s1, s2, s3] = await sockets(setup, nsp, 3);
      const [all, muted] = [freshRoom("all"), freshRoom("muted")];
      for (const s of [s1, s2, s3]) await call(s, "join", all);
      await call(s2, "join", muted);
      const got = [s1, s2, s3].map((s) => record(s, "msg"));
      await call(s1, "operator", { action: "emit", to: [all], except: [muted], event: "msg", args: [1] });
      await until(() => got[0].length && got[2].length, "the members not excepted");
      await settle([s1, s2, s3]);
      assert.deepEqual(got, [[[1]], [], [[1]]]);
      // except alone: the whole namespace but the excepted room.
      await call(s1, "operator", { action: "emit", except: [muted, s3.id], event: "msg", args: [2] });
      await until(() => got[0].length === 2, "the second emit");
      await settle([s1, s2, s3]);
      assert.deepEqual(got, [[[1], [2]], [], [[1]]]);
    });

    test("broadcast from a socket reaches everyone but the sender", T, async () => {
      const [s1, s2, s3] = await sockets(setup, freshNsp(), 3);
      const got = [s1, s2, s3].map((s) => record(s, "b"));
      await call(s1, "operator", { action: "emit", broadcast: true, event: "b", args: ["from s1"] });
      await until(() => got[1].length && got[2].length, "the other sockets");
      await settle([s1, s2, s3]);
      assert.deepEqual(got, [[], [["from s1"]], [["from s1"]]]);
    });

    test("broadcast to a room from a member excludes the sender", T, async () => {
      const [s1, s2, s3] = await sockets(setup, freshNsp(), 3);
      const room = freshRoom();
      await call(s1, "join", room);
      await call(s2, "join", room);
      const got = [s1, s2, s3].map((s) => record(s, "b"));
      await call(s1, "operator", { action: "emit", broadcast: true, to: [room], event: "b", args: [Buffer.from("bin")] });
      await until(() => got[1].length, "the other member");
      await settle([s1, s2, s3]);
      assert.deepEqual(got, [[], [[Buffer.from("bin")]], []]);
    });

    test("emit to the whole namespace reaches every socket, the sender too", T, async () => {
      const nsp = freshNsp();
      const list = await sockets(setup, nsp, 3);
      const other = await connect(server, setup, freshNsp());
      const got = list.map((s) => record(s, "all"));
      const gotOther = record(other, "all");
      await call(list[0], "operator", { action: "emit", event: "all", args: [{ everyone: true }] });
      await until(() => got.every((g) => g.length === 1), "every socket of the namespace");
      await settle([other]);
      assert.deepEqual(got, list.map(() => [[{ everyone: true }]]));
      assert.deepEqual(gotOther, []);
    });

    test("io.emit on the main namespace reaches every socket of /", T, async () => {
      // Other tests may have sockets in / too: only ours are checked.
      const list = await sockets(setup, "/", 2);
      const custom = await connect(server, setup, "/custom");
      const tag = freshRoom("tag");
      const got = list.map((s) => record(s, "main"));
      const gotCustom = record(custom, "main");
      await call(list[0], "operator", { action: "emit", event: "main", args: [tag] });
      await until(() => got.every((g) => g.some(([t]) => t === tag)), "every socket of /");
      await settle([custom]);
      assert.deepEqual(gotCustom, []);
    });

    test("local emits reach the room like any emit on a single server", T, async () => {
      const [s1, s2, s3] = await sockets(setup, freshNsp(), 3);
      const room = freshRoom();
      await call(s2, "join", room);
      await call(s3, "join", room);
      const got = [s1, s2, s3].map((s) => record(s, "l"));
      await call(s1, "operator", { action: "emit", local: true, to: [room], event: "l", args: [1] });
      await until(() => got[1].length && got[2].length, "the room members");
      await settle([s1, s2, s3]);
      assert.deepEqual(got, [[], [[1]], [[1]]]);
    });

    // A volatile packet is dropped for a client whose transport is not writable at that
    // instant: over polling, one with no long-poll request pending (as just after a ping
    // or any other response), over WebSocket, one with a write in flight. So a burst is
    // partly dropped, and even one emit to an idle client can miss: these tests retry a
    // few times, spaced out, and assert that some get through and none is reordered.
    test("volatile emits: a burst is partly dropped, never reordered", T, async () => {
      const [s1, s2] = await sockets(setup, freshNsp(), 2);
      const got = record(s2, "v");
      const markers = record(s2, "marker");
      const N = 20;
      if (!setup.opts.transports) await until(() => s2.io.engine.transport.name === "websocket", "the upgrade");
      for (let burst = 0; burst < 5 && got.length === 0; burst++) {
        await call(s1, "operator", { action: "emit", volatile: true, to: [s2.id], event: "v", args: [burst], count: N });
        // A non-volatile marker afterwards is never dropped: once it is in, the burst is in.
        await call(s1, "operator", { action: "emit", to: [s2.id], event: "marker", args: [burst] });
        await until(() => markers.length === burst + 1, `marker ${burst}`);
        if (got.length === 0) await sleep(50);
      }
      assert.ok(got.length >= 1 && got.length <= N, `received ${got.length} of a burst of ${N}`);
      const burst = got[0][0];
      assert.ok(got.every(([b]) => b === burst), "all from one burst");
      const indexes = got.map(([, i]) => i);
      for (let k = 1; k < indexes.length; k++) assert.ok(indexes[k] > indexes[k - 1], `order: ${indexes}`);
      assert.ok(indexes.every((i) => Number.isInteger(i) && i >= 0 && i < N));
    });

    test("volatile broadcast to a room", T, async () => {
      const [s1, s2, s3] = await sockets(setup, freshNsp(), 3);
      const room = freshRoom();
      await call(s2, "join", room);
      await call(s3, "join", room);
      const got = [s1, s2, s3].map((s) => record(s, "v"));
      for (let i = 0; i < 10 && !(got[1].length && got[2].length); i++) {
        if (i > 0) await sleep(30);
        await call(s1, "operator", { action: "emit", volatile: true, broadcast: true, to: [room], event: "v", args: ["typing", i] });
        await settle([s1, s2, s3]);
      }
      assert.ok(got[1].length >= 1 && got[2].length >= 1, `received: ${JSON.stringify(got)}`);
      assert.deepEqual(got[0], []);
      for (const g of got.slice(1)) {
        assert.ok(g.every(([t]) => t === "typing"));
        for (let k = 1; k < g.length; k++) assert.ok(g[k][1] > g[k - 1][1], `order: ${JSON.stringify(g)}`);
      }
    });

    test("timeout collects the acks of all recipients", T, async () => {
      const [s1, s2, s3] = await sockets(setup, freshNsp(), 3);
      const room = freshRoom();
      for (const [i, s] of [s1, s2, s3].entries()) {
        await call(s, "join", room);
        s.on("vote", (question, ack) => ack({ who: i, question }));
      }
      const started = Date.now();
      const result = await call(s1, "operator", { action: "emit", to: [room], timeout: 1500, event: "vote", args: ["yes?"] });
      assert.ok(Date.now() - started < 1200, "answered as soon as all acked, before the timeout");
      assert.equal(result.timedOut, false);
      assert.deepEqual(
        [...result.responses].sort((x, y) => x.who - y.who),
        [{ who: 0, question: "yes?" }, { who: 1, question: "yes?" }, { who: 2, question: "yes?" }]);
    });

    test("timeout reports the acks received when a recipient stays silent", T, async () => {
      const [s1, s2, s3] = await sockets(setup, freshNsp(), 3);
      s1.on("vote", (ack) => ack("one"));
      s2.on("vote", (ack) => ack(Buffer.from([2])));
      let silentGotIt = 0;
      s3.on("vote", () => silentGotIt++);
      const started = Date.now();
      const result = await call(s1, "operator", { action: "emit", timeout: 400, event: "vote" });
      const elapsed = Date.now() - started;
      assert.equal(result.timedOut, true);
      assert.equal(silentGotIt, 1);
      assert.equal(result.responses.length, 2);
      assert.ok(result.responses.includes("one"));
      assert.ok(result.responses.some((r) => Buffer.isBuffer(r) && r.equals(Buffer.from([2]))));
      assert.ok(elapsed >= 350 && elapsed < 1_500, `answered after ${elapsed} ms`);
    });

    test("timeout with a broadcast to no one answers at once with no responses", T, async () => {
      const [s1] = await sockets(setup, freshNsp(), 1);
      const result = await call(s1, "operator", { action: "emit", to: [freshRoom("empty")], timeout: 1500, event: "x" });
      assert.deepEqual(result, { timedOut: false, responses: [] });
    });

    test("timeout with broadcast excludes the sender from the recipients", T, async () => {
      const [s1, s2] = await sockets(setup, freshNsp(), 2);
      s1.on("q", (ack) => ack("s1"));
      s2.on("q", (ack) => ack("s2"));
      const result = await call(s1, "operator", { action: "emit", broadcast: true, timeout: 1000, event: "q" });
      assert.deepEqual(result, { timedOut: false, responses: ["s2"] });
    });
  });
}
