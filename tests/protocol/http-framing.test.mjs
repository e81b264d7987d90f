// Request framing of the HTTP/1.1 listener (src/sio/transport/http_server.cpp), on raw sockets
// against apps/conformance-server. A request whose body length cannot be known for sure
// (RFC 9112 §6.3) is answered 400 and its connection closed: read any other way, the bytes after
// its header would be taken for a second request (request smuggling), so none of them may be.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { startServer } from "./conformance-server.mjs";

const HANDSHAKE = "/engine.io/?EIO=4&transport=polling";

// Writes `bytes` on a new connection and collects everything the server sends until it closes
// the connection, or `ms` pass. Resolves with { text, closed, statuses } (the status code of
// every response seen, in order).
function exchange(port, bytes, ms = 3000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    let text = "";
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
      resolve({ text, closed, statuses });
    };
    const timer = setTimeout(done, ms);
    sock.setEncoding("latin1");
    sock.on("connect", () => sock.write(Buffer.from(bytes, "latin1")));
    sock.on("data", (chunk) => (text += chunk));
    sock.on("end", () => ((closed = true), done()));
    sock.on("error", (err) => (err.code === "ECONNRESET" ? ((closed = true), done()) : reject(err)));
  });
}

// A request with these header lines and body, followed at once by a second request that must
// never be answered: an Engine.IO handshake, which would be answered 200.
function smuggle(headerLines, body = "", { method = "POST", version = "1.1" } = {}) {
  const first = `${method} ${HANDSHAKE} HTTP/${version}\r\nHost: x\r\n${headerLines.map((l) => l + "\r\n").join("")}\r\n${body}`;
  const second = `GET ${HANDSHAKE} HTTP/1.1\r\nHost: x\r\n\r\n`;
  return first + second;
}

describe("HTTP request framing", () => {
  let server;
  before(async () => { server = await startServer(); });
  after(() => server?.child.kill());

  async function assertRefused(bytes, status = 400) {
    const r = await exchange(server.port, bytes);
    assert.deepEqual(r.statuses, [status], `expected one ${status} answer, got:\n${r.text}`);
    assert.match(r.text, /\r\nConnection: close\r\n/i);
    assert.equal(r.closed, true, "the connection stays open");
  }

  it("refuses a Transfer-Encoding whose last coding is not chunked, and answers nothing after it", async () => {
    await assertRefused(smuggle(["Transfer-Encoding: xchunked"]));
    await assertRefused(smuggle(["Transfer-Encoding: chunked, gzip"]));
    await assertRefused(smuggle(["Transfer-Encoding: gzip"]));
    await assertRefused(smuggle(["Transfer-Encoding: identity"]));
    await assertRefused(smuggle(["Transfer-Encoding:"]));
    await assertRefused(smuggle(["Transfer-Encoding: xchunked"], "", { method: "GET" }));
  });

  it("refuses chunked given twice, in one field or in two", async () => {
    await assertRefused(smuggle(["Transfer-Encoding: chunked, chunked"], "0\r\n\r\n"));
    await assertRefused(smuggle(["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"], "0\r\n\r\n"));
  });

  it("refuses Transfer-Encoding together with Content-Length, in either order", async () => {
    await assertRefused(smuggle(["Transfer-Encoding: chunked", "Content-Length: 5"], "0\r\n\r\n"));
    await assertRefused(smuggle(["Content-Length: 5", "Transfer-Encoding: chunked"], "0\r\n\r\n"));
    await assertRefused(smuggle(["Transfer-Encoding: xchunked", "Content-Length: 5"], "hello"));
  });

  it("refuses Content-Length fields that disagree", async () => {
    await assertRefused(smuggle(["Content-Length: 5", "Content-Length: 6"], "hello"));
    await assertRefused(smuggle(["Content-Length: 5, 6"], "hello"));
    await assertRefused(smuggle(["Content-Length: 5x"], "hello"));
  });

  it("refuses a transfer coding it cannot decode before chunked (501), and Transfer-Encoding in HTTP/1.0", async () => {
    await assertRefused(smuggle(["Transfer-Encoding: gzip, chunked"], "0\r\n\r\n"), 501);
    await assertRefused(smuggle(["Transfer-Encoding: chunked"], "0\r\n\r\n", { version: "1.0" }));
  });

  it("still reads chunked bodies, equal Content-Length fields and pipelined requests", async () => {
    for (const [lines, body] of [
      [["Transfer-Encoding: chunked"], "0\r\n\r\n"],
      [["Transfer-Encoding: Chunked"], "3\r\nabc\r\n0\r\n\r\n"],
      [["Content-Length: 3", "Content-Length: 3"], "abc"],
    ]) {
      const r = await exchange(server.port, smuggle(lines, body, { method: "GET" }), 1000);
      assert.deepEqual(r.statuses, [200, 200], `${lines}:\n${r.text}`);
    }
  });
});
