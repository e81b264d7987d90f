// The HTTP API: health, file upload / download with auth and the private-conversation rule,
// 401 / 403 / 404 / 413 / 400, attachments in messages, and CORS.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { describe, it } from "node:test";
import {
  T, connectUser, freshRoom, makeToken, request, tokenFor, useParley, waitFor,
} from "./helpers.mjs";

const MAX_UPLOAD = 4096;
const ALLOWED = "http://allowed.example";

// A raw HTTP request (fetch would not let us set Origin freely everywhere).
function raw(server, method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${server.url}${path}`, { method, headers }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const buf = Buffer.concat(chunks);
        let json;
        try { json = JSON.parse(buf.toString("utf8")); } catch {}
        resolve({ status: res.statusCode, headers: res.headers, body: buf, json });
      });
    });
    req.on("error", reject);
    req.setTimeout(5_000, () => req.destroy(new Error("timeout")));
    if (body) req.write(body);
    req.end();
  });
}

function multipart(fields, boundary = "----parley" + Math.random().toString(16).slice(2)) {
  const parts = [];
  for (const f of fields) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${f.name}"`;
    if (f.filename !== undefined) head += `; filename="${f.filename}"`;
    head += "\r\n";
    if (f.type) head += `Content-Type: ${f.type}\r\n`;
    parts.push(Buffer.from(head + "\r\n"), Buffer.from(f.data), Buffer.from("\r\n"));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), type: `multipart/form-data; boundary=${boundary}` };
}

async function upload(server, token, { name = "hello.txt", type = "text/plain", data = "hello, file" } = {}) {
  const { body, type: ct } = multipart([{ name: "note", data: "ignored" }, { name: "file", filename: name, type, data }]);
  const headers = { "Content-Type": ct, "Content-Length": body.length };
  if (token) headers.Authorization = `Bearer ${token}`;
  return raw(server, "POST", "/api/files", { headers, body });
}

const uploadedFiles = (server) => readdirSync(server.uploads).filter((f) => !f.startsWith("."));

describe("HTTP API", () => {
  const server = useParley({
    flags: ["--max-upload-bytes", String(MAX_UPLOAD), "--cors-origins", ALLOWED, "--cors-credentials", "true"],
  });

  it("answers the health check with the socket counts", T, async () => {
    const before = await raw(server, "GET", "/api/socket/health");
    assert.equal(before.status, 200);
    assert.match(before.headers["content-type"], /application\/json/);
    assert.equal(before.json.status, "ok");
    assert.equal(before.json.socket.initialized, true);
    assert.equal(typeof before.json.socket.connected, "number");
    assert.equal(typeof before.json.socket.rooms, "number");
    const s1 = await connectUser(server);
    await connectUser(server);
    await request(s1, "conversation:join", freshRoom());
    const after = await raw(server, "GET", "/api/socket/health");
    assert.equal(after.json.socket.connected, before.json.socket.connected + 2);
    assert.ok(after.json.socket.rooms >= before.json.socket.rooms + 1);
  });

  it("uploads a file (201) and downloads it with the same auth", T, async () => {
    const alice = tokenFor("file-alice");
    const res = await upload(server, alice, { name: "notes.txt", type: "text/plain", data: "some notes" });
    assert.equal(res.status, 201);
    const f = res.json;
    assert.equal(typeof f.fileId, "string");
    assert.equal(f.name, "notes.txt");
    assert.equal(f.size, 10);
    assert.equal(f.contentType, "text/plain");
    assert.equal(f.url, `/api/files/${f.fileId}`);
    assert.ok(!f.fileId.includes("notes"));

    const down = await raw(server, "GET", f.url, { headers: { Authorization: `Bearer ${tokenFor("someone-else")}` } });
    assert.equal(down.status, 200);
    assert.equal(down.body.toString(), "some notes");
    assert.equal(down.headers["content-type"], "text/plain");
    assert.match(down.headers["content-disposition"], /filename="notes\.txt"/);

    const noAuth = await raw(server, "GET", f.url);
    assert.equal(noAuth.status, 401);
  });

  it("keeps the client's file name as metadata only", T, async () => {
    const res = await upload(server, tokenFor("evil"), { name: "../../etc/passwd", data: "x" });
    assert.equal(res.status, 201);
    assert.equal(res.json.name, "passwd");
    assert.ok(uploadedFiles(server).includes(res.json.fileId));
  });

  it("refuses uploads without a valid token (401)", T, async () => {
    const none = await upload(server, undefined);
    assert.equal(none.status, 401);
    assert.equal(none.json.ok, false);
    assert.equal(none.json.error.code, "UNAUTHORIZED");
    const bad = await upload(server, makeToken({ userId: "x" }, { secret: "wrong-secret-wrong-secret-wrong!!" }));
    assert.equal(bad.status, 401);
    const expired = await upload(server, makeToken({ userId: "x" }, { ttl: -100 }));
    assert.equal(expired.status, 401);
  });

  it("refuses a file over the limit with 413 JSON, and stores nothing", T, async () => {
    const before = uploadedFiles(server).length;
    const res = await upload(server, tokenFor("big"), { data: Buffer.alloc(MAX_UPLOAD + 1, 7) });
    assert.equal(res.status, 413);
    assert.equal(res.json.ok, false);
    assert.equal(res.json.error.code, "PAYLOAD_TOO_LARGE");
    assert.equal(uploadedFiles(server).length, before);
    assert.deepEqual(readdirSync(server.uploads).filter((f) => f.startsWith(".")), []);
    // Exactly at the limit: accepted.
    const ok = await upload(server, tokenFor("big"), { data: Buffer.alloc(MAX_UPLOAD, 7) });
    assert.equal(ok.status, 201);
    assert.equal(ok.json.size, MAX_UPLOAD);
  });

  it("refuses a body far over the limit with 413 JSON, before reading it", T, async () => {
    const before = uploadedFiles(server).length;
    const res = await upload(server, tokenFor("huge"), { data: Buffer.alloc(MAX_UPLOAD + 200_000, 1) });
    assert.equal(res.status, 413);
    assert.equal(res.json.ok, false);
    assert.equal(res.json.error.code, "PAYLOAD_TOO_LARGE");
    assert.equal(uploadedFiles(server).length, before);
  });

  it("refuses malformed multipart with 400", T, async () => {
    const token = tokenFor("malformed");
    const cases = [
      { "Content-Type": "application/json", body: "{}" },
      { "Content-Type": "multipart/form-data", body: "--x\r\n" },
      { "Content-Type": "multipart/form-data; boundary=x", body: "--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nno end" },
      { "Content-Type": "multipart/form-data; boundary=x", body: "--x\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\ny\r\n--x--" },
    ];
    for (const c of cases) {
      const res = await raw(server, "POST", "/api/files", {
        headers: { Authorization: `Bearer ${token}`, "Content-Type": c["Content-Type"], "Content-Length": Buffer.byteLength(c.body) },
        body: c.body,
      });
      assert.equal(res.status, 400, c.body);
      assert.equal(res.json.error.code, "BAD_REQUEST");
    }
  });

  it("answers 404 for an unknown file", T, async () => {
    const res = await raw(server, "GET", "/api/files/0123456789abcdef0123456789abcdef", {
      headers: { Authorization: `Bearer ${tokenFor("x")}` },
    });
    assert.equal(res.status, 404);
    assert.equal(res.json.error.code, "NOT_FOUND");
    const other = await raw(server, "GET", "/api/nothing-here");
    assert.equal(other.status, 404);
  });

  it("attaches an upload to a private message: members download it, others get 403", T, async () => {
    const alice = await connectUser(server);
    const bob = await connectUser(server);
    const carol = await connectUser(server);
    const up = await upload(server, tokenFor(alice.userId), { name: "plan.pdf", type: "application/pdf", data: "%PDF-1.4 plan" });
    assert.equal(up.status, 201);
    const id = freshRoom("private-files");
    await request(alice, "conversation:create", { conversationId: id, private: true, memberIds: [bob.userId] });
    await request(bob, "conversation:join", id);
    const got = waitFor(bob, "message:new");
    const ack = await request(alice, "message:send", { conversationId: id, content: "the plan", attachments: [{ fileId: up.json.fileId }] });
    assert.equal(ack.ok, true);
    assert.deepEqual(ack.message.attachments, [up.json]);
    assert.deepEqual((await got)[0].attachments, [up.json]);

    const asBob = await raw(server, "GET", up.json.url, { headers: { Authorization: `Bearer ${tokenFor(bob.userId)}` } });
    assert.equal(asBob.status, 200);
    assert.equal(asBob.body.toString(), "%PDF-1.4 plan");
    assert.equal(asBob.headers["content-type"], "application/pdf");
    const asAlice = await raw(server, "GET", up.json.url, { headers: { Authorization: `Bearer ${tokenFor(alice.userId)}` } });
    assert.equal(asAlice.status, 200);
    const asCarol = await raw(server, "GET", up.json.url, { headers: { Authorization: `Bearer ${tokenFor(carol.userId)}` } });
    assert.equal(asCarol.status, 403);
    assert.equal(asCarol.json.error.code, "FORBIDDEN");
  });

  it("refuses an attachment that was never uploaded", T, async () => {
    const a = await connectUser(server);
    const ack = await request(a, "message:send", { conversationId: freshRoom(), content: "x", attachments: [{ fileId: "nope" }] });
    assert.equal(ack.ok, false);
    // As for another user's file (attachments.test.mjs): the answer does not tell which.
    assert.equal(ack.error.code, "FORBIDDEN");
  });

  it("accepts Socket.IO binary attachments and stores them as files", T, async () => {
    const [a, b] = [await connectUser(server), await connectUser(server)];
    const id = freshRoom("bin");
    await request(b, "conversation:join", id);
    const bytes = Buffer.from([0, 1, 2, 250, 251, 252]);
    const got = waitFor(b, "message:new");
    const ack = await request(a, "message:send", {
      conversationId: id, content: "binary", attachments: [{ data: bytes, name: "raw.bin", contentType: "application/octet-stream" }],
    });
    assert.equal(ack.ok, true);
    const [att] = ack.message.attachments;
    assert.equal(att.name, "raw.bin");
    assert.equal(att.size, bytes.length);
    assert.deepEqual((await got)[0].attachments, [att]);
    const down = await raw(server, "GET", att.url, { headers: { Authorization: `Bearer ${tokenFor(b.userId)}` } });
    assert.equal(down.status, 200);
    assert.deepEqual(down.body, bytes);
  });

  it("grants CORS preflights to allowed origins only", T, async () => {
    const pre = { "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization" };
    const allowed = await raw(server, "OPTIONS", "/api/files", { headers: { Origin: ALLOWED, ...pre } });
    assert.ok(allowed.status === 204 || allowed.status === 200, String(allowed.status));
    assert.equal(allowed.headers["access-control-allow-origin"], ALLOWED);
    assert.equal(allowed.headers["access-control-allow-credentials"], "true");
    const refused = await raw(server, "OPTIONS", "/api/files", { headers: { Origin: "http://evil.example", ...pre } });
    assert.equal(refused.headers["access-control-allow-origin"], undefined);

    const health = await raw(server, "GET", "/api/socket/health", { headers: { Origin: ALLOWED } });
    assert.equal(health.headers["access-control-allow-origin"], ALLOWED);
    const healthEvil = await raw(server, "GET", "/api/socket/health", { headers: { Origin: "http://evil.example" } });
    assert.equal(healthEvil.headers["access-control-allow-origin"], undefined);

    const sio = await raw(server, "OPTIONS", "/socket.io/?EIO=4&transport=polling", { headers: { Origin: ALLOWED, ...pre } });
    assert.equal(sio.headers["access-control-allow-origin"], ALLOWED);
    const sioEvil = await raw(server, "OPTIONS", "/socket.io/?EIO=4&transport=polling", { headers: { Origin: "http://evil.example", ...pre } });
    assert.equal(sioEvil.headers["access-control-allow-origin"], undefined);
  });
});
