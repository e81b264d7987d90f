// The chat screen: renders the ChatClient's state and turns the user's actions into its calls.
import { $, avatar, formatDay, formatSize, formatTime, h, linkified } from "./dom.js";
import { isPreviewable } from "./files.js";
import { icon } from "./icons.js";

const STATE_LABELS = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};
const NEAR_BOTTOM_PX = 80;
const NEAR_TOP_PX = 60;
const GROUP_MS = 5 * 60_000; // consecutive messages of one sender within this share a header

export class ChatView {
  constructor(client, files, { onSignOut }) {
    this.client = client;
    this.files = files;
    this.onSignOut = onSignOut;
    this.pendingFiles = [];
    this.rendered = new Map(); // message key -> { rev, status, el }
    this.renderedFor = null;
    this.phone = window.matchMedia("(max-width: 720px)");
    client.viewing = () => !this.phone.matches || document.body.classList.contains("in-conversation");
    this.#bind();
  }

  // ------------------------------------------------------------------------------------------
  // Wiring

  #bind() {
    const c = this.client;
    this.listeners = [
      [c, "state", () => this.renderState()],
      [c, "conversations", () => this.renderConversations()],
      [c, "messages", (e) => e.detail === c.activeId && this.renderMessages()],
      [c, "typing", (e) => e.detail === c.activeId && this.renderTyping()],
      [c, "online", () => this.renderOnline()],
      [c, "adopted", (e) => e.detail.to === c.activeId && this.openConversation(e.detail.to)],
    ];
    for (const [target, type, fn] of this.listeners) target.addEventListener(type, fn);

    this.handlers = {
      signout: () => this.onSignOut(),
      back: () => this.#showList(),
      refresh: () => c.refreshConversations(),
      newConversation: () => this.#openCreate(),
      join: (e) => this.#join(e),
      composer: (e) => {
        e.preventDefault();
        this.#send();
      },
      keydown: (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          this.#send();
        }
      },
      input: () => {
        this.#autosize();
        if ($("message-input").value.trim()) c.typing(c.conversations.get(c.activeId));
        else c.stopTyping();
      },
      files: (e) => {
        this.#addFiles([...e.target.files]);
        e.target.value = "";
      },
      paste: (e) => {
        const files = [...(e.clipboardData?.files ?? [])];
        if (files.length) {
          e.preventDefault();
          this.#addFiles(files);
        }
      },
      scroll: () => this.#maybeLoadOlder(true),
      create: (e) => this.#create(e),
      cancel: () => $("create-dialog").close(),
    };
    const on = (id, type, fn) => $(id).addEventListener(type, fn);
    on("signout", "click", this.handlers.signout);
    on("back", "click", this.handlers.back);
    on("refresh-conversations", "click", this.handlers.refresh);
    on("new-conversation", "click", this.handlers.newConversation);
    on("join-form", "submit", this.handlers.join);
    on("composer", "submit", this.handlers.composer);
    on("message-input", "keydown", this.handlers.keydown);
    on("message-input", "input", this.handlers.input);
    on("message-input", "paste", this.handlers.paste);
    on("file-input", "change", this.handlers.files);
    on("messages", "scroll", this.handlers.scroll);
    on("create-form", "submit", this.handlers.create);
    on("create-cancel", "click", this.handlers.cancel);
  }

  destroy() {
    for (const [target, type, fn] of this.listeners) target.removeEventListener(type, fn);
    const off = (id, type, fn) => $(id).removeEventListener(type, fn);
    off("signout", "click", this.handlers.signout);
    off("back", "click", this.handlers.back);
    off("refresh-conversations", "click", this.handlers.refresh);
    off("new-conversation", "click", this.handlers.newConversation);
    off("join-form", "submit", this.handlers.join);
    off("composer", "submit", this.handlers.composer);
    off("message-input", "keydown", this.handlers.keydown);
    off("message-input", "input", this.handlers.input);
    off("message-input", "paste", this.handlers.paste);
    off("file-input", "change", this.handlers.files);
    off("messages", "scroll", this.handlers.scroll);
    off("create-form", "submit", this.handlers.create);
    off("create-cancel", "click", this.handlers.cancel);
    $("message-list").replaceChildren();
    $("conversation-list").replaceChildren();
    $("online-list").replaceChildren();
  }

  show() {
    const me = this.client.me;
    $("me-name").textContent = me.name;
    $("me-id").textContent = me.name === me.userId ? "" : `@${me.userId}`;
    $("me-avatar").replaceWith(Object.assign(avatar(me.userId, me.name), { id: "me-avatar" }));
    this.renderState();
    this.renderConversations();
    this.renderOnline();
    this.renderMessages();
  }

  // ------------------------------------------------------------------------------------------
  // Connection state

  renderState() {
    const el = $("connection");
    el.dataset.state = this.client.state;
    el.textContent = STATE_LABELS[this.client.state];
  }

  // ------------------------------------------------------------------------------------------
  // Conversation list

  renderConversations() {
    const c = this.client;
    const items = c.sortedConversations().map((conv) => {
      const title = c.title(conv);
      const unread = c.unread(conv);
      const last = conv.messages.at(-1);
      const preview = last ? `${last.senderId === c.me.userId ? "You: " : conv.direct ? "" : `${last.senderId}: `}${last.content}` : conv.direct ? "Private chat" : "No messages yet";
      const label = `${title}${conv.private && !conv.direct ? " (private)" : ""}${unread ? `, ${unread} unread` : ""}`;
      const badge = conv.direct ? avatar(conv.peer ?? "?") : h("span", { class: "avatar room", "aria-hidden": "true" }, icon(conv.private ? "lock" : "hash"));
      return h("li", {},
        h("button", {
          type: "button",
          class: `conversation-item${unread ? " has-unread" : ""}`,
          "aria-current": conv.id === c.activeId ? "true" : false,
          "aria-label": label,
          dataset: { id: conv.id },
          onclick: () => this.openConversation(conv.id),
        },
        badge,
        h("span", { class: "item-text" },
          h("span", { class: "item-title" }, title),
          h("span", { class: "item-preview" }, preview)),
        unread ? h("span", { class: "badge", "aria-hidden": "true" }, unread > 99 ? "99+" : unread) : null));
    });
    $("conversation-list").replaceChildren(...items);
    $("no-conversations").hidden = items.length > 0;
    this.renderHeader();
    const unreadTotal = [...c.conversations.values()].reduce((n, conv) => n + c.unread(conv), 0);
    document.title = unreadTotal ? `(${unreadTotal}) Parley` : "Parley";
  }

  openConversation(id) {
    const c = this.client;
    $("welcome").hidden = true;
    document.body.classList.add("in-conversation");
    c.open(id);
    this.renderMessages();
    this.renderTyping();
    $("composer").hidden = false;
    if (!this.phone.matches || document.activeElement?.closest(".conversation-item")) $("message-input").focus();
  }

  #showList() {
    document.body.classList.remove("in-conversation");
    this.client.stopTyping();
  }

  renderHeader() {
    const c = this.client;
    const conv = c.conversations.get(c.activeId);
    if (!conv) {
      $("conversation-title").textContent = "Choose a conversation";
      $("conversation-subtitle").textContent = "";
      return;
    }
    $("conversation-title").textContent = c.title(conv);
    let sub;
    if (conv.direct) sub = c.online.has(conv.peer) ? "Online · private" : "Private messages";
    else if (conv.private) sub = `Private · ${conv.memberIds.join(", ")}`;
    else sub = conv.memberIds.length ? `Public · ${conv.id} · ${conv.memberIds.join(", ")}` : `Public · ${conv.id}`;
    $("conversation-subtitle").textContent = sub;
  }

  // ------------------------------------------------------------------------------------------
  // Messages

  renderMessages() {
    const c = this.client;
    const conv = c.conversations.get(c.activeId);
    const box = $("messages");
    const list = $("message-list");
    if (!conv) {
      list.replaceChildren();
      $("history-status").textContent = "";
      $("welcome").hidden = false;
      return;
    }
    if (this.renderedFor !== conv.id) {
      this.rendered.clear();
      list.replaceChildren();
      this.renderedFor = conv.id;
      this.stickToBottom = true;
    }
    const atBottom = this.stickToBottom || box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_BOTTOM_PX;
    const fromBottom = box.scrollHeight - box.scrollTop;
    const firstBefore = list.firstElementChild;

    const nodes = [];
    const keep = new Set();
    let prev = null;
    for (const m of conv.messages) {
      const day = formatDay(m.createdAt);
      if (!prev || formatDay(prev.createdAt) !== day) {
        const k = `day:${day}`;
        keep.add(k);
        nodes.push(this.#cached(k, 0, "", () => h("li", { class: "day", role: "separator" }, h("span", {}, day))));
        prev = null;
      }
      const grouped = prev && prev.senderId === m.senderId && Date.parse(m.createdAt) - Date.parse(prev.createdAt) < GROUP_MS;
      const k = m.clientMessageId ?? m.id;
      const mark = m.senderId === c.me.userId ? c.statusOf(conv, m) : { status: "" };
      keep.add(k);
      nodes.push(this.#cached(k, m.rev, `${mark.status}|${grouped}`, () => this.#message(conv, m, mark, grouped)));
      prev = m;
    }
    for (const k of this.rendered.keys()) if (!keep.has(k)) this.rendered.delete(k);
    // Moves only what changed place: images keep their loaded state.
    let cursor = list.firstElementChild;
    for (const node of nodes) {
      if (node === cursor) cursor = cursor.nextElementSibling;
      else list.insertBefore(node, cursor);
    }
    while (cursor) {
      const next = cursor.nextElementSibling;
      cursor.remove();
      cursor = next;
    }

    $("history-status").textContent = conv.loadingOlder ? "Loading older messages…"
      : !conv.loaded ? "Loading…"
      : conv.hasMore ? "Scroll up for older messages"
      : conv.messages.length ? "Beginning of the conversation" : "No messages yet: say hello!";
    if (atBottom) box.scrollTop = box.scrollHeight;
    else if (firstBefore && list.firstElementChild !== firstBefore) box.scrollTop = box.scrollHeight - fromBottom; // older ones came in above
    this.stickToBottom = false;
    // Too few messages to scroll: no scroll event would ask for the older ones.
    if (conv.loaded && conv.hasMore && !conv.loadingOlder && !conv.olderFailed && box.scrollHeight <= box.clientHeight)
      queueMicrotask(() => this.#maybeLoadOlder());
  }

  #cached(k, rev, state, build) {
    const hit = this.rendered.get(k);
    if (hit && hit.rev === rev && hit.state === state) return hit.el;
    const el = build();
    this.rendered.set(k, { rev, state, el });
    return el;
  }

  #message(conv, m, mark, grouped) {
    const c = this.client;
    const mine = m.senderId === c.me.userId;
    // Before the ack: the files being sent, previewed from disk; after it, the stored ones (this
    // page's own still previewed from disk, without a download).
    const local = new Map((m.localFiles ?? []).filter((f) => f.uploaded).map((f) => [f.uploaded.fileId, f.preview]));
    const attachments = m.attachments?.length
      ? m.attachments.map((a) => ({ ...a, preview: local.get(a.fileId) }))
      : (m.localFiles ?? []).map((f) => ({ name: f.file.name, size: f.file.size, contentType: f.file.type, local: f.preview }));
    const autoCaption = attachments.length && m.content === attachments.map((a) => a.name).join(", ");
    const statusLabels = { pending: "Sending…", sent: "Sent", read: "Read", failed: "Not sent" };
    const meta = h("span", { class: "meta" },
      h("time", { datetime: m.createdAt, title: new Date(m.createdAt).toLocaleString() }, formatTime(m.createdAt)),
      mine ? h("span", {
        class: `mark ${mark.status}`,
        role: "img",
        "aria-label": statusLabels[mark.status],
        title: mark.status === "read" ? `Read by ${mark.by}` : statusLabels[mark.status],
        dataset: { status: mark.status },
      }, icon({ pending: "clock", sent: "check", read: "checks", failed: "alert" }[mark.status])) : null);

    return h("li", {
      class: `message${mine ? " mine" : ""}${grouped ? " grouped" : ""} ${mark.status}`,
      dataset: { id: m.id ?? "", clientId: m.clientMessageId ?? "", status: mark.status || "received" },
    },
    !mine && !grouped ? avatar(m.senderId) : h("span", { class: "avatar-space", "aria-hidden": "true" }),
    h("div", { class: "bubble" },
      !mine && !grouped && !conv.direct ? h("span", { class: "sender" }, m.senderId) : null,
      attachments.length ? h("div", { class: "attachments" }, attachments.map((a) => this.#attachment(a))) : null,
      autoCaption ? null : h("p", { class: "content" }, linkified(m.content)),
      meta,
      mark.status === "failed" ? h("p", { class: "failure" },
        `Not sent: ${m.error}. `,
        h("button", { type: "button", class: "link retry", onclick: () => c.retry(conv, m) }, "Retry")) : null));
  }

  #attachment(a) {
    const image = isPreviewable(a.contentType);
    const label = `${a.name} (${formatSize(a.size)})`;
    if (image) {
      const img = h("img", { alt: a.name, class: "preview", loading: "lazy" });
      const link = h("a", { class: "image-link", href: "#", title: `Open ${label}` }, img);
      const show = (url) => {
        img.src = url;
        link.href = url;
        link.target = "_blank";
        link.rel = "noopener";
      };
      if (a.local || a.preview) show(a.local || a.preview);
      else this.files.objectUrl(a).then(show, (err) => link.replaceWith(h("span", { class: "file error" }, `${a.name}: ${err.message}`)));
      return h("figure", { class: "attachment image" }, link,
        a.local ? null : h("figcaption", {}, this.#downloadButton(a, label)));
    }
    return h("div", { class: "attachment file" }, h("span", { class: "file-icon" }, icon("file")),
      a.local ? h("span", {}, label) : this.#downloadButton(a, label));
  }

  #downloadButton(a, label) {
    return h("button", {
      type: "button",
      class: "link download",
      title: `Download ${a.name}`,
      onclick: (e) => this.files.download(a).catch((err) => (e.target.textContent = `${a.name}: ${err.message}`)),
    }, icon("download"), label);
  }

  // Near the top: the page before. `byUser`: a scroll, which retries after a failed load.
  async #maybeLoadOlder(byUser = false) {
    const c = this.client;
    const conv = c.conversations.get(c.activeId);
    if (!conv || $("messages").scrollTop > NEAR_TOP_PX || !conv.hasMore || conv.loadingOlder) return;
    if (conv.olderFailed && !byUser) return;
    const loading = c.loadOlder(conv);
    this.renderMessages(); // "Loading older messages…"
    await loading;
  }

  renderTyping() {
    const c = this.client;
    const conv = c.conversations.get(c.activeId);
    const who = conv ? [...conv.typing.keys()] : [];
    const el = $("typing");
    el.replaceChildren();
    if (!who.length) return;
    const text = who.length === 1 ? `${who[0]} is typing` : who.length === 2 ? `${who[0]} and ${who[1]} are typing` : "Several people are typing";
    el.append(h("span", { class: "dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")), text);
  }

  // ------------------------------------------------------------------------------------------
  // Composer

  #autosize() {
    const input = $("message-input");
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  }

  #addFiles(files) {
    this.pendingFiles.push(...files);
    this.#renderPendingFiles();
  }

  #renderPendingFiles() {
    $("attachments-pending").replaceChildren(...this.pendingFiles.map((f, i) =>
      h("li", { class: "chip" }, icon("paperclip"), `${f.name} (${formatSize(f.size)})`,
        h("button", {
          type: "button",
          class: "icon small",
          "aria-label": `Remove ${f.name}`,
          onclick: () => {
            this.pendingFiles.splice(i, 1);
            this.#renderPendingFiles();
          },
        }, icon("close")))));
  }

  #send() {
    const c = this.client;
    const conv = c.conversations.get(c.activeId);
    const input = $("message-input");
    const text = input.value.trim();
    if (!conv || (!text && !this.pendingFiles.length)) return;
    c.send(conv, text, this.pendingFiles);
    this.pendingFiles = [];
    this.#renderPendingFiles();
    input.value = "";
    this.#autosize();
    this.stickToBottom = true;
    this.renderMessages();
    input.focus();
  }

  // ------------------------------------------------------------------------------------------
  // People

  renderOnline() {
    const c = this.client;
    const others = [...c.online].filter((u) => u !== c.me.userId).sort();
    $("online-count").textContent = String(others.length + (c.online.has(c.me.userId) ? 1 : 0));
    const items = others.map((u) => h("li", {},
      h("button", {
        type: "button",
        class: "person",
        title: `Message ${u} privately`,
        "aria-label": `${u}, online: send a private message`,
        dataset: { user: u },
        onclick: () => this.openConversation(c.direct(u).id),
      }, avatar(u), h("span", { class: "presence", "aria-hidden": "true" }), h("span", { class: "item-title" }, u))));
    if (!items.length) items.push(h("li", { class: "muted empty" }, "Nobody else is online."));
    $("online-list").replaceChildren(...items);
    this.renderHeader();
  }

  // ------------------------------------------------------------------------------------------
  // Creating and joining

  #openCreate() {
    const c = this.client;
    const known = new Set(c.online);
    for (const conv of c.conversations.values()) for (const u of conv.memberIds) known.add(u);
    known.delete(c.me.userId);
    $("create-people").replaceChildren(...[...known].sort().map((u) =>
      h("li", {}, h("label", { class: "check" }, h("input", { type: "checkbox", value: u }), avatar(u), u))));
    $("create-people").hidden = known.size === 0;
    $("create-error").textContent = "";
    $("create-form").reset();
    $("create-dialog").showModal();
    $("create-name").focus();
  }

  async #create(e) {
    e.preventDefault();
    const members = new Set([...$("create-people").querySelectorAll("input:checked")].map((i) => i.value));
    for (const u of $("create-members").value.split(",")) if (u.trim()) members.add(u.trim());
    $("create-submit").disabled = true;
    const res = await this.client.createConversation({
      title: $("create-name").value.trim(),
      conversationId: $("create-id").value.trim() || undefined,
      isPrivate: $("create-private").checked,
      memberIds: [...members],
    });
    $("create-submit").disabled = false;
    if (!res.ok) {
      $("create-error").textContent = res.error?.code === "CONFLICT" ? "That id is taken: choose another." : res.error?.message || "Could not create it.";
      return;
    }
    $("create-dialog").close();
    this.openConversation(res.conversation.id);
  }

  async #join(e) {
    e.preventDefault();
    const input = $("join-id");
    const id = input.value.trim();
    if (!id) return;
    const res = await this.client.joinConversation(id);
    if (!res.ok) {
      input.setCustomValidity(res.error?.code === "FORBIDDEN" ? "That conversation is private." : res.error?.message || "Could not join.");
      input.reportValidity();
      input.addEventListener("input", () => input.setCustomValidity(""), { once: true });
      return;
    }
    input.value = "";
    this.openConversation(id);
  }
}
