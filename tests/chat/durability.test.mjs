// Durability: every acknowledged message survives a SIGKILL of the server; a SIGTERM shuts it
// down cleanly (exit 0).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { closeAll, connectUser, freshRoom, request, startParley } from "./helpers.mjs";

const N = 100;

describe("durability", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "parley-durability-"));
  after(() => {
    closeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps every acknowledged message across a SIGKILL", { timeout: 40_000 }, async () => {
    const id = freshRoom("durable");
    let server = await startParley({ dir, flags: ["--rate-limit", "100000"] });
    const acked = [];
    let userId;
    try {
      const a = await connectUser(server);
      userId = a.userId;
      const sends = [];
      for (let i = 0; i < N; i++) {
        sends.push(
          request(a, "message:send", { conversationId: id, content: `durable ${i}`, clientMessageId: `d-${i}` })
            .then((ack) => { if (ack.ok) acked.push(ack.message); })
            .catch(() => {}),
        );
      }
      // Kill while the last sends may still be in flight: what was acked must be there.
      await Promise.all(sends.slice(0, N / 2));
      await server.kill();
      await Promise.allSettled(sends);
    } finally {
      closeAll();
      await server.kill();
    }
    assert.ok(acked.length >= N / 2, `${acked.length} acked`);

    server = await startParley({ dir });
    try {
      const b = await connectUser(server, userId);  // the same user: its clientMessageIds
      const history = await request(b, "message:history", { conversationId: id, limit: 200 });
      assert.equal(history.ok, true);
      const stored = new Map(history.messages.map((m) => [m.id, m]));
      for (const m of acked) assert.deepEqual(stored.get(m.id), m);
      // Retrying an acked message after the restart delivers nothing twice.
      const retry = await request(b, "message:send", { conversationId: id, content: "again", clientMessageId: "d-0" });
      assert.equal(retry.ok, true);
      if (acked.some((m) => m.clientMessageId === "d-0")) assert.equal(retry.message.content, "durable 0");
    } finally {
      closeAll();
      await server.stop();
    }
  });

  it("shuts down on SIGTERM with exit code 0, keeping what was acked", { timeout: 30_000 }, async () => {
    const id = freshRoom("graceful");
    const server = await startParley({ dir });
    const a = await connectUser(server);
    const ack = await request(a, "message:send", { conversationId: id, content: "before shutdown" });
    assert.equal(ack.ok, true);
    const disconnected = new Promise((resolve) => a.on("disconnect", resolve));
    server.child.kill("SIGTERM");
    const [code, signal] = await server.exited;
    assert.equal(signal, null);
    assert.equal(code, 0);
    await disconnected;
    closeAll();

    const again = await startParley({ dir });
    try {
      const b = await connectUser(again);
      const history = await request(b, "message:history", { conversationId: id });
      assert.deepEqual(history.messages, [ack.message]);
    } finally {
      closeAll();
      await again.stop();
    }
  });
});
