#pragma once
// The blueprint: every event of the chat contract (docs: /work/shared/spec/chat-events.md), its
// name, its payload and its acknowledgement, as C++ types. The C++ counterpart of a
// socket.io `socket.types.ts`:
//
//   socket->emit<parley::events::message_new>(msg);         // type-checked server -> client
//   auto req = parley::events::parse_send(ev.args(), ev.attachments(), limits);
//   if (!req) return ev.ack(parley::events::error_ack(req.error()));
//
// Incoming payloads are validated by hand (parse_*), not by the typed `on<Ev>` of sio, because
// every refusal must be acknowledged in the contract's shape
// `{ ok: false, error: { code, message } }`.
//
// Project extensions of the contract (documented here, since the contract leaves them open):
// - Every successful acknowledgement carries `ok: true`, including `get:online:count`
//   (`{ ok, count }`) and `users:online` (`{ ok, userIds }`).
// - `message:read` acks `{ ok: true, messageId, conversationId, readBy, readAt }`.
// - Binary attachments in `message:send` / `private:message`: an entry of `attachments` may be a
//   binary (Buffer / ArrayBuffer / Blob) or `{ data: <binary>, name?, contentType? }`; each is
//   stored as an uploaded file and carried like a `{ fileId }` attachment.
// - Conversation ids are strings of 1-200 characters; ids starting with `user:` are reserved
//   for the per-user rooms (FORBIDDEN).
// - `conversation:list` takes `{ limit?, before? }` and answers a page, newest first:
//   `{ ok, conversations, next }`. limit: 1-100 (default 20; more is capped); before: the `next`
//   of the previous page, an opaque cursor; `next` is null on the last page. No argument: the
//   first page.
// - `users:online` takes `{ after? }` and answers `{ ok, userIds, next }`, ids in byte order; `next`
//   (the `after` of the following page) is null unless the ids did not fit in one reply.
// - No list reply (conversation:list, users:online, message:history) exceeds
//   limits::max_reply_bytes of JSON, far below the Engine.IO send-queue bound that would close
//   the connection: a page stops early instead (at least one item). message:history then holds
//   the newest messages that fit, so paging with `before` misses nothing.
// - conversation:create: at most limits::max_conversation_members members (the creator
//   included), else BAD_REQUEST.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/describe/class.hpp>
#include <boost/json/array.hpp>
#include <boost/json/fwd.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "sio/adapter/types.hpp"
#include "sio/socketio/typed_events.hpp"

namespace parley::events {

// ---------------------------------------------------------------------------------------------
// Event names.
namespace name {
// client -> server
inline constexpr std::string_view conversation_join = "conversation:join";
inline constexpr std::string_view conversation_leave = "conversation:leave";
inline constexpr std::string_view conversation_create = "conversation:create";
inline constexpr std::string_view conversation_list = "conversation:list";
inline constexpr std::string_view message_send = "message:send";
inline constexpr std::string_view message_history = "message:history";
inline constexpr std::string_view private_message = "private:message";
inline constexpr std::string_view get_online_count = "get:online:count";
inline constexpr std::string_view users_online = "users:online";
// both directions
inline constexpr std::string_view typing_start = "typing:start";
inline constexpr std::string_view typing_stop = "typing:stop";
inline constexpr std::string_view message_read = "message:read";
// server -> client
inline constexpr std::string_view connected = "connected";
inline constexpr std::string_view user_online = "user:online";
inline constexpr std::string_view user_offline = "user:offline";
inline constexpr std::string_view message_new = "message:new";
}  // namespace name

// The room of every socket of one user.
inline std::string user_room(std::string_view user_id) { return "user:" + std::string(user_id); }
inline constexpr std::string_view user_room_prefix = "user:";

// ---------------------------------------------------------------------------------------------
// Errors: `{ ok: false, error: { code, message } }`.
namespace code {
inline constexpr std::string_view bad_request = "BAD_REQUEST";
inline constexpr std::string_view unauthorized = "UNAUTHORIZED";
inline constexpr std::string_view forbidden = "FORBIDDEN";
inline constexpr std::string_view not_found = "NOT_FOUND";
inline constexpr std::string_view conflict = "CONFLICT";
inline constexpr std::string_view payload_too_large = "PAYLOAD_TOO_LARGE";
inline constexpr std::string_view rate_limited = "RATE_LIMITED";
inline constexpr std::string_view internal = "INTERNAL";
}  // namespace code

// The connect_error messages of the connection limits (a project extension; the error's `data` is
// `{ code: "RATE_LIMITED" }`). The contract's own are the guard's (auth/jwt.hpp).
namespace connect_refusal {
inline constexpr std::string_view too_many_for_user = "Connection refused: too many connections for this user";
inline constexpr std::string_view too_many_from_address = "Connection refused: too many connections from this address";
}  // namespace connect_refusal

struct error_body {
  std::string code;
  std::string message;
};
BOOST_DESCRIBE_STRUCT(error_body, (), (code, message))

struct error_ack_payload {
  bool ok = false;
  events::error_body error;
};
BOOST_DESCRIBE_STRUCT(error_ack_payload, (), (ok, error))

inline error_ack_payload error_ack(error_body e) { return {false, std::move(e)}; }
inline error_ack_payload error_ack(std::string_view code, std::string message) {
  return {false, {std::string(code), std::move(message)}};
}

// ---------------------------------------------------------------------------------------------
// Shared shapes.

struct attachment {  // a stored file, as messages carry it
  std::string fileId;
  std::string name;
  std::int64_t size = 0;
  std::string contentType;
  std::string url;
};
BOOST_DESCRIBE_STRUCT(attachment, (), (fileId, name, size, contentType, url))

// The stored message. clientMessageId and attachments are left out of the JSON when absent/empty.
struct message {
  std::string id;
  std::string conversationId;
  std::string senderId;
  std::string content;
  std::string createdAt;
  std::optional<std::string> clientMessageId;
  std::vector<attachment> attachments;
};
BOOST_DESCRIBE_STRUCT(message, (), (id, conversationId, senderId, content, createdAt, clientMessageId, attachments))
void tag_invoke(const boost::json::value_from_tag&, boost::json::value& jv, const message& m);

// `private` is a C++ keyword: the member is is_private, the JSON field "private".
struct conversation {
  std::string id;
  std::string title;
  bool is_private = false;
  std::vector<std::string> memberIds;
  std::string createdBy;
  std::string createdAt;
};
BOOST_DESCRIBE_STRUCT(conversation, (), (id, title, is_private, memberIds, createdBy, createdAt))
void tag_invoke(const boost::json::value_from_tag&, boost::json::value& jv, const conversation& c);

// ---------------------------------------------------------------------------------------------
// Server -> client events.

struct connected_payload {
  std::string socketId;
  std::string userId;
  std::string serverTime;
};
BOOST_DESCRIBE_STRUCT(connected_payload, (), (socketId, userId, serverTime))

struct user_online_payload {
  std::string userId;
};
BOOST_DESCRIBE_STRUCT(user_online_payload, (), (userId))

struct user_offline_payload {
  std::string userId;
  std::string lastSeen;
};
BOOST_DESCRIBE_STRUCT(user_offline_payload, (), (userId, lastSeen))

struct typing_payload {
  std::string userId;
  std::string conversationId;
};
BOOST_DESCRIBE_STRUCT(typing_payload, (), (userId, conversationId))

struct read_receipt_payload {
  std::string messageId;
  std::string conversationId;
  std::string readBy;
  std::string readAt;
};
BOOST_DESCRIBE_STRUCT(read_receipt_payload, (), (messageId, conversationId, readBy, readAt))

using connected_event = sio::event_def<"connected", connected_payload>;
using user_online = sio::event_def<"user:online", user_online_payload>;
using user_offline = sio::event_def<"user:offline", user_offline_payload>;
using message_new = sio::event_def<"message:new", message>;
using typing_start = sio::event_def<"typing:start", typing_payload>;
using typing_stop = sio::event_def<"typing:stop", typing_payload>;
using message_read = sio::event_def<"message:read", read_receipt_payload>;

// ---------------------------------------------------------------------------------------------
// Acknowledgements (success).

struct conversation_id_ack {  // conversation:join, conversation:leave
  bool ok = true;
  std::string conversationId;
};
BOOST_DESCRIBE_STRUCT(conversation_id_ack, (), (ok, conversationId))

struct conversation_ack {  // conversation:create
  bool ok = true;
  events::conversation conversation;
};
BOOST_DESCRIBE_STRUCT(conversation_ack, (), (ok, conversation))

struct conversations_ack {  // conversation:list
  bool ok = true;
  std::vector<conversation> conversations;
  std::optional<std::string> next;  // null: the last page
};
BOOST_DESCRIBE_STRUCT(conversations_ack, (), (ok, conversations, next))

struct message_ack {  // message:send, private:message
  bool ok = true;
  events::message message;
};
BOOST_DESCRIBE_STRUCT(message_ack, (), (ok, message))

struct messages_ack {  // message:history
  bool ok = true;
  std::vector<message> messages;
};
BOOST_DESCRIBE_STRUCT(messages_ack, (), (ok, messages))

struct count_ack {  // get:online:count
  bool ok = true;
  std::size_t count = 0;
};
BOOST_DESCRIBE_STRUCT(count_ack, (), (ok, count))

struct user_ids_ack {  // users:online
  bool ok = true;
  std::vector<std::string> userIds;
  std::optional<std::string> next;  // null: every online user is in this reply
};
BOOST_DESCRIBE_STRUCT(user_ids_ack, (), (ok, userIds, next))

struct read_ack {  // message:read
  bool ok = true;
  std::string messageId;
  std::string conversationId;
  std::string readBy;
  std::string readAt;
};
BOOST_DESCRIBE_STRUCT(read_ack, (), (ok, messageId, conversationId, readBy, readAt))

// ---------------------------------------------------------------------------------------------
// Client -> server requests, validated by the parse_* functions below.

struct conversation_ref {  // conversation:join / leave, typing:start / stop
  std::string conversationId;
};
BOOST_DESCRIBE_STRUCT(conversation_ref, (), (conversationId))

struct create_request {
  std::optional<std::string> conversationId;
  std::optional<std::string> title;
  bool is_private = false;
  std::vector<std::string> memberIds;
};
BOOST_DESCRIBE_STRUCT(create_request, (), (conversationId, title, is_private, memberIds))

// An attachment as sent: a reference to an uploaded file, or bytes to store (binary attachments).
struct attachment_ref {
  std::optional<std::string> fileId;
  std::optional<sio::binary> data;
  std::string name;
  std::string contentType;
};

struct send_request {
  std::string conversationId;
  std::string content;
  std::optional<std::string> clientMessageId;
  std::vector<attachment_ref> attachments;
};

struct private_request {
  std::string recipientUserId;
  std::string content;
  std::optional<std::string> clientMessageId;
  std::vector<attachment_ref> attachments;
};

struct history_request {
  std::string conversationId;
  std::optional<std::string> before;
  int limit = 50;
};
BOOST_DESCRIBE_STRUCT(history_request, (), (conversationId, before, limit))

struct read_request {
  std::string messageId;
  std::optional<std::string> conversationId;
};
BOOST_DESCRIBE_STRUCT(read_request, (), (messageId, conversationId))

struct list_request {  // conversation:list
  int limit = 20;
  std::optional<std::string> before;  // a cursor, as the previous page's `next`
};

struct online_request {  // users:online
  std::optional<std::string> after;
};

// A validated request, or the BAD_REQUEST (or PAYLOAD_TOO_LARGE) error to acknowledge.
template <class T>
class parsed {
 public:
  parsed(T v) : value_(std::move(v)) {}
  parsed(error_body e) : error_(std::move(e)) {}
  explicit operator bool() const noexcept { return value_.has_value(); }
  T& operator*() { return *value_; }
  T* operator->() { return &*value_; }
  const error_body& error() const noexcept { return error_; }

 private:
  std::optional<T> value_;
  error_body error_;
};

struct limits {
  std::size_t max_message_length = 4000;  // code points of content
  std::size_t max_attachments = 10;
  std::size_t max_attachment_bytes = 10 * 1024 * 1024;  // per binary attachment
  int default_history = 50;
  int max_history = 200;
  std::size_t max_conversation_members = 100;  // the creator included
  int default_conversation_page = 20;
  int max_conversation_page = 100;
  // JSON bytes of one list reply at most: a quarter of the Engine.IO send-queue bound (16 MiB),
  // which closes a connection whose unsent data exceeds it, so that a reply leaves room for the
  // broadcasts queued beside it. 200 messages of 4000 four-byte characters fit.
  std::size_t max_reply_bytes = 4 * 1024 * 1024;
};
inline constexpr std::size_t max_id_length = 200;
inline constexpr std::size_t max_cursor_length = 512;

// Upper bounds of the JSON text of a value, as sio sends it: a string counts as if each of its
// control characters were escaped as \u00XX (6 bytes for 1), '"' and '\\' as 2 bytes.
std::size_t json_size_bound(std::string_view s) noexcept;
std::size_t json_size_bound(const message& m) noexcept;
std::size_t json_size_bound(const conversation& c) noexcept;

// Unicode code points in valid UTF-8 (bytes that do not continue a sequence).
std::size_t code_points(std::string_view utf8) noexcept;

// The arguments of an incoming event (args: the event's args, attachments: its binaries).
parsed<conversation_ref> parse_conversation_ref(const boost::json::array& args);  // string or object
parsed<create_request> parse_create(const boost::json::array& args, const limits& lim);
parsed<send_request> parse_send(const boost::json::array& args, const std::vector<sio::binary>& bins,
                                const limits& lim);
parsed<private_request> parse_private(const boost::json::array& args, const std::vector<sio::binary>& bins,
                                      const limits& lim);
parsed<history_request> parse_history(const boost::json::array& args, const limits& lim);
parsed<read_request> parse_read(const boost::json::array& args);
parsed<list_request> parse_list(const boost::json::array& args, const limits& lim);
parsed<online_request> parse_online(const boost::json::array& args);

// ISO-8601 UTC with milliseconds: 2026-11-24T10:00:00.000Z.
std::string format_time(std::int64_t ms_since_epoch);

}  // namespace parley::events
