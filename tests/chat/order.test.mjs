// Message order: one socket sends a burst of messages without waiting for the acks (all in
// flight at once); they must be stored, acked, delivered and listed in history in the order they
// were sent. Into a public conversation that the burst's first message creates (its first
// messages take another path than later ones), into an existing one (also with binary
// attachments, which are written to disk before the insert), and as private messages (the
// direct conversation is looked up or created before the insert). Many rounds, since a race does
// not show every time; on every transport setup.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { connectUser, freshRoom, request, sleep, useParley } from "./helpers.mjs";

const BURST = 30;         // messages in flight at once, from one socket
const ROUNDS = 20;        // bursts of each kind per transport setup
const BINARY_ROUNDS = 5;  // each of these writes BURST files (an fsync each)
const WAIT_MS = 10_000;

describe("message order", () => {
  // Over the default rate (20/s, burst 40), so that the rounds need no pauses between them.
  const server = useParley({ flags: ["--rate-limit", "100000"] });

  const send = (socket, event, payload) => socket.timeout(WAIT_MS).emitWithAck(event, payload);

  // Sends BURST messages at once through `emit(content)` (which returns the ack's promise) and
  // checks that the acks, the receiver's message:new and the history all list them in send order.
  async function burst(what, receiver, emit) {
    const tag = randomUUID().slice(0, 8);
    const sent = Array.from({ length: BURST }, (_, i) => `${tag} ${String(i).padStart(2, "0")}`);
    const received = [];
    const onNew = (m) => { if (m.content.startsWith(tag)) received.push(m.content); };
    receiver.on("message:new", onNew);
    try {
      const acked = [];  // in the order the acks arrive
      const acks = await Promise.all(sent.map((content) => emit(content).then((ack) => {
        acked.push(ack.ok ? ack.message.content : `refused: ${JSON.stringify(ack.error)}`);
        return ack;
      })));
      assert.deepEqual(acked, sent, `${what}: acks out of order`);
      const ids = acks.map((a) => a.message.id);
      assert.deepEqual([...ids].sort(), ids, `${what}: ids (the store's order) out of send order`);

      for (const deadline = Date.now() + WAIT_MS; received.length < BURST && Date.now() < deadline;) await sleep(10);
      assert.deepEqual(received, sent, `${what}: message:new out of order`);

      const history = await request(receiver, "message:history", { conversationId: acks[0].message.conversationId, limit: 200 });
      assert.equal(history.ok, true);
      assert.deepEqual(history.messages.map((m) => m.content).filter((c) => c.startsWith(tag)), sent,
        `${what}: history out of order`);
      return acks;
    } finally {
      receiver.off("message:new", onNew);
    }
  }

  for (const [setup, transports] of [["websocket", ["websocket"]], ["polling", ["polling"]],
    ["polling+upgrade", ["polling", "websocket"]]]) {
    it(`keeps one sender's order in acks, message:new and history (${setup})`, { timeout: 180_000 }, async () => {
      const alice = await connectUser(server, undefined, { transports });
      const bob = await connectUser(server, undefined, { transports });
      const existing = freshRoom("existing");
      assert.equal((await request(alice, "conversation:create", { conversationId: existing })).ok, true);
      assert.equal((await request(bob, "conversation:join", existing)).ok, true);

      for (let round = 0; round < ROUNDS; round++) {
        const fresh = freshRoom("fresh");  // created by the burst's first message
        assert.equal((await request(bob, "conversation:join", fresh)).ok, true);
        await burst(`round ${round}, new conversation`, bob,
          (content) => send(alice, "message:send", { conversationId: fresh, content }));
        await burst(`round ${round}, existing conversation`, bob,
          (content) => send(alice, "message:send", { conversationId: existing, content }));
        await burst(`round ${round}, private:message`, bob,
          (content) => send(alice, "private:message", { recipientUserId: bob.userId, content }));
      }
      for (let round = 0; round < BINARY_ROUNDS; round++) {
        const acks = await burst(`round ${round}, binary attachments`, bob, (content) => send(alice, "message:send", {
          conversationId: existing, content, attachments: [Buffer.from(content)],
        }));
        for (const a of acks) assert.equal(a.message.attachments.length, 1);
      }
    });
  }
});
