// The reference benchmark server: the handlers of apps/bench-server/main.cpp on the npm
// socket.io package (4.x), default namespace, no auth, default options.
//   node bench/reference-server.mjs --port 0      # prints "listening on 127.0.0.1:<port>"
// The benchmark runs `node` itself on this file (no wrapper), so the pid is the server's.
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

const httpServer = createServer();
const io = new Server(httpServer, { serveClient: false });

io.on("connection", (socket) => {
  // join (room, ack): joins the room, then acks.
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack();
  });
  // bcast ({ room, payload }): to(room).emit("msg", payload), the sender excluded.
  socket.on("bcast", (msg) => {
    if (msg && typeof msg.room === "string") socket.to(msg.room).emit("msg", msg.payload);
  });
  // echo (arg, ack): acks arg.
  socket.on("echo", (arg, ack) => {
    if (typeof ack === "function") ack(arg);
  });
});

httpServer.listen(parsePort(process.argv.slice(2)), "127.0.0.1", () => {
  console.log(`listening on 127.0.0.1:${httpServer.address().port}`);
});

const stop = () => {
  io.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
