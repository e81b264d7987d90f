// The brain's connection life: presence, per-socket rate limiting, and the event table.
#include "parley/handlers/brain.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "parley/handlers/rate_limiter.hpp"
#include "parley/store/ids.hpp"

namespace parley {

namespace ev = events;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ev::attachment to_wire(const file_record& f) {
  return {f.id, f.name, f.size, f.content_type, files::url_for(f.id)};
}

ev::message to_wire(const stored_message& m) {
  ev::message out{m.id, m.conversation_id, m.sender_id, m.content, ev::format_time(m.created_at), m.client_message_id, {}};
  out.attachments.reserve(m.attachments.size());
  for (const auto& f : m.attachments) out.attachments.push_back(to_wire(f));
  return out;
}

ev::conversation to_wire(const conversation& c) {
  return {c.id, c.title, c.is_private, c.member_ids, c.created_by, ev::format_time(c.created_at)};
}

ev::error_body to_error(std::error_code ec, std::string_view what) {
  if (ec == store_error::not_found) return {std::string(ev::code::not_found), std::string(what) + " not found"};
  if (ec == store_error::conflict) return {std::string(ev::code::conflict), std::string(what) + " already exists"};
  return {std::string(ev::code::internal), "internal error"};
}

brain::brain(sio::server& io, store& db, presence& online, files::file_storage& files,
             boost::asio::io_context& timers, brain_options opts)
    : io_(io), db_(db), online_(online), files_(files), opts_(opts), typing_(timers, opts.typing_timeout) {}

brain::~brain() { typing_.clear(); }

void brain::attach() {
  io_.on_connection([this](const socket_ptr& s) { on_connection(s); });
}

void brain::stop() { typing_.clear(); }

void brain::on_connection(const socket_ptr& s) {
  // The guard admitted the socket with data = {"userId", "name"}.
  std::string user_id, name;
  if (auto* o = s->data.if_object()) {
    if (auto* u = o->if_contains("userId"); u && u->is_string()) user_id = u->get_string();
    if (auto* n = o->if_contains("name"); n && n->is_string()) name = n->get_string();
  }
  if (user_id.empty()) {  // cannot happen behind the guard; refuse rather than serve an anonymous socket
    spdlog::error("socket {} connected without a user id: disconnecting", s->id());
    s->disconnect();
    return;
  }
  auto ss = std::make_shared<session>(session{s, user_id, name, token_bucket(opts_.rate_limit, 2 * opts_.rate_limit)});

  s->join(ev::user_room(user_id));
  online_.add(user_id, s->id(), [this, s, user_id](bool first) {
    if (first) s->broadcast().emit<ev::user_online>(ev::user_online_payload{user_id});
  });
  s->emit<ev::connected_event>(ev::connected_payload{s->id(), user_id, ev::format_time(now_ms())});
  spdlog::debug("socket {} connected (user {})", s->id(), user_id);

  for (const auto& [name, h] : routes()) route(ss, name, h);
  // An event of no handler, sent with an ack, gets one too (every ack is answered).
  s->on_any([ss](sio::event& e) {
    const auto& table = routes();
    if (std::any_of(table.begin(), table.end(), [&](const auto& r) { return r.first == e.name(); })) return;
    if (!ss->bucket.try_take()) return e.ack(ev::error_ack(ev::code::rate_limited, "too many events: slow down"));
    e.ack(ev::error_ack(ev::code::bad_request, "unknown event"));
  });

  s->on_disconnecting([this, ss](sio::disconnect_reason) { on_disconnecting(ss); });
}

// The contract's client events, and who handles each.
const std::array<std::pair<std::string_view, brain::handler>, 12>& brain::routes() {
  static const std::array<std::pair<std::string_view, handler>, 12> table{{
      {ev::name::get_online_count, &brain::online_count},
      {ev::name::users_online, &brain::online_users},
      {ev::name::conversation_join, &brain::conversation_join},
      {ev::name::conversation_leave, &brain::conversation_leave},
      {ev::name::conversation_create, &brain::conversation_create},
      {ev::name::conversation_list, &brain::conversation_list},
      {ev::name::message_send, &brain::message_send},
      {ev::name::private_message, &brain::private_message},
      {ev::name::message_history, &brain::message_history},
      {ev::name::typing_start, &brain::typing_start},
      {ev::name::typing_stop, &brain::typing_stop},
      {ev::name::message_read, &brain::message_read},
  }};
  return table;
}

void brain::on_disconnecting(const std::shared_ptr<session>& ss) {
  const auto& s = ss->socket;
  // Still in its rooms: the typing:stop goes to everyone else in each conversation.
  for (const auto& conv : typing_.stop_all(s->id()))
    s->to(conv).emit<ev::typing_stop>(ev::typing_payload{ss->user_id, conv});
  online_.remove(ss->user_id, s->id(), [this, ss](bool last) {
    if (!last) return;
    // Everyone but this user's sockets (this one is the last, and still in the room).
    io_.except(ev::user_room(ss->user_id))
        .emit<ev::user_offline>(ev::user_offline_payload{ss->user_id, ev::format_time(now_ms())});
  });
  spdlog::debug("socket {} disconnected (user {})", s->id(), ss->user_id);
}

void brain::route(const std::shared_ptr<session>& ss, std::string_view name, handler h) {
  ss->socket->on(std::string(name), [this, ss, h, name](sio::event& e) {
    if (!ss->bucket.try_take()) {  // over the rate: refuse and do nothing else
      e.ack(ev::error_ack(ev::code::rate_limited, "too many events: slow down"));
      return;
    }
    try {
      (this->*h)(ss, e);
    } catch (const std::exception& ex) {
      // Handlers validate first, so this is a bug; the client still gets its one ack.
      spdlog::error("{} from socket {}: {}", name, ss->socket->id(), ex.what());
      e.ack(ev::error_ack(ev::code::internal, "internal error"));
    }
  });
}

void brain::online_count(const std::shared_ptr<session>&, sio::event& e) {
  online_.count([ack = e.ack_callback()](std::size_t n) { ack(ev::count_ack{true, n}); });
}

void brain::online_users(const std::shared_ptr<session>&, sio::event& e) {
  online_.users([ack = e.ack_callback()](std::vector<std::string> ids) { ack(ev::user_ids_ack{true, std::move(ids)}); });
}

// ---------------------------------------------------------------------------------------------
// Conversation lookups, shared by the handlers.

void brain::remember(const conversation& c) {
  std::lock_guard lock(cache_mutex_);
  if (cache_.size() >= 100'000) cache_.clear();  // a bound, not an LRU: misses only cost a read
  cache_[c.id] = std::make_shared<const conversation>(c);
}

void brain::lookup(const std::string& id, std::function<void(lookup_result)> done) {
  {
    std::lock_guard lock(cache_mutex_);
    if (auto it = cache_.find(id); it != cache_.end()) {
      std::optional<conversation> c = *it->second;
      return done(std::move(c));
    }
  }
  db_.get_conversation(id, [this, id, done = std::move(done)](sio::result<conversation> r) {
    if (r) {
      remember(*r);
      return done(std::optional<conversation>(std::move(*r)));
    }
    if (r.error() == store_error::not_found) {
      // Never created: public, like a plain room. Except the direct conversations' ids, which
      // only private:message creates: until then nobody may use them (else anyone could join
      // "dm:a:b" before a and b first talk, and listen).
      if (is_direct_conversation_id(id)) {
        conversation reserved;
        reserved.id = id;
        reserved.is_private = true;
        return done(std::optional<conversation>(std::move(reserved)));
      }
      return done(std::optional<conversation>());
    }
    done(r.error());
  });
}

bool brain::may_access(const std::optional<conversation>& c, const std::string& user_id) {
  return !c || may_access(*c, user_id);
}

bool brain::may_access(const conversation& c, const std::string& user_id) {
  if (!c.is_private) return true;
  return std::binary_search(c.member_ids.begin(), c.member_ids.end(), user_id) ||
         std::find(c.member_ids.begin(), c.member_ids.end(), user_id) != c.member_ids.end();
}

std::shared_ptr<const conversation> brain::cached(const std::string& id) {
  std::lock_guard lock(cache_mutex_);
  auto it = cache_.find(id);
  return it == cache_.end() ? nullptr : it->second;
}

void brain::with_access(const std::string& id, std::string user_id, sio::ack_fn ack, std::function<void()> then) {
  // A cached conversation (every message after a conversation's first): decided here, on the
  // caller's thread, without copying the conversation.
  if (auto cached = this->cached(id)) {
    if (!may_access(*cached, user_id))
      return ack(ev::error_ack(ev::code::forbidden, "not a member of this private conversation"));
    return then();
  }
  lookup(id, [user_id = std::move(user_id), ack = std::move(ack), then = std::move(then)](lookup_result r) {
    if (!r) return ack(ev::error_ack(to_error(r.error(), "conversation")));
    if (!may_access(*r, user_id))
      return ack(ev::error_ack(ev::code::forbidden, "not a member of this private conversation"));
    then();
  });
}

std::optional<ev::error_body> brain::check_conversation_id(const std::string& id) const {
  // The per-user rooms and the per-socket rooms are not conversations: joining one would
  // receive another user's private messages.
  if (id.starts_with(ev::user_room_prefix) || io_.sockets().find(id))
    return ev::error_body{std::string(ev::code::forbidden), "reserved conversation id"};
  return std::nullopt;
}

}  // namespace parley
