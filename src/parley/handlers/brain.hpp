#pragma once
// The brain: what the chat service does for each event of the contract (events.hpp names them).
//
//   parley::brain chat(io, *store, *presence, files, pool.context(0), {.limits = ..., .rate_limit = 20});
//   chat.attach();   // io.use(the connection limits), io.on_connection(...): presence, then one
//                    // handler per event
//
// Threading: a socket's handlers run on its thread; store callbacks on store threads. Presence,
// the per-user limits (shared by the sockets of a user), the conversation cache, the typing
// timers and a socket's message order (sequencer) are thread-safe; acks and emits are safe from
// any thread.
// Every handler validates before it acts and acknowledges exactly once when asked to.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include <boost/asio/io_context.hpp>

#include "parley/events.hpp"
#include "parley/handlers/presence.hpp"
#include "parley/handlers/rate_limiter.hpp"
#include "parley/handlers/sequencer.hpp"
#include "parley/handlers/typing.hpp"
#include "parley/http/file_storage.hpp"
#include "parley/store/store.hpp"
#include "sio/socketio/server.hpp"

namespace parley {

struct brain_options {
  events::limits limits;
  double rate_limit = 20;  // events per second per user, all sockets together; burst twice that; <= 0: unlimited
  std::chrono::milliseconds typing_timeout{5000};
  double creates_per_minute = 10;  // conversation:create per user; bursts of that many; <= 0: unlimited
  double uploads_per_minute = 30;  // uploads per user (see brain::limits()); <= 0: unlimited
  std::size_t max_connections_per_user = 20;      // 0: unlimited
  std::size_t max_connections_per_address = 256;  // 0: unlimited
};

// Conversions from the store's records to the wire shapes.
events::message to_wire(const stored_message& m);
events::conversation to_wire(const conversation& c);
events::attachment to_wire(const file_record& f);
// A store error as the contract's error body.
events::error_body to_error(std::error_code ec, std::string_view what);
// conversation:list's cursor (`next`, then `before`) on the wire: opaque to clients.
std::string format_list_cursor(const conversation_cursor& c);
std::optional<conversation_cursor> parse_list_cursor(std::string_view text);
std::int64_t now_ms();

class brain {
 public:
  brain(sio::server& io, store& db, presence& online, files::file_storage& files, boost::asio::io_context& timers,
        brain_options opts);
  ~brain();

  // Registers the connection limits (a middleware, after the guard's) and the connection handler
  // on the main namespace.
  void attach();
  // The per-user limits; the upload route takes its uploads quota from them.
  const std::shared_ptr<user_limits>& limits() const noexcept { return limits_; }
  // Ends the typing timers (shutdown).
  void stop();

 private:
  using socket_ptr = std::shared_ptr<sio::socket>;
  // Messages of one socket waiting for the one before them to be queued to the store (see
  // messages.cpp); more are refused with RATE_LIMITED. The rate limiter refuses long before.
  static constexpr std::size_t max_waiting_messages = 256;
  struct session {  // per-socket state
    socket_ptr socket;
    std::string user_id;
    std::string name;
    std::shared_ptr<user_quota> quota;  // shared with the user's other sockets
    sequencer message_order{max_waiting_messages};  // message:send and private:message, in arrival order
  };
  using handler = void (brain::*)(const std::shared_ptr<session>&, sio::event&);

  static const std::array<std::pair<std::string_view, handler>, 12>& routes();
  void admit(const socket_ptr& s, sio::next_fn next);
  void on_connection(const socket_ptr& s);
  void on_disconnecting(const std::shared_ptr<session>& ss);
  void route(const std::shared_ptr<session>& ss, std::string_view name, handler h);

  // Presence.
  void online_count(const std::shared_ptr<session>& ss, sio::event& ev);
  void online_users(const std::shared_ptr<session>& ss, sio::event& ev);
  // Conversations.
  void conversation_join(const std::shared_ptr<session>& ss, sio::event& ev);
  void conversation_leave(const std::shared_ptr<session>& ss, sio::event& ev);
  void conversation_create(const std::shared_ptr<session>& ss, sio::event& ev);
  void conversation_list(const std::shared_ptr<session>& ss, sio::event& ev);
  // Messages.
  void message_send(const std::shared_ptr<session>& ss, sio::event& ev);
  void private_message(const std::shared_ptr<session>& ss, sio::event& ev);
  void message_history(const std::shared_ptr<session>& ss, sio::event& ev);
  // Typing and read receipts.
  void typing_start(const std::shared_ptr<session>& ss, sio::event& ev);
  void typing_stop(const std::shared_ptr<session>& ss, sio::event& ev);
  void message_read(const std::shared_ptr<session>& ss, sio::event& ev);

  // The conversation `id` as far as access goes: nullopt when it was never created (public).
  using lookup_result = sio::result<std::optional<conversation>>;
  std::shared_ptr<const conversation> cached(const std::string& id);
  void lookup(const std::string& id, std::function<void(lookup_result)> done);
  void remember(const conversation& c);
  void evict_non_members(const conversation& c, std::function<void()> then);
  // Access to a conversation: FORBIDDEN when private and the user is not a member.
  static bool may_access(const std::optional<conversation>& c, const std::string& user_id);
  static bool may_access(const conversation& c, const std::string& user_id);
  // Looks `id` up and calls `then` when `user_id` may use it; otherwise acks the error.
  void with_access(const std::string& id, std::string user_id, sio::ack_fn ack, std::function<void()> then);
  // A conversation id a client may use (not a per-user or per-socket room).
  std::optional<events::error_body> check_conversation_id(const std::string& id) const;

  // Messages (messages.cpp). `step` runs in the socket's message order; refused when too many wait.
  void in_message_order(const std::shared_ptr<session>& ss, const sio::ack_fn& ack, sequencer::task step);
  using deliver_fn = std::function<void(const events::message&)>;
  // The end of a message's turn: its attachments, then its insert (the turn ends once it is queued).
  void store_in_turn(new_message m, std::vector<events::attachment_ref> refs, sio::ack_fn ack, deliver_fn deliver,
                     sequencer::turn turn);
  // A message's attachments: the file ids given, and its binary ones written to disk (the store
  // records those with the message, or not at all).
  struct resolved_attachments {
    std::vector<std::string> file_ids;   // every attachment's, in order
    std::vector<file_record> new_files;  // the binary ones: on disk, to be recorded with the message
  };
  void resolve_attachments(std::vector<events::attachment_ref> refs, const std::string& uploader,
                           std::function<void(sio::result<resolved_attachments>)> done);
  // Stores a message and acks it; deliver(msg) sends message:new when it is new.
  void store_and_deliver(new_message m, sio::ack_fn ack, deliver_fn deliver);

  sio::server& io_;
  store& db_;
  presence& online_;
  files::file_storage& files_;
  brain_options opts_;
  std::shared_ptr<user_limits> limits_;
  typing_tracker typing_;

  // Created conversations, by id: their privacy and members never change, so they are cached.
  std::mutex cache_mutex_;
  std::unordered_map<std::string, std::shared_ptr<const conversation>> cache_;
};

}  // namespace parley
