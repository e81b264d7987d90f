// The brain's connection life: connection limits, presence, per-user rate limiting, and the
// event table.
#include "parley/handlers/brain.hpp"

#include <algorithm>
#include <charconv>

#include <spdlog/spdlog.h>

#include "parley/handlers/rate_limiter.hpp"
#include "parley/store/ids.hpp"
#include "sio/engineio/codec/base64.hpp"

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

// "<created_at>:<id>" in base64: opaque, so that clients pass it back rather than build one.
std::string format_list_cursor(const conversation_cursor& c) {
  return sio::eio::base64_encode(std::to_string(c.created_at) + ":" + c.id);
}

std::optional<conversation_cursor> parse_list_cursor(std::string_view text) {
  auto raw = sio::eio::base64_decode(text);
  if (!raw) return std::nullopt;
  const auto colon = raw->find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == raw->size()) return std::nullopt;
  conversation_cursor c;
  auto [end, ec] = std::from_chars(raw->data(), raw->data() + colon, c.created_at);
  if (ec != std::errc() || end != raw->data() + colon) return std::nullopt;
  c.id = raw->substr(colon + 1);
  return c;
}

brain::brain(sio::server& io, store& db, presence& online, files::file_storage& files,
             boost::asio::io_context& timers, brain_options opts)
    : io_(io),
      db_(db),
      online_(online),
      files_(files),
      opts_(opts),
      limits_(std::make_shared<user_limits>(user_limit_options{
          .events_per_second = opts.rate_limit,
          .creates_per_minute = opts.creates_per_minute,
          .uploads_per_minute = opts.uploads_per_minute,
          .max_connections_per_user = opts.max_connections_per_user,
          .max_connections_per_address = opts.max_connections_per_address})),
      typing_(timers, opts.typing_timeout) {}

brain::~brain() { typing_.clear(); }

void brain::attach() {
  io_.use([this](const socket_ptr& s, sio::next_fn next) { admit(s, std::move(next)); });
  io_.on_connection([this](const socket_ptr& s) { on_connection(s); });
}

void brain::stop() { typing_.clear(); }

namespace {
// The guard admits a socket with data = {"userId", "name"}.
std::string data_string(const sio::socket& s, std::string_view key) {
  if (auto* o = s.data.if_object())
    if (auto* v = o->if_contains(key); v && v->is_string()) return std::string(v->get_string());
  return {};
}
}  // namespace

void brain::admit(const socket_ptr& s, sio::next_fn next) {
  const std::string user_id = data_string(*s, "userId");
  if (user_id.empty()) return next();  // not behind the guard: on_connection refuses it
  const auto& address = s->handshake().address;
  auto admitted = limits_->admit(user_id, address);
  if (!admitted) {
    const bool per_user = admitted.refused == user_limits::refusal::too_many_for_user;
    spdlog::info("connection of user {} from {} refused: too many connections {}", user_id, address,
                 per_user ? "for the user" : "from the address");
    return next(sio::connect_error{
        std::string(per_user ? ev::connect_refusal::too_many_for_user : ev::connect_refusal::too_many_from_address),
        boost::json::object{{"code", ev::code::rate_limited}}});
  }
  // The socket holds its place for as long as it lives: its handlers own the lease, and a socket
  // drops its handlers once it is disconnected (or is destroyed, if it never got connected).
  s->on_disconnect([lease = std::move(admitted.lease)](sio::disconnect_reason) {});
  next();
}

void brain::on_connection(const socket_ptr& s) {
  const std::string user_id = data_string(*s, "userId");
  const std::string name = data_string(*s, "name");
  if (user_id.empty()) {  // cannot happen behind the guard; refuse rather than serve an anonymous socket
    spdlog::error("socket {} connected without a user id: disconnecting", s->id());
    s->disconnect();
    return;
  }
  // The same quota as its lease's (admit): one per user, whichever socket the events come from.
  auto ss = std::make_shared<session>(session{s, user_id, name, limits_->quota(user_id)});

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
    if (!ss->quota->take_event()) return e.ack(ev::error_ack(ev::code::rate_limited, "too many events: slow down"));
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
    if (!ss->quota->take_event()) {  // over the user's rate: refuse and do nothing else
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
  auto req = ev::parse_online(e.args());
  if (!req) return e.ack(ev::error_ack(req.error()));
  online_.users([ack = e.ack_callback(), after = std::move(req->after),
                 budget = opts_.limits.max_reply_bytes](std::vector<std::string> ids) {
    // In byte order, after `after`, as many as fit in one reply.
    std::sort(ids.begin(), ids.end());
    auto first = after ? std::upper_bound(ids.begin(), ids.end(), *after) : ids.begin();
    ev::user_ids_ack out;
    std::size_t size = 64;  // the ack around the list
    for (auto it = first; it != ids.end(); ++it) {
      size += ev::json_size_bound(*it) + 1;
      if (size > budget && !out.userIds.empty()) {
        out.next = out.userIds.back();
        break;
      }
      out.userIds.push_back(std::move(*it));
    }
    ack(out);
  });
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
