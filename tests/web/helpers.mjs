// Helpers of the web page's browser tests: the built `parley` on a free port (restartable on the
// same port with the same data), Debian's chromium through playwright-core, and a PNG made here.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const SECRET = "web-test-secret-0123456789abcdef";

export function parleyBin() {
  const bin = path.resolve(repoRoot, process.env.PARLEY_BIN || "build/apps/parley/parley");
  if (!existsSync(bin)) throw new Error(`${bin} does not exist: build it (cmake --build build --target parley) or set PARLEY_BIN`);
  return bin;
}

// A parley process. start() resolves once it logs "parley listening on http://HOST:PORT"; the
// first start picks a free port (--port 0), later ones reuse it, with the same database and
// upload directory: a restart.
export class Parley {
  constructor(flags = []) {
    this.flags = flags;
    this.dir = mkdtempSync(path.join(tmpdir(), "parley-web-"));
    this.port = 0;
    this.output = "";
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    const args = [
      "--host", "127.0.0.1",
      "--port", String(this.port),
      "--database", path.join(this.dir, "parley.db"),
      "--upload-dir", path.join(this.dir, "uploads"),
      "--jwt-secret", SECRET,
      ...this.flags,
    ];
    const { PARLEY_BIN, ...env } = process.env; // not an option of parley's: it would warn
    const child = spawn(parleyBin(), args, { cwd: this.dir, env, stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", resolve));
    let output = ""; // this run's
    this.port = await new Promise((resolve, reject) => {
      const fail = (err) => {
        clearTimeout(timer);
        child.kill("SIGKILL");
        reject(new Error(`${err.message}\ncommand: parley ${args.join(" ")}\noutput:\n${this.output}`));
      };
      const timer = setTimeout(() => fail(new Error("no 'parley listening on' line within 10 s")), 10_000);
      const onData = (chunk) => {
        output += chunk;
        this.output += chunk;
        if (process.env.WEB_VERBOSE) process.stderr.write(chunk);
        const m = /parley listening on http:\/\/[^:\s]+:(\d+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          child.removeListener("exit", onExit);
          resolve(Number(m[1]));
        }
      };
      const onExit = (code, signal) => fail(new Error(`parley exited (${code ?? signal}) before listening`));
      for (const stream of [child.stdout, child.stderr]) {
        stream.setEncoding("utf8");
        stream.on("data", onData);
      }
      child.on("exit", onExit);
      child.on("error", fail);
    });
    return this;
  }

  // SIGTERM (a graceful shutdown), SIGKILL after 5 s.
  async stop() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await this.exited;
    clearTimeout(timer);
  }

  pause() {
    this.child.kill("SIGSTOP");
  }

  resume() {
    this.child.kill("SIGCONT");
  }

  async cleanup() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// Debian's chromium, headless, with no sandbox (tests run as root) and nothing that calls home.
export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  const executablePath = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
  if (!existsSync(executablePath))
    throw new Error(`${executablePath} does not exist: run scripts/install-deps.sh (it installs Debian's chromium)`);
  // Playwright gives the browser a new, empty user-data dir of its own and removes it on close.
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

// Records what must not happen on a page: uncaught errors, console errors (but the network
// failures a server restart causes), and dialogs (an injected alert() would open one).
export function watch(page, name) {
  const problems = [];
  page.on("pageerror", (err) => problems.push(`${name}: uncaught ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const text = msg.text();
    if (/Failed to load resource|WebSocket connection to|net::ERR_|ERR_CONNECTION_REFUSED/.test(text)) return;
    problems.push(`${name}: console error ${text}`);
  });
  page.on("dialog", (dialog) => {
    problems.push(`${name}: a ${dialog.type()} dialog opened: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  return problems;
}

// ---------------------------------------------------------------------------------------------
// A small PNG: a diagonal gradient with a light disc, RGB, no dependencies.

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "ascii");
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

export function makePng(width = 240, height = 160) {
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      const t = (x / width + y / height) / 2;
      const d = Math.hypot(x - width * 0.68, y - height * 0.38);
      const sun = d < height * 0.2 ? 1 : 0;
      row[1 + x * 3] = sun ? 255 : Math.round(79 + 120 * t);
      row[2 + x * 3] = sun ? 214 : Math.round(70 + 60 * t);
      row[3 + x * 3] = sun ? 102 : Math.round(229 - 60 * t);
    }
    rows.push(row);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
