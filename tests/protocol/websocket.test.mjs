// The WebSocket layer of Engine.IO (RFC 6455 and permessage-deflate, src/sio/engineio/websocket.cpp
// over src/sio/transport/websocket_codec) against apps/conformance-server's raw echo at
// /engine.io/: control frames, fragmentation, protocol errors and their close codes (on raw
// sockets, frames written by hand), the opening handshake's refusals, ordering, back-pressure
// (partial writes, waiting for writability) and compression.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { constants as zlib, inflateRawSync } from "node:zlib";
import WebSocket from "ws";
import { openSocket as openBufferedSocket, startServer as startConformanceServer } from "./conformance-server.mjs";

const WS_QUERY = "?EIO=4&transport=websocket";
const MAX_HTTP_BUFFER_SIZE = 1_000_000;  // the conformance server's maxHttpBufferSize

// The conformance server, its ws URL with the WebSocket transport's query.
async function startServer(flags = []) {
  const s = await startConformanceServer(flags);
  return { port: s.port, ws: s.ws + WS_QUERY, child: s.child };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Rejects after `ms` with `what` unless `promise` settles first.
function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// The shared client, answering the server's Engine.IO pings (every 300 ms, 200 ms to answer) so
// that longer tests stay open.
const openSocket = (url, options = {}) => openBufferedSocket(url, { ...options, answerPings: true });

// Opens a session and consumes its open packet.
async function openSession(url, options) {
  const ws = openSocket(url, options);
  const open = await ws.next();
  assert.equal(open[0], "0");
  return ws;
}

// ---- raw sockets: frames written and read by hand ----

const op = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 };

// A client frame: masked unless told otherwise; `length` overrides the announced payload length.
function frame(opcode, payload = Buffer.alloc(0), { fin = true, rsv1 = false, masked = true, length } = {}) {
  payload = Buffer.from(payload);
  const len = length ?? payload.length;
  let head;
  if (len < 126) { head = Buffer.alloc(2); head[1] = len; }
  else if (len <= 0xffff) { head = Buffer.alloc(4); head[1] = 126; head.writeUInt16BE(len, 2); }
  else { head = Buffer.alloc(10); head[1] = 127; head.writeBigUInt64BE(BigInt(len), 2); }
  head[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  if (!masked) return Buffer.concat([head, payload]);
  head[1] |= 0x80;
  const key = randomBytes(4);
  const body = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) body[i] = payload[i] ^ key[i & 3];
  return Buffer.concat([head, key, body]);
}

const closePayload = (code, reason = "") => {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
};

// A TCP connection that sends an upgrade request and then reads the server's frames.
class RawClient {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.ended = false;  // the server's FIN (or reset) arrived
    this.wake = () => {};
    sock.on("data", (c) => { this.buf = Buffer.concat([this.buf, c]); this.wake(); });
    sock.on("end", () => { this.ended = true; this.wake(); });
    sock.on("close", () => { this.ended = true; this.wake(); });
    sock.on("error", () => {});
  }

  // Waits until parse() returns something (or throws when the connection ended first).
  async #until(parse, ms, what) {
    const deadline = Date.now() + ms;
    for (;;) {
      const got = parse();
      if (got) return got;
      if (this.ended) throw new Error(`connection ended while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => { clearTimeout(t); resolve(); };
      });
    }
  }

  // The HTTP response head: { status, headers } (and the body when it has a Content-Length).
  async response(ms = 2000) {
    const head = await this.#until(() => {
      const end = this.buf.indexOf("\r\n\r\n");
      if (end < 0) return null;
      const lines = this.buf.subarray(0, end).toString().split("\r\n");
      this.buf = this.buf.subarray(end + 4);
      const headers = {};
      for (const line of lines.slice(1)) {
        const i = line.indexOf(":");
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      return { status: Number(lines[0].split(" ")[1]), headers };
    }, ms, "the HTTP response");
    if (head.headers["content-length"]) {
      const n = Number(head.headers["content-length"]);
      head.body = await this.#until(() => {
        if (this.buf.length < n) return null;
        const body = this.buf.subarray(0, n).toString();
        this.buf = this.buf.subarray(n);
        return body;
      }, ms, "the response body");
    }
    return head;
  }

  // The next server frame: { fin, rsv1, opcode, payload, masked }.
  frame(ms = 2000) {
    return this.#until(() => {
      const b = this.buf;
      if (b.length < 2) return null;
      let len = b[1] & 0x7f;
      let at = 2;
      if (len === 126) { if (b.length < 4) return null; len = b.readUInt16BE(2); at = 4; }
      else if (len === 127) { if (b.length < 10) return null; len = Number(b.readBigUInt64BE(2)); at = 10; }
      const masked = (b[1] & 0x80) !== 0;
      if (masked) at += 4;
      if (b.length < at + len) return null;
      this.buf = b.subarray(at + len);
      return { fin: (b[0] & 0x80) !== 0, rsv1: (b[0] & 0x40) !== 0, opcode: b[0] & 0x0f, masked, payload: b.subarray(at, at + len) };
    }, ms, "a frame");
  }

  // The next frame, which must be a close frame: resolves with its code (1005 without one).
  async closeCode(ms = 2000) {
    const f = await this.frame(ms);
    assert.equal(f.opcode, op.close, `expected a close frame, got opcode ${f.opcode}`);
    return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
  }

  // Resolves when the server has closed its side of the TCP connection.
  async end(ms = 2000) {
    await this.#until(() => this.ended, ms, "the end of the connection");
  }

  send(bytes) { this.sock.write(bytes); }
  destroy() { this.sock.destroy(); }
}

// Connects and sends a WebSocket upgrade request; `headers` replace the defaults (null removes one).
async function rawConnect(port, { query = WS_QUERY, headers = {} } = {}) {
  const sock = net.connect(port, "127.0.0.1");
  await within(2000, new Promise((resolve, reject) => { sock.once("connect", resolve); sock.once("error", reject); }), "connect");
  const client = new RawClient(sock);
  const all = {
    Host: `127.0.0.1:${port}`,
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
    "Sec-WebSocket-Version": "13",
    ...headers,
  };
  let req = `GET /engine.io/${query} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(all)) if (v !== null) req += `${k}: ${v}\r\n`;
  sock.write(req + "\r\n");
  return client;
}

// An open raw session: upgraded, with its Engine.IO open packet read.
async function rawSession(port, options) {
  const raw = await rawConnect(port, options);
  const res = await raw.response();
  assert.equal(res.status, 101);
  const open = await raw.frame();
  assert.equal(open.opcode, op.text);
  assert.equal(open.payload.toString()[0], "0");
  raw.handshake = res;
  return raw;
}

// A deterministic message of `size` bytes numbered `i`: the number, then a pattern that depends on it.
function numbered(i, size) {
  const head = `${String(i).padStart(6, "0")}:`;
  const unit = `${i}abcdefghijklmnopqrstuvwxyz`;
  return head + unit.repeat(Math.ceil(size / unit.length)).slice(0, size - head.length);
}

describe("WebSocket transport", () => {
  let server;
  let deflating;  // the same server with --per-message-deflate
  before(async () => {
    [server, deflating] = await Promise.all([startServer(), startServer(["--per-message-deflate"])]);
  });
  after(() => { server?.child.kill(); deflating?.child.kill(); });

  describe("control frames", () => {
    it("answers a ping with a pong carrying the same payload, and carries on", async () => {
      const ws = await openSession(server.ws);
      for (const data of [Buffer.from("hello ping"), Buffer.alloc(0), randomBytes(125)]) {
        const pong = within(2000, new Promise((resolve) => ws.once("pong", resolve)), "pong");
        ws.ping(data);
        assert.deepEqual(await pong, data);
      }
      ws.send("4still open");
      assert.equal(await ws.next(), "4still open");
      ws.close();
    });

    it("answers a ping on a raw socket with an unmasked pong", async () => {
      const raw = await rawSession(server.port);
      raw.send(frame(op.ping, "raw ping"));
      const pong = await raw.frame();
      assert.equal(pong.opcode, op.pong);
      assert.equal(pong.fin, true);
      assert.equal(pong.masked, false);
      assert.equal(pong.payload.toString(), "raw ping");
      raw.destroy();
    });

    it("answers a close frame with code 1000 with a close frame and closes TCP", async () => {
      const raw = await rawSession(server.port);
      raw.send(frame(op.close, closePayload(1000, "bye")));
      assert.equal(await raw.closeCode(), 1000);
      await raw.end();
      raw.destroy();
    });

    it("answers a close frame without a code with 1000", async () => {
      const raw = await rawSession(server.port);
      raw.send(frame(op.close));
      assert.equal(await raw.closeCode(), 1000);
      await raw.end();
      raw.destroy();
    });

    it("completes the closing handshake with a ws client", async () => {
      const ws = await openSession(server.ws);
      ws.close(1000);
      assert.equal(await within(2000, ws.closed, "close"), 1000);
    });
  });

  describe("fragmentation", () => {
    it("reassembles a fragmented text message and echoes it whole", async () => {
      const ws = await openSession(server.ws);
      const parts = ["4frag", "mented ", "text ", "message"];
      parts.forEach((p, i) => ws.send(p, { fin: i === parts.length - 1 }));
      assert.equal(await ws.next(), "4fragmented text message");
      ws.close();
    });

    it("reassembles a fragmented binary message and echoes it whole", async () => {
      const ws = await openSession(server.ws);
      const whole = randomBytes(3000);
      for (let at = 0; at < whole.length; at += 1000) ws.send(whole.subarray(at, at + 1000), { binary: true, fin: at + 1000 >= whole.length });
      const got = await ws.next();
      assert.ok(Buffer.isBuffer(got));
      assert.deepEqual(got, whole);
      ws.close();
    });

    it("accepts a UTF-8 character split across fragments", async () => {
      const ws = await openSession(server.ws);
      const bytes = Buffer.from("4é✓😀");
      ws.send(bytes.subarray(0, 2), { binary: false, fin: false });  // "4" and half of "é"
      ws.send(bytes.subarray(2, 6), { binary: false, fin: false });
      ws.send(bytes.subarray(6), { binary: false, fin: true });
      assert.equal(await ws.next(), "4é✓😀");
      ws.close();
    });

    it("answers a ping sent between fragments, then echoes the message", async () => {
      const ws = await openSession(server.ws);
      ws.send("4first half, ", { fin: false });
      const pong = within(2000, new Promise((resolve) => ws.once("pong", resolve)), "pong");
      ws.ping("between");
      assert.equal((await pong).toString(), "between");  // before the message is complete
      ws.send("second half", { fin: true });
      assert.equal(await ws.next(), "4first half, second half");
      ws.close();
    });

    it("reassembles fragments on a raw socket, with a ping in between", async () => {
      const raw = await rawSession(server.port);
      raw.send(Buffer.concat([
        frame(op.text, "4one ", { fin: false }),
        frame(op.continuation, "two ", { fin: false }),
        frame(op.ping, "p"),
        frame(op.continuation, "three"),
      ]));
      const pong = await raw.frame();
      assert.equal(pong.opcode, op.pong);
      assert.equal(pong.payload.toString(), "p");
      const echo = await raw.frame();
      assert.equal(echo.opcode, op.text);
      assert.equal(echo.payload.toString(), "4one two three");
      raw.destroy();
    });
  });

  describe("protocol errors (raw socket)", () => {
    const cases = [
      ["an unmasked client frame", () => frame(op.text, "4hi", { masked: false }), 1002],
      ["a reserved data opcode (3)", () => frame(3, "4hi"), 1002],
      ["a reserved control opcode (11)", () => frame(11, ""), 1002],
      ["RSV1 without negotiated permessage-deflate", () => frame(op.text, "4hi", { rsv1: true }), 1002],
      ["a continuation frame with no message started", () => frame(op.continuation, "4hi"), 1002],
      ["a new message inside a fragmented one", () => Buffer.concat([frame(op.text, "4a", { fin: false }), frame(op.text, "4b")]), 1002],
      ["a fragmented ping", () => frame(op.ping, "p", { fin: false }), 1002],
      ["a ping over 125 bytes", () => frame(op.ping, Buffer.alloc(126)), 1002],
      ["invalid UTF-8 in a text frame", () => frame(op.text, Buffer.from([0x34, 0xc3, 0x28])), 1007],
      ["invalid UTF-8 across text fragments", () => Buffer.concat([frame(op.text, Buffer.from([0x34, 0xe2, 0x82]), { fin: false }), frame(op.continuation, Buffer.from([0x41]))]), 1007],
    ];
    for (const [what, bytes, code] of cases) {
      it(`fails ${what} with close code ${code}`, async () => {
        const raw = await rawSession(server.port);
        raw.send(bytes());
        assert.equal(await raw.closeCode(), code);
        await raw.end();
        raw.destroy();
      });
    }

    it("fails a frame announcing more than maxHttpBufferSize with 1009 at once", async () => {
      const raw = await rawSession(server.port);
      const started = Date.now();
      raw.send(frame(op.text, "4", { length: MAX_HTTP_BUFFER_SIZE + 1 }).subarray(0, 14));  // header and mask key only
      const f = await raw.frame();
      assert.equal(f.opcode, op.close);
      assert.deepEqual([...f.payload.subarray(0, 2)], [0x03, 0xf1]);  // 1009, big-endian
      assert.ok(Date.now() - started < 1000, "without waiting for the payload");
      await raw.end();
      raw.destroy();
    });

    it("fails fragments adding up to more than maxHttpBufferSize with 1009", async () => {
      const raw = await rawSession(server.port);
      const half = Buffer.alloc(MAX_HTTP_BUFFER_SIZE / 2 + 1, 0x61);
      half[0] = 0x34;
      raw.send(Buffer.concat([frame(op.text, half, { fin: false }), frame(op.continuation, half.fill(0x61), { fin: false })]));
      assert.equal(await raw.closeCode(), 1009);
      raw.destroy();
    });

    it("accepts a message of exactly maxHttpBufferSize", async () => {
      const ws = await openSession(server.ws);
      const text = "4" + "y".repeat(MAX_HTTP_BUFFER_SIZE - 1);
      ws.send(text);
      assert.equal(await ws.next(), text);
      ws.close();
    });

    it("keeps serving other clients after failing one", async () => {
      const raw = await rawSession(server.port);
      raw.send(frame(op.text, "4", { masked: false }));
      assert.equal(await raw.closeCode(), 1002);
      raw.destroy();
      const ws = await openSession(server.ws);
      ws.send("4fine");
      assert.equal(await ws.next(), "4fine");
      ws.close();
    });
  });

  describe("opening handshake", () => {
    it("answers 101 with the Sec-WebSocket-Accept of the key", async () => {
      const key = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455 section 1.3's example
      const raw = await rawConnect(server.port, { headers: { "Sec-WebSocket-Key": key } });
      const res = await raw.response();
      assert.equal(res.status, 101);
      assert.equal(res.headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
      assert.equal(res.headers["sec-websocket-extensions"], undefined);
      raw.destroy();
    });

    const refusals = [
      ["no Sec-WebSocket-Key", { "Sec-WebSocket-Key": null }],
      ["Sec-WebSocket-Version 12", { "Sec-WebSocket-Version": "12" }],
      ["no Sec-WebSocket-Version", { "Sec-WebSocket-Version": null }],
    ];
    for (const [what, headers] of refusals) {
      it(`refuses an upgrade with ${what} with HTTP 400`, async () => {
        const raw = await rawConnect(server.port, { headers });
        const res = await raw.response();
        assert.equal(res.status, 400);
        await raw.end();
        raw.destroy();
      });
    }
  });

  describe("ordering and back-pressure", () => {
    it("echoes 2,000 messages sent at once in order", async () => {
      const ws = await openSession(server.ws);
      const n = 2000;
      for (let i = 0; i < n; i++) {
        if (i % 3 === 2) ws.send(Buffer.from(`bin ${i}`));
        else ws.send(`4msg ${i}`);
      }
      for (let i = 0; i < n; i++) {
        const got = await ws.next();
        if (i % 3 === 2) assert.equal(Buffer.isBuffer(got) && got.toString(), `bin ${i}`);
        else assert.equal(got, `4msg ${i}`);
      }
      ws.close();
    });

    it("delivers a large backlog to a client that stopped reading, intact and in order", async () => {
      const count = 150;  // 100 kB each: 15 MB, under the server's send queue bound (16 MiB)
      const messages = Array.from({ length: count }, (_, i) => Buffer.from(numbered(i, 100_000)));
      // A zero masking key (valid, and ws then skips masking): sending costs the client no CPU,
      // which keeps the pause short (see below).
      const ws = await openSession(server.ws, { generateMask: (mask) => mask.fill(0) });
      const received = [];
      let wanted = count;
      let arrived;
      ws.removeAllListeners("message");
      ws.on("message", (data, isBinary) => {
        if (!isBinary && data.toString() === "2") { ws.send("3"); ws.pongs++; return; }
        received.push(data);
        if (received.length === wanted) arrived();
      });
      // Start right after answering a ping: the next one is due 300 ms later, with 200 ms to
      // answer it, and it waits behind the backlog.
      const pongs = ws.pongs;
      await within(2000, (async () => { while (ws.pongs === pongs) await sleep(1); })(), "a ping");
      const t0 = Date.now();
      const phases = [];
      const all = new Promise((resolve) => { arrived = resolve; });
      ws._socket.pause();
      for (const m of messages) ws.send(m);
      // Wait until the server has read everything the client sent (the client's buffers are
      // empty) while it cannot write: most of the echo waits in its queue.
      await within(2000, (async () => { while (ws.bufferedAmount > 0 || ws._socket.writableLength > 0) await sleep(1); })(), "the client's sends");
      phases.push(`sent ${Date.now() - t0} ms`);
      await sleep(10);
      assert.ok(received.length < count / 2, `the client was paused, yet ${received.length} messages arrived`);
      // Meanwhile the server serves another client.
      const other = await openSession(server.ws);
      other.send("4other");
      assert.equal(await other.next(), "4other");
      other.close();
      phases.push(`other client ${Date.now() - t0} ms`);
      ws._socket.resume();
      await within(3000, all, `all ${count} echoes (got ${received.length})`);
      phases.push(`received ${Date.now() - t0} ms`);
      for (let i = 0; i < count; i++) {
        if (!messages[i].equals(received[i])) assert.fail(`message ${i} differs (length ${received[i].length})`);
      }
      // The session is still open (its heartbeat was answered in time).
      wanted = count + 1;
      const last = new Promise((resolve) => { arrived = resolve; });
      ws.send("4after");
      await within(2000, last, `the echo after the backlog (${phases.join(", ")}; closed: ${ws.readyState === WebSocket.CLOSED})`);
      assert.equal(received[count].toString(), "4after");
      ws.close();
    });

    it("delivers a backlog to a raw socket that paused reading, every frame whole and in order", async () => {
      const raw = await rawSession(server.port);
      const count = 100;  // 6 MB: more than the kernel's buffers hold
      const payloads = Array.from({ length: count }, (_, i) => Buffer.from(numbered(i, 60_000)));
      const frames = Buffer.concat(payloads.map((p) => frame(op.binary, p)));
      raw.sock.pause();
      raw.send(frames);
      await sleep(80);
      raw.sock.resume();
      for (let i = 0; i < count; i++) {
        let f = await raw.frame(3000);
        while (f.opcode === op.text && f.payload.toString() === "2") {  // Engine.IO ping
          raw.send(frame(op.text, "3"));
          f = await raw.frame(3000);
        }
        assert.equal(f.opcode, op.binary);
        assert.equal(f.fin, true);
        if (!f.payload.equals(payloads[i])) assert.fail(`frame ${i} differs`);
      }
      raw.destroy();
    });
  });

  describe("permessage-deflate", () => {
    const deflate = { perMessageDeflate: { threshold: 0 } };

    it("is negotiated when the server allows it", async () => {
      const ws = await openSession(deflating.ws, deflate);
      assert.match(ws.extensions, /^permessage-deflate/);
      ws.close();
    });

    it("is not negotiated when the server does not allow it, even if offered", async () => {
      const ws = await openSession(server.ws, deflate);
      assert.equal(ws.extensions, "");
      ws.send("4plain " + "z".repeat(2000));
      assert.equal(await ws.next(), "4plain " + "z".repeat(2000));
      ws.close();
      const raw = await rawConnect(server.port, { headers: { "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits" } });
      const res = await raw.response();
      assert.equal(res.status, 101);
      assert.equal(res.headers["sec-websocket-extensions"], undefined);
      raw.destroy();
    });

    it("echoes compressed messages, small and large, text and binary", async () => {
      const ws = await openSession(deflating.ws, deflate);
      const texts = ["4hi", "4é✓", "4" + "compress me ".repeat(200), "4" + randomBytes(3000).toString("base64")];
      for (const t of texts) {
        ws.send(t);
        assert.equal(await ws.next(), t);
      }
      for (const b of [randomBytes(10), randomBytes(5000), Buffer.alloc(100_000, 7)]) {
        ws.send(b);
        assert.deepEqual(await ws.next(), b);
      }
      ws.close();
    });

    it("sends large echoes compressed", async () => {
      const ws = await openSession(deflating.ws, deflate);
      const text = "4" + "a compressible sentence, ".repeat(4000);  // 100 kB
      const before = ws._socket.bytesRead;
      ws.send(text);
      assert.equal(await ws.next(), text);
      const read = ws._socket.bytesRead - before;
      assert.ok(read < text.length / 10, `${read} bytes on the wire for ${text.length}`);
      ws.close();
    });

    it("sets RSV1 on large echoes only, with a payload that inflates to the message", async () => {
      const raw = await rawSession(deflating.port, { headers: { "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits" } });
      assert.match(raw.handshake.headers["sec-websocket-extensions"], /^permessage-deflate/);
      raw.send(frame(op.text, "4small"));  // uncompressed frames stay allowed
      const small = await raw.frame();
      assert.equal(small.rsv1, false);
      assert.equal(small.payload.toString(), "4small");
      const large = "4" + "0123456789".repeat(500);
      raw.send(frame(op.text, large));
      const f = await raw.frame();
      assert.equal(f.rsv1, true);
      assert.equal(f.opcode, op.text);
      assert.ok(f.payload.length < large.length);
      assert.equal(inflateRawSync(Buffer.concat([f.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.Z_SYNC_FLUSH }).toString(), large);
      raw.destroy();
    });

    it("inflates many messages in a row compressed with the client's context", async () => {
      const ws = await openSession(deflating.ws, deflate);
      assert.doesNotMatch(ws.extensions, /client_no_context_takeover/);
      const n = 300;
      for (let i = 0; i < n; i++) ws.send(`4message number ${i} ` + "repeated text ".repeat(i % 100));
      for (let i = 0; i < n; i++) assert.equal(await ws.next(), `4message number ${i} ` + "repeated text ".repeat(i % 100));
      ws.close();
    });

    it("inflates a compressed message sent in fragments", async () => {
      const ws = await openSession(deflating.ws, deflate);
      const parts = ["4" + "part one ".repeat(300), "part two ".repeat(300), "part three"];
      parts.forEach((p, i) => ws.send(p, { compress: true, fin: i === parts.length - 1 }));
      assert.equal(await ws.next(), parts.join(""));
      ws.close();
    });

    it("fails a message that inflates to more than maxHttpBufferSize with 1009", async () => {
      const ws = await openSession(deflating.ws, deflate);
      ws.send("4" + "0".repeat(2 * MAX_HTTP_BUFFER_SIZE));  // a few kB on the wire
      assert.equal(await within(2000, ws.closed, "close"), 1009);
    });

    it("fails compressed data that does not inflate with 1007", async () => {
      const raw = await rawSession(deflating.port, { headers: { "Sec-WebSocket-Extensions": "permessage-deflate" } });
      raw.send(frame(op.text, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00]), { rsv1: true }));
      assert.equal(await raw.closeCode(), 1007);
      raw.destroy();
    });

    it("fails RSV1 on a control frame with 1002", async () => {
      const raw = await rawSession(deflating.port, { headers: { "Sec-WebSocket-Extensions": "permessage-deflate" } });
      raw.send(frame(op.ping, "p", { rsv1: true }));
      assert.equal(await raw.closeCode(), 1002);
      raw.destroy();
    });
  });
});
