// CORS of the library (src/sio/transport/cors.*, http.cpp) against apps/conformance-server:
// credentials go only to listed origins; "*" grants any origin without credentials, and "*" with
// credentials is refused when the server is configured (browsers refuse that pair on purpose,
// and echoing every origin instead would hand every site the user's cookies).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { startServer } from "./conformance-server.mjs";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const binary = path.resolve(repoRoot, process.env.CONFORMANCE_SERVER || "build/apps/conformance-server/conformance-server");

// Runs the server with these flags until it exits or says it listens (then stops it); resolves
// with { started, code, output }.
function run(flags) {
  const child = spawn(binary, ["--port", "0", ...flags], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    const onData = (chunk) => {
      output += chunk;
      if (/listening on/.test(output)) child.kill("SIGTERM");
    };
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding("utf8");
      stream.on("data", onData);
    }
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ started: /listening on/.test(output), code: code ?? signal, output });
    });
  });
}

const handshake = (server, origin) =>
  fetch(`${server.url}?EIO=4&transport=polling`, { headers: { Origin: origin } });

describe("CORS", () => {
  const servers = [];
  after(() => servers.forEach((s) => s.child.kill()));

  it('refuses "*" with credentials at configuration', async () => {
    const r = await run(["--cors-origin", "*", "--cors-credentials"]);
    assert.equal(r.started, false, `the server started:\n${r.output}`);
    assert.notEqual(r.code, 0);
    assert.match(r.output, /credentials/);
  });

  it('grants "*" to any origin, without credentials', async () => {
    const server = await startServer(["--cors-origin", "*"]);
    servers.push(server);
    const res = await handshake(server, "https://anyone.test");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.equal(res.headers.get("access-control-allow-credentials"), null);
    await res.text();
  });

  it("grants credentials to a listed origin only", async () => {
    const server = await startServer(["--cors-origin", "http://allowed.test", "--cors-credentials"]);
    servers.push(server);
    const allowed = await handshake(server, "http://allowed.test");
    assert.equal(allowed.headers.get("access-control-allow-origin"), "http://allowed.test");
    assert.equal(allowed.headers.get("access-control-allow-credentials"), "true");
    await allowed.text();
    const other = await handshake(server, "https://evil.test");
    assert.equal(other.headers.get("access-control-allow-origin"), null);
    assert.equal(other.headers.get("access-control-allow-credentials"), null);
    await other.text();
  });
});
