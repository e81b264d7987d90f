// Connection lifecycle: disconnects from either side and their reasons, heartbeat,
// ping timeout, maxHttpBufferSize.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  MAX_HTTP_BUFFER_SIZE, PING_INTERVAL_MS, PING_TIMEOUT_MS, SETUPS, T, WAIT_MS, call, connect,
  freshNsp, observer, useServer, waitFor,
} from "./harness.mjs";

const server = useServer();

// Makes the client stop answering the server's pings (engine.io-client answers each
// "ping" packet with a "pong" through Socket._sendPacket; this drops those).
function stopPonging(socket) {
  const engine = socket.io.engine;
  const send = engine._sendPacket.bind(engine);
  assert.equal(typeof engine._sendPacket, "function", "engine.io-client internals changed");
  engine._sendPacket = (type, ...rest) => (type === "pong" ? undefined : send(type, ...rest));
}

for (const setup of SETUPS) {
  describe(setup.name, () => {
    test("server-side disconnect: the client sees 'io server disconnect'", T, async () => {
      const obs = await observer(server, setup);
      const nsp = freshNsp();
      const socket = await connect(server, setup, nsp);
      const id = socket.id;
      const [reason] = await waitFor(socket, "disconnect", WAIT_MS, () => socket.emit("server-disconnect", {}));
      assert.equal(reason, "io server disconnect");
      assert.equal(socket.connected, false);
      assert.deepEqual(await obs.next(id), { id, nsp, reason: "server namespace disconnect" });
    });

    test("server-side disconnect with close: the client sees 'io server disconnect'", T, async () => {
      const obs = await observer(server, setup);
      const socket = await connect(server, setup, "/custom");
      const id = socket.id;
      const closed = waitFor(socket.io, "close", WAIT_MS);
      const [reason] = await waitFor(socket, "disconnect", WAIT_MS, () => socket.emit("server-disconnect", { close: true }));
      assert.equal(reason, "io server disconnect");
      await closed; // the underlying connection is closed too
      assert.deepEqual(await obs.next(id), { id, nsp: "/custom", reason: "server namespace disconnect" });
    });

    test("client-side disconnect: the server sees 'client namespace disconnect'", T, async () => {
      const obs = await observer(server, setup);
      const socket = await connect(server, setup, "/custom");
      const id = socket.id;
      socket.disconnect();
      assert.deepEqual(await obs.next(id), { id, nsp: "/custom", reason: "client namespace disconnect" });
    });

    test("client-side disconnect of the main namespace", T, async () => {
      const obs = await observer(server, setup);
      const socket = await connect(server, setup, "/");
      const id = socket.id;
      socket.disconnect();
      assert.deepEqual(await obs.next(id), { id, nsp: "/", reason: "client namespace disconnect" });
    });

    test("the client closing its connection: the server sees 'transport close'", T, async () => {
      const obs = await observer(server, setup);
      const socket = await connect(server, setup, "/custom");
      const id = socket.id;
      socket.io.engine.close();
      assert.deepEqual(await obs.next(id), { id, nsp: "/custom", reason: "transport close" });
    });

    test("heartbeat: pings every pingInterval keep an idle connection open", T, async () => {
      const socket = await connect(server, setup);
      let pings = 0;
      socket.io.on("ping", () => pings++);
      const window = 4 * PING_INTERVAL_MS + 150;
      await new Promise((r) => setTimeout(r, window));
      assert.ok(pings >= 3 && pings <= 5, `${pings} pings in ${window} ms`);
      assert.equal(socket.connected, true);
      assert.equal(await call(socket, "echo", "after pings"), "after pings");
    });

    test("ping timeout: a client that stops answering pings is closed", T, async () => {
      const obs = await observer(server, setup);
      const socket = await connect(server, setup, "/custom");
      const id = socket.id;
      stopPonging(socket);
      const started = Date.now();
      const report = await obs.next(id, PING_INTERVAL_MS + PING_TIMEOUT_MS + 1_500);
      const elapsed = Date.now() - started;
      assert.deepEqual(report, { id, nsp: "/custom", reason: "ping timeout" });
      assert.ok(elapsed <= PING_INTERVAL_MS + PING_TIMEOUT_MS + 500, `closed after ${elapsed} ms`);
    });

    test("a message under maxHttpBufferSize goes through", T, async () => {
      const socket = await connect(server, setup);
      const big = "x".repeat(60_000);
      assert.equal(await call(socket, "echo", big), big);
      const bin = Buffer.alloc(40_000, 7);
      assert.deepEqual(await call(socket, "echo", bin), bin);
    });

    for (const [kind, payload] of [
      ["text", () => "y".repeat(2 * MAX_HTTP_BUFFER_SIZE)],
      ["binary", () => ({ blob: Buffer.alloc(2 * MAX_HTTP_BUFFER_SIZE, 1) })],
    ]) {
      test(`a ${kind} message over maxHttpBufferSize closes that client only`, T, async () => {
        const obs = await observer(server, setup);
        const bystander = await connect(server, setup, "/");
        const socket = await connect(server, setup, "/");
        const id = socket.id;
        const [reason] = await waitFor(socket, "disconnect", WAIT_MS, () => socket.emit("echo", payload()));
        assert.match(reason, /^transport (close|error)$/);
        const report = await obs.next(id);
        assert.equal(report.nsp, "/");
        assert.equal(bystander.connected, true);
        assert.equal(await call(bystander, "echo", "unaffected"), "unaffected");
      });
    }
  });
}
