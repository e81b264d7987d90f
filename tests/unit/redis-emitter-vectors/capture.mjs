// Captures what npm @socket.io/redis-emitter 5.1 publishes, as C++ test data for
// tests/unit/redis_emitter_test.cpp (sio::redis_emitter must publish the same bytes on the same
// channels):
//
//   node tests/unit/redis-emitter-vectors/capture.mjs
//
// writes tests/unit/redis-emitter-vectors/emitter_vectors.inc. The emitter is given a Redis client
// that records publish(channel, message) instead of sending it: what it records is what goes on
// the wire (a Buffer as is, a string as UTF-8). Each case below has a twin of the same name in the
// C++ test that does the same with the C++ API; a case the npm emitter refuses (it throws) is
// recorded as refused, and the C++ emitter must refuse it too (and publish nothing).
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "../../../package.json"));
const { Emitter } = require("@socket.io/redis-emitter");
const emitterVersion = require("@socket.io/redis-emitter/package.json").version;
if (emitterVersion !== "5.1.0") throw new Error(`@socket.io/redis-emitter ${emitterVersion}: the vectors are for 5.1.0`);

const published = [];
const recorder = {
  publish(channel, message) {
    published.push({ channel, bytes: Buffer.isBuffer(message) ? message : Buffer.from(message, "utf8") });
  },
};
const emitter = new Emitter(recorder);

const cases = [];
const add = (name, run) => {
  if (cases.some((c) => c.name === name)) throw new Error("duplicate case " + name);
  cases.push({ name, run });
};

// ---- broadcasts (MessagePack on socket.io#<nsp># or socket.io#<nsp>#<room>#) ----
add("emit to everyone", () =>
  emitter.emit("news", "hello", 42, 2.5, -7, null, true, false, { a: [1, "b", { c: null }] }, []));
add("emit without arguments", () => emitter.emit("ping"));
add("to one room", () => emitter.to("room1").emit("news", { hello: "world" }));
add("in is to", () => emitter.in("room1").emit("news", 1));
add("to two rooms", () => emitter.to("room1").to("room2").emit("news", 1));
add("to rooms, repeats dropped", () => emitter.to(["r1", "r2"]).to("r1").in(["r3", "r2"]).emit("news", 1));
add("to no room", () => emitter.to([]).emit("news", 1));
add("to the empty room", () => emitter.to("").emit("news", 1));
add("except", () => emitter.except("banned").emit("news", 1));
add("to and except", () => emitter.to("room1").except(["r2", "r3"]).except("r2").emit("news"));
add("volatile", () => emitter.volatile.emit("tick", 1));
add("compress false", () => emitter.compress(false).emit("big", "x"));
add("compress then volatile", () => emitter.compress(true).volatile.emit("news", 1));
add("volatile then compress", () => emitter.to("room1").volatile.compress(false).emit("news", 1));
add("a flag set twice keeps its place", () => emitter.compress(true).volatile.compress(false).emit("news", 1));
add("binary", () =>
  emitter.emit("file", Buffer.from([1, 2, 3]), {
    name: "a.bin",
    data: Buffer.from("abc"),
    parts: [Buffer.alloc(0), Buffer.alloc(300, 7)],
  }));
add("namespace", () => emitter.of("/other").emit("news", 1));
add("namespace without its slash", () => emitter.of("admin").to("room1").emit("news", 1));
add("namespace of a namespace", () => emitter.of("/a").of("b").emit("news", 1));
add("the empty namespace is /", () => emitter.of("").emit("news", 1));
add("custom key", () => new Emitter(recorder, { key: "myapp" }).of("/chat").to("room1").emit("news", 1));
add("unicode room and event", () => emitter.to("salle é 日本").emit("événement", "😀"));
// Integral doubles at or past 2^64 left out: notepack writes them modulo 2^64 (1e21 arrives as
// 3875820019684212736), sio::msgpack writes float64 (src/sio/msgpack/codec.hpp).
add("numbers", () =>
  emitter.emit("n", 0, -0, 1.5, 0.1, 1e15, 2 ** 64 - 2048, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, 5e-324, -1.5e-7));
add("connection is no reserved name here", () => emitter.emit("connection", 1));
for (const name of ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"])
  add(`reserved ${name}`, () => emitter.to("room1").emit(name, 1));

// ---- requests (JSON on socket.io-request#<nsp>#) ----
add("socketsJoin a room", () => emitter.socketsJoin("room1"));
add("socketsJoin rooms, targeted", () => emitter.in("room1").except("banned").socketsJoin(["a", "b", "a"]));
add("socketsJoin, custom key and namespace", () =>
  new Emitter(recorder, { key: "myapp" }).of("/chat").socketsJoin("salle é"));
add("socketsLeave", () => emitter.to(["r1", "r2"]).socketsLeave("r1"));
add("socketsLeave rooms", () => emitter.of("/other").socketsLeave(["r1", "r2"]));
add("disconnectSockets", () => emitter.disconnectSockets());
add("disconnectSockets close", () => emitter.to("room1").except("vip").disconnectSockets(true));
add("disconnectSockets volatile", () => emitter.volatile.disconnectSockets(false));
add("serverSideEmit", () => emitter.serverSideEmit("hello", "world", { n: 1.5, list: [1, 2] }));
add("serverSideEmit without arguments", () => emitter.serverSideEmit("ping"));
add("serverSideEmit, strings that need escapes", () =>
  emitter.of("/admin").serverSideEmit("text", "quote \" backslash \\ newline \n tab \t nul \u0000 unit \u001f del \u007f é 😀 / <"));
add("serverSideEmit numbers", () =>
  emitter.serverSideEmit("n", 0, -0, 1.5, 1e21, 1e-7, 123456789012, -2.5e-10, NaN, Infinity));

// ---- output ----
const vectors = [];
for (const c of cases) {
  const before = published.length;
  let refused = null;
  try {
    c.run();
  } catch (err) {
    refused = err.message;
  }
  const out = published.slice(before);
  if (refused !== null) {
    if (out.length) throw new Error(`${c.name}: refused, yet published`);
    vectors.push({ name: c.name, channel: "", hex: "", refused });
  } else {
    if (out.length !== 1) throw new Error(`${c.name}: published ${out.length} messages`);
    vectors.push({ name: c.name, channel: out[0].channel, hex: out[0].bytes.toString("hex"), refused: null });
  }
}
// A C++ string literal of the UTF-8 bytes: printable ASCII as is, anything else as an octal escape
// (at most three digits, so a digit after it is never taken into it).
const cString = (s) => {
  let out = '"';
  for (const b of Buffer.from(s, "utf8")) {
    if (b === 0x22 || b === 0x5c) out += "\\" + String.fromCharCode(b);
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += "\\" + b.toString(8).padStart(3, "0");
  }
  return out + '"';
};
let text = `// Generated by capture.mjs from npm @socket.io/redis-emitter ${emitterVersion} on Node.js ${process.version}.\n`;
text += "// Do not edit. { case, channel (UTF-8), message (hex), refused }: refused is the npm emitter's error\n";
text += "// message when it threw (and published nothing), else empty.\n";
for (const v of vectors)
  text += `{${cString(v.name)}, ${cString(v.channel)}, "${v.hex}", ${cString(v.refused ?? "")}},\n`;
const target = join(here, "emitter_vectors.inc");
writeFileSync(target, text);
console.log(`${vectors.length} vectors from @socket.io/redis-emitter ${emitterVersion} -> ${target}`);
