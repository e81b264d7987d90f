// Messages no adapter sends, published on the cluster's channels by a raw Redis client, and
// malformed answers to a member's pending request. A Parley member must survive every one of
// them: it stays up, its clients stay connected, and the cluster keeps working. The reference
// (node-member.mjs on npm @socket.io/redis-adapter 8.3) does not; each case asserts what it does,
// observed and kept as documentation (README.md, "The reference and malformed messages"):
//  - "ignored":        nothing visible happens;
//  - "resubscribes":   the adapter's message handler throws inside node-redis, which takes it for
//                      a protocol error and reconnects the subscriber (what is published meanwhile
//                      is lost);
//  - "drops-clients":  the packet is relayed to the member's clients, whose socket.io-client
//                      closes the connection (parse error; a BINARY_EVENT announcing an
//                      attachment that never comes wedges the client's decoder until the next
//                      packet, which is why every case is followed by a valid broadcast);
//  - "crashes":        a TypeError in the adapter's async request handler is an unhandled
//                      rejection: the Node.js process exits with code 1.
// A first test sends well-formed raw requests (JSON and MessagePack) and checks that every
// member answers them: the channels and encodings used below are the right ones.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Emitter } from "@socket.io/redis-emitter";
import msgpack from "notepack.io"; // the MessagePack codec of @socket.io/redis-adapter
import {
  CHANNELS, SETUPS, T, WAIT_MS, call, exited, fresh, record, redisClient, sorted, until, useCluster, waitFor,
  waitSubscribed,
} from "./cluster.mjs";

const REQUESTS_TIMEOUT = 1_000;
const cluster = useCluster({ requestsTimeout: REQUESTS_TIMEOUT, heal: true });

const json = (value) => Buffer.from(JSON.stringify(value));
const bytes = (...b) => Buffer.from(b);
// MessagePack of n nested one-element arrays around nil.
const nested = (n) => Buffer.concat([Buffer.alloc(n, 0x91), bytes(0xc0)]);
const envelope = (packet, opts = { rooms: [], except: [], flags: {} }) => msgpack.encode(["forger", packet, opts]);
const event = (data, extra = {}) => ({ type: 2, data, nsp: "/", ...extra });

// [channel, what, message, what the reference does]. "room" is the channel of a room every client
// of the test is in.
const CASES = [
  ["broadcast", "not MessagePack (0xc1)", bytes(0xc1), "resubscribes"],
  ["broadcast", "an empty message", Buffer.alloc(0), "resubscribes"],
  ["broadcast", "truncated MessagePack", bytes(0x93, 0xa3, 0x61), "resubscribes"],
  ["broadcast", "nil", bytes(0xc0), "resubscribes"],
  ["broadcast", "an integer", msgpack.encode(5), "resubscribes"],
  ["broadcast", "JSON text", json({ uid: "x" }), "resubscribes"],
  ["broadcast", "trailing bytes after a valid envelope", Buffer.concat([envelope(event(["e"])), bytes(1, 2, 3)]), "resubscribes"],
  ["broadcast", "[uid, packet] without options", msgpack.encode(["forger", event(["e"])]), "resubscribes"],
  ["broadcast", "rooms an integer", envelope(event(["e"]), { rooms: 5, except: [] }), "resubscribes"],
  ["broadcast", "rooms a map", envelope(event(["e"]), { rooms: { a: 1 }, except: [] }), "resubscribes"],
  ["broadcast", "100 000 nested arrays", nested(100_000), "resubscribes"],
  ["broadcast", "an array32 announcing 4 294 967 295 elements", bytes(0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0), "resubscribes"],
  ["broadcast", "a str32 announcing 4 GB", bytes(0xdb, 0xff, 0xff, 0xff, 0xf0, 0x61), "resubscribes"],
  ["broadcast", "an extension type", bytes(0xd4, 0x01, 0x00), "resubscribes"],
  ["room", "not MessagePack, on a room's channel", bytes(0xc1), "resubscribes"],
  ["broadcast", "packet data not an array", envelope(event("e")), "drops-clients"],
  ["broadcast", "packet type 99", envelope({ type: 99, data: ["e"], nsp: "/" }), "drops-clients"],
  ["broadcast", "an EVENT without a name (data [])", envelope(event([])), "drops-clients"],
  ["broadcast", "a packet of 1 000 nested arrays", msgpack.encode(["forger", JSON.parse("[".repeat(1000) + "]".repeat(1000)), {}]), "drops-clients"],
  ["room", "packet data not an array, on a room's channel", envelope(event("e")), "drops-clients"],
  ["broadcast", "a placeholder without its attachment", envelope(event(["e", { _placeholder: true, num: 9 }])), "ignored"],
  ["broadcast", "a BINARY_EVENT without its attachment", envelope({ type: 5, data: ["e", { _placeholder: true, num: 0 }], nsp: "/", attachments: 1 }), "drops-clients"],
  ["broadcast", "an event name that is a number", envelope(event([5, 1])), "ignored"],
  ["broadcast", "uid an integer", msgpack.encode([5, event(["e"]), { rooms: [], except: [] }]), "ignored"],
  ["broadcast", "rooms that are not strings", envelope(event(["e"]), { rooms: [1, null], except: [2] }), "ignored"],
  ["broadcast", "another namespace", envelope({ ...event(["e"]), nsp: "/elsewhere" }), "ignored"],
  ["broadcast", "[uid] alone", msgpack.encode(["forger"]), "ignored"],
  ["request", "not JSON after '{'", Buffer.from("{nope"), "ignored"],
  ["request", "not MessagePack (0xc1)", bytes(0xc1), "ignored"],
  ["request", "an empty message", Buffer.alloc(0), "ignored"],
  ["request", "{}", json({}), "ignored"],
  ["request", "a JSON array", Buffer.from("[1,2]"), "ignored"],
  ["request", "type 99", json({ type: 99 }), "ignored"],
  ["request", "type a string", json({ type: "6", data: ["ping-servers"] }), "ignored"],
  ["request", "requestId an integer", json({ type: 1, requestId: 5 }), "ignored"],
  ["request", "REMOTE_JOIN of an unknown socket", json({ type: 2, sid: "nobody", room: "x" }), "ignored"],
  ["request", "SERVER_SIDE_EMIT without data", json({ type: 6 }), "ignored"],
  ["request", "100 000 nested arrays in MessagePack", Buffer.concat([bytes(0x82), msgpack.encode("type"), msgpack.encode(6), msgpack.encode("data"), nested(100_000)]), "ignored"],
  ["request", "MessagePack nil", bytes(0xc0), "crashes"],
  ["request", "SOCKETS with rooms an integer", json({ type: 0, requestId: "forged", rooms: 5 }), "crashes"],
  ["request", "REMOTE_JOIN with opts.rooms an integer", json({ type: 2, opts: { rooms: 5 }, rooms: ["x"] }), "crashes"],
  ["request", "REMOTE_LEAVE with rooms an integer", json({ type: 3, opts: { rooms: [], except: [] }, rooms: 5 }), "crashes"],
  ["request", "REMOTE_FETCH without opts", json({ type: 5, requestId: "forged" }), "crashes"],
  ["request", "REMOTE_FETCH with except an integer", json({ type: 5, requestId: "forged", opts: { rooms: "abc", except: 5 } }), "crashes"],
  ["request", "SERVER_SIDE_EMIT with data an integer", json({ type: 6, data: 5 }), "crashes"],
  ["request", "SERVER_SIDE_EMIT with an ack and data an integer", json({ type: 6, requestId: "forged", data: 5 }), "crashes"],
  ["request", "SERVER_SIDE_EMIT of 100 000 nested arrays", Buffer.from(`{"type":6,"data":["ping-servers",${"[".repeat(100_000)}${"]".repeat(100_000)}]}`), "crashes"],
  ["request", "BROADCAST without opts", json({ type: 7, requestId: "forged" }), "crashes"],
  ["request", "BROADCAST without packet", json({ type: 7, requestId: "forged", opts: { rooms: [], except: [] } }), "crashes"],
  ["request", "BROADCAST of a packet whose data is not an array", json({ type: 7, requestId: "forged", opts: { rooms: [], except: [] }, packet: { type: 2, data: "x" } }), "drops-clients"],
  ["response", "not JSON after '{'", Buffer.from("{nope"), "ignored"],
  ["response", "not MessagePack (0xc1)", bytes(0xc1), "ignored"],
  ["response", "{}", json({}), "ignored"],
  ["response", "an unknown requestId", json({ requestId: "nobody", sockets: [] }), "ignored"],
  ["response", "requestId an integer", json({ requestId: 5, type: 8 }), "ignored"],
  ["response", "a MessagePack integer", msgpack.encode(7), "ignored"],
  ["response", "100 000 nested arrays", nested(100_000), "ignored"],
  ["response", "MessagePack nil", bytes(0xc0), "crashes"],
];

const channelOf = (kind, room) => ({
  broadcast: CHANNELS.broadcast,
  room: CHANNELS.room(room),
  request: CHANNELS.request,
  response: CHANNELS.response,
})[kind];

// One client per member (member i over SETUPS[i % 3]), all in a fresh room.
async function clientsInRoom() {
  const room = fresh();
  const clients = await Promise.all(cluster.members.map((m, i) => cluster.connect(i, SETUPS[i % SETUPS.length], `m${i}`)));
  await Promise.all(clients.map((c) => call(c, "join", room)));
  return { room, clients };
}

// The cluster works: an emitter's broadcast reaches every client, and every member counts them.
async function assertWorking(room, clients) {
  const ev = fresh("after");
  const got = Promise.all(clients.map((c) => waitFor(c, ev)));
  new Emitter(cluster.control).emit(ev, "still here");
  await got;
  for (const src of clients) {
    await until(async () => (await call(src, "count", room)) === clients.length,
      `a count of ${clients.length} from ${src.member}`);
  }
}

// Decodes a request or response as the reference does: JSON when it starts with "{".
const decode = (buf) => (buf[0] === 0x7b ? JSON.parse(buf.toString()) : msgpack.decode(buf));

test("well-formed raw requests, in JSON and in MessagePack, are answered by every member", T, async () => {
  const { room, clients } = await clientsInRoom();
  const observer = await redisClient(cluster.redis.url, "tests-observer");
  try {
    const responses = [];
    // A pattern subscription: it is not counted by PUBSUB NUMSUB, so the members do not wait
    // for an answer from it.
    await observer.pSubscribe(`${CHANNELS.response}*`, (msg) => responses.push(decode(msg)), true);
    const n = cluster.members.length;
    for (const encode of [(r) => json(r), (r) => msgpack.encode(r)]) {
      const answers = async (request) => {
        await cluster.control.publish(CHANNELS.request, encode(request));
        await until(() => responses.filter((r) => r.requestId === request.requestId).length === n,
          `${n} answers to ${JSON.stringify(request)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
        return responses.filter((r) => r.requestId === request.requestId);
      };
      const sockets = await answers({ uid: "tests", requestId: fresh("raw"), type: 0, rooms: [room] });
      assert.deepEqual(sorted(sockets.flatMap((r) => r.sockets)), sorted(clients.map((c) => c.id)));
      const rooms = await answers({ uid: "tests", requestId: fresh("raw"), type: 1 });
      for (const r of rooms) assert.ok(r.rooms.includes(room), JSON.stringify(r));
      const fetched = (await answers({ uid: "tests", requestId: fresh("raw"), type: 5, opts: { rooms: [room], except: [] } }))
        .flatMap((r) => r.sockets);
      assert.deepEqual(sorted(fetched.map((s) => s.id)), sorted(clients.map((c) => c.id)));
      for (const s of fetched) {
        const c = clients.find((x) => x.id === s.id);
        assert.deepEqual(sorted(s.rooms), sorted([s.id, room]));
        assert.deepEqual(s.data, { member: c.member.id });
        assert.equal(s.handshake.query.client, c.name);
      }
    }
  } finally {
    observer.destroy();
  }
});

describe("malformed messages on the channels", () => {
  for (const [kind, what, message, reference] of CASES) {
    test(`${kind} channel: ${what} (reference: ${reference})`, T, async () => {
      const { room, clients } = await clientsInRoom();
      const dropped = clients.map((c) => record(c, "disconnect"));
      const expected = [];
      for (const [i, m] of cluster.members.entries()) {
        if (m.kind !== "node") continue;
        if (reference === "crashes") {
          m.expectExit = true;
          expected.push(exited(m).then(({ code }) => assert.equal(code, 1, `${m} exited with ${code}`)));
        } else if (reference === "resubscribes") {
          expected.push(m.stderrMatch(/redis subscriber: connected again/));
        } else if (reference === "drops-clients") {
          expected.push(waitFor(clients[i], "disconnect"));
        }
      }
      await cluster.control.publish(channelOf(kind, room), message);
      new Emitter(cluster.control).emit(fresh("nudge")); // a valid packet after it, for every client
      await Promise.all(expected);

      for (const [i, m] of cluster.members.entries()) {
        if (m.kind !== "parley") continue;
        assert.ok(m.alive(), `${m} died: ${JSON.stringify(m.proc.exited)}\n${m.stderr()}`);
        assert.deepEqual(dropped[i], [], `a client of ${m} was disconnected`);
      }
      // Whoever survived works on: after a resubscription, once Redis counts it again.
      await waitSubscribed(cluster.control, cluster.members.filter((m) => m.alive()).length);
      const kept = clients.filter((c, i) => c.member.alive() && dropped[i].length === 0);
      await assertWorking(room, kept);
    });
  }
});

// Forged answers to a member's pending request, published on the response channel as soon as
// the request shows up: [command, argument, what, forged answer, what the reference answers (and
// a check of it)]. The forged answer races the members' real ones: when it comes last the
// reference has completed and ignores it, so its answer is either that or the right one. A Parley
// member must answer in time and go on answering right.
const isError = (a) => typeof a?.error === "string";
const FORGED = [
  ["count", "room", "sockets an integer", (r) => ({ requestId: r.requestId, sockets: 5 }),
    "an error at the requests timeout or a short count (it counts as a member's answer)",
    (a) => isError(a) || typeof a === "number"],
  ["fetch", "room", "sockets that are not sockets", (r) => ({ requestId: r.requestId, sockets: [5, null, "x"] }),
    "an error at once", isError],
  ["fetch", "room", "a socket with rooms an integer", (r) => ({ requestId: r.requestId, sockets: [{ id: "fake", handshake: null, rooms: 5, data: 1 }] }),
    "an error at once", isError],
  ["all-rooms", undefined, "rooms an integer", (r) => ({ requestId: r.requestId, rooms: 5 }),
    "an error at the requests timeout, or rooms missing (it counts as a member's answer)",
    (a) => isError(a) || Array.isArray(a)],
  ["all-rooms", undefined, "rooms that are not strings", (r) => ({ requestId: r.requestId, rooms: [5, null, { a: 1 }] }),
    "the junk among the rooms", (a) => Array.isArray(a) && a.includes(null)],
  ["server-emit", 1, "an answer without data", (r) => ({ type: 6, requestId: r.requestId }),
    "null among the responses", (a) => a.error === null && a.responses.includes(null)],
  ["bcast-ack", "ack", "a client count that is a string", (r) => ({ type: 8, requestId: r.requestId, clientCount: "many" }),
    "an error at the broadcast's timeout", isError],
  ["bcast-ack", "ack", "a client count of a billion", (r) => ({ type: 8, requestId: r.requestId, clientCount: 1e9 }),
    "an error at the broadcast's timeout", isError],
  ["bcast-ack", "ack", "a negative client count", (r) => ({ type: 8, requestId: r.requestId, clientCount: -5 }),
    "an error at the broadcast's timeout", isError],
  ["bcast-ack", "ack", "an acknowledgement without packet", (r) => ({ type: 9, requestId: r.requestId }),
    "null among the responses", (a) => a.error === null && a.responses.includes(null)],
];
// The answer without forgery.
function isRight(command, a, room, clients, src) {
  switch (command) {
    case "count": return a === clients.length;
    case "fetch": return Array.isArray(a) && a.length === clients.length && a.every((s) => typeof s.id === "string");
    case "all-rooms": return Array.isArray(a) && a.includes(room) && a.every((r) => typeof r === "string");
    case "server-emit":
      return a.error === null && JSON.stringify(sorted(a.responses)) ===
        JSON.stringify(sorted(clients.filter((c) => c !== src).map((c) => c.member.id)));
    case "bcast-ack":
      return a.error === null && JSON.stringify(sorted(a.responses)) === JSON.stringify(sorted(clients.map((c) => c.name)));
    default: return false;
  }
}
const REQUEST_TYPE = { count: 5, fetch: 5, "all-rooms": 1, "server-emit": 6, "bcast-ack": 7 };

describe("forged answers to a pending request", () => {
  for (const [command, arg, what, forge, reference, referenceCheck] of FORGED) {
    test(`${command}: ${what} (reference: ${reference})`, T, async () => {
      const { room, clients } = await clientsInRoom();
      for (const c of clients) c.on("ask", (_payload, ack) => ack(c.name));
      const observer = await redisClient(cluster.redis.url, "tests-observer");
      try {
        // Every request (with a requestId) the members publish is counted; the first one while
        // `armed` gets the forged answer. Each command and each count below publishes exactly one
        // request, and the test waits until the observer has seen it before going on, so a late
        // request is never taken for the next one.
        let seen = 0;
        let armed = false;
        let forgedFor = null;
        await observer.pSubscribe(`${CHANNELS.request}*`, (msg) => {
          let request;
          try {
            request = decode(msg);
          } catch {
            return;
          }
          if (request?.requestId === undefined) return;
          seen++;
          if (!armed || request.type !== REQUEST_TYPE[command]) return;
          armed = false;
          forgedFor = request.requestId;
          const answer = forge(request);
          cluster.control.publish(CHANNELS.response, request.type === 7 ? msgpack.encode(answer) : json(answer));
        }, true);
        const synced = (n, what) => until(() => seen === n, `${n} requests seen (${what}), got ${seen}`);
        for (const src of clients) {
          forgedFor = null;
          armed = true;
          const before = seen;
          const argument = arg === "room" ? room : arg === "ack" ? { room, event: "ask", payload: null, timeout: 800 } : arg;
          const started = Date.now();
          const answer = await call(src, command, argument, REQUESTS_TIMEOUT + 3_000);
          assert.ok(Date.now() - started < REQUESTS_TIMEOUT + 1_500, `${src.member} answered after ${Date.now() - started} ms`);
          await synced(before + 1, `${command} of ${src.member}`);
          assert.notEqual(forgedFor, null, `no answer was forged to the request of ${src.member}`);
          assert.ok(src.member.alive(), `${src.member} died`);
          if (src.member.kind === "node") {
            assert.ok(referenceCheck(answer) || isRight(command, answer, room, clients, src),
              `${src.member} answered ${JSON.stringify(answer)}`);
          }
          // The next request of that member is answered right.
          assert.equal(await call(src, "count", room), clients.length, `count from ${src.member} after a forged answer`);
          await synced(before + 2, `count of ${src.member}`);
        }
      } finally {
        observer.destroy();
      }
      for (const m of cluster.members) assert.ok(m.alive(), `${m} died`);
      for (const c of clients) assert.ok(c.connected, `${c.name} was disconnected`);
    });
  }
});
