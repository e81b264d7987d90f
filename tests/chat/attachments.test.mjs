// Attachments and who may use a file (the contract's "Files"): a sender may attach only files
// they uploaded or may already download, and a refusal says nothing about the file; attaching a
// file somewhere never takes access to it away from anyone; a refused message leaves none of
// the files it brought (Socket.IO binary attachments) behind.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { describe, it } from "node:test";
import {
  T, connectUser, downloadFile, freshRoom, request, uploadFile, useParley, waitFor,
} from "./helpers.mjs";

describe("attachments", () => {
  const server = useParley();

  // Alice's file, shared in her private conversation with Bob.
  async function alicesPrivateFile() {
    const alice = await connectUser(server);
    const bob = await connectUser(server);
    const up = await uploadFile(server, alice.userId, { name: "salaries.xlsx", type: "application/vnd.ms-excel", data: "secret numbers" });
    assert.equal(up.status, 201);
    const conversationId = freshRoom("alice-bob");
    assert.equal((await request(alice, "conversation:create", { conversationId, private: true, memberIds: [bob.userId] })).ok, true);
    const shared = await request(alice, "message:send", { conversationId, content: "numbers", attachments: [{ fileId: up.json.fileId }] });
    assert.equal(shared.ok, true);
    return { alice, bob, file: up.json };
  }

  // Eve, with a private conversation of her own (and Mallory in it).
  async function eveAndHerConversation() {
    const eve = await connectUser(server);
    const mallory = await connectUser(server);
    const conversationId = freshRoom("eve");
    assert.equal((await request(eve, "conversation:create", { conversationId, private: true, memberIds: [mallory.userId] })).ok, true);
    return { eve, mallory, conversationId };
  }

  it("refuses to attach another user's private file, and it stays undownloadable (a)", T, async () => {
    const { bob, file } = await alicesPrivateFile();
    const { eve, mallory, conversationId } = await eveAndHerConversation();
    assert.equal((await downloadFile(server, file.url, eve.userId)).status, 403);

    const sent = await request(eve, "message:send", { conversationId, content: "look", attachments: [{ fileId: file.fileId }] });
    assert.equal(sent.ok, false);
    assert.equal(sent.error.code, "FORBIDDEN");
    const dm = await request(eve, "private:message", { recipientUserId: mallory.userId, content: "look", attachments: [{ fileId: file.fileId }] });
    assert.equal(dm.ok, false);
    assert.equal(dm.error.code, "FORBIDDEN");

    // Nothing was stored, and the file is as closed to Eve and Mallory as before.
    assert.deepEqual((await request(eve, "message:history", { conversationId })).messages, []);
    assert.equal((await downloadFile(server, file.url, eve.userId)).status, 403);
    assert.equal((await downloadFile(server, file.url, mallory.userId)).status, 403);
    // Bob, a member of Alice's conversation, may download it and share it on.
    assert.equal((await downloadFile(server, file.url, bob.userId)).status, 200);
  });

  it("a refused attachment tells nothing about the file: the same answer as for no file (c)", T, async () => {
    const { file } = await alicesPrivateFile();
    const { eve, conversationId } = await eveAndHerConversation();
    const forbidden = await request(eve, "message:send", { conversationId, content: "x", attachments: [{ fileId: file.fileId }] });
    const missing = await request(eve, "message:send", {
      conversationId, content: "x", attachments: [{ fileId: `${file.fileId.slice(0, -4)}0000` }],
    });
    assert.equal(forbidden.ok, false);
    assert.deepEqual(forbidden, missing);
    const said = JSON.stringify(forbidden);
    for (const secret of [file.name, file.contentType, String(file.size), "secret numbers"]) assert.ok(!said.includes(secret), said);
  });

  it("attaching a file in a private conversation does not take it away from anyone (b)", T, async () => {
    // Alice posts a file in a public room: anyone may download it.
    const alice = await connectUser(server);
    const up = await uploadFile(server, alice.userId, { name: "menu.pdf", type: "application/pdf", data: "lunch menu" });
    const room = freshRoom("lobby");
    assert.equal((await request(alice, "message:send", { conversationId: room, content: "menu", attachments: [{ fileId: up.json.fileId }] })).ok, true);
    const carol = await connectUser(server);
    assert.equal((await downloadFile(server, up.json.url, carol.userId)).status, 200);

    // Eve may download it, so she may share it in her private conversation...
    const { eve, mallory, conversationId } = await eveAndHerConversation();
    const got = waitFor(mallory, "message:new");
    await request(mallory, "conversation:join", conversationId);
    const sent = await request(eve, "message:send", { conversationId, content: "see", attachments: [{ fileId: up.json.fileId }] });
    assert.equal(sent.ok, true);
    assert.deepEqual(sent.message.attachments, [up.json]);
    assert.deepEqual((await got)[0].attachments, [up.json]);
    assert.equal((await downloadFile(server, up.json.url, mallory.userId)).status, 200);
    // ...and it stays open to everyone: its public conversation still grants it.
    const down = await downloadFile(server, up.json.url, carol.userId);
    assert.equal(down.status, 200);
    assert.equal(down.body.toString(), "lunch menu");
    assert.equal((await downloadFile(server, up.json.url, alice.userId)).status, 200);
  });

  // Every entry of the upload directory (temporary files included).
  const uploadDir = () => readdirSync(server.uploads).sort();

  it("a refused message leaves none of its binary attachments behind", T, async () => {
    const { file } = await alicesPrivateFile();
    const { eve, mallory, conversationId } = await eveAndHerConversation();
    const before = uploadDir();
    const bytes = (s) => Buffer.from(`binary ${s}`);
    const refused = [
      // A bad second attachment: a file that does not exist, or one that is not hers.
      ["message:send", { conversationId, content: "x", attachments: [bytes(1), { fileId: "no-such-file" }] }],
      ["message:send", { conversationId, content: "x", attachments: [{ data: bytes(2), name: "a.bin" }, bytes(3), { fileId: file.fileId }] }],
      ["private:message", { recipientUserId: mallory.userId, content: "x", attachments: [bytes(4), { fileId: file.fileId }] }],
    ];
    for (const [event, payload] of refused) {
      const ack = await request(eve, event, payload);
      assert.equal(ack.ok, false, event);
      // Whoever hears the refusal finds nothing left: no file, no temporary file.
      const left = uploadDir().filter((f) => !before.includes(f));
      const downloadable = [];
      for (const id of left) if ((await downloadFile(server, `/api/files/${id}`, eve.userId)).status !== 404) downloadable.push(id);
      assert.deepEqual(left, [], `${event}: left behind (downloadable: ${downloadable.join(", ") || "none"})`);
      assert.equal(ack.error.code, "FORBIDDEN", event);
    }
    assert.deepEqual((await request(eve, "message:history", { conversationId })).messages, []);
  });

  it("a retried message does not store its binary attachments again", T, async () => {
    const alice = await connectUser(server);
    const room = freshRoom("retry");
    const before = uploadDir();
    const first = await request(alice, "message:send", { conversationId: room, content: "x", clientMessageId: "r1", attachments: [Buffer.from("one")] });
    assert.equal(first.ok, true);
    const again = await request(alice, "message:send", { conversationId: room, content: "x", clientMessageId: "r1", attachments: [Buffer.from("one")] });
    assert.deepEqual(again, first);
    assert.deepEqual(uploadDir().filter((f) => !before.includes(f)), [first.message.attachments[0].fileId]);
    assert.equal((await downloadFile(server, first.message.attachments[0].url, alice.userId)).body.toString(), "one");
  });
});
