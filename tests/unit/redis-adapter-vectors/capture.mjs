// Captures what npm @socket.io/redis-adapter 8.3 and @socket.io/redis-emitter 5.1 publish on Redis,
// as C++ test data for tests/unit/redis_adapter_messages_test.cpp:
//
//   node tests/unit/redis-adapter-vectors/capture.mjs      # needs redis-server on the PATH
//
// It starts a redis-server on a free port, two (three) socket.io servers on the npm adapter with a
// socket.io-client on one of them, and an emitter; a raw subscriber (PSUBSCRIBE *) records every
// message of the scenarios below, byte for byte. Writes redis_adapter_vectors.inc here, and every
// message as a seed of the decoders' fuzz targets (fuzz/corpus/redis_adapter_{broadcast,request,
// response}_fuzz/). Each vector:
//   name      the scenario and the message's place in it
//   channel   where it was published
//   kind      broadcast (on <key>#...), request (<key>-request#...), response (<key>-response#...)
//   answers   for a response: the type of the request it answers (0-9; 8 and 9 for BROADCAST's)
//   exact     sio's encoder, given the decoded values, must write these very bytes (otherwise the
//             reference writes what sio cannot say the same way: a numeric room, the emitter's key
//             order, the HTTP headers' order)
//   model     the message as JSON.stringify sees notepack.decode / JSON.parse of it, with
//             {"$bin": "<hex>"} for binary and {"$double": "<16 hex digits>"} for non-integers
import { createRequire } from "node:module";
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, writeFileSync, mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "../../../package.json"));
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { Emitter } = require("@socket.io/redis-emitter");
const { createClient } = require("redis");
const { io: ioc } = require("socket.io-client");
const notepack = require("notepack.io");
const versions = ["@socket.io/redis-adapter", "@socket.io/redis-emitter", "socket.io", "notepack.io"].map(
  (p) => `${p} ${require(`${p}/package.json`).version}`);
if (!versions[0].endsWith(" 8.3.0")) throw new Error(`${versions[0]}: the vectors are for 8.3.0`);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () => new Promise((res) => {
  const s = net.createServer();
  s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); });
});

// ---- a redis-server of our own ----
const redisPort = await freePort();
const redisDir = mkdtempSync(join(tmpdir(), "capture-redis-"));
const redisServer = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "",
  "--appendonly", "no", "--dir", redisDir], { stdio: "ignore" });
const url = `redis://127.0.0.1:${redisPort}`;
for (let i = 0; ; ++i) {
  try { const c = createClient({ url }); await c.connect(); await c.quit(); break; } catch (e) {
    if (i > 100) throw e;
    await sleep(50);
  }
}

// ---- the recorder ----
let recorded = [];
const recorder = createClient({ url });
await recorder.connect();
await recorder.pSubscribe("*", (msg, channel) => recorded.push({ channel: channel.toString(), bytes: Buffer.from(msg) }), true);

const doubleBits = (d) => { const b = Buffer.alloc(8); b.writeDoubleBE(d); return b.toString("hex"); };
const toModel = (v) => {
  if (v === undefined || v === null) return null;
  if (typeof v === "number") return Number.isSafeInteger(v) && !Object.is(v, -0) ? v : { $double: doubleBits(v) };
  if (typeof v === "string" || typeof v === "boolean") return v;
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { $bin: Buffer.from(v).toString("hex") };
  if (Array.isArray(v)) return v.map(toModel);
  const out = {};
  for (const k of Object.keys(v)) if (v[k] !== undefined) out[k] = toModel(v[k]);
  return out;
};
const decode = (bytes) => (bytes[0] === 0x7b ? JSON.parse(bytes.toString()) : notepack.decode(bytes));

const vectors = [];
// Runs a scenario and keeps what it published, checked against `expect`: one entry per message,
// in order, { channel: RegExp, kind, answers?, exact, name }.
async function scenario(title, run, expect, settle = 250) {
  recorded = [];
  await run();
  await sleep(settle);
  const got = recorded;
  if (got.length !== expect.length)
    throw new Error(`${title}: ${got.length} messages, expected ${expect.length}:\n` +
      got.map((m) => `  ${m.channel} ${m.bytes.toString("hex").slice(0, 80)}`).join("\n"));
  got.forEach((m, i) => {
    const e = expect[i];
    if (!e.channel.test(m.channel)) throw new Error(`${title}: message ${i} on ${m.channel}, expected ${e.channel}`);
    vectors.push({ name: `${title}: ${e.name}`, channel: m.channel, kind: e.kind, answers: e.answers ?? -1,
                   exact: e.exact, model: toModel(decode(m.bytes)), bytes: m.bytes });
  });
}
const B = (name, exact = true) => ({ channel: /^socket\.io#/, kind: "broadcast", name, exact });
const REQ = (name, exact = true) => ({ channel: /^socket\.io-request#/, kind: "request", name, exact });
const RES = (name, answers, exact = true) => ({ channel: /^socket\.io-response#/, kind: "response", name, answers, exact });

// ---- the cluster: A and B on the npm adapter, C answering on the requester's own channel ----
async function member(opts = {}) {
  const pub = createClient({ url });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const http = createServer();
  const io = new Server(http, { adapter: createAdapter(pub, sub, opts) });
  await new Promise((r) => http.listen(0, "127.0.0.1", r));
  io.of("/chat");
  return { io, pub, sub, http, port: http.address().port };
}
const A = await member();
const Bm = await member();
for (const m of [A, Bm]) {
  m.io.on("connection", (s) => { s.data = { member: m.port, tags: ["x", 1] }; s.join("room1"); });
  m.io.on("ping-servers", (...args) => {
    const cb = args[args.length - 1];
    if (typeof cb !== "function") return;
    if (args[0] === "silent") cb(); else cb({ from: m.port, got: args[0] }, "ignored second");
  });
}
const client = ioc(`http://127.0.0.1:${Bm.port}`, { transports: ["websocket"], query: { client: "c1" }, auth: { token: "t" } });
client.on("ack-me", (a, cb) => cb({ got: a, pi: 3.14 }, "second"));
client.on("bin-ack", (a, cb) => cb(Buffer.from([1, 2, 3])));
client.on("empty-ack", (a, cb) => cb());
await new Promise((r) => client.on("connect", r));
await sleep(200);
const sid = client.id;

// Broadcasts.
await scenario("emit to all", () => A.io.emit("hello", 1, "two", { three: 3.5, four: [null, true, false, -5, 2 ** 40] }),
  [B("message")]);
await scenario("emit to one room", () => A.io.to("room1").emit("hello", "ü ✓ 😀"), [B("message")]);
await scenario("emit to a socket id", () => A.io.to(sid).emit("direct"), [B("message")]);
await scenario("emit to rooms except, volatile, compress off, binary",
  () => A.io.to(["r1", "r2"]).except("r3").volatile.compress(false).emit("bin", Buffer.from([0xde, 0xad]), { nested: [Buffer.alloc(0)] }),
  [B("message")]);
// The flags' keys come in the order the operators were called; sio writes volatile, compress, timeout.
await scenario("emit with a timeout flag", () => A.io.to("room1").timeout(2500).volatile.emit("flags"), [B("message", false)]);
await scenario("emit with volatile and timeout flags", () => A.io.to("room1").volatile.timeout(2500).emit("flags"), [B("message")]);
await scenario("emit to a numeric room", () => A.io.to(42).emit("n"), [B("message", false)]);
await scenario("emit in namespace /chat", () => A.io.of("/chat").to("lobby").except(["a", "b"]).emit("chat", "hi"), [B("message")]);
await scenario("local emit is not published", () => A.io.local.emit("local"), []);

// Broadcasts with acknowledgements (B's client answers).
await scenario("emit with ack", async () => { await A.io.timeout(1000).emitWithAck("ack-me", 7); },
  [REQ("BROADCAST"), RES("BROADCAST_CLIENT_COUNT", 8), RES("BROADCAST_ACK", 9)]);
await scenario("emit with binary ack", async () => { await A.io.to("room1").timeout(1000).emitWithAck("bin-ack", Buffer.from([7])); },
  [REQ("BROADCAST"), RES("BROADCAST_CLIENT_COUNT", 8), RES("BROADCAST_ACK", 9)]);
await scenario("emit with empty ack", async () => { await A.io.timeout(1000).emitWithAck("empty-ack", 1); },
  [REQ("BROADCAST"), RES("BROADCAST_CLIENT_COUNT", 8), RES("BROADCAST_ACK", 9)]);
await scenario("emit with ack to nobody", async () => { await A.io.to("nobody").timeout(300).emitWithAck("ack-me", 1); },
  [REQ("BROADCAST"), RES("BROADCAST_CLIENT_COUNT", 8)]);

// Requests with answers.
await scenario("fetchSockets", async () => { await A.io.in("room1").except("nobody").fetchSockets(); },
  [REQ("REMOTE_FETCH"), RES("answer", 5, false)]);
await scenario("allRooms", async () => { await A.io.of("/").adapter.allRooms(); }, [REQ("ALL_ROOMS"), RES("answer", 1)]);
await scenario("serverSideEmit with ack", async () => { await A.io.serverSideEmitWithAck("ping-servers", 1.5); },
  [REQ("SERVER_SIDE_EMIT"), RES("answer", 6)]);
await scenario("serverSideEmit with an empty ack", async () => { await A.io.serverSideEmitWithAck("ping-servers", "silent"); },
  [REQ("SERVER_SIDE_EMIT"), RES("answer", 6)]);
// Nobody sends these now, but 8.x answers them (A and B both answer SOCKETS).
const raw = createClient({ url });
await raw.connect();
await scenario("SOCKETS", () => raw.publish("socket.io-request#/#", JSON.stringify({ uid: "asker1", requestId: "rq0001", type: 0, rooms: ["room1"] })),
  [REQ("request"), RES("answer", 0), RES("answer", 0)]);
await scenario("single-socket REMOTE_JOIN", () => raw.publish("socket.io-request#/#", JSON.stringify({ uid: "asker1", requestId: "rq0002", type: 2, sid, room: "solo" })),
  [REQ("request"), RES("answer", 2)]);
await scenario("single-socket REMOTE_LEAVE", () => raw.publish("socket.io-request#/#", JSON.stringify({ uid: "asker1", requestId: "rq0003", type: 3, sid, room: "solo" })),
  [REQ("request"), RES("answer", 3)]);

// Requests without answers.
await scenario("serverSideEmit", () => A.io.serverSideEmit("ping-servers", 1, { x: 2 }), [REQ("SERVER_SIDE_EMIT")]);
await scenario("socketsJoin", () => A.io.in("room1").except("x").socketsJoin(["a", "b"]), [REQ("REMOTE_JOIN")]);
await scenario("socketsLeave", () => A.io.in("room1").socketsLeave("a"), [REQ("REMOTE_LEAVE")]);

// The answers on the requester's own channel (publishOnSpecificResponseChannel).
const C = await member({ publishOnSpecificResponseChannel: true });
await sleep(100);
await scenario("allRooms answered on the requester's channel", async () => { await A.io.of("/").adapter.allRooms(); },
  [REQ("ALL_ROOMS"), RES("answer 1", 1), RES("answer 2", 1)]);  // B's on the shared channel, C's on A's own

// The emitter.
const emitter = new Emitter(raw);
await scenario("emitter: emit to all", () => emitter.emit("plain"), [B("message", false)]);
await scenario("emitter: to a room, volatile, compress, binary",
  () => emitter.to("room1").volatile.compress(true).emit("from-emitter", Buffer.from([9]), 2), [B("message", false)]);
await scenario("emitter: namespace, except", () => emitter.of("/chat").to("x").except("y").emit("z"), [B("message", false)]);
await scenario("emitter: socketsJoin", () => emitter.in("room1").socketsJoin("q"), [REQ("REMOTE_JOIN", false)]);
await scenario("emitter: socketsLeave", () => emitter.socketsLeave(["q", "r"]), [REQ("REMOTE_LEAVE", false)]);
await scenario("emitter: disconnectSockets", () => emitter.except("room9").disconnectSockets(), [REQ("REMOTE_DISCONNECT", false)]);
await scenario("emitter: serverSideEmit", () => emitter.serverSideEmit("ping-servers", "e", 1), [REQ("SERVER_SIDE_EMIT")]);

// Last: it disconnects B's client.
await scenario("disconnectSockets", () => A.io.in("room1").disconnectSockets(true), [REQ("REMOTE_DISCONNECT")]);

// The uids: uid2(6).
for (const v of vectors) {
  const uid = v.kind === "broadcast" ? v.model[0] : v.model.uid;
  if (uid !== undefined && uid !== "emitter" && uid !== "asker1" && !/^[A-Za-z0-9_-]{6}$/.test(uid)) throw new Error(`uid ${uid}`);
}

client.close();
for (const m of [A, Bm, C]) { m.io.close(); }
await Promise.all([recorder, raw, A.pub, A.sub, Bm.pub, Bm.sub, C.pub, C.sub].map((c) => c.quit().catch(() => {})));
redisServer.kill();

// ---- the C++ data ----
const cpp = (s) => `R"json(${s})json"`;
const lines = [
  `// Generated by capture.mjs on Node.js ${process.version} from ${versions.join(", ")}.`,
  "// Do not edit. { name, channel, kind, answers, exact, model (JSON, see capture.mjs), hex }",
];
for (const v of vectors)
  lines.push(`{${JSON.stringify(v.name)}, ${JSON.stringify(v.channel)}, ${JSON.stringify(v.kind)}, ${v.answers}, ` +
             `${v.exact}, ${cpp(JSON.stringify(v.model))}, "${v.bytes.toString("hex")}"},`);
writeFileSync(join(here, "redis_adapter_vectors.inc"), lines.join("\n") + "\n");
console.log(`${vectors.length} vectors -> ${join(here, "redis_adapter_vectors.inc")}`);

// ---- the fuzz targets' seeds ----
for (const kind of ["broadcast", "request", "response"]) {
  const dir = join(here, `../../../fuzz/corpus/redis_adapter_${kind}_fuzz`);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) rmSync(join(dir, f));
  for (const v of vectors.filter((x) => x.kind === kind))
    writeFileSync(join(dir, v.name.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "")), v.bytes);
}
rmSync(redisDir, { recursive: true, force: true });
process.exit(0);
