// The cluster tests' harness: a real redis-server per test file (free port, no persistence), the
// cluster members as child processes (tests/cluster/node-member.mjs on npm socket.io and the
// Redis adapter, or apps/cluster-member, Parley's), real socket.io-client sockets over the three
// transport setups, bounded waits. README.md beside this file says how members are chosen.
import { spawn } from "node:child_process";
import { once as onceEvent } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect as netConnect, createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, afterEach, before, beforeEach } from "node:test";
import { createClient } from "redis";
import { io } from "socket.io-client";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../..");
const verbose = Boolean(process.env.CLUSTER_VERBOSE);

// Every scenario runs over these three setups (as in tests/e2e/).
export const SETUPS = [
  { name: "websocket", opts: { transports: ["websocket"] } },
  { name: "polling", opts: { transports: ["polling"] } },
  { name: "polling+upgrade", opts: {} },
];

// Per-test time limit: every wait below is bounded by much less.
export const T = { timeout: 30_000 };
// How long to wait for something that should happen "now".
export const WAIT_MS = 3_000;

// The channels of namespace "/" with the default key (the wire format of @socket.io/redis-adapter).
export const CHANNELS = {
  broadcast: "socket.io#/#",
  room: (room) => `socket.io#/#${room}#`,
  request: "socket.io-request#/#",
  response: "socket.io-response#/#",
};

// ---- which members ---------------------------------------------------------------------------

export function parleyMemberBin() {
  return path.resolve(repoRoot, process.env.CLUSTER_MEMBER_BIN || "build/apps/cluster-member/cluster-member");
}

// CLUSTER_MEMBERS=node,parley,node: the kinds of the members of every cluster, in order. Unset:
// parley,node,parley when the Parley member is built, node,node,node otherwise.
export function memberKinds() {
  const spec = process.env.CLUSTER_MEMBERS;
  if (!spec) return existsSync(parleyMemberBin()) ? ["parley", "node", "parley"] : ["node", "node", "node"];
  const kinds = spec.split(",").map((s) => s.trim()).filter(Boolean);
  for (const k of kinds) {
    if (k !== "node" && k !== "parley") throw new Error(`CLUSTER_MEMBERS: unknown member "${k}" (node or parley)`);
  }
  if (kinds.length < 2) throw new Error(`CLUSTER_MEMBERS: a cluster needs two members at least, got "${spec}"`);
  if (kinds.includes("parley") && !existsSync(parleyMemberBin())) {
    throw new Error(`CLUSTER_MEMBERS=${spec}: no Parley member at ${parleyMemberBin()} (build cluster-member)`);
  }
  return kinds;
}

// ---- processes -----------------------------------------------------------------------------------

// Every process started here dies with the test process, whatever happens to it.
const children = new Set();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.once(signal, () => {
    for (const child of children) child.kill("SIGKILL");
    process.kill(process.pid, signal);
  });
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

// A child process with its output kept (the last 64 kB of stderr) and its exit recorded.
function launch(cmd, args, name) {
  const child = spawn(cmd, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  const proc = { child, name, stdout: "", stderr: "", exited: null };
  proc.exit = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      children.delete(child);
      proc.exited = { code, signal };
      resolve(proc.exited);
    });
    child.on("error", (err) => {
      children.delete(child);
      proc.exited = { code: null, signal: null, error: err };
      resolve(proc.exited);
    });
  });
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (chunk) => {
    proc.stdout = (proc.stdout + chunk).slice(-16_000);
    if (verbose) process.stdout.write(`[${name}] ${chunk}`);
  });
  child.stderr.on("data", (chunk) => {
    proc.stderr = (proc.stderr + chunk).slice(-64_000);
    if (verbose) process.stderr.write(`[${name}] ${chunk}`);
  });
  return proc;
}

// SIGTERM, then SIGKILL after `grace` ms; resolves once it exited.
async function terminate(proc, grace = 2_000) {
  if (proc.exited) return proc.exited;
  proc.child.kill("SIGTERM");
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), grace);
  const result = await proc.exit;
  clearTimeout(timer);
  return result;
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- redis-server --------------------------------------------------------------------------------

// Redis answers PING with +PONG once it accepts commands.
function answersPing(port) {
  return new Promise((resolve) => {
    const sock = netConnect({ host: "127.0.0.1", port });
    let answer = "";
    const done = (up) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(up);
    };
    const timer = setTimeout(() => done(false), 500);
    sock.on("connect", () => sock.write("*1\r\n$4\r\nPING\r\n"));
    sock.on("data", (d) => {
      answer += d;
      if (answer.includes("\r\n")) done(answer.startsWith("+PONG"));
    });
    sock.on("error", () => done(false));
  });
}

// A redis-server on 127.0.0.1, on a free port, without persistence (--save "" --appendonly no),
// its files in a temporary directory: { port, url, stop({ crash }), start(), running() }.
// stop() waits for it to exit; start() starts it again on the same port. $REDIS_SERVER names
// the program (default: redis-server on the PATH).
export async function startRedis() {
  const dir = mkdtempSync(path.join(tmpdir(), "parley-cluster-redis-"));
  const program = process.env.REDIS_SERVER || "redis-server";
  let proc = null;
  const redis = {
    port: 0,
    get url() {
      return `redis://127.0.0.1:${this.port}`;
    },
    running: () => Boolean(proc && !proc.exited),
    async stop({ crash = false } = {}) {
      if (!proc || proc.exited) return;
      if (crash) {
        proc.child.kill("SIGKILL");
        await proc.exit;
      } else {
        await terminate(proc, 10_000);
      }
    },
    async start() {
      if (redis.running()) return;
      if (!(await tryStart())) throw new Error(`redis-server did not restart on port ${redis.port}: ${proc?.stderr}`);
    },
    dir,
  };
  async function tryStart() {
    proc = launch(program, [
      "--port", String(redis.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
      "--daemonize", "no", "--dir", dir, "--logfile", "",
    ], `redis:${redis.port}`);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (proc.exited) return false; // the port was taken meanwhile, or no redis-server
      if (await answersPing(redis.port)) return true;
      await delay(10);
    }
    proc.child.kill("SIGKILL");
    await proc.exit;
    return false;
  }
  for (let tries = 0; ; ++tries) {
    redis.port = await freePort();
    if (await tryStart()) return redis;
    if (tries === 4) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server (${program}) did not start; its output:\n${proc?.stdout}${proc?.stderr}` +
        (proc?.exited?.error ? `\n${proc.exited.error.message} (is redis-server installed? scripts/install-deps.sh)` : ""));
    }
  }
}

// A plain Redis client (node-redis 5) of the tests' own: PUBSUB NUMSUB, raw publications,
// observing the channels. Its connection is named "tests-..." (CLIENT SETNAME), so that it is not
// counted as a member.
export async function redisClient(url, name = "tests") {
  const client = createClient({ url, name, socket: { reconnectStrategy: () => 100 } });
  client.on("error", () => {}); // Redis may be stopped on purpose; commands then fail
  await client.connect();
  return client;
}

// How many connections subscribe to `channel` (PUBSUB NUMSUB).
export async function numsub(client, channel = CHANNELS.request) {
  const reply = await client.sendCommand(["PUBSUB", "NUMSUB", channel]);
  return Number(reply[1]);
}

// ---- members ---------------------------------------------------------------------------------

// Starts a member of `kind` ("node" or "parley") on a free port. Resolves once it printed
// "listening on 127.0.0.1:PORT": { kind, id, port, url, alive(), stop(), kill(signal), exit, ... }.
export async function startMember(kind, redisUrl, { requestsTimeout } = {}) {
  for (let tries = 0; ; ++tries) {
    const port = await freePort();
    const [cmd, base] = kind === "node"
      ? [process.execPath, [path.join(here, "node-member.mjs")]]
      : [parleyMemberBin(), []];
    const args = [...base, "--port", String(port), "--redis", redisUrl];
    if (requestsTimeout !== undefined) args.push("--requests-timeout", String(requestsTimeout));
    const proc = launch(cmd, args, `${kind}:${port}`);
    const listening = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      const check = () => {
        if (/^listening on 127\.0\.0\.1:\d+$/m.test(proc.stdout)) {
          clearTimeout(timer);
          proc.child.stdout.off("data", check);
          resolve(true);
        }
      };
      proc.child.stdout.on("data", check);
      proc.exit.then(() => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (listening) {
      return {
        kind,
        port,
        id: `member-${port}`,
        url: `http://127.0.0.1:${port}`,
        proc,
        exit: proc.exit,
        // Set by a test that kills it: its death is then no failure.
        expectExit: false,
        alive: () => !proc.exited,
        stderr: () => proc.stderr,
        // Resolves once what the member writes to stderr from now on matches `re`, within `ms`.
        stderrMatch(re, ms = WAIT_MS) {
          return new Promise((resolve, reject) => {
            let text = "";
            const timer = setTimeout(() => {
              proc.child.stderr.off("data", check);
              reject(new Error(`${this}: nothing matching ${re} on stderr within ${ms} ms; it wrote: ${text}`));
            }, ms);
            function check(chunk) {
              text += chunk;
              if (re.test(text)) {
                clearTimeout(timer);
                proc.child.stderr.off("data", check);
                resolve(text);
              }
            }
            proc.child.stderr.on("data", check);
          });
        },
        kill(signal = "SIGKILL") {
          this.expectExit = true;
          proc.child.kill(signal);
        },
        stop: () => terminate(proc),
        toString: () => `${kind} member-${port}`,
      };
    }
    if (!proc.exited) {
      proc.child.kill("SIGKILL");
      await proc.exit;
    }
    if (tries === 2) {
      throw new Error(`${kind} member did not start (${JSON.stringify(proc.exited)}):\n` +
        `command: ${cmd} ${args.join(" ")}\nstdout: ${proc.stdout}\nstderr: ${proc.stderr}`);
    }
  }
}

// How many connections, the tests' own excepted, have a pattern subscription (CLIENT LIST's psub).
export async function patternSubscribers(client) {
  const list = await client.sendCommand(["CLIENT", "LIST"]);
  return String(list).split("\n").filter((line) => /\bpsub=[1-9]/.test(line) && !/\bname=tests/.test(line)).length;
}

// Resolves once `n` connections subscribe to the request and response channels of "/" and `n`
// have a pattern subscription (the broadcast channels): the members' adapters subscribe
// asynchronously, after they print their "listening" line, and again after a reconnection.
export async function waitSubscribed(client, n, ms = 10_000) {
  let status = "";
  await until(async () => {
    const [req, res, pat] = [await numsub(client, CHANNELS.request), await numsub(client, CHANNELS.response),
      await patternSubscribers(client)];
    status = `NUMSUB ${CHANNELS.request} ${req}, NUMSUB ${CHANNELS.response} ${res}, pattern subscribers ${pat}`;
    return req === n && res === n && pat === n;
  }, `${n} members subscribed`, ms).catch((err) => {
    throw new Error(`${err.message}; Redis counts ${status}`);
  });
}

// ---- the cluster of a test file --------------------------------------------------------------

const HOOK = { timeout: 30_000 };

// The cluster of a test file: a redis-server, the members (memberKinds()), the clients of the
// current test (closed after it). perTest: fresh members for each test (tests that kill one);
// otherwise the members serve every test of the file (heal: the members that died are replaced
// before each test). A member that dies unexpectedly fails the test during which it died.
export function useCluster({ kinds = memberKinds(), requestsTimeout, perTest = false, heal = false } = {}) {
  const cluster = {
    kinds,
    redis: null,
    control: null, // the tests' own Redis client
    members: [],
    async startMembers() {
      cluster.members = await Promise.all(
        kinds.map((kind) => startMember(kind, cluster.redis.url, { requestsTimeout })));
      await waitSubscribed(cluster.control, kinds.length).catch((err) => {
        err.message += "\n" + cluster.members.map((m) => `${m}: ${m.alive() ? "running" : "exited"}; stderr:\n${m.stderr()}`).join("\n");
        throw err;
      });
    },
    // Replaces the members that died (tests that kill one on purpose, with `heal`).
    async replaceDead() {
      const dead = cluster.members.map((m, i) => (m.alive() ? -1 : i)).filter((i) => i >= 0);
      if (dead.length === 0) return;
      await Promise.all(dead.map(async (i) => {
        cluster.members[i] = await startMember(kinds[i], cluster.redis.url, { requestsTimeout });
      }));
      await waitSubscribed(cluster.control, kinds.length);
    },
    async stopMembers() {
      await Promise.all(cluster.members.map((m) => m.stop()));
      cluster.members = [];
    },
    // A connected client of member `i` (a member or an index), over `setup`; `name` goes in the
    // handshake query as `client`. Closed after the test.
    connect: (i, setup, name) => connectTo(typeof i === "number" ? cluster.members[i] : i, setup, name),
    // One client per member (`perMember` each), named "m<i>c<j>", over `setup`.
    async clients(setup, perMember = 1) {
      const all = [];
      for (let j = 0; j < perMember; j++) {
        for (let i = 0; i < cluster.members.length; i++) all.push(cluster.connect(i, setup, `m${i}c${j}`));
      }
      return Promise.all(all);
    },
    // Throws (with its stderr) if a member died that was not killed on purpose.
    checkAlive() {
      for (const m of cluster.members) {
        if (!m.alive() && !m.expectExit) {
          throw new Error(`${m} died (${JSON.stringify(m.proc.exited)}); its stderr:\n${m.stderr()}`);
        }
      }
    },
  };
  before(async () => {
    cluster.redis = await startRedis();
    cluster.control = await redisClient(cluster.redis.url);
    if (!perTest) await cluster.startMembers();
  }, HOOK);
  if (perTest) beforeEach(() => cluster.startMembers(), HOOK);
  if (heal) beforeEach(() => cluster.replaceDead(), HOOK);
  afterEach(async () => {
    closeClients();
    try {
      cluster.checkAlive();
    } finally {
      if (perTest) await cluster.stopMembers();
      if (!cluster.redis.running()) await cluster.redis.start(); // a test that stopped it failed midway
    }
  }, HOOK);
  after(async () => {
    closeClients();
    await cluster.stopMembers();
    cluster.control?.destroy(); // not quit(): it can wait forever for a connection Redis lost
    await cluster.redis?.stop();
    if (cluster.redis) rmSync(cluster.redis.dir, { recursive: true, force: true });
  }, HOOK);
  return cluster;
}

// ---- clients -------------------------------------------------------------------------------------

const opened = new Set();
function closeClients() {
  for (const s of opened) s.disconnect();
  opened.clear();
}

// A connected socket.io-client socket of `member`, on its own connection; `name` is sent as the
// query parameter `client` (fetch reports it) and kept as socket.name.
export function connectTo(member, setup, name = "client", ms = WAIT_MS) {
  if (!member.alive()) throw new Error(`${member} is not running`);
  const socket = io(member.url, {
    forceNew: true, reconnection: false, ...setup.opts, query: { client: name }, autoConnect: false,
  });
  socket.name = name;
  socket.member = member;
  opened.add(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${name}: no connect to ${member} within ${ms} ms`)), ms);
    function done(err) {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", done);
      if (err) reject(err);
      else resolve(socket);
    }
    const onConnect = () => done(null);
    socket.on("connect", onConnect);
    socket.on("connect_error", done);
    socket.connect();
  });
}

// Emits a command and resolves with the member's ack argument, within `ms`.
export function call(socket, event, arg, ms = WAIT_MS) {
  const args = arg === undefined ? [] : [arg];
  return socket.timeout(ms).emitWithAck(event, ...args).catch((err) => {
    throw new Error(`${socket.name} on ${socket.member}: no answer to '${event}' within ${ms} ms (${err.message})`);
  });
}

// Resolves with the arguments of the next `event` on `emitter`, within `ms`.
export function waitFor(emitter, event, ms = WAIT_MS) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`${emitter.name ?? "emitter"}: no '${event}' within ${ms} ms`));
    }, ms);
    function listener(...args) {
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args);
    }
    emitter.on(event, listener);
  });
}

// Records the arguments of every `event` received by `socket`.
export function record(socket, event) {
  const received = [];
  socket.on(event, (...args) => received.push(args));
  return received;
}

// Resolves once `predicate()` (maybe async) holds, trying every 20 ms; rejects after `ms`.
export async function until(predicate, what, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      if (await predicate()) return;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ""}`);
    }
    await delay(20);
  }
}

let seq = 0;
// A name no other test uses (rooms, events).
export function fresh(prefix = "room") {
  return `${prefix}-${process.pid}-${seq++}`;
}

// Ordering barrier: `from` broadcasts a fresh event to everybody; resolves once every socket of
// `receivers` got it. A member publishes in order on one connection, Redis delivers in order and
// a member delivers in order, so whatever `from` published before that a receiver did not get
// by then, it will never get: "nothing arrived" is checked without sleeping.
export async function barrier(from, receivers, ms = WAIT_MS) {
  const event = fresh("barrier");
  const got = Promise.all(receivers.map((r) => waitFor(r, event, ms)));
  await call(from, "bcast", { room: null, event, payload: null });
  await got;
}

// Resolves with `exit` of a member (or process) within `ms`, or rejects.
export function exited(member, ms = WAIT_MS) {
  return Promise.race([
    member.exit,
    delay(ms).then(() => {
      throw new Error(`${member} still running after ${ms} ms`);
    }),
  ]);
}

export const sleep = delay;
export const names = (sockets) => sockets.map((s) => s.name).sort();
export const sorted = (xs) => [...xs].sort();
