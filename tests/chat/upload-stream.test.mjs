// File uploads streamed to disk: a body larger than one read, with Content-Length or chunked,
// comes back byte-identical; a refused upload (too large, bad token, cut short) leaves nothing in
// the upload directory, not even a temporary file; the token is checked on the header, before the
// body is read; "Expect: 100-continue" is honoured.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { describe, it } from "node:test";
import { T, WAIT_MS, makeToken, tokenFor, useParley } from "./helpers.mjs";

const MAX_UPLOAD = 3 * 1024 * 1024;

// Everything in the upload directory, temporary files (".upload-<id>") included.
const allFiles = (server) => readdirSync(server.uploads);
const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

async function until(what, check, ms = WAIT_MS) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// A multipart body around `data`: the bytes before it, after it, and the Content-Type.
function framing({ name = "big.bin", type = "application/octet-stream" } = {}) {
  const boundary = "----parley-stream-" + randomBytes(8).toString("hex");
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nsmall field\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { head, tail, contentType: `multipart/form-data; boundary=${boundary}` };
}

// POSTs the pieces one write at a time: with Content-Length, or chunked when `chunked`.
function post(server, token, pieces, { chunked = false, contentType, path = "/api/files" } = {}) {
  return new Promise((resolve, reject) => {
    const headers = { "Content-Type": contentType };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (!chunked) headers["Content-Length"] = pieces.reduce((n, p) => n + p.length, 0);
    const req = httpRequest(`${server.url}${path}`, { method: "POST", headers }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        let json;
        try { json = JSON.parse(body.toString("utf8")); } catch {}
        resolve({ status: res.statusCode, headers: res.headers, body, json });
      });
    });
    req.on("error", reject);  // after the answer (the server stops reading a refused body): ignored
    req.setTimeout(10_000, () => req.destroy(new Error("timeout")));
    (async () => {
      for (const p of pieces) {
        if (req.destroyed) return;
        if (!req.write(p)) {
          await new Promise((resolve) => {
            const done = () => (req.off("drain", done), req.off("close", done), resolve());
            req.on("drain", done);
            req.on("close", done);
          });
        }
      }
      req.end();
    })();
  });
}

function get(server, path, token) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${server.url}${path}`, { headers: { Authorization: `Bearer ${token}` } }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

// Cuts `buf` into pieces of irregular sizes.
function cut(buf, sizes = [1, 7, 65_536, 100_000, 3, 250_000]) {
  const out = [];
  for (let at = 0, i = 0; at < buf.length; i++) {
    const n = sizes[i % sizes.length];
    out.push(buf.subarray(at, at + n));
    at += n;
  }
  return out;
}

// A raw TCP client: writes bytes, reads HTTP responses (interim ones too) one at a time.
function rawClient(server) {
  const sock = connect(server.port, "127.0.0.1");
  let buf = Buffer.alloc(0);
  let closed = false;
  let wake = () => {};
  sock.on("data", (d) => { buf = Buffer.concat([buf, d]); wake(); });
  sock.on("close", () => { closed = true; wake(); });
  sock.on("error", () => {});
  const connected = new Promise((resolve, reject) => { sock.once("connect", resolve); sock.once("error", reject); });
  return {
    sock,
    connected,
    get closed() { return closed; },
    write: (b) => new Promise((resolve) => sock.write(b, () => resolve())),
    // The next response: { status, headers, body, json }, or null if the connection closed first.
    async response(ms = WAIT_MS) {
      const end = Date.now() + ms;
      for (;;) {
        const headEnd = buf.indexOf("\r\n\r\n");
        if (headEnd >= 0) {
          const lines = buf.subarray(0, headEnd).toString("latin1").split("\r\n");
          const status = Number(lines[0].split(" ")[1]);
          const headers = {};
          for (const l of lines.slice(1)) {
            const c = l.indexOf(":");
            headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
          }
          const length = Number(headers["content-length"] ?? 0);
          if (buf.length >= headEnd + 4 + length) {
            const body = buf.subarray(headEnd + 4, headEnd + 4 + length);
            buf = buf.subarray(headEnd + 4 + length);
            let json;
            try { json = JSON.parse(body.toString("utf8")); } catch {}
            return { status, headers, body, json };
          }
        }
        if (closed) return null;
        if (Date.now() > end) throw new Error(`no complete response within ${ms} ms`);
        await new Promise((r) => { wake = r; setTimeout(r, 50); });
      }
    },
    close: () => sock.destroy(),
  };
}

function requestHead(server, { token, contentType, length, extra = "" }) {
  return (
    `POST /api/files HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n` +
    (token ? `Authorization: Bearer ${token}\r\n` : "") +
    `Content-Type: ${contentType}\r\nContent-Length: ${length}\r\n${extra}\r\n`
  );
}

describe("file uploads streamed to disk", () => {
  const server = useParley({ flags: ["--max-upload-bytes", String(MAX_UPLOAD)] });

  it("streams a file over 1 MB (Content-Length) and downloads it byte-identical", T, async () => {
    const data = randomBytes(2_500_000);
    const { head, tail, contentType } = framing({ name: "big.bin" });
    const res = await post(server, tokenFor("stream-a"), cut(Buffer.concat([head, data, tail])), { contentType });
    assert.equal(res.status, 201, res.body.toString());
    assert.equal(res.json.size, data.length);
    assert.equal(res.json.name, "big.bin");
    assert.equal(res.json.contentType, "application/octet-stream");
    assert.deepEqual(allFiles(server).filter((f) => f.startsWith(".")), []);
    const down = await get(server, res.json.url, tokenFor("stream-b"));
    assert.equal(down.status, 200);
    assert.equal(down.body.length, data.length);
    assert.equal(sha256(down.body), sha256(data));
  });

  it("streams a chunked upload (no Content-Length) byte-identical", T, async () => {
    const data = randomBytes(1_300_000);
    const { head, tail, contentType } = framing({ name: "chunked.bin", type: "image/png" });
    const res = await post(server, tokenFor("stream-c"), cut(Buffer.concat([head, data, tail]), [5, 70_000, 1, 131_072]), {
      contentType, chunked: true,
    });
    assert.equal(res.status, 201, res.body.toString());
    assert.equal(res.json.size, data.length);
    assert.equal(res.json.contentType, "image/png");
    const down = await get(server, res.json.url, tokenFor("stream-c"));
    assert.equal(sha256(down.body), sha256(data));
  });

  it("refuses a file over the limit with 413 JSON and leaves no file, not even a temporary one", T, async () => {
    const before = allFiles(server);
    for (const chunked of [false, true]) {
      // Just over the limit: the transport lets the body through, the parser counts the file.
      const { head, tail, contentType } = framing();
      const res = await post(server, tokenFor("too-big"), cut(Buffer.concat([head, Buffer.alloc(MAX_UPLOAD + 1, 7), tail])), {
        contentType, chunked,
      });
      assert.equal(res.status, 413, `chunked: ${chunked}`);
      assert.equal(res.json.ok, false);
      assert.equal(res.json.error.code, "PAYLOAD_TOO_LARGE");
      assert.deepEqual(allFiles(server), before);
    }
    // Far over, chunked: no Content-Length to refuse it by.
    const { head, tail, contentType } = framing();
    const res = await post(server, tokenFor("too-big"), cut(Buffer.concat([head, Buffer.alloc(MAX_UPLOAD + 500_000, 1), tail])), {
      contentType, chunked: true,
    });
    assert.equal(res.status, 413);
    assert.equal(res.json.error.code, "PAYLOAD_TOO_LARGE");
    assert.deepEqual(allFiles(server), before);
  });

  it("leaves no file when the client goes away mid-body", T, async () => {
    const before = allFiles(server);
    const { head, tail, contentType } = framing();
    const c = rawClient(server);
    await c.connected;
    const total = head.length + 2_000_000 + tail.length;
    await c.write(requestHead(server, { token: tokenFor("quitter"), contentType, length: total }));
    await c.write(head);
    await c.write(randomBytes(1_000_000));
    // The bytes are on their way to disk already: a temporary file exists.
    await until("a temporary file", () => allFiles(server).some((f) => f.startsWith(".upload-")));
    c.close();
    await until("the temporary file removed", () => allFiles(server).length === before.length);
    assert.deepEqual(allFiles(server), before);
    const health = await get(server, "/api/socket/health", tokenFor("x"));
    assert.equal(health.status, 200);
  });

  it("answers a bad token 401 from the header, without reading the body", T, async () => {
    const before = allFiles(server);
    const { contentType } = framing();
    for (const token of [undefined, makeToken({ userId: "x" }, { secret: "wrong-secret-wrong-secret-wrong!!" })]) {
      const c = rawClient(server);
      await c.connected;
      // A large body (within the limit) announced, not one byte of it sent.
      await c.write(requestHead(server, { token, contentType, length: MAX_UPLOAD }));
      const res = await c.response();
      assert.equal(res.status, 401);
      assert.equal(res.json.error.code, "UNAUTHORIZED");
      assert.equal(res.headers.connection, "close");
      c.close();
    }
    // Nor a Content-Type without a boundary: 400, also from the header.
    const c = rawClient(server);
    await c.connected;
    await c.write(requestHead(server, { token: tokenFor("u"), contentType: "multipart/form-data", length: MAX_UPLOAD }));
    const res = await c.response();
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, "BAD_REQUEST");
    c.close();
    assert.deepEqual(allFiles(server), before);
  });

  it("honours Expect: 100-continue: 100 then the body for a good token, 401 at once for a bad one", T, async () => {
    const data = randomBytes(200_000);
    const { head, tail, contentType } = framing({ name: "expect.bin" });
    const body = Buffer.concat([head, data, tail]);

    const bad = rawClient(server);
    await bad.connected;
    await bad.write(requestHead(server, { token: "not.a.jwt", contentType, length: body.length, extra: "Expect: 100-continue\r\n" }));
    const refused = await bad.response();
    assert.equal(refused.status, 401);
    bad.close();

    const good = rawClient(server);
    await good.connected;
    await good.write(requestHead(server, { token: tokenFor("expect"), contentType, length: body.length, extra: "Expect: 100-continue\r\n" }));
    const interim = await good.response();
    assert.equal(interim.status, 100);
    await good.write(body);
    const res = await good.response();
    assert.equal(res.status, 201, res.body.toString());
    assert.equal(res.json.size, data.length);
    // Keep-alive: the connection serves the next request.
    await good.write(`GET /api/socket/health HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal((await good.response()).status, 200);
    good.close();
    const down = await get(server, res.json.url, tokenFor("expect"));
    assert.equal(sha256(down.body), sha256(data));
  });
});
