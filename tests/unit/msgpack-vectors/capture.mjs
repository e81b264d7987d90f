// Captures what npm notepack.io (the MessagePack of @socket.io/redis-adapter and -emitter) writes
// and reads, as C++ test data for tests/unit/msgpack_test.cpp:
//
//   node tests/unit/msgpack-vectors/capture.mjs            # notepack.io from the repo's node_modules
//   NOTEPACK=/tmp/np/node_modules/notepack.io node tests/unit/msgpack-vectors/capture.mjs
//
// writes tests/unit/msgpack-vectors/notepack_vectors.inc, and the short ones as the seed corpus of
// fuzz/msgpack_decode_fuzz (fuzz/corpus/msgpack_decode_fuzz/). Each vector pairs bytes with a model:
// the value in the C++ codec's terms, as JSON in which
//   {"$double": "<16 hex digits>"}   is a double given by its bits (NaN, -0, 0.1 exactly),
//   {"$bin": "<hex>"}                is binary data (a placeholder plus an attachment in C++),
//   {"$gen": "str"|"bin"|"array"|"map", "n": N}  is a generated value (the test makes the same).
// Three kinds of vectors:
//   model: notepack encodes the model's JS value; C++ must encode the model to the same bytes and
//          decode the bytes back to the model.
//   js:    notepack encodes a JS value (Dates, undefined, typed arrays...); C++ must decode the
//          bytes to what JSON.stringify would make of notepack.decode's result (the model), and
//          encode that model to the same bytes whenever notepack does too.
//   wire:  bytes of other producers (or older notepack versions); the same as js, or refused
//          when notepack.decode throws.
import { createRequire } from "node:module";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "../../../package.json"));
const notepackDir = process.env.NOTEPACK ?? dirname(require.resolve("notepack.io/package.json"));
const notepack = require(notepackDir);
const notepackVersion = require(join(notepackDir, "package.json")).version;
if (notepackVersion !== "3.0.1") throw new Error(`notepack.io ${notepackVersion}: the vectors are for 3.0.1`);

// ---- the model ----
const doubleBits = (d) => {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(d);
  return b.toString("hex");
};
const generate = (kind, n) => {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const small = (i) => (i % 300) - 100; // every integer form up to uint8
  switch (kind) {
    case "str": return Array.from({ length: n }, (_, i) => alphabet[i % alphabet.length]).join("");
    case "bin": return Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff));
    case "array": return Array.from({ length: n }, (_, i) => small(i));
    case "map": return Object.fromEntries(Array.from({ length: n }, (_, i) => ["k" + i, small(i)]));
  }
  throw new Error("unknown generator " + kind);
};
const fromModel = (m) => {
  if (Array.isArray(m)) return m.map(fromModel);
  if (m === null || typeof m !== "object") return m;
  if ("$double" in m) return Buffer.from(m.$double, "hex").readDoubleBE();
  if ("$bin" in m) return Buffer.from(m.$bin, "hex");
  if ("$gen" in m) return generate(m.$gen, m.n);
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, fromModel(v)]));
};
// What the C++ decoder must make of a JS value notepack.decode returned: JSON.stringify's view
// of it (undefined: null in arrays, left out of objects; a Date: its toJSON()), binary as $bin.
const toModel = (v) => {
  if (v === undefined || v === null) return null;
  if (typeof v === "number") return Number.isSafeInteger(v) && !Object.is(v, -0) ? v : { $double: doubleBits(v) };
  if (typeof v === "string" || typeof v === "boolean") return v;
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { $bin: Buffer.from(v).toString("hex") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("hex") };
  if (Array.isArray(v)) return v.map(toModel);
  if (typeof v.toJSON === "function") return toModel(v.toJSON());
  const out = {};
  for (const k of Object.keys(v)) if (v[k] !== undefined && typeof v[k] !== "function") out[k] = toModel(v[k]);
  return out;
};
const sameJson = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// ---- the vectors ----
const vectors = [];
const ENCODES = 1, DECODES = 2, REFUSED = 4;
const add = (name, bytes, model, flags) => {
  if (vectors.some((v) => v.name === name)) throw new Error("duplicate vector name " + name);
  vectors.push({ name, bytes, model, flags });
};
// notepack encodes the model's value; the model must survive notepack's own round trip.
const model = (name, m) => {
  const bytes = notepack.encode(fromModel(m));
  const back = toModel(notepack.decode(bytes));
  if (!sameJson(back, toModel(fromModel(m)))) throw new Error(`${name}: notepack does not round-trip it`);
  add(name, bytes, m, ENCODES | DECODES);
};
const decodedModel = (name, bytes) => {
  const m = toModel(notepack.decode(bytes));
  const again = notepack.encode(fromModel(m));
  return { m, flags: DECODES | (again.equals(bytes) ? ENCODES : 0) };
};
const js = (name, value) => {
  const bytes = notepack.encode(value);
  const { m, flags } = decodedModel(name, bytes);
  add(name, bytes, m, flags);
};
const wire = (name, hex) => {
  const bytes = Buffer.from(hex.replace(/\s+/g, ""), "hex");
  let decoded;
  try {
    decoded = decodedModel(name, bytes);
  } catch {
    add(name, bytes, null, REFUSED);
    return;
  }
  add(name, bytes, decoded.m, decoded.flags);
};
const d = (x) => ({ $double: doubleBits(x) });
const num = (x) => (Number.isSafeInteger(x) && !Object.is(x, -0) ? x : d(x));

// Integers: every form and both sides of every boundary.
for (const n of [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2,
                 2 ** 63, 2 ** 64 - 2048])
  model(`uint ${n}`, num(n));
for (const n of [-1, -31, -32, -33, -127, -128, -129, -32767, -32768, -32769, -(2 ** 31) + 1, -(2 ** 31),
                 -(2 ** 31) - 1, -(2 ** 53) + 1, -(2 ** 53), -(2 ** 60), -(2 ** 63)])
  model(`int ${n}`, num(n));
// Non-integers and the numbers JSON cannot write: float64 always (notepack never writes float32).
for (const x of [0.5, -0.5, 0.1, 1.5, -1.5, Math.PI, 1e-7, 5e-324, -5e-324, 2 ** 51 + 0.5,
                 -(2 ** 31) - 0.5, NaN, Infinity, -Infinity])
  model(`double ${x}`, d(x));
js("double -0 is 0", -0);
model("double 3.0 is 3", d(3));
// Integral doubles past 2^64: notepack writes them modulo 2^64 (the C++ codec deliberately does not).
for (const x of [2 ** 64, 1e20, 1.7976931348623157e308, -(2 ** 63) - 2048, -1e20]) js(`notepack wraps ${x}`, x);

// Strings: byte lengths (not characters) choose the form; notepack counts differently above 32
// characters (Buffer.byteLength), hence both sides of that too.
for (const n of [0, 1, 31, 32, 255, 256, 65535, 65536]) model(`str ${n} bytes`, { $gen: "str", n });
model("str 31 bytes in 16 characters", "é".repeat(15) + "a");
model("str 32 bytes in 16 characters", "é".repeat(16));
model("str 33 bytes in 11 characters", "€".repeat(11));
model("str 256 bytes in 64 characters", "😀".repeat(64));
model("str mixed scripts", "héllo wörld, ünïcödé ✓ 日本語 𝄞 😀");
model("str control characters and quotes", "a\u0000b\u001f\"\\/\n\t");

// Binary: bin8/16/32 (no fix form).
for (const n of [0, 1, 255, 256, 65535, 65536]) model(`bin ${n} bytes`, { $gen: "bin", n });

// Arrays and maps: fix forms below 16, then 16 and 32 bits.
for (const n of [0, 1, 15, 16, 65535, 65536]) model(`array ${n}`, { $gen: "array", n });
for (const n of [0, 1, 15, 16, 65535, 65536]) model(`map ${n}`, { $gen: "map", n });
model("array of every kind", [null, true, false, 0, -1, 1.5, "s", [], {}, { $bin: "00ff" }]);
model("map keys in insertion order", { zebra: 1, apple: 2, mango: { b: 1, a: 2 } });
model("nested", { a: [{ b: [{ c: [1, [2, [3, { d: null }]]] }] }] });

// Values of JS types JSON does not have.
js("undefined at the top is nil", undefined);
js("undefined in an array is nil", [1, undefined, 3]);
js("undefined in an object is left out", { a: 1, b: undefined, c: 3 });
js("functions in an object are left out", { a: 1, f() {}, c: 3 });
js("Date, timestamp 32", new Date(1700000000000));
js("Date, timestamp 64", new Date(1700000000123));
js("Date, timestamp 64 past 2106", new Date(2 ** 33 * 1000 + 5));
js("Date at the epoch", new Date(0));
js("Date before the epoch, timestamp 96", new Date(-1));
js("Date in year -271821", new Date(-8.64e15));
js("Date in year 275760", new Date(8.64e15));
js("Invalid Date", new Date(NaN));
js("Uint8Array is bin", new Uint8Array([1, 2, 3]));
js("ArrayBuffer is bin", new Uint8Array([4, 5]).buffer);
js("Map is an empty map", new Map([[1, 2]]));
js("object with toJSON", { toJSON: () => ({ replaced: true }) });

// Adapter messages as @socket.io/redis-adapter 8.3 and @socket.io/redis-emitter 5.1 publish them.
js("adapter broadcast with binary", [
  "Hx8yFZ",
  { type: 2, data: ["event", { a: 1 }, Buffer.from([1, 2, 3])], nsp: "/" },
  { rooms: ["r1"], except: [], flags: { volatile: true } },
]);
js("adapter broadcast to everyone", [
  "Hx8yFZ",
  { type: 2, data: ["chat", "hello", 42, 2.5, null, true], nsp: "/" },
  { rooms: [], except: [], flags: {} },
]);
js("adapter broadcast except, admin namespace, compress", [
  "k3Lm0Q",
  { type: 2, data: ["news", { title: "héllo", tags: ["a", "b"], n: -7 }], nsp: "/admin" },
  { rooms: ["r1", "r2"], except: ["r3", "Ab12Cd34Ef56Gh78Ij90"], flags: { compress: true, volatile: false } },
]);
js("adapter broadcast with several buffers", [
  "Hx8yFZ",
  {
    type: 2,
    data: ["files", { first: Buffer.from("one"), more: [Buffer.from("two"), Buffer.alloc(300, 7)] }],
    nsp: "/",
  },
  { rooms: ["r1"], except: [], flags: {} },
]);
js("adapter broadcast with a Date and undefined", [
  "Hx8yFZ",
  { type: 2, data: ["when", new Date(1700000000123), undefined, { x: undefined, y: 2 }], nsp: "/" },
  { rooms: [], except: [], flags: {} },
]);
js("adapter broadcastWithAck request", {
  uid: "Hx8yFZ",
  requestId: "xYz123",
  type: 7,
  packet: { type: 2, data: ["question", { q: 1 }], nsp: "/" },
  opts: { rooms: ["r1"], except: [], flags: { timeout: 5000 } },
});
js("adapter broadcast ack response with binary", {
  type: 9,
  requestId: "xYz123",
  packet: ["answer", Buffer.from([9, 8])],
});
js("emitter broadcast", [
  "emitter",
  { type: 2, data: ["news", { hello: "world" }], nsp: "/" },
  { rooms: ["room1"], flags: {}, except: [] },
]);
js("emitter volatile broadcast to a namespace", [
  "emitter",
  { type: 2, data: ["tick", 1700000000000], nsp: "/live" },
  { rooms: [], flags: { volatile: true }, except: ["muted"] },
]);

// Bytes other producers write (non-minimal forms, float32, non-string keys) and notepack 2.x's
// ext types: what notepack 3.0.1 reads from them.
wire("uint8 holding 5", "cc05");
wire("uint16 holding 5", "cd0005");
wire("uint64 max", "cfffffffffffffffff");
wire("uint64 2^53+1", "cf0020000000000001");
wire("int8 holding 127", "d07f");
wire("int64 holding -1", "d3ffffffffffffffff");
wire("int64 min", "d38000000000000000");
wire("float32 1.5", "ca3fc00000");
wire("float32 -0", "ca80000000");
wire("float32 smallest subnormal", "ca00000001");
wire("float32 NaN", "ca7fc00000");
wire("float32 infinity", "ca7f800000");
wire("float64 3.0", "cb4008000000000000");
wire("str8 holding a", "d90161");
wire("str16 holding a", "da000161");
wire("array16 holding 1", "dc000101");
wire("map16 holding a:1", "de0001a16101");
wire("map key nil", "81c0c3");
wire("map key false", "81c2c3");
wire("map key integer", "8101c3");
wire("map key negative integer", "81ffc3");
wire("map key uint64 max", "81cfffffffffffffffffc3");
wire("map key float 1.5", "81cb3ff8000000000000c3");
wire("map key float32", "81ca3fc00000c3");
wire("map key 1e20", `81cb${doubleBits(1e20)}c3`);
wire("map key 1e21", `81cb${doubleBits(1e21)}c3`);
wire("map key 1e-7", `81cb${doubleBits(1e-7)}c3`);
wire("map key 123e-20", `81cb${doubleBits(123e-20)}c3`);
wire("map key 0.000001", `81cb${doubleBits(0.000001)}c3`);
wire("map key NaN", "81cb7ff8000000000000c3");
wire("map key -Infinity", "81cbfff0000000000000c3");
wire("map key -0", "81cb8000000000000000c3");
wire("map key legacy undefined", "81d40000c3");
wire("map repeated key keeps the first place", "83a16101a16202a16103");
wire("map __proto__ is no property", "82a95f5f70726f746f5f5f81a17801a16101");
wire("map __proto__ with a scalar", "82a95f5f70726f746f5f5f01a16101");
wire("map integer-like keys", "82a16201a13102");
wire("legacy undefined at the top", "d40000");
wire("legacy undefined in an array", "92d40000c0");
wire("legacy undefined in a map", "83a16101a162d40000a16303");
wire("legacy undefined overrides a key", "82a16101a161d40000");
wire("legacy Date", "d7000000018bcfe56800");
wire("legacy Date negative", "d700ffffffffffffffff");
wire("legacy ArrayBuffer ext8", "c70300aabbcc");
wire("legacy ArrayBuffer ext16", "c8000200aabb");
wire("legacy ArrayBuffer ext32", "c90000000100aa");
wire("timestamp 32 max", "d6ffffffffff");
wire("timestamp 64 max nanoseconds", "d7ffffffffff00000000");
wire("timestamp 64 past 2106", "d7ff0000000300000000");
wire("timestamp 96 negative seconds", "c70cff00000000fffffffffffffc18");
wire("timestamp 96 out of the Date range", "c70cff000000000000ffff00000000");
wire("timestamp 96 ns rounding", "c70cff3b9ac9ff000000000000002a");
wire("ext16 of type -1 is not a timestamp", "c80004ffdeadbeef");
wire("fixext1 of type -1 is not a timestamp", "d4ff01");
wire("fixext2 type 1", "d501aabb");
wire("fixext2 type 0", "d500aabb");
wire("fixext4 type 0", "d600aabbccdd");
wire("fixext16 type -128", "d880000102030405060708090a0b0c0d0e0f");
wire("ext8 type 5", "c70305aabbcc");
wire("ext8 type 5 empty", "c70005");
wire("ext in an array", "92d50101021a");
wire("invalid utf-8: lone continuation", "a3613f80".replace("3f", "62"));
wire("invalid utf-8: c3 then ascii", "a3c32841");
wire("invalid utf-8: overlong", "a2c080");
wire("invalid utf-8: surrogate", "a3eda080");
wire("invalid utf-8: past U+10FFFF", "a4f4908080");
wire("invalid utf-8: cut 4-byte sequence", "a3f09f98");
wire("invalid utf-8: cut then ascii", "a4f09f9841");
wire("invalid utf-8: ff", "a1ff");
wire("invalid utf-8: e2 82 28", "a3e28228");
wire("invalid utf-8: e0 80 af", "a3e080af");
wire("invalid utf-8 in a key", "81a2c328c3");
wire("invalid utf-8 among valid sequences", "a7ffc3bfefbfbd41");
// What notepack refuses.
wire("refused: empty", "");
wire("refused: c1", "c1");
wire("refused: c1 in an array", "92c101");
wire("refused: trailing byte", "0101");
wire("refused: cut array", "91");
wire("refused: cut array16 count", "dc00");
wire("refused: cut str", "a36162");
wire("refused: cut str8 length", "d9");
wire("refused: cut bin", "c40501");
wire("refused: cut float64", "cb0000");
wire("refused: cut map value", "81a161");
wire("refused: cut fixext", "d4");
wire("refused: cut timestamp 32", "d6ff0000");
wire("refused: map32 count with nothing after it", "dfffffffff");

// ---- output ----
const fnv1a64 = (bytes) => {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h;
};
const cString = (s) => JSON.stringify(s); // ASCII names: a JSON string is a C++ string literal
const inlineLimit = 2048; // longer bytes are kept as their size, first bytes and hash
let out = `// Generated by capture.mjs from npm notepack.io ${notepackVersion} on Node.js ${process.version}.\n`;
out += "// Do not edit. { name, model (JSON, see capture.mjs), hex, size, head, FNV-1a 64, flags }:\n";
out += "// hex is empty over 2048 bytes, and head and hash (the first 32 bytes, of all bytes) stand for them.\n";
for (const v of vectors) {
  const inline = v.bytes.length <= inlineLimit;
  const hex = inline ? v.bytes.toString("hex") : "";
  const head = inline ? "" : v.bytes.subarray(0, 32).toString("hex");
  const hash = inline ? 0n : fnv1a64(v.bytes);
  const flags = [v.flags & ENCODES && "encodes", v.flags & DECODES && "decodes", v.flags & REFUSED && "refused"]
    .filter(Boolean).join(" | ");
  const modelJson = v.model === null && v.flags & REFUSED ? "" : JSON.stringify(v.model);
  if (modelJson.includes(")json\"")) throw new Error(v.name + ": model breaks the raw string");
  const hashLiteral = `0x${hash.toString(16)}ull`;
  const modelLiteral = `R"json(${modelJson})json"`;
  out += `{${cString(v.name)}, ${modelLiteral}, "${hex}", ${v.bytes.length}, "${head}", ${hashLiteral}, ${flags}},\n`;
}
const target = join(here, "notepack_vectors.inc");
writeFileSync(target, out);
console.log(`${vectors.length} vectors from notepack.io ${notepackVersion} -> ${target}`);

// The fuzz target's seed corpus: every vector up to 4 kB, one file each, named after it.
const corpus = join(here, "../../../fuzz/corpus/msgpack_decode_fuzz");
mkdirSync(corpus, { recursive: true });
for (const f of readdirSync(corpus)) rmSync(join(corpus, f));
const seedNames = new Set();
for (const v of vectors) {
  if (v.bytes.length === 0 || v.bytes.length > 4096) continue;
  const base = v.name.replace(/-/g, "minus ").replace(/[^A-Za-z0-9]+/g, "_").replace(/^_|_$/g, "");
  let name = base;
  for (let i = 2; seedNames.has(name); ++i) name = `${base}_${i}`;
  seedNames.add(name);
  writeFileSync(join(corpus, name), v.bytes);
}
console.log(`${seedNames.size} seeds -> ${corpus}`);
