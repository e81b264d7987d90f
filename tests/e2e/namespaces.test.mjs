// Namespaces, middleware, handshake data and the connect timeout.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CONNECT_TIMEOUT_MS, SETUPS, T, WAIT_MS, call, connect, connectError, freshNsp, freshRoom,
  manager, record, until, useServer, waitConnected, waitFor,
} from "./harness.mjs";

const server = useServer();

for (const setup of SETUPS) {
  describe(setup.name, () => {
    test("connects to the main namespace and reports id and namespace", T, async () => {
      const socket = await connect(server, setup, "/");
      assert.match(socket.id, /^\S+$/);
      const hs = await call(socket, "handshake");
      assert.equal(hs.id, socket.id);
      assert.equal(hs.nsp, "/");
    });

    test("connects to the static namespace /custom", T, async () => {
      const socket = await connect(server, setup, "/custom");
      const hs = await call(socket, "handshake");
      assert.equal(hs.nsp, "/custom");
      assert.equal(hs.id, socket.id);
    });

    test("connects to dynamic namespaces matching ^/dyn-\\d+$", T, async () => {
      const a = freshNsp();
      const b = freshNsp();
      const sa = await connect(server, setup, a);
      const sb = await connect(server, setup, b);
      assert.equal((await call(sa, "handshake")).nsp, a);
      assert.equal((await call(sb, "handshake")).nsp, b);
      // Each child namespace is its own: an emit to all of `a` does not reach `b`.
      const inB = record(sb, "hello");
      const inA = record(sa, "hello");
      assert.deepEqual(await call(sa, "operator", { action: "emit", event: "hello", args: [1] }), { ok: true });
      await until(() => inA.length === 1, "the emit in its own namespace");
      assert.deepEqual(inA, [[1]]);
      await call(sb, "echo"); // a round trip on b: anything sent to b before has arrived
      assert.deepEqual(inB, []);
    });

    test("refuses an unknown namespace with 'Invalid namespace'", T, async () => {
      const err = await connectError(server, setup, "/nope");
      assert.equal(err.message, "Invalid namespace");
      const err2 = await connectError(server, setup, "/dyn-abc");
      assert.equal(err2.message, "Invalid namespace");
    });

    test("an unknown namespace does not break the connection's other namespaces", T, async () => {
      const m = manager(server, setup);
      const main = m.socket("/");
      const bad = m.socket("/nope");
      const [err] = await waitFor(bad, "connect_error", WAIT_MS, () => bad.connect());
      assert.equal(err.message, "Invalid namespace");
      await waitConnected(main);
      assert.deepEqual(await call(main, "echo", "still here"), "still here");
    });

    test("namespace middleware refuses with message and data", T, async () => {
      const err = await connectError(server, setup, "/private", { auth: { token: "wrong" } });
      assert.equal(err.message, "unauthorized");
      assert.deepEqual(err.data, { code: 401, reason: "bad token" });
      const err2 = await connectError(server, setup, "/private");
      assert.equal(err2.message, "unauthorized");
      assert.deepEqual(err2.data, { code: 401, reason: "bad token" });
    });

    test("namespace middleware accepts the right token", T, async () => {
      const socket = await connect(server, setup, "/private", { auth: { token: "secret" } });
      const hs = await call(socket, "handshake");
      assert.equal(hs.nsp, "/private");
      assert.deepEqual(hs.auth, { token: "secret" });
    });

    test("echoes handshake auth and query", T, async () => {
      const auth = { user: "ann", n: 7, nested: { ok: true, list: [1, "two", null] } };
      const socket = await connect(server, setup, "/", { auth, query: { room: "lobby", x: "a b&c=d" } });
      const hs = await call(socket, "handshake");
      assert.deepEqual(hs.auth, auth);
      assert.equal(hs.query.room, "lobby");
      assert.equal(hs.query.x, "a b&c=d");
      assert.equal(hs.query.EIO, "4");
      // The query of the Engine.IO handshake request: the first transport of the setup.
      assert.equal(hs.query.transport, setup.opts.transports?.[0] ?? "polling");
    });

    test("an empty auth is an empty object", T, async () => {
      const socket = await connect(server, setup, "/custom");
      const hs = await call(socket, "handshake");
      assert.deepEqual(hs.auth, {});
    });

    test("multiplexes namespaces with their own auth on one connection", T, async () => {
      const m = manager(server, setup);
      const dyn = freshNsp();
      const main = m.socket("/", { auth: { who: "main" } });
      const custom = m.socket("/custom", { auth: { who: "custom" } });
      const priv = m.socket("/private", { auth: { token: "secret" } });
      const d = m.socket(dyn);
      await Promise.all([main, custom, priv, d].map((s) => waitConnected(s)));
      assert.equal(m.engine.id !== undefined, true);
      assert.deepEqual((await call(main, "handshake")).auth, { who: "main" });
      assert.deepEqual((await call(custom, "handshake")).auth, { who: "custom" });
      assert.deepEqual((await call(priv, "handshake")).auth, { token: "secret" });
      assert.equal((await call(d, "handshake")).nsp, dyn);
      // Rooms are per namespace: an emit to room r in /custom does not reach / .
      const room = freshRoom();
      await call(main, "join", room);
      await call(custom, "join", room);
      const inMain = record(main, "r");
      const inCustom = record(custom, "r");
      await call(custom, "operator", { action: "emit", to: [room], event: "r", args: ["x"] });
      await until(() => inCustom.length === 1, "the emit to the room in /custom");
      await call(main, "echo");
      assert.deepEqual(inMain, []);
      assert.deepEqual(inCustom, [["x"]]);
    });

    test("disconnecting one namespace keeps the others of the connection", T, async () => {
      const m = manager(server, setup);
      const main = m.socket("/");
      const custom = m.socket("/custom");
      await Promise.all([waitConnected(main), waitConnected(custom)]);
      custom.disconnect();
      assert.equal(await call(main, "echo", 42), 42);
      assert.equal(main.connected, true);
    });

    test("closes a connection that joins no namespace after connectTimeout", T, async () => {
      const m = manager(server, setup);
      const started = Date.now();
      await new Promise((resolve, reject) => m.open((err) => (err ? reject(err) : resolve())));
      const [reason] = await waitFor(m, "close", CONNECT_TIMEOUT_MS + 1_500);
      const elapsed = Date.now() - started;
      assert.match(reason, /^transport (close|error)$/);
      assert.ok(elapsed >= CONNECT_TIMEOUT_MS - 100, `closed after ${elapsed} ms`);
    });
  });
}
