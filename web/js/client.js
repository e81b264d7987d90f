// The chat client: one Socket.IO connection speaking the chat contract
// (docs: the chat-events contract), and the state the page shows. The view listens to its
// events and reads its state; it never talks to the socket itself.
//
// Events (CustomEvent detail in brackets):
//   state          the connection state changed: connecting, connected, reconnecting, offline
//   conversations  the list, an unread count or a title changed
//   messages       [conversationId] messages were added or changed (status, read mark)
//   typing         [conversationId] someone started or stopped typing
//   online         the online list changed
//   fatal          [message] the token was refused: sign in again

const HISTORY_PAGE = 30;
const CATCH_UP = 50;
const ACK_TIMEOUT_MS = 10_000;
const TYPING_RESEND_MS = 3_000; // the server expires an indicator after 5 s
const TYPING_IDLE_MS = 2_500;
const TYPING_SHOWN_MS = 7_000; // a peer's indicator, if its typing:stop is lost
const LIST_REFRESH_MS = 15_000; // conversations others add us to are not announced: poll
const LIST_PAGE = 100; // conversation:list answers a page at a time (newest first) ...
const LIST_PAGES = 10; // ... and the page shows the newest LIST_PAGE * LIST_PAGES at most

// Messages sort by (createdAt, id); ISO times with milliseconds compare as strings.
const key = (m) => `${m.createdAt}|${m.id}`;
// crypto.randomUUID exists in secure contexts only (not on http://<LAN address>).
const uuid = () =>
  crypto.randomUUID?.() ?? Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");

// An error as the page shows it.
function describe(error) {
  if (!error) return "failed";
  if (error.code === "TIMEOUT") return "no answer from the server";
  return error.message || error.code || "failed";
}
// Worth retrying as is (the same clientMessageId makes a retry safe).
const transient = (error) => !error || ["TIMEOUT", "RATE_LIMITED", "INTERNAL", "OFFLINE"].includes(error.code) || error.transient;

export class ChatClient extends EventTarget {
  constructor(session, files, storage) {
    super();
    this.me = session;
    this.files = files;
    this.storage = storage;
    this.state = "connecting";
    this.conversations = new Map(); // id -> conversation (see #conversation)
    this.online = new Set();
    this.activeId = null;
    this.visible = () => document.visibilityState === "visible";
    this.lastRead = storage.get("lastRead", {}); // conversationId -> key of the newest message read
    this.readUpTo = storage.get("readUpTo", {}); // conversationId -> key of my newest message read by someone
    this.joinedPublic = new Set(storage.get("joined", []));
    this.typingSent = null; // { conversationId, at, idle }
  }

  // ------------------------------------------------------------------------------------------
  // Connection

  connect() {
    // The auth payload is read at every (re)connection: a token renewed meanwhile is used.
    this.socket = io({ auth: (cb) => cb({ token: this.me.token }), reconnectionDelayMax: 5_000 });
    const s = this.socket;
    s.on("connect", () => this.#onConnect());
    s.on("disconnect", (reason) => {
      this.joined = new Set();
      this.#setState(reason === "io client disconnect" ? "offline" : s.active ? "reconnecting" : "offline");
      for (const c of this.conversations.values()) this.#clearTyping(c);
    });
    s.on("connect_error", (err) => {
      // A refusal by the server's auth middleware is final (socket.active is false then);
      // anything else is retried by the client.
      if (!s.active) {
        this.dispatchEvent(new CustomEvent("fatal", { detail: err.message || "the server refused the connection" }));
        return;
      }
      this.#setState(this.everConnected ? "reconnecting" : "connecting");
    });
    s.io.on("reconnect_attempt", () => this.#setState(navigator.onLine ? "reconnecting" : "offline"));
    window.addEventListener("offline", this.onOffline = () => this.#setState("offline"));
    window.addEventListener("online", this.onOnline = () => {
      if (s.connected) this.#setState("connected");
      else {
        this.#setState("reconnecting");
        if (!s.active) s.connect();
      }
    });
    document.addEventListener("visibilitychange", this.onVisibility = () => {
      if (this.visible()) {
        this.markActiveRead();
        if (s.connected) this.refreshConversations();
      }
    });

    s.on("user:online", ({ userId }) => this.#setOnline(userId, true));
    s.on("user:offline", ({ userId }) => this.#setOnline(userId, false));
    s.on("message:new", (m) => this.#onMessage(m));
    s.on("typing:start", ({ userId, conversationId }) => this.#onTyping(conversationId, userId, true));
    s.on("typing:stop", ({ userId, conversationId }) => this.#onTyping(conversationId, userId, false));
    s.on("message:read", (r) => this.#onRead(r));
    this.joined = new Set();
    this.refreshTimer = setInterval(() => s.connected && this.refreshConversations(), LIST_REFRESH_MS);
  }

  close() {
    clearInterval(this.refreshTimer);
    window.removeEventListener("offline", this.onOffline);
    window.removeEventListener("online", this.onOnline);
    document.removeEventListener("visibilitychange", this.onVisibility);
    this.socket?.disconnect();
  }

  #setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: state }));
  }

  async #onConnect() {
    this.everConnected = true;
    this.#setState("connected");
    const online = await this.request("users:online");
    if (online.ok) {
      this.online = new Set(online.userIds);
      this.dispatchEvent(new Event("online"));
    }
    // Catch up: what was sent while this page was away, in the conversations it held (the open
    // one first); the refresh loads the others' history.
    const held = [...this.conversations.values()].filter((c) => c.loaded && !c.draft);
    held.sort((a, b) => (a.id === this.activeId ? -1 : b.id === this.activeId ? 1 : 0));
    await this.refreshConversations();
    for (const c of held) if (this.socket.connected) await this.#catchUp(c);
    this.#flushOutbox();
  }

  // An event with an ack, as a promise of the ack ({ ok, ... } or { ok: false, error }); retried
  // while the server says RATE_LIMITED.
  async request(event, payload, { timeout = ACK_TIMEOUT_MS } = {}) {
    for (let attempt = 0; ; attempt++) {
      if (!this.socket.connected) return { ok: false, error: { code: "OFFLINE", message: "not connected" } };
      const args = payload === undefined ? [] : [payload];
      let res;
      try {
        res = await this.socket.timeout(timeout).emitWithAck(event, ...args);
      } catch {
        res = { ok: false, error: { code: "TIMEOUT", message: "no answer from the server" } };
      }
      if (res?.ok === false && res.error?.code === "RATE_LIMITED" && attempt < 4) {
        await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
        continue;
      }
      return res ?? { ok: false, error: { code: "INTERNAL", message: "empty answer" } };
    }
  }

  // ------------------------------------------------------------------------------------------
  // Conversations

  #conversation(raw) {
    let c = this.conversations.get(raw.id);
    if (!c) {
      c = {
        id: raw.id,
        title: "",
        private: false,
        memberIds: [],
        messages: [], // sorted: stored ones by (createdAt, id), then this page's unsent ones
        hasMore: true, // older history may exist
        loaded: false, // has history been fetched once
        typing: new Map(), // userId -> timer
        draft: false,
      };
      this.conversations.set(raw.id, c);
    }
    if (raw.title !== undefined) c.title = raw.title;
    if (raw.private !== undefined) c.private = raw.private;
    if (raw.memberIds) c.memberIds = raw.memberIds;
    if (raw.createdAt) c.createdAt = raw.createdAt;
    if (raw.createdBy) c.createdBy = raw.createdBy;
    // A direct conversation: private, two members, an id from private:message ("dm:a:b").
    c.direct = c.direct || (c.private && c.id.startsWith("dm:") && c.memberIds.length === 2);
    if (c.direct && !c.peer) c.peer = c.memberIds.find((u) => u !== this.me.userId) ?? c.peer;
    return c;
  }

  title(c) {
    if (c.direct) return c.peer ?? "Private chat";
    return c.title || c.id;
  }

  // Most recent activity first, as chats do.
  sortedConversations() {
    const last = (c) => c.messages.at(-1)?.createdAt ?? c.createdAt ?? "";
    return [...this.conversations.values()].sort((a, b) => last(b).localeCompare(last(a)));
  }

  // One refresh at a time; a call during one asks for another after it.
  refreshConversations() {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        await this.#refresh();
      } while (this.refreshAgain && this.socket.connected);
      this.refreshing = null;
    })();
    return this.refreshing;
  }

  async #refresh() {
    const listed = [];
    for (let page = 0, before; page < LIST_PAGES; page++) {
      const res = await this.request("conversation:list", before ? { limit: LIST_PAGE, before } : { limit: LIST_PAGE });
      if (!res.ok) break;
      listed.push(...res.conversations);
      if (!res.next) break;
      before = res.next;
    }
    if (!listed.length) return;
    for (const raw of listed) this.#conversation(raw);
    for (const id of this.joinedPublic) if (!this.conversations.has(id)) this.#conversation({ id, title: id });
    // Join every room (to receive its messages and typing); new ones get their history.
    for (const c of [...this.conversations.values()]) {
      if (c.draft || this.joined.has(c.id)) continue;
      const joined = await this.request("conversation:join", { conversationId: c.id });
      if (joined.ok) this.joined.add(c.id);
      if (!c.loaded && this.socket.connected) await this.#catchUp(c);
    }
    this.dispatchEvent(new Event("conversations"));
  }

  // { ok, conversation } or { ok: false, error }.
  async createConversation({ title, conversationId, isPrivate, memberIds }) {
    const payload = { title, private: isPrivate, memberIds };
    if (conversationId) payload.conversationId = conversationId;
    const res = await this.request("conversation:create", payload);
    if (!res.ok) return res;
    const c = this.#conversation(res.conversation);
    c.loaded = true;
    c.hasMore = false;
    const joined = await this.request("conversation:join", { conversationId: c.id });
    if (joined.ok) this.joined.add(c.id);
    if (!c.private) this.#rememberPublic(c.id);
    this.dispatchEvent(new Event("conversations"));
    return { ok: true, conversation: c };
  }

  // Joins a public conversation (or a private one this user is a member of) by id.
  async joinConversation(conversationId) {
    const res = await this.request("conversation:join", { conversationId });
    if (!res.ok) return res;
    this.joined.add(conversationId);
    const c = this.#conversation({ id: conversationId });
    if (!c.private) this.#rememberPublic(c.id);
    await this.#catchUp(c);
    this.dispatchEvent(new Event("conversations"));
    return { ok: true, conversation: c };
  }

  #rememberPublic(id) {
    this.joinedPublic.add(id);
    this.storage.set("joined", [...this.joinedPublic]);
  }

  // The direct conversation with `peer`: the stored one, or a draft until the first message.
  direct(peer) {
    for (const c of this.conversations.values()) if (c.direct && c.peer === peer) return c;
    const c = this.#conversation({ id: `draft:${peer}`, private: true });
    Object.assign(c, { direct: true, draft: true, peer, loaded: true, hasMore: false });
    this.dispatchEvent(new Event("conversations"));
    return c;
  }

  open(id) {
    if (this.activeId && this.activeId !== id) this.stopTyping();
    this.activeId = id;
    this.markActiveRead();
    this.dispatchEvent(new Event("conversations"));
  }

  // ------------------------------------------------------------------------------------------
  // History

  // The newest messages, merged with those held: after a reconnect, what was missed.
  async #catchUp(c) {
    if (c.draft) return;
    const res = await this.request("message:history", { conversationId: c.id, limit: CATCH_UP });
    if (!res.ok) return;
    const held = new Set(c.messages.map((m) => m.id).filter(Boolean));
    if (held.size && res.messages.length === CATCH_UP && !res.messages.some((m) => held.has(m.id))) {
      // More was missed than one page: a gap. Start again from the newest page (the unsent stay).
      c.messages = c.messages.filter((m) => !m.id);
      c.hasMore = true;
    } else if (!c.loaded) c.hasMore = res.messages.length === CATCH_UP;
    c.loaded = true;
    for (const m of res.messages) this.#merge(c, m);
    this.#changed(c);
    if (c.id === this.activeId) this.markActiveRead();
  }

  // Older messages, before the oldest held; resolves to how many came.
  async loadOlder(c) {
    if (c.loadingOlder || !c.hasMore || c.draft) return 0;
    const first = c.messages.find((m) => m.id);
    c.loadingOlder = true;
    const res = await this.request("message:history", { conversationId: c.id, before: first?.id, limit: HISTORY_PAGE });
    c.loadingOlder = false;
    c.olderFailed = !res.ok;
    if (!res.ok) {
      this.#changed(c);
      return 0;
    }
    c.hasMore = res.messages.length === HISTORY_PAGE;
    for (const m of res.messages) this.#merge(c, m);
    this.#changed(c);
    return res.messages.length;
  }

  // Adds or updates a stored message; replaces this page's unsent copy of it (same clientMessageId).
  #merge(c, m) {
    const i = c.messages.findIndex((x) => (x.id && x.id === m.id) ||
      (m.clientMessageId && x.clientMessageId === m.clientMessageId && x.senderId === m.senderId));
    const stored = { ...m, status: "sent", rev: (i >= 0 ? c.messages[i].rev : 0) + 1 };
    if (i >= 0) {
      if (c.messages[i].id === m.id && c.messages[i].status === "sent") return false;
      stored.localFiles = c.messages[i].localFiles;
      c.messages.splice(i, 1);
    }
    const k = key(stored);
    let at = c.messages.findIndex((x) => !x.id || key(x) > k);
    if (at < 0) at = c.messages.length;
    c.messages.splice(at, 0, stored);
    return true;
  }

  #changed(c) {
    this.dispatchEvent(new CustomEvent("messages", { detail: c.id }));
    this.dispatchEvent(new Event("conversations"));
  }

  #onMessage(m) {
    if (!m || typeof m.conversationId !== "string") return;
    let c = this.conversations.get(m.conversationId);
    if (!c) {
      // A conversation this page does not know yet (a first private message, or one we were
      // added to): learn it, then the list refresh joins it and loads its history.
      c = this.#conversation({ id: m.conversationId });
      if (m.conversationId.startsWith("dm:")) {
        const draft = m.senderId !== this.me.userId ? this.conversations.get(`draft:${m.senderId}`) : null;
        Object.assign(c, { private: true, direct: true, peer: m.senderId === this.me.userId ? undefined : m.senderId });
        if (draft) this.#adopt(draft, c);
      }
      this.refreshConversations();
    }
    c.typing.has(m.senderId) && this.#onTyping(c.id, m.senderId, false);
    if (this.#merge(c, m)) this.#changed(c);
    if (c.id === this.activeId) this.markActiveRead();
  }

  // ------------------------------------------------------------------------------------------
  // Unread counts and read receipts

  unread(c) {
    const since = this.lastRead[c.id] ?? "";
    let n = 0;
    for (const m of c.messages) if (m.id && m.senderId !== this.me.userId && key(m) > since) n++;
    return n;
  }

  // The open conversation is read when the page is visible: records it, and tells each sender
  // of a newly read message (the newest of theirs: a read mark covers the earlier ones).
  markActiveRead() {
    const c = this.conversations.get(this.activeId);
    if (!c || !this.visible() || !this.viewing?.()) return;
    const since = this.lastRead[c.id] ?? "";
    const newest = new Map(); // senderId -> newest unread message
    let last = null;
    for (const m of c.messages) {
      if (!m.id) continue;
      last = m;
      if (m.senderId !== this.me.userId && key(m) > since) newest.set(m.senderId, m);
    }
    if (!last || key(last) <= since) return;
    this.lastRead[c.id] = key(last);
    this.storage.set("lastRead", this.lastRead);
    if (this.socket?.connected)
      for (const m of newest.values()) this.request("message:read", { messageId: m.id, conversationId: c.id });
    this.dispatchEvent(new Event("conversations"));
  }

  #onRead({ messageId, conversationId, readBy }) {
    const c = this.conversations.get(conversationId);
    const m = c?.messages.find((x) => x.id === messageId);
    if (!m) return;
    const k = key(m);
    if ((this.readUpTo[c.id]?.key ?? "") < k) {
      this.readUpTo[c.id] = { key: k, by: readBy };
      this.storage.set("readUpTo", this.readUpTo);
    }
    this.dispatchEvent(new CustomEvent("messages", { detail: c.id }));
  }

  // "read" when someone read this message of mine or a later one, else its send status.
  statusOf(c, m) {
    if (m.status !== "sent") return { status: m.status };
    const read = this.readUpTo[c.id];
    if (read && key(m) <= read.key) return { status: "read", by: read.by };
    return { status: "sent" };
  }

  // ------------------------------------------------------------------------------------------
  // Sending: shown at once as pending, then sent or failed by the ack; retried with the same
  // clientMessageId (the server stores it once).

  send(c, content, files = []) {
    const m = {
      clientMessageId: uuid(),
      conversationId: c.id,
      senderId: this.me.userId,
      content: content || files.map((f) => f.name).join(", "),
      createdAt: new Date().toISOString(),
      status: "pending",
      rev: 1,
      localFiles: files.map((file) => ({ file, uploaded: null, preview: URL.createObjectURL(file) })),
    };
    c.messages.push(m);
    this.stopTyping();
    this.#changed(c);
    this.#deliver(c, m);
  }

  retry(c, m) {
    if (m.status !== "failed") return;
    m.status = "pending";
    m.rev++;
    this.#changed(c);
    this.#deliver(c, m);
  }

  async #deliver(c, m) {
    if (!this.socket.connected) return; // stays pending: sent when the connection is back
    m.sending = true;
    try {
      for (const f of m.localFiles) if (!f.uploaded) f.uploaded = await this.files.upload(f.file);
    } catch (err) {
      m.sending = false;
      return this.#failed(c, m, { code: "UPLOAD", message: err.message, transient: err.transient });
    }
    const payload = { content: m.content, clientMessageId: m.clientMessageId };
    if (m.localFiles.length) payload.attachments = m.localFiles.map((f) => ({ fileId: f.uploaded.fileId }));
    const res = c.direct
      ? await this.request("private:message", { recipientUserId: c.peer, ...payload })
      : await this.request("message:send", { conversationId: c.id, ...payload });
    m.sending = false;
    if (!res.ok) return this.#failed(c, m, res.error);
    // A first private message: the server made the direct conversation; the draft becomes it.
    let target = c;
    if (c.draft) {
      target = this.#conversation({ id: res.message.conversationId, private: true, memberIds: [this.me.userId, c.peer].sort() });
      Object.assign(target, { direct: true, peer: c.peer, loaded: true, hasMore: false });
      this.#adopt(c, target);
      this.refreshConversations();
    }
    this.#merge(target, res.message);
    this.#changed(target);
  }

  // Moves a draft direct conversation's messages into the stored one.
  #adopt(draft, c) {
    for (const m of draft.messages) if (!c.messages.includes(m)) c.messages.push(m);
    this.conversations.delete(draft.id);
    if (this.activeId === draft.id) this.activeId = c.id;
    this.dispatchEvent(new CustomEvent("adopted", { detail: { from: draft.id, to: c.id } }));
  }

  #failed(c, m, error) {
    m.status = "failed";
    m.error = describe(error);
    m.transient = transient(error);
    m.rev++;
    this.#changed(c);
  }

  // After a reconnect: pending messages go out, and failed ones that may succeed now.
  #flushOutbox() {
    for (const c of this.conversations.values())
      for (const m of c.messages) {
        if (m.id || m.sending) continue;
        if (m.status === "pending") this.#deliver(c, m);
        else if (m.status === "failed" && m.transient) this.retry(c, m);
      }
  }

  // ------------------------------------------------------------------------------------------
  // Typing

  typing(c) {
    if (!c || c.draft || !this.socket.connected) return;
    const now = Date.now();
    const t = this.typingSent;
    if (!t || t.conversationId !== c.id || now - t.at > TYPING_RESEND_MS) {
      if (t && t.conversationId !== c.id) this.stopTyping();
      this.socket.emit("typing:start", { conversationId: c.id });
      this.typingSent = { conversationId: c.id, at: now, idle: null };
    }
    clearTimeout(this.typingSent.idle);
    this.typingSent.idle = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    const t = this.typingSent;
    if (!t) return;
    clearTimeout(t.idle);
    this.typingSent = null;
    if (this.socket.connected) this.socket.emit("typing:stop", { conversationId: t.conversationId });
  }

  #onTyping(conversationId, userId, on) {
    const c = this.conversations.get(conversationId);
    if (!c || userId === this.me.userId) return;
    clearTimeout(c.typing.get(userId));
    if (on) c.typing.set(userId, setTimeout(() => this.#onTyping(conversationId, userId, false), TYPING_SHOWN_MS));
    else c.typing.delete(userId);
    this.dispatchEvent(new CustomEvent("typing", { detail: conversationId }));
  }

  #clearTyping(c) {
    if (!c.typing.size) return;
    for (const t of c.typing.values()) clearTimeout(t);
    c.typing.clear();
    this.dispatchEvent(new CustomEvent("typing", { detail: c.id }));
  }

  // ------------------------------------------------------------------------------------------
  // Presence

  #setOnline(userId, on) {
    if (on) this.online.add(userId);
    else this.online.delete(userId);
    this.dispatchEvent(new Event("online"));
  }
}
