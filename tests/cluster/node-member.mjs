// A cluster member on npm socket.io 4.8 + @socket.io/redis-adapter 8.3 + redis 5: the reference
// that apps/cluster-member (Parley, C++) must match. The behaviour is issue 10's
// `apps/cluster-member` table, plus one addition for the tests (README.md beside this file):
// a `ping-servers` server-side event is also emitted to this member's own clients as
// `server-ping` (payload, id), so that a test sees an emitter's serverSideEmit arrive.
//   node tests/cluster/node-member.mjs --port PORT --redis redis://127.0.0.1:RPORT [--requests-timeout MS]
// Prints `listening on 127.0.0.1:PORT` once it accepts connections (its Redis subscriptions may
// still be under way: the tests wait for them through PUBSUB NUMSUB). Stops on SIGTERM / SIGINT.
import { createServer } from "node:http";
import { Server } from "socket.io";
import {
  ClientClosedError, ClientOfflineError, ConnectionTimeoutError, DisconnectsClientError,
  SocketClosedUnexpectedlyError, createClient,
} from "redis";
import { createAdapter } from "@socket.io/redis-adapter";

function usage(message) {
  console.error(`node-member: ${message}`);
  console.error("usage: node-member.mjs --port PORT --redis redis://HOST:PORT [--requests-timeout MS]");
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { port: null, redis: null, requestsTimeout: 5000 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) usage(`${flag} needs a value`);
    if (flag === "--port") opts.port = Number(value);
    else if (flag === "--redis") opts.redis = value;
    else if (flag === "--requests-timeout") opts.requestsTimeout = Number(value);
    else usage(`unknown option ${flag}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) usage("bad or missing --port");
  if (!opts.redis) usage("missing --redis");
  if (!Number.isInteger(opts.requestsTimeout) || opts.requestsTimeout <= 0) usage("bad --requests-timeout");
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

// One line per connection transition of each Redis client (not one per reconnection attempt).
function watch(client, name) {
  let state = "up";
  client.on("error", (err) => {
    if (state === "down") return;
    state = "down";
    console.error(`node-member: redis ${name}: ${err.message || err}`);
  });
  client.on("ready", () => {
    if (state === "up") return;
    state = "up";
    console.error(`node-member: redis ${name}: connected again`);
  });
}

// The npm adapter publishes without handling the promise: a publication in flight when Redis goes
// away rejects with nobody to catch it, which kills a Node.js process by default
// (--unhandled-rejections=throw). A deployment that is to survive a Redis restart must catch
// those; so does this member, for the Redis connection's errors only. Any other unhandled
// rejection (a malformed message on the request channel: malformed.test.mjs) still kills it.
const REDIS_CONNECTION_ERRORS = [ClientClosedError, ClientOfflineError, ConnectionTimeoutError,
  DisconnectsClientError, SocketClosedUnexpectedlyError];
process.on("unhandledRejection", (err) => {
  const lostRedis = REDIS_CONNECTION_ERRORS.some((type) => err instanceof type) ||
    (["ECONNRESET", "ECONNREFUSED", "EPIPE"].includes(err?.code) && err?.syscall);
  if (!lostRedis) throw err;
  console.error(`node-member: a Redis command failed: ${err.message}`);
});

const pubClient = createClient({ url: opts.redis });
const subClient = pubClient.duplicate();
watch(pubClient, "publisher");
watch(subClient, "subscriber");
try {
  await Promise.all([pubClient.connect(), subClient.connect()]);
} catch (err) {
  console.error(`node-member: cannot connect to ${opts.redis}: ${err.message}`);
  process.exit(1);
}

const httpServer = createServer();
const io = new Server(httpServer, {
  adapter: createAdapter(pubClient, subClient, { requestsTimeout: opts.requestsTimeout }),
});

// `room` in a command: a room or socket id, an array of them, or null for everyone.
const target = (room) => (room === null || room === undefined ? io.of("/") : io.in(room));
const errorOf = (err) => (err ? String(err.message ?? err) : null);
const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

let id; // "member-PORT", once listening

function onConnection(socket) {
  socket.data = { member: id };

  // Every command acks (when the client sent an ack); a malformed one is logged, never fatal.
  const command = (event, fn) => {
    socket.on(event, async (...args) => {
      const ack = typeof args.at(-1) === "function" ? args.pop() : () => {};
      try {
        ack(await fn(...args));
      } catch (err) {
        console.error(`node-member: ${event}: ${err.stack ?? err}`);
      }
    });
  };

  command("whoami", () => id);

  command("join", (room) => {
    socket.join(room);
    return true;
  });

  command("leave", (room) => {
    for (const r of Array.isArray(room) ? room : [room]) socket.leave(r);
    return true;
  });

  command("bcast", ({ room, event, payload, except, volatile, local }) => {
    let op = target(room);
    if (except !== undefined && except !== null) op = op.except(except);
    if (volatile) op = op.volatile;
    if (local) op = op.local;
    op.emit(event ?? "news", payload);
    return true;
  });

  command("bcast-except", ({ room, except, event, payload }) => {
    target(room).except(except).emit(event ?? "news", payload);
    return true;
  });

  command("bcast-ack", ({ room, event, payload, timeout }) =>
    new Promise((resolve) => {
      target(room)
        .timeout(timeout)
        .emit(event ?? "news", payload, (err, responses) => resolve({ error: errorOf(err), responses }));
    }));

  command("count", async (room) => {
    try {
      return (await target(room).fetchSockets()).length;
    } catch (err) {
      return { error: errorOf(err) };
    }
  });

  command("fetch", async (room) => {
    try {
      const sockets = await target(room).fetchSockets();
      return sockets
        .map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data, query: s.handshake.query.client }))
        .sort(byId);
    } catch (err) {
      return { error: errorOf(err) };
    }
  });

  command("all-rooms", async () => {
    try {
      return [...(await io.of("/").adapter.allRooms())].sort();
    } catch (err) {
      return { error: errorOf(err) };
    }
  });

  command("server-emit", (payload) =>
    new Promise((resolve) => {
      io.serverSideEmit("ping-servers", payload, (err, responses) => resolve({ error: errorOf(err), responses }));
    }));

  command("sockets-join", ({ from, to }) => {
    target(from).socketsJoin(to);
    return true;
  });

  command("sockets-leave", ({ from, to }) => {
    target(from).socketsLeave(to);
    return true;
  });

  command("kick", (room) => {
    target(room).disconnectSockets();
    return true;
  });
}

io.on("connection", onConnection);

// From another member (or an emitter): answered with this member's id when an ack is asked
// for, and shown to this member's clients (the tests' addition).
io.on("ping-servers", (...args) => {
  const ack = typeof args.at(-1) === "function" ? args.pop() : null;
  io.local.emit("server-ping", args[0] ?? null, id);
  ack?.(id);
});

httpServer.on("error", (err) => {
  console.error(`node-member: ${err.message}`);
  process.exit(1);
});
httpServer.listen(opts.port, "127.0.0.1", () => {
  const { port } = httpServer.address();
  id = `member-${port}`;
  process.stdout.write(`listening on 127.0.0.1:${port}\n`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    io.close();
    process.exit(0);
  });
}
