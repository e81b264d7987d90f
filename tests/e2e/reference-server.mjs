// The e2e test server contract (CONTRACT.md beside this file) implemented with the
// npm `socket.io` package. The tests pass against it: that proves the tests.
//   node tests/e2e/reference-server.mjs --port 3000
import { createServer } from "node:http";
import { Server } from "socket.io";

function parsePort(argv) {
  const i = argv.indexOf("--port");
  if (i === -1) return 3000;
  const port = Number(argv[i + 1]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`bad --port: ${argv[i + 1]}`);
    process.exit(2);
  }
  return port;
}

const sortedRooms = (socket) => [...socket.rooms].sort();

// Builds the broadcast operator of an operator spec (CONTRACT.md, "Operator spec").
function buildOperator(socket, spec) {
  let op = spec.broadcast ? socket.broadcast : socket.nsp;
  if (spec.to) op = op.to(spec.to);
  if (spec.except) op = op.except(spec.except);
  if (spec.volatile) op = op.volatile;
  if (spec.local) op = op.local;
  return op;
}

async function runOperator(socket, spec) {
  const op = buildOperator(socket, spec);
  const args = spec.args ?? [];
  switch (spec.action) {
    case "emit":
      if (spec.timeout !== undefined) {
        return new Promise((resolve) => {
          op.timeout(spec.timeout).emit(spec.event, ...args, (err, responses) => {
            resolve({ timedOut: Boolean(err), responses });
          });
        });
      }
      if (spec.count !== undefined) {
        for (let i = 0; i < spec.count; i++) op.emit(spec.event, ...args, i);
      } else {
        op.emit(spec.event, ...args);
      }
      return { ok: true };
    case "fetchSockets": {
      const sockets = await op.fetchSockets();
      return {
        sockets: sockets
          .map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data }))
          .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
      };
    }
    case "socketsJoin":
      op.socketsJoin(spec.rooms);
      return { ok: true };
    case "socketsLeave":
      op.socketsLeave(spec.rooms);
      return { ok: true };
    case "disconnectSockets":
      op.disconnectSockets(Boolean(spec.close));
      return { ok: true };
    default:
      return { error: `unknown action ${spec.action}` };
  }
}

// A handler's acknowledgement callback, or a no-op when the client sent none: every
// command still runs, its result is dropped.
const ackOf = (ack) => (typeof ack === "function" ? ack : () => {});

function onConnection(io, socket) {
  const anyEvents = [];
  socket.onAny((event) => anyEvents.push(event));

  // Registers a command handler; a malformed command is logged, never fatal.
  const command = (event, fn) => {
    socket.on(event, async (...args) => {
      try {
        await fn(...args);
      } catch (err) {
        console.error(`${event}: ${err.stack ?? err}`);
      }
    });
  };

  command("echo", (...args) => {
    const ack = typeof args.at(-1) === "function" ? args.pop() : null;
    if (ack) ack(...args);
    else socket.emit("echo", ...args);
  });

  command("handshake", (ack) => {
    ackOf(ack)({
      id: socket.id,
      nsp: socket.nsp.name,
      auth: socket.handshake.auth,
      query: socket.handshake.query,
    });
  });

  command("join", (rooms, ack) => {
    socket.join(rooms);
    ackOf(ack)(sortedRooms(socket));
  });

  command("leave", (room, ack) => {
    socket.leave(room);
    ackOf(ack)(sortedRooms(socket));
  });

  command("set-data", (value, ack) => {
    socket.data = value;
    ackOf(ack)(true);
  });

  command("any-events", (ack) => ackOf(ack)(anyEvents));

  command("emit-with-ack", ({ event, args = [], timeout }, ack) => {
    socket.timeout(timeout).emit(event, ...args, (err, ...response) => {
      ackOf(ack)(err ? { timedOut: true, args: [] } : { timedOut: false, args: response });
    });
  });

  command("operator", async (spec, ack) => {
    ackOf(ack)(await runOperator(socket, spec));
  });

  command("server-disconnect", (opts) => {
    socket.disconnect(Boolean(opts?.close));
  });

  socket.on("disconnect", (reason) => {
    io.of("/").to("observers").emit("disconnected", {
      id: socket.id,
      nsp: socket.nsp.name,
      reason,
    });
  });
}

const port = parsePort(process.argv.slice(2));
const httpServer = createServer();
const io = new Server(httpServer, {
  path: "/socket.io/",
  pingInterval: 300,
  pingTimeout: 200,
  connectTimeout: 1000,
  maxHttpBufferSize: 100_000,
});

const privateNsp = io.of("/private");
privateNsp.use((socket, next) => {
  if (socket.handshake.auth?.token === "secret") return next();
  const err = new Error("unauthorized");
  err.data = { code: 401, reason: "bad token" };
  next(err);
});

for (const nsp of [io.of("/"), io.of("/custom"), io.of(/^\/dyn-\d+$/), privateNsp]) {
  nsp.on("connection", (socket) => onConnection(io, socket));
}

httpServer.listen(port, "127.0.0.1", () => {
  process.stdout.write(`listening on 127.0.0.1:${httpServer.address().port}\n`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    io.close();
    process.exit(0);
  });
}
