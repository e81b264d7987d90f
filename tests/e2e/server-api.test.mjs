// The server-side operator API: fetchSockets (with socket.data), socketsJoin,
// socketsLeave, disconnectSockets.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  SETUPS, T, WAIT_MS, call, connect, freshNsp, freshRoom, manager, observer, record, until,
  useServer, waitConnected, waitFor,
} from "./harness.mjs";

const server = useServer();

const byId = (xs) => [...xs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
const sorted = (xs) => [...xs].sort();

async function sockets(setup, nsp, n) {
  return Promise.all(Array.from({ length: n }, () => connect(server, setup, nsp)));
}

for (const setup of SETUPS) {
  describe(setup.name, () => {
    test("socket.data is set by a handler and seen by fetchSockets", T, async () => {
      const nsp = freshNsp();
      const [s1, s2] = await sockets(setup, nsp, 2);
      const data = { user: "ann", roles: ["admin"], n: 1.5, nested: { ok: true } };
      assert.equal(await call(s1, "set-data", data), true);
      assert.equal(await call(s2, "set-data", "just a string"), true);
      const { sockets: found } = await call(s1, "operator", { action: "fetchSockets" });
      assert.deepEqual(found, byId([
        { id: s1.id, rooms: [s1.id], data },
        { id: s2.id, rooms: [s2.id], data: "just a string" },
      ]));
    });

    test("fetchSockets in rooms, with except, and from a socket's broadcast", T, async () => {
      const nsp = freshNsp();
      const [s1, s2, s3] = await sockets(setup, nsp, 3);
      const [a, b] = [freshRoom("a"), freshRoom("b")];
      await call(s1, "join", [a]);
      await call(s2, "join", [a, b]);
      await call(s3, "join", [b]);
      for (const s of [s1, s2, s3]) await call(s, "set-data", { id: s.id });
      const ids = async (spec) =>
        (await call(s1, "operator", { action: "fetchSockets", ...spec })).sockets.map((x) => x.id);
      assert.deepEqual(await ids({ to: [a] }), sorted([s1.id, s2.id]));
      assert.deepEqual(await ids({ to: [a, b] }), sorted([s1.id, s2.id, s3.id]));
      assert.deepEqual(await ids({ to: [b], except: [a] }), [s3.id]);
      assert.deepEqual(await ids({ except: [b] }), [s1.id]);
      assert.deepEqual(await ids({ broadcast: true }), sorted([s2.id, s3.id]));
      assert.deepEqual(await ids({ to: [freshRoom("nobody")] }), []);
      const { sockets: inA } = await call(s1, "operator", { action: "fetchSockets", to: [a] });
      assert.deepEqual(inA, byId([
        { id: s1.id, rooms: sorted([s1.id, a]), data: { id: s1.id } },
        { id: s2.id, rooms: sorted([s2.id, a, b]), data: { id: s2.id } },
      ]));
    });

    test("fetchSockets sees one namespace only", T, async () => {
      const [s1] = await sockets(setup, freshNsp(), 1);
      await sockets(setup, freshNsp(), 2);
      const { sockets: found } = await call(s1, "operator", { action: "fetchSockets" });
      assert.deepEqual(found.map((x) => x.id), [s1.id]);
    });

    test("socketsJoin makes the matching sockets join rooms", T, async () => {
      const nsp = freshNsp();
      const [s1, s2, s3] = await sockets(setup, nsp, 3);
      const [a, b, c] = [freshRoom("a"), freshRoom("b"), freshRoom("c")];
      await call(s2, "join", a);
      await call(s3, "join", a);
      assert.deepEqual(await call(s1, "operator", { action: "socketsJoin", to: [a], except: [s3.id], rooms: [b, c] }), { ok: true });
      assert.deepEqual(await call(s2, "join", []), sorted([s2.id, a, b, c]));
      assert.deepEqual(await call(s3, "join", []), sorted([s3.id, a]));
      assert.deepEqual(await call(s1, "join", []), [s1.id]);
      // Everyone:
      await call(s1, "operator", { action: "socketsJoin", rooms: ["everyone"] });
      for (const s of [s1, s2, s3]) assert.ok((await call(s, "join", [])).includes("everyone"));
      // The joined room works for emits.
      const got = record(s2, "to-b");
      await call(s1, "operator", { action: "emit", to: [b], event: "to-b", args: [1] });
      await until(() => got.length === 1, "the emit to the joined room");
      assert.deepEqual(got, [[1]]);
    });

    test("socketsLeave makes the matching sockets leave rooms", T, async () => {
      const nsp = freshNsp();
      const [s1, s2] = await sockets(setup, nsp, 2);
      const [a, b] = [freshRoom("a"), freshRoom("b")];
      await call(s1, "join", [a, b]);
      await call(s2, "join", [a, b]);
      assert.deepEqual(await call(s1, "operator", { action: "socketsLeave", to: [s2.id], rooms: [a] }), { ok: true });
      assert.deepEqual(await call(s2, "join", []), sorted([s2.id, b]));
      assert.deepEqual(await call(s1, "join", []), sorted([s1.id, a, b]));
      await call(s2, "operator", { action: "socketsLeave", rooms: [a, b] });
      assert.deepEqual(await call(s1, "join", []), [s1.id]);
      assert.deepEqual(await call(s2, "join", []), [s2.id]);
    });

    test("disconnectSockets disconnects the matching sockets only", T, async () => {
      const obs = await observer(server, setup);
      const nsp = freshNsp();
      const [s1, s2, s3] = await sockets(setup, nsp, 3);
      const room = freshRoom();
      await call(s2, "join", room);
      await call(s3, "join", room);
      const gone = [s2, s3].map((s) => waitFor(s, "disconnect"));
      const [id2, id3] = [s2.id, s3.id];
      assert.deepEqual(await call(s1, "operator", { action: "disconnectSockets", to: [room] }), { ok: true });
      for (const [reason] of await Promise.all(gone)) assert.equal(reason, "io server disconnect");
      assert.deepEqual(await obs.next(id2), { id: id2, nsp, reason: "server namespace disconnect" });
      assert.deepEqual(await obs.next(id3), { id: id3, nsp, reason: "server namespace disconnect" });
      assert.equal(s1.connected, true);
      assert.equal(await call(s1, "echo", "alive"), "alive");
      const { sockets: left } = await call(s1, "operator", { action: "fetchSockets" });
      assert.deepEqual(left.map((x) => x.id), [s1.id]);
    });

    test("disconnectSockets without close keeps the connection's other namespaces", T, async () => {
      const nsp = freshNsp();
      const m = manager(server, setup);
      const main = m.socket("/");
      const dyn = m.socket(nsp);
      await Promise.all([waitConnected(main), waitConnected(dyn)]);
      const [[reason]] = await Promise.all([
        waitFor(dyn, "disconnect"),
        call(dyn, "operator", { action: "disconnectSockets", close: false }).catch(() => null),
      ]);
      assert.equal(reason, "io server disconnect");
      assert.equal(await call(main, "echo", "main stays"), "main stays");
    });

    test("disconnectSockets with close closes the whole connection", T, async () => {
      const nsp = freshNsp();
      const m = manager(server, setup);
      const main = m.socket("/");
      const dyn = m.socket(nsp);
      await Promise.all([waitConnected(main), waitConnected(dyn)]);
      const mainGone = waitFor(main, "disconnect", WAIT_MS);
      const dynGone = waitFor(dyn, "disconnect", WAIT_MS);
      dyn.emit("operator", { action: "disconnectSockets", close: true });
      const [[dynReason], [mainReason]] = await Promise.all([dynGone, mainGone]);
      assert.equal(dynReason, "io server disconnect");
      // The main namespace's socket loses its connection: its reason is the transport's,
      // or io server disconnect if the server said goodbye to every namespace first.
      assert.match(mainReason, /^(io server disconnect|transport close|transport error)$/);
    });
  });
}
