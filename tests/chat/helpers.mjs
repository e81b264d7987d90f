// Helpers of the chat service's end-to-end tests: start the real `parley` binary on a free port
// with a temporary database and upload directory, make JWTs with node:crypto, connect real
// socket.io-client sockets, and wait for events with bounded timeouts.
import { spawn } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { once as onceEvent } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, afterEach, before } from "node:test";
import { io } from "socket.io-client";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export const SECRET = "chat-e2e-secret-0123456789abcdef";
export const WAIT_MS = 3_000;
// Per-test time limit.
export const T = { timeout: 20_000 };

export function parleyBin() {
  return path.resolve(repoRoot, process.env.PARLEY_BIN || "build/apps/parley/parley");
}

// ---------------------------------------------------------------------------------------------
// Tokens: HS256 JWTs made here, so that expiry, nbf, a wrong secret, missing claims and
// alg "none" can all be tested.
const b64url = (x) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");

export function makeToken(claims = {}, { secret = SECRET, alg = "HS256", ttl = 3600, header = {} } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iat: now, exp: now + ttl, ...claims };
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  const head = b64url({ alg, typ: "JWT", ...header });
  const body = b64url(payload);
  if (alg === "none") return `${head}.${body}.`;
  const sig = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

export function tokenFor(userId, extra = {}) {
  return makeToken({ userId, name: `User ${userId}`, ...extra });
}

let userCounter = 0;
// A user id no other test uses.
export function freshUser(prefix = "u") {
  return `${prefix}-${process.pid}-${userCounter++}-${randomUUID().slice(0, 6)}`;
}
export function freshRoom(prefix = "room") {
  return `${prefix}-${process.pid}-${userCounter++}-${randomUUID().slice(0, 6)}`;
}

// ---------------------------------------------------------------------------------------------
// The server.

// Starts parley; resolves once it logged its "listening" line. `flags` adds command-line flags.
export async function startParley({ flags = [], dir, env = {} } = {}) {
  const work = dir ?? mkdtempSync(path.join(tmpdir(), "parley-chat-"));
  const database = path.join(work, "parley.db");
  const uploads = path.join(work, "uploads");
  const args = [
    "--host", "127.0.0.1",
    "--port", "0",
    "--database", database,
    "--upload-dir", uploads,
    "--jwt-secret", SECRET,
    "--log-format", "text",
    ...flags,
  ];
  const child = spawn(parleyBin(), args, { cwd: work, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let output = "";
  let exited = false;
  const exitPromise = onceEvent(child, "exit");
  child.on("exit", () => (exited = true));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error("no 'parley listening on' line within 10 s")), 10_000);
    function fail(err) {
      clearTimeout(timer);
      child.kill("SIGKILL");
      err.message += `\ncommand: ${parleyBin()} ${args.join(" ")}\noutput:\n${output}`;
      reject(err);
    }
    const onData = (chunk) => {
      output += chunk;
      if (process.env.CHAT_VERBOSE) process.stderr.write(chunk);
      const m = /parley listening on http:\/\/127\.0\.0\.1:(\d+) \(storage: sqlite (.*)\)/.exec(output);
      if (m) {
        clearTimeout(timer);
        child.removeListener("exit", onExit);
        resolve(Number(m[1]));
      }
    };
    const onExit = (code, signal) => fail(new Error(`parley exited (${code ?? signal}) before listening`));
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", onExit);
    child.on("error", fail);
  });
  const server = {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    dir: work,
    database,
    uploads,
    output: () => output,
    alive: () => !exited,
    exited: exitPromise,
    async stop(signal = "SIGTERM") {
      if (exited) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exitPromise;
      clearTimeout(timer);
    },
    async kill() {
      await server.stop("SIGKILL");
    },
    cleanup() {
      if (!dir) rmSync(work, { recursive: true, force: true });
    },
  };
  return server;
}

// Clients opened during the current test; closed after it.
const opened = new Set();
export function closeAll() {
  for (const s of opened) s.disconnect();
  opened.clear();
}

// Starts one server for the calling test file (with these flags); closes clients after each
// test and stops the server at the end.
export function useParley(opts = {}) {
  const server = {};
  before(async () => Object.assign(server, await startParley(opts)));
  afterEach(() => {
    closeAll();
    if (server.alive && !server.alive()) throw new Error(`parley died; its output:\n${server.output()}`);
  });
  after(async () => {
    closeAll();
    await server.stop?.();
    server.cleanup?.();
  });
  return server;
}

// ---------------------------------------------------------------------------------------------
// Clients.

// A socket not yet connected. `token` goes in the auth payload unless auth is given.
export function socketFor(server, { token, auth, transports = ["websocket"], ...opts } = {}) {
  const s = io(server.url, {
    forceNew: true,
    reconnection: false,
    autoConnect: false,
    transports,
    auth: auth ?? (token !== undefined ? { token } : {}),
    ...opts,
  });
  opened.add(s);
  return s;
}

// A connected socket of user `userId` (a fresh one when omitted), with the `connected` payload.
export async function connectUser(server, userId = freshUser(), opts = {}) {
  const s = socketFor(server, { token: tokenFor(userId), ...opts });
  const connected = waitFor(s, "connected");
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connect within ${WAIT_MS} ms`)), WAIT_MS);
    s.once("connect", () => (clearTimeout(timer), resolve()));
    s.once("connect_error", (err) => (clearTimeout(timer), reject(err)));
    s.connect();
  });
  const [hello] = await connected;
  s.userId = userId;
  s.hello = hello;
  return s;
}

// The connect_error of a connection that must be refused.
export async function connectError(server, opts = {}) {
  const s = socketFor(server, opts);
  const [err] = await waitFor(s, "connect_error", WAIT_MS, () => s.connect());
  return err;
}

// Resolves with the arguments of the next `event` on `socket`; rejects after `ms`.
export function waitFor(socket, event, ms = WAIT_MS, start = () => {}) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, on);
      reject(new Error(`no "${event}" within ${ms} ms`));
    }, ms);
    function on(...args) {
      clearTimeout(timer);
      socket.off(event, on);
      resolve(args);
    }
    socket.on(event, on);
    start();
  });
}

// Collects every `event` on `socket` from now on: .list, and .waitCount(n).
export function collect(socket, event) {
  const list = [];
  const waiters = [];
  socket.on(event, (...args) => {
    list.push(args.length === 1 ? args[0] : args);
    for (const w of [...waiters]) if (list.length >= w.n) (waiters.splice(waiters.indexOf(w), 1), w.resolve(list));
  });
  return {
    list,
    waitCount(n, ms = WAIT_MS) {
      if (list.length >= n) return Promise.resolve(list);
      return new Promise((resolve, reject) => {
        const w = { n, resolve: (l) => (clearTimeout(timer), resolve(l)) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`only ${list.length} of ${n} "${event}" within ${ms} ms`));
        }, ms);
        waiters.push(w);
      });
    },
  };
}

// Emits with an ack and resolves with the ack's first argument (rejects after `ms`).
export async function request(socket, event, ...args) {
  return socket.timeout(WAIT_MS).emitWithAck(event, ...args);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Asserts that `event` does not arrive on `socket` within `ms`.
export async function expectNothing(socket, event, ms = 300) {
  let got;
  const on = (...a) => (got = a);
  socket.on(event, on);
  await sleep(ms);
  socket.off(event, on);
  if (got) throw new Error(`unexpected "${event}": ${JSON.stringify(got)}`);
}

export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

// ---------------------------------------------------------------------------------------------
// Files.

// Uploads a file as `userId` (POST /api/files, multipart): { status, json }.
export async function uploadFile(server, userId, { name = "file.txt", type = "text/plain", data = "file bytes" } = {}) {
  const form = new FormData();
  form.append("file", new Blob([data], { type }), name);
  const res = await fetch(`${server.url}/api/files`, {
    method: "POST", headers: { Authorization: `Bearer ${tokenFor(userId)}` }, body: form,
  });
  return { status: res.status, json: await res.json() };
}

// Downloads `url` (a file's /api/files/ID) as `userId`: { status, body }.
export async function downloadFile(server, url, userId) {
  const res = await fetch(`${server.url}${url}`, { headers: { Authorization: `Bearer ${tokenFor(userId)}` } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}
