// Starts apps/conformance-server (or $CONFORMANCE_SERVER) for the wire-level tests.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

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
