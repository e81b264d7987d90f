// Events with any JSON or binary arguments, acknowledgements both ways, catch-all listeners.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SETUPS, T, WAIT_MS, call, connect, freshNsp, useServer, waitFor } from "./harness.mjs";

const server = useServer();

// JSON values that stress the encoders: unicode, escapes, the polling separator \x1e,
// numbers at the edges of what JSON carries exactly, deep nesting.
const JSON_VALUES = [
  0, -1, 3.5, 1e-7, 2 ** 53 - 1, -(2 ** 31), true, false, null, "", "plain",
  "ünïcödé 漢字 🎉", 'quotes " and \\ backslash', "line\nbreak\ttab\r", "sep\x1erecord\x1f",
  "\u2028\u2029", "<script>alert(1)</script>", "42", "1-2", "[1]", "{}",
  [], {}, [1, [2, [3, [4]]]], { a: { b: { c: { d: "deep" } } } },
  { "key with spaces": 1, "": "empty key", "ключ": "значение", _placeholder: true, num: 0 },
  Array.from({ length: 100 }, (_, i) => i),
];

const bytes = (n, seed = 0) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) % 256));

for (const setup of SETUPS) {
  describe(setup.name, () => {
    test("echoes each JSON value as one argument, with an ack", T, async () => {
      const socket = await connect(server, setup);
      for (const value of JSON_VALUES) {
        assert.deepEqual(await call(socket, "echo", value), value);
      }
    });

    test("echoes many arguments at once, with an ack", T, async () => {
      const socket = await connect(server, setup);
      const args = await new Promise((resolve, reject) => {
        socket.timeout(WAIT_MS).emit("echo", ...JSON_VALUES, (err, ...response) =>
          err ? reject(err) : resolve(response));
      });
      assert.deepEqual(args, JSON_VALUES);
    });

    test("an ack with no arguments", T, async () => {
      const socket = await connect(server, setup);
      const args = await new Promise((resolve, reject) => {
        socket.timeout(WAIT_MS).emit("echo", (err, ...response) => (err ? reject(err) : resolve(response)));
      });
      assert.deepEqual(args, []);
    });

    test("echoes events without an ack as a server emit", T, async () => {
      const socket = await connect(server, setup);
      const [a, b, c] = await waitFor(socket, "echo", WAIT_MS, () => socket.emit("echo", "a", { b: [1, 2] }, null));
      assert.deepEqual([a, b, c], ["a", { b: [1, 2] }, null]);
      // Several in a row arrive in order.
      const got = [];
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got only ${JSON.stringify(got)}`)), WAIT_MS);
        socket.on("echo", (n) => {
          got.push(n);
          if (got.length === 20) {
            clearTimeout(timer);
            resolve();
          }
        });
        for (let i = 0; i < 20; i++) socket.emit("echo", i);
      });
      assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i));
    });

    test("echoes unicode and odd event names", T, async () => {
      const socket = await connect(server, setup);
      // The handler is on "echo"; other names only reach the catch-all listener.
      for (const name of ["événement", "with space", "x".repeat(200)]) socket.emit(name, 1);
      const events = await call(socket, "any-events");
      assert.deepEqual(events, ["événement", "with space", "x".repeat(200), "any-events"]);
    });

    test("binary: a Buffer argument, with and without ack", T, async () => {
      const socket = await connect(server, setup);
      const buf = bytes(256);
      const echoed = await call(socket, "echo", buf);
      assert.ok(Buffer.isBuffer(echoed), `got ${Object.prototype.toString.call(echoed)}`);
      assert.deepEqual(echoed, buf);
      const [viaEmit] = await waitFor(socket, "echo", WAIT_MS, () => socket.emit("echo", buf));
      assert.deepEqual(viaEmit, buf);
      assert.deepEqual(await call(socket, "echo", Buffer.alloc(0)), Buffer.alloc(0));
    });

    test("binary: Buffers nested in objects and arrays, mixed with JSON", T, async () => {
      const socket = await connect(server, setup);
      const payload = {
        name: "files",
        list: [bytes(3, 1), { inner: bytes(10, 2), meta: { size: 10 } }, "text", bytes(1000, 3)],
        same: bytes(5, 4),
        deep: { a: [{ b: [bytes(2, 5)] }] },
        _placeholder: "not a real placeholder",
        num: 1,
      };
      const args = await new Promise((resolve, reject) => {
        socket.timeout(WAIT_MS).emit("echo", payload, bytes(4, 9), "tail", (err, ...response) =>
          err ? reject(err) : resolve(response));
      });
      assert.deepEqual(args, [payload, bytes(4, 9), "tail"]);
      const [viaEmit, second] = await waitFor(socket, "echo", WAIT_MS, () => socket.emit("echo", payload, [bytes(7, 8)]));
      assert.deepEqual(viaEmit, payload);
      assert.deepEqual(second, [bytes(7, 8)]);
    });

    test("client → server ack on a dynamic namespace", T, async () => {
      const socket = await connect(server, setup, freshNsp());
      assert.deepEqual(await call(socket, "echo", { x: [1, 2, 3] }), { x: [1, 2, 3] });
    });

    test("server → client emit with ack: the client's answer is reported back", T, async () => {
      const socket = await connect(server, setup);
      const seen = [];
      socket.on("question", (a, b, ack) => {
        seen.push([a, b]);
        ack("answer", { to: a }, 3);
      });
      const result = await call(socket, "emit-with-ack", { event: "question", args: ["q1", { n: 1 }], timeout: 1000 });
      assert.deepEqual(result, { timedOut: false, args: ["answer", { to: "q1" }, 3] });
      assert.deepEqual(seen, [["q1", { n: 1 }]]);
    });

    test("server → client emit with ack carrying binary both ways", T, async () => {
      const socket = await connect(server, setup);
      socket.on("bin", (obj, ack) => ack({ got: obj.data.length, back: Buffer.concat([obj.data, bytes(2, 1)]) }));
      const result = await call(socket, "emit-with-ack", { event: "bin", args: [{ data: bytes(5) }], timeout: 1000 });
      assert.equal(result.timedOut, false);
      assert.deepEqual(result.args, [{ got: 5, back: Buffer.concat([bytes(5), bytes(2, 1)]) }]);
    });

    test("server → client emit with ack times out when the client does not ack", T, async () => {
      const socket = await connect(server, setup);
      let asked = 0;
      socket.on("ignored", () => asked++); // receives the event, never calls the ack
      const started = Date.now();
      const result = await call(socket, "emit-with-ack", { event: "ignored", args: [1], timeout: 300 });
      const elapsed = Date.now() - started;
      assert.deepEqual(result, { timedOut: true, args: [] });
      assert.equal(asked, 1);
      assert.ok(elapsed >= 250 && elapsed < 1_500, `timed out after ${elapsed} ms`);
    });

    test("several acks in flight complete independently", T, async () => {
      const socket = await connect(server, setup);
      socket.on("slow", (n, ack) => setTimeout(() => ack(n * 10), (5 - n) * 20));
      const results = await Promise.all([0, 1, 2, 3, 4].map((n) =>
        call(socket, "emit-with-ack", { event: "slow", args: [n], timeout: 1000 })));
      assert.deepEqual(results.map((r) => r.args[0]), [0, 10, 20, 30, 40]);
      assert.ok(results.every((r) => r.timedOut === false));
      const echoes = await Promise.all(Array.from({ length: 10 }, (_, i) => call(socket, "echo", i)));
      assert.deepEqual(echoes, Array.from({ length: 10 }, (_, i) => i));
    });

    test("the catch-all listener sees every event in order", T, async () => {
      const socket = await connect(server, setup, freshNsp());
      socket.emit("first", 1);
      socket.emit("second", { a: 1 }, Buffer.from([1, 2]));
      await call(socket, "echo", "x");
      socket.emit("third");
      const events = await call(socket, "any-events");
      assert.deepEqual(events, ["first", "second", "echo", "third", "any-events"]);
    });
  });
}
