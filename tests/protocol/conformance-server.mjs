// Starts apps/conformance-server (or $CONFORMANCE_SERVER) for the wire-level tests.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const binary = path.resolve(repoRoot, process.env.CONFORMANCE_SERVER || "build/apps/conformance-server/conformance-server");

// Starts the server on a free port with extra flags; resolves with its port, the Engine.IO
// base URLs (http and ws) and the child process.
export async function startServer(flags = []) {
  const child = spawn(binary, ["--port", "0", ...flags], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("server did not start")), 10_000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const m = /listening on [\d.]+:(\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    child.on("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { port, url: `http://127.0.0.1:${port}/engine.io/`, ws: `ws://127.0.0.1:${port}/engine.io/`, child };
}

// A ws client that buffers its messages so that none is missed between awaits. With
// answerPings it answers the server's Engine.IO pings itself (and counts them in ws.pongs), so
// that longer tests stay open; the other options go to the ws client.
export function openSocket(url, { answerPings = false, ...options } = {}) {
  const ws = new WebSocket(url, options);
  const queue = [];
  const waiters = [];
  ws.pongs = 0;  // Engine.IO pongs sent
  ws.on("message", (data, isBinary) => {
    const m = isBinary ? data : data.toString();
    if (answerPings && m === "2") { ws.send("3"); ws.pongs++; return; }
    if (waiters.length) waiters.shift()(m); else queue.push(m);
  });
  ws.on("error", () => {});
  ws.next = (ms = 2000) => queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no message")), ms);
    waiters.push((m) => { clearTimeout(t); resolve(m); });
  });
  ws.closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
  ws.opened = new Promise((resolve, reject) => { ws.on("open", resolve); ws.on("unexpected-response", (_, res) => reject(Object.assign(new Error("refused"), { status: res.statusCode }))); });
  return ws;
}
