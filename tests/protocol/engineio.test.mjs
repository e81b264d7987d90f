// Engine.IO v4 at the wire level, against apps/conformance-server (raw echo at /engine.io/):
// handshake and its errors, both transports, upgrade, heartbeat, closing, limits, and the
// HTTP options (CORS, cookie, compression, allow_request).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { openSocket, startServer } from "./conformance-server.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function handshake(base, query = "") {
  const res = await fetch(`${base}?EIO=4&transport=polling${query}`);
  assert.equal(res.status, 200);
  const body = await res.text();
  assert.equal(body[0], "0");
  return { res, open: JSON.parse(body.slice(1)) };
}

const poll = (base, sid, init) => fetch(`${base}?EIO=4&transport=polling&sid=${sid}`, init);
const push = (base, sid, body) => poll(base, sid, { method: "POST", body });


describe("Engine.IO protocol", () => {
  let server;
  before(async () => { server = await startServer(["--cors-origin", "http://allowed.test", "--cors-credentials", "--cookie"]); });
  after(() => server.child.kill());

  describe("handshake", () => {
    it("opens a polling session with the configured timings", async () => {
      const { open } = await handshake(server.url);
      assert.deepEqual(Object.keys(open).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
      assert.match(open.sid, /^[A-Za-z0-9_-]{20}$/);
      assert.deepEqual(open.upgrades, ["websocket"]);
      assert.equal(open.pingInterval, 300);
      assert.equal(open.pingTimeout, 200);
      assert.equal(open.maxPayload, 1000000);
    });

    it("sets the io cookie when configured", async () => {
      const { res, open } = await handshake(server.url);
      assert.equal(res.headers.get("set-cookie"), `io=${open.sid}; Path=/; HttpOnly; SameSite=Lax`);
    });

    it("opens a WebSocket session with no upgrades", async () => {
      const ws = openSocket(`${server.ws}?EIO=4&transport=websocket`);
      const open = JSON.parse((await ws.next()).slice(1));
      assert.deepEqual(open.upgrades, []);
      ws.close();
    });

    const errors = [
      ["no transport", "?EIO=4", {}, 400, 0, "Transport unknown"],
      ["an unknown transport", "?EIO=4&transport=carrier-pigeon", {}, 400, 0, "Transport unknown"],
      ["an unknown sid", "?EIO=4&transport=polling&sid=nope", {}, 400, 1, "Session ID unknown"],
      ["a POST handshake", "?EIO=4&transport=polling", { method: "POST", body: "4x" }, 400, 2, "Bad handshake method"],
      ["protocol 3", "?EIO=3&transport=polling", {}, 400, 5, "Unsupported protocol version"],
      ["no protocol", "?transport=polling", {}, 400, 5, "Unsupported protocol version"],
      ["a websocket handshake without upgrade", "?EIO=4&transport=websocket", {}, 400, 3, "Bad request"],
      ["a refusal by allow_request", "?EIO=4&transport=polling", { headers: { "x-refuse-me": "1" } }, 403, 4, "refused by allow_request"],
    ];
    for (const [what, query, init, status, code, message] of errors) {
      it(`answers ${what} with error ${code}`, async () => {
        const res = await fetch(server.url + query, init);
        assert.equal(res.status, status);
        assert.equal(res.headers.get("content-type"), "application/json");
        assert.deepEqual(await res.json(), { code, message });
      });
    }

    it("refuses a WebSocket with a bad protocol version", async () => {
      const ws = openSocket(`${server.ws}?EIO=2&transport=websocket`);
      await assert.rejects(ws.opened, (err) => err.status === 400);
    });
  });

  describe("polling", () => {
    it("carries text and binary packets both ways", async () => {
      const { open } = await handshake(server.url);
      const res = await push(server.url, open.sid, "4hello\x1ebAQIDBA==\x1e4é✓");
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "ok");
      const got = await (await poll(server.url, open.sid)).text();
      assert.equal(got, "4hello\x1ebAQIDBA==\x1e4é✓");
    });

    it("holds a GET until there is something to send", async () => {
      const { open } = await handshake(server.url);
      const pending = poll(server.url, open.sid).then((r) => r.text());
      await sleep(50);
      await push(server.url, open.sid, "4late");
      assert.equal(await pending, "4late");
    });

    it("closes the session on a packet it cannot parse", async () => {
      const { open } = await handshake(server.url);
      const res = await push(server.url, open.sid, "9what");
      assert.equal(res.status, 400);
      assert.equal((await poll(server.url, open.sid)).status, 400);
    });

    it("closes the session on two concurrent GETs, telling the first one", async () => {
      const { open } = await handshake(server.url);
      const first = poll(server.url, open.sid);
      await sleep(20);
      const second = await poll(server.url, open.sid);
      assert.equal(second.status, 400);
      assert.equal(await (await first).text(), "1");
      assert.equal((await poll(server.url, open.sid)).status, 400);
    });

    it("closes the session when a pending GET is cancelled", async () => {
      const { open } = await handshake(server.url);
      const controller = new AbortController();
      poll(server.url, open.sid, { signal: controller.signal }).catch(() => {});
      await sleep(20);
      controller.abort();
      await sleep(50);
      assert.equal((await poll(server.url, open.sid)).status, 400);
    });

    it("ends a pending GET with a noop when the client closes", async () => {
      const { open } = await handshake(server.url);
      const pending = poll(server.url, open.sid);
      await sleep(20);
      await push(server.url, open.sid, "1");
      assert.equal(await (await pending).text(), "6");
      assert.equal((await poll(server.url, open.sid)).status, 400);
    });

    it("refuses a body over maxHttpBufferSize with 413 and closes the session", async () => {
      const { open } = await handshake(server.url);
      const res = await push(server.url, open.sid, "4" + "x".repeat(1_000_000));
      assert.equal(res.status, 413);
      await sleep(50);
      assert.equal((await poll(server.url, open.sid)).status, 400);
    });

    it("compresses large responses with gzip when the client accepts it", async () => {
      const { open } = await handshake(server.url);
      const text = "4" + "parley ".repeat(400);
      await push(server.url, open.sid, text);
      // node's fetch would decode it silently: ask for the raw body through http.
      const { request } = await import("node:http");
      const raw = await new Promise((resolve, reject) => {
        request(`${server.url}?EIO=4&transport=polling&sid=${open.sid}`, { headers: { "accept-encoding": "gzip" } }, (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        }).on("error", reject).end();
      });
      assert.equal(raw.headers["content-encoding"], "gzip");
      assert.ok(raw.body.length < text.length / 4);
      assert.equal(gunzipSync(raw.body).toString(), text);
    });
  });

  describe("websocket", () => {
    it("echoes text and binary frames", async () => {
      const ws = openSocket(`${server.ws}?EIO=4&transport=websocket`);
      await ws.next();
      ws.send("4hello");
      assert.equal(await ws.next(), "4hello");
      ws.send(Buffer.from([1, 2, 3]));
      assert.deepEqual([...(await ws.next())], [1, 2, 3]);
      ws.close();
    });

    it("closes on a frame it cannot parse", async () => {
      const ws = openSocket(`${server.ws}?EIO=4&transport=websocket`);
      await ws.next();
      ws.send("nonsense");
      await ws.closed;
    });

    it("closes a connection whose message is over maxHttpBufferSize", async () => {
      const ws = openSocket(`${server.ws}?EIO=4&transport=websocket`);
      await ws.next();
      ws.send("4" + "x".repeat(1_000_001));
      // 1009 (message too big): the server drains the rest of the message after its close frame.
      assert.equal(await ws.closed, 1009);
      await sleep(20);
      const other = openSocket(`${server.ws}?EIO=4&transport=websocket`);
      await other.next();  // the server carries on
      other.close();
    });

    it("closes when the client sends a close packet", async () => {
      const ws = openSocket(`${server.ws}?EIO=4&transport=websocket`);
      await ws.next();
      ws.send("1");
      await ws.closed;
    });
  });

  describe("heartbeat", () => {
    it("pings every pingInterval and stays open while pongs come back (polling)", async () => {
      const { open } = await handshake(server.url);
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        assert.equal(await (await poll(server.url, open.sid)).text(), "2");
        const waited = Date.now() - started;
        assert.ok(waited >= 250 && waited < 600, `ping after ${waited} ms`);
        assert.equal((await push(server.url, open.sid, "3")).status, 200);
      }
    });

    it("closes a polling session with no pong after pingInterval + pingTimeout", async () => {
      const { open } = await handshake(server.url);
      await sleep(300 + 200 + 50);
      assert.equal((await poll(server.url, open.sid)).status, 400);
    });

    it("closes a WebSocket that does not answer pings", async () => {
      const ws = openSocket(`${server.ws}?EIO=4&transport=websocket`);
      await ws.next();
      assert.equal(await ws.next(), "2");
      const started = Date.now();
      await ws.closed;
      assert.ok(Date.now() - started < 400);
    });
  });

  describe("upgrade", () => {
    it("moves a polling session to WebSocket with probe, noop and upgrade", async () => {
      const { open } = await handshake(server.url);
      const pending = poll(server.url, open.sid);
      await sleep(20);
      const ws = openSocket(`${server.ws}?EIO=4&transport=websocket&sid=${open.sid}`);
      await ws.opened;
      ws.send("2probe");
      assert.equal(await ws.next(), "3probe");
      assert.equal(await (await pending).text(), "6");
      ws.send("5");
      ws.send("4after upgrade");
      assert.equal(await ws.next(), "4after upgrade");
      assert.equal((await poll(server.url, open.sid)).status, 400);
      const second = openSocket(`${server.ws}?EIO=4&transport=websocket&sid=${open.sid}`);
      await second.closed;
      ws.send("4still here");
      assert.equal(await ws.next(), "4still here");
      ws.close();
    });

    it("delivers over WebSocket what was queued during the upgrade", async () => {
      const { open } = await handshake(server.url);
      const ws = openSocket(`${server.ws}?EIO=4&transport=websocket&sid=${open.sid}`);
      await ws.opened;
      ws.send("2probe");
      assert.equal(await ws.next(), "3probe");
      await push(server.url, open.sid, "4queued");
      assert.equal(await (await poll(server.url, open.sid)).text(), "6");
      ws.send("5");
      assert.equal(await ws.next(), "4queued");
      ws.close();
    });
  });

  describe("CORS", () => {
    it("grants an allowed origin, with credentials", async () => {
      const res = await fetch(`${server.url}?EIO=4&transport=polling`, {
        method: "OPTIONS",
        headers: { origin: "http://allowed.test", "access-control-request-method": "GET", "access-control-request-headers": "content-type" },
      });
      assert.equal(res.status, 204);
      assert.equal(res.headers.get("access-control-allow-origin"), "http://allowed.test");
      assert.equal(res.headers.get("access-control-allow-credentials"), "true");
      assert.match(res.headers.get("access-control-allow-methods"), /GET/);
      assert.equal(res.headers.get("access-control-allow-headers"), "content-type");
      const { res: hs } = await handshake(server.url.replace("127.0.0.1", "localhost"), "");
      assert.equal(hs.headers.get("access-control-allow-origin"), null);  // no Origin, no grant
    });

    it("gives no grant to another origin", async () => {
      const res = await fetch(`${server.url}?EIO=4&transport=polling`, {
        method: "OPTIONS",
        headers: { origin: "http://evil.test", "access-control-request-method": "GET" },
      });
      assert.equal(res.headers.get("access-control-allow-origin"), null);
      const hs = await fetch(`${server.url}?EIO=4&transport=polling`, { headers: { origin: "http://evil.test" } });
      assert.equal(hs.headers.get("access-control-allow-origin"), null);
    });
  });
});
