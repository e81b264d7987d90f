// The Node.js side of tests/unit/redis_emitter_test.cpp: a cluster of two socket.io 4.8 servers
// on @socket.io/redis-adapter 8.3 (node-redis 5), and real socket.io-client clients on them, that
// report on stdout, one JSON object a line, what a C++ sio::redis_emitter makes happen:
//
//   node tests/unit/redis-emitter-peer.mjs --redis redis://127.0.0.1:PORT
//
//   {"ready":{"a":"<socket id>","b":...}}    once every client is connected and in its rooms and
//                                           every adapter's subscriptions are in place
//   {"to":"a","event":"news","args":[...]}  client a received an event
//   {"to":"a","disconnect":"io server disconnect"}
//   {"server":"s1","nsp":"/","event":"job-done","args":[...]}   a server-side emit reached s1
//
// Binary data (a Buffer) is written {"$bin":"<hex>"}. The clients, their servers and rooms:
//   a: s1 "/" [room1]    b: s1 "/" [room1, room2]    c: s2 "/" [room2]    d: s2 "/other" [room1]
// WebSocket only and no reconnection: a disconnected client stays so, and a volatile packet
// finds its transport writable. Stops on SIGTERM or when stdin closes.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { io as connect } from "socket.io-client";
import { createClient } from "redis";
import { createAdapter } from "@socket.io/redis-adapter";

const args = process.argv.slice(2);
const redisUrl = args[args.indexOf("--redis") + 1];
if (args.indexOf("--redis") < 0 || !redisUrl) {
  console.error("usage: redis-emitter-peer.mjs --redis redis://HOST:PORT");
  process.exit(2);
}

const out = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const plain = (v) => {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { $bin: Buffer.from(v).toString("hex") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("hex") };
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
};

const NAMESPACES = ["/", "/other"];
const SERVER_SIDE_EVENTS = ["job-done", "connection-count"];
const redisClients = [];

async function startServer(name) {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on("error", (err) => console.error(`peer ${name}: redis: ${err.message}`));
  await Promise.all([pub.connect(), sub.connect()]);
  redisClients.push(pub, sub);
  const http = createServer();
  const io = new Server(http, { adapter: createAdapter(pub, sub) });
  for (const nsp of NAMESPACES) {
    io.of(nsp).on("connection", (socket) => socket.join(socket.handshake.auth.rooms ?? []));
    for (const event of SERVER_SIDE_EVENTS)
      io.of(nsp).on(event, (...a) => out({ server: name, nsp, event, args: plain(a) }));
  }
  await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
  return { io, port: http.address().port };
}

const servers = { s1: await startServer("s1"), s2: await startServer("s2") };

const clients = {};
async function startClient(name, server, nsp, rooms) {
  const socket = connect(`http://127.0.0.1:${servers[server].port}${nsp}`, {
    transports: ["websocket"],
    reconnection: false,
    auth: { rooms },
  });
  socket.onAny((event, ...a) => out({ to: name, event, args: plain(a) }));
  socket.on("disconnect", (reason) => out({ to: name, disconnect: reason }));
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  clients[name] = socket;
}
await Promise.all([
  startClient("a", "s1", "/", ["room1"]),
  startClient("b", "s1", "/", ["room1", "room2"]),
  startClient("c", "s2", "/", ["room2"]),
  startClient("d", "s2", "/other", ["room1"]),
]);

// The joins run in the connection handlers, before the clients heard of their connection. The
// adapters subscribe asynchronously: each PSUBSCRIBEs its broadcast pattern, then SUBSCRIBEs its
// request channel on the same connection, so once Redis counts two subscribers (s1, s2) on each
// namespace's request channel, the patterns are in place too.
const [probe] = redisClients;
for (const deadline = Date.now() + 10000; ; ) {
  const counts = await probe.pubSubNumSub(NAMESPACES.map((nsp) => `socket.io-request#${nsp}#`));
  if (Object.values(counts).every((n) => n >= 2)) break;
  if (Date.now() > deadline) {
    console.error("peer: the adapters did not subscribe within 10 s");
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 10));
}
out({ ready: Object.fromEntries(Object.entries(clients).map(([name, socket]) => [name, socket.id])) });

const stop = () => process.exit(0);
process.on("SIGTERM", stop);
process.stdin.on("end", stop);
process.stdin.resume();
