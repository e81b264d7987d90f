// Shared helpers of the e2e tests: start the server under test, connect clients over
// each transport setup, wait for events with bounded timeouts, clean up after each test.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { once as onceEvent } from "node:events";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, afterEach, before } from "node:test";
import { io, Manager } from "socket.io-client";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

// Every scenario runs over these three setups.
export const SETUPS = [
  { name: "websocket", opts: { transports: ["websocket"] } },
  { name: "polling", opts: { transports: ["polling"] } },
  { name: "polling+upgrade", opts: {} },
];

// Per-test time limit: every wait below is bounded by much less.
export const T = { timeout: 10_000 };
// How long to wait for something that should happen "now".
export const WAIT_MS = 2_000;

// Server options of CONTRACT.md that the tests rely on.
export const PING_INTERVAL_MS = 300;
export const PING_TIMEOUT_MS = 200;
export const CONNECT_TIMEOUT_MS = 1_000;
export const MAX_HTTP_BUFFER_SIZE = 100_000;

function serverCommand() {
  const which = process.env.E2E_SERVER || "build/apps/e2e-server/e2e-server";
  if (which === "reference") {
    return [process.execPath, [path.join(repoRoot, "tests/e2e/reference-server.mjs")]];
  }
  return [path.resolve(repoRoot, which), []];
}

async function freePort() {
  const srv = createServer();
  srv.listen(0, "127.0.0.1");
  await onceEvent(srv, "listening");
  const { port } = srv.address();
  srv.close();
  await onceEvent(srv, "close");
  return port;
}

async function startServer() {
  const [cmd, args] = serverCommand();
  const port = await freePort();
  const child = spawn(cmd, [...args, "--port", String(port)], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
    if (process.env.E2E_VERBOSE) process.stderr.write(chunk);
    if (stderr.length > 64_000) stderr = stderr.slice(-32_000);
  });
  child.stdout.setEncoding("utf8");
  const actualPort = await new Promise((resolve, reject) => {
    let stdout = "";
    const timer = setTimeout(() => fail(new Error("no 'listening on' line within 10 s")), 10_000);
    function fail(err) {
      clearTimeout(timer);
      child.kill("SIGKILL");
      err.message += `\ncommand: ${cmd} ${[...args, "--port", port].join(" ")}` +
        `\nstdout: ${stdout}\nstderr: ${stderr}`;
      reject(err);
    }
    child.on("error", fail);
    child.on("exit", (code, signal) => fail(new Error(`server exited (${code ?? signal}) before listening`)));
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      const m = /^listening on 127\.0\.0\.1:(\d+)$/m.exec(stdout);
      if (m) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        child.removeAllListeners("error");
        resolve(Number(m[1]));
      }
    });
  });
  child.stdout.on("data", (chunk) => {
    if (process.env.E2E_VERBOSE) process.stdout.write(chunk);
  });
  let exited = false;
  child.on("exit", () => (exited = true));
  return {
    url: `http://127.0.0.1:${actualPort}`,
    port: actualPort,
    child,
    stderr: () => stderr,
    alive: () => !exited,
    async stop() {
      if (exited) return;
      const gone = onceEvent(child, "exit");
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

// Clients and managers opened during the current test; closed after it.
const opened = new Set();
function track(x) {
  opened.add(x);
  return x;
}
function closeAll() {
  for (const x of opened) x.disconnect();
  opened.clear();
}

// Starts the server under test once for the calling test file, closes the clients
// after each test and stops the server at the end. Returns { url, ... } once started.
export function useServer() {
  const server = {};
  before(async () => Object.assign(server, await startServer()));
  afterEach(() => {
    closeAll();
    if (server.alive && !server.alive()) {
      throw new Error(`the server under test died; its stderr:\n${server.stderr()}`);
    }
  });
  after(async () => {
    closeAll();
    await server.stop?.();
  });
  return server;
}

let nspCounter = Math.floor(Math.random() * 1e6);
// A dynamic namespace (`^/dyn-\d+$`) no other test uses: an empty namespace.
export function freshNsp() {
  return `/dyn-${nspCounter++}`;
}

let roomCounter = 0;
// A room name no other test uses.
export function freshRoom(prefix = "room") {
  return `${prefix}-${process.pid}-${roomCounter++}`;
}

function assertAlive(server) {
  if (server.alive && !server.alive()) {
    throw new Error(`the server under test has exited; its stderr:\n${server.stderr()}`);
  }
}

function clientOptions(setup, opts) {
  return { forceNew: true, reconnection: false, ...setup.opts, ...opts };
}

// A socket not yet connected (autoConnect off), closed after the test.
export function socketFor(server, setup, nsp = "/", opts = {}) {
  assertAlive(server);
  return track(io(server.url + nsp, { ...clientOptions(setup, opts), autoConnect: false }));
}

// Resolves with the socket once it is connected; rejects on connect_error.
export function waitConnected(socket, ms = WAIT_MS) {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve(socket);
    const timer = setTimeout(() => done(new Error(`no connect within ${ms} ms`)), ms);
    const onConnect = () => done(null);
    const onError = (err) => done(err);
    function done(err) {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
      if (err) reject(err);
      else resolve(socket);
    }
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
    if (!socket.active) socket.connect();
  });
}

// A connected socket on its own connection (forceNew), closed after the test.
export async function connect(server, setup, nsp = "/", opts = {}) {
  return waitConnected(socketFor(server, setup, nsp, opts));
}

// The error of a connection attempt that must fail.
export async function connectError(server, setup, nsp = "/", opts = {}) {
  const socket = socketFor(server, setup, nsp, opts);
  const [err] = await waitFor(socket, "connect_error", WAIT_MS, () => socket.connect());
  return err;
}

// A Manager (one Engine.IO connection) for multiplexing several namespaces.
export function manager(server, setup, opts = {}) {
  assertAlive(server);
  return track(new Manager(server.url, { ...clientOptions(setup, opts), autoConnect: false }));
}

// Resolves with the arguments of the next `event` on `emitter`, within `ms`.
// `trigger` (optional) runs after the listener is in place.
export function waitFor(emitter, event, ms = WAIT_MS, trigger) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no '${event}' within ${ms} ms`));
    }, ms);
    function listener(...args) {
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args);
    }
    emitter.on(event, listener);
    trigger?.();
  });
}

// Asserts that no `event` arrives on `emitter` within `ms`.
export function expectNone(emitter, event, ms = 300) {
  return new Promise((resolve, reject) => {
    const listener = (...args) => {
      clearTimeout(timer);
      emitter.off(event, listener);
      reject(new Error(`unexpected '${event}': ${JSON.stringify(args)}`));
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      resolve();
    }, ms);
    emitter.on(event, listener);
  });
}

// Emits `event` with `args` and resolves with the server's ack argument.
export function call(socket, event, ...args) {
  return socket.timeout(WAIT_MS).emitWithAck(event, ...args);
}

// Records every `event` received by `socket` (arrays of arguments).
export function record(socket, event) {
  const received = [];
  socket.on(event, (...args) => received.push(args));
  return received;
}

// Resolves once `predicate()` holds, polling every 10 ms; rejects after `ms`.
export async function until(predicate, what, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// An observer socket in `/`, in room `observers`: `next(id)` resolves with the
// `disconnected` report ({ id, nsp, reason }) of the socket with that id.
export async function observer(server, setup) {
  const socket = await connect(server, setup, "/");
  await call(socket, "join", "observers");
  const reports = [];
  const waiters = [];
  socket.on("disconnected", (report) => {
    reports.push(report);
    for (const w of [...waiters]) w();
  });
  return {
    socket,
    next(id, ms = WAIT_MS) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const r = reports.find((x) => x.id === id);
          if (!r) return false;
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(check), 1);
          resolve(r);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`no 'disconnected' report for ${id} within ${ms} ms; got ${JSON.stringify(reports)}`));
        }, ms);
        waiters.push(check);
        check();
      });
    },
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
