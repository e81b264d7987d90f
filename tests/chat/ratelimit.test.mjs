// The per-socket rate limit: a token bucket of --rate-limit events/s with bursts of twice that.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { T, connectUser, freshRoom, request, sleep, useParley } from "./helpers.mjs";

const RATE = 5;  // events per second; burst 10

describe("rate limiting", () => {
  const server = useParley({ flags: ["--rate-limit", String(RATE)] });

  it("acks RATE_LIMITED beyond the burst, and does nothing for those events", T, async () => {
    const a = await connectUser(server);
    const b = await connectUser(server);
    const id = freshRoom();
    await request(b, "conversation:join", id);
    await sleep(500);  // let the bucket refill after the join
    const acks = await Promise.all(
      Array.from({ length: 30 }, (_, i) => request(a, "message:send", { conversationId: id, content: `burst ${i}` })),
    );
    const ok = acks.filter((x) => x.ok);
    const limited = acks.filter((x) => !x.ok);
    assert.ok(ok.length >= 2 * RATE && ok.length <= 2 * RATE + 2, `${ok.length} accepted`);
    assert.equal(ok.length + limited.length, 30);
    for (const x of limited) {
      assert.equal(x.error.code, "RATE_LIMITED");
      assert.equal(typeof x.error.message, "string");
    }
    // Only the accepted ones were stored (another socket's bucket reads the history).
    const history = await request(b, "message:history", { conversationId: id, limit: 200 });
    assert.equal(history.messages.length, ok.length);

    // Another socket is not limited by this one.
    assert.equal((await request(b, "get:online:count")).ok, true);

    // The bucket refills.
    await sleep(1_000);
    const later = await request(a, "get:online:count");
    assert.equal(later.ok, true);
  });
});
