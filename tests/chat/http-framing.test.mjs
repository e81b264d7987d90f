// Request smuggling through the upload route, whose body is streamed to disk: a request whose
// body length is ambiguous (RFC 9112 §6.3) gets 400 and its connection is closed, and nothing
// after its header is answered as a request. The listener's framing rules in full are in
// tests/protocol/http-framing.test.mjs.
import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import { T, freshUser, tokenFor, useParley } from "./helpers.mjs";

// Writes `bytes` on a new connection; resolves with what came back once the server closes the
// connection (or after `ms`): { text, closed, statuses }.
function exchange(port, bytes, ms = 3000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    let text = "";
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ text, closed, statuses: [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1])) });
    };
    const timer = setTimeout(done, ms);
    sock.setEncoding("latin1");
    sock.on("connect", () => sock.write(bytes, "latin1"));
    sock.on("data", (chunk) => (text += chunk));
    sock.on("end", () => ((closed = true), done()));
    sock.on("error", (err) => (err.code === "ECONNRESET" ? ((closed = true), done()) : reject(err)));
  });
}

describe("upload framing", () => {
  const server = useParley();
  const boundary = "----parley-framing";

  // A file upload with these framing headers whose "body" is a second request: the health check.
  function smuggledUpload(framing) {
    return [
      "POST /api/files HTTP/1.1",
      "Host: x",
      `Authorization: Bearer ${tokenFor(freshUser())}`,
      `Content-Type: multipart/form-data; boundary=${boundary}`,
      ...framing,
      "",
      "GET /api/socket/health HTTP/1.1\r\nHost: x\r\n\r\n",
    ].join("\r\n");
  }

  for (const [name, framing] of [
    ["Transfer-Encoding: xchunked", ["Transfer-Encoding: xchunked"]],
    ["Transfer-Encoding: chunked, gzip", ["Transfer-Encoding: chunked, gzip"]],
    ["Transfer-Encoding with Content-Length", ["Transfer-Encoding: xchunked", "Content-Length: 0"]],
    ["Content-Length fields that differ", ["Content-Length: 0", "Content-Length: 48"]],
  ]) {
    it(`answers 400 and closes for ${name}, and nothing after it`, T, async () => {
      const r = await exchange(server.port, smuggledUpload(framing));
      assert.deepEqual(r.statuses, [400], r.text);
      assert.doesNotMatch(r.text, /"status":"ok"/);  // the health check was not answered
      assert.equal(r.closed, true, "the connection stays open");
    });
  }
});
