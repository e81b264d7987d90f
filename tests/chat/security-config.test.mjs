// Configurations that would make the server unsafe are refused at start, with a message naming
// the options to change: the public development secret on an address others can reach, and CORS
// credentials for any origin.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { SECRET, T, parleyBin } from "./helpers.mjs";

const work = mkdtempSync(path.join(tmpdir(), "parley-security-config-"));
after(() => rmSync(work, { recursive: true, force: true }));

// Runs parley with exactly these arguments and PARLEY_* variables (none inherited). Resolves
// with { started, code, output }: started once it logs its listening line (then it is stopped),
// or the exit code when it exits first. Rejects after 5 s of neither.
function run(args, env = {}) {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PARLEY_")));
  const child = spawn(parleyBin(), args, { cwd: work, env: { ...inherited, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`parley neither started nor exited within 5 s; output:\n${output}`));
    }, 5_000);
    const onData = (chunk) => {
      output += chunk;
      if (/parley listening on http:\/\//.test(output)) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        child.once("exit", () => resolve({ started: true, output }));
        child.kill("SIGTERM");
      }
    };
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding("utf8");
      stream.on("data", onData);
    }
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ started: false, code: code ?? signal, output });
    });
  });
}

const serve = (...args) => ["--port", "0", "--database", path.join(work, "db.sqlite"), "--upload-dir", path.join(work, "up"), ...args];

describe("the development JWT secret", () => {
  function assertRefused(r) {
    assert.equal(r.started, false, `parley started:\n${r.output}`);
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /--jwt-secret/);
    assert.match(r.output, /PARLEY_JWT_SECRET/);
    assert.doesNotMatch(r.output, /listening/);
  }

  it("is refused on an address other machines can reach (flag)", T, async () => {
    assertRefused(await run(serve("--host", "0.0.0.0")));
  });

  it("is refused on an address other machines can reach (environment, TOML)", T, async () => {
    assertRefused(await run(serve(), { PARLEY_HOST: "0.0.0.0" }));
    const toml = path.join(work, "public.toml");
    writeFileSync(toml, 'host = "::"\n');
    assertRefused(await run(serve("--config", toml)));
    // The development secret set by name is the development secret still.
    assertRefused(await run(serve("--host", "0.0.0.0", "--jwt-secret", "parley-development-secret-change-me")));
  });

  it("is refused for `parley token` of such a configuration", T, async () => {
    assertRefused(await run(["token", "--user", "alice"], { PARLEY_HOST: "0.0.0.0" }));
  });

  it("stays the zero-config mode on loopback", T, async () => {
    for (const host of ["127.0.0.1", "localhost"]) {
      const r = await run(serve("--host", host));
      assert.equal(r.started, true, r.output);
      assert.match(r.output, /DEVELOPMENT/);  // still warned about
    }
    const token = await run(["token", "--user", "alice"]);
    assert.equal(token.code, 0, token.output);
  });

  it("is not needed with a secret of one's own, on any address", T, async () => {
    const r = await run(serve("--host", "0.0.0.0"), { PARLEY_JWT_SECRET: SECRET });
    assert.equal(r.started, true, r.output);
  });
});

describe("CORS", () => {
  function assertRefused(r) {
    assert.equal(r.started, false, `parley started:\n${r.output}`);
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /--cors-origins/);
    assert.match(r.output, /--cors-credentials/);
  }

  it('refuses cors-origins "*" with cors-credentials, from flags, environment and TOML', T, async () => {
    assertRefused(await run(serve("--cors-origins", "*", "--cors-credentials")));
    assertRefused(await run(serve(), { PARLEY_CORS_ORIGINS: "https://chat.example.com,*", PARLEY_CORS_CREDENTIALS: "true" }));
    const toml = path.join(work, "cors.toml");
    writeFileSync(toml, 'cors-origins = ["*"]\ncors-credentials = true\n');
    assertRefused(await run(serve("--config", toml)));
  });

  it("allows either alone", T, async () => {
    assert.equal((await run(serve("--cors-origins", "*"))).started, true);
    assert.equal((await run(serve("--cors-origins", "https://chat.example.com", "--cors-credentials"))).started, true);
  });
});
