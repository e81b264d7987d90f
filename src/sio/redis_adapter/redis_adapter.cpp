// The Redis adapter (redis_adapter.hpp): a memory_adapter for this node's rooms, plus a `node`
// that speaks for the namespace on Redis, on the loop's thread.
//
// Who runs where:
//  - the adapter's operations run on the caller's thread: they deliver locally at once, encode
//    what goes to Redis there and publish it (the publisher is thread-safe, and keeps one
//    caller's publications in order); what needs state or an answer (requests, acknowledgements)
//    is posted to the loop.
//  - the node's state (pending requests, their timers, the acknowledgements awaited) and the
//    handling of messages from Redis live on the loop, so they need no lock; local deliveries
//    are made from there (a socket's sends are thread-safe).
// Lifetimes: the adapter owns its node; what runs later on the loop (posted work, timers,
// Redis' answers) holds it weakly and does nothing once it is gone. The node owns the shared
// connections with the factory. As the header says, all of it is destroyed while the loop is
// not running or on its thread, so a loop handler never sees a node being destroyed under it.
//
// Which requests a node applies itself: the reference publishes socketsJoin / socketsLeave /
// disconnectSockets and applies them on every node, itself included, when they come back from
// Redis. Here they are applied locally at once (also while Redis is down) and the node ignores
// its own when they come back: once per socket either way, and the other nodes see the same
// message.
#include "sio/redis_adapter/redis_adapter.hpp"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "sio/adapter/memory_adapter.hpp"
#include "sio/common/random_id.hpp"
#include "sio/redis/url.hpp"
#include "sio/redis_adapter/detail/connections.hpp"
#include "sio/redis_adapter/messages.hpp"

namespace sio {

namespace {

class category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sio.redis_adapter"; }
  std::string message(int ev) const override {
    switch (static_cast<redis_adapter_error>(ev)) {
      case redis_adapter_error::request_timed_out: return "timeout reached while waiting for the other nodes' answers";
      case redis_adapter_error::not_connected: return "Redis is unreachable";
      case redis_adapter_error::closed: return "the adapter is closed";
    }
    return "unknown redis adapter error";
  }
};

}  // namespace

const std::error_category& redis_adapter_category() noexcept {
  static const category_impl instance;
  return instance;
}

std::error_code make_error_code(redis_adapter_error e) noexcept { return {static_cast<int>(e), redis_adapter_category()}; }

namespace {

namespace asio = boost::asio;
namespace wire = redis_wire;
using redis_adapter_detail::channel_listener;
using redis_adapter_detail::connections;
using redis_adapter_detail::namespace_channels;

// The reference's uid2(6): six characters of A-Z a-z 0-9 - _ (the first six of a base64url id).
std::string new_uid() { return sio::random_id(6).substr(0, 6); }

// The first bytes of a message, for a log line about it.
std::string preview(std::string_view bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = std::to_string(bytes.size()) + " bytes: ";
  for (std::size_t i = 0; i < std::min<std::size_t>(bytes.size(), 24); ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  if (bytes.size() > 24) out += "...";
  return out;
}

class redis_adapter;

// A cross-node request waiting for the other nodes' answers (loop thread).
struct pending_request {
  wire::request_type type;
  std::size_t expected = 0;  // answers awaited: the other nodes that subscribed to requests
  std::size_t answered = 0;
  std::unique_ptr<asio::steady_timer> timer;
  // What the answers bring (this node's own part first).
  std::vector<socket_id> ids;
  std::vector<room> rooms;
  std::vector<socket_details> sockets;
  std::vector<payload> replies;
  // Completes the request once: with an error, or none when every node answered.
  std::function<void(std::error_code, pending_request&)> finish;
};

// A broadcast_with_ack of this node waiting for the other nodes' counts and acknowledgements.
struct pending_ack {
  std::shared_ptr<ack_collector> collector;
  std::unique_ptr<asio::steady_timer> timer;
};

class node final : public channel_listener, public std::enable_shared_from_this<node> {
 public:
  node(redis_adapter& a, const std::string& nsp_name, std::shared_ptr<connections> conn);
  ~node() override;

  const std::string& uid() const noexcept { return uid_; }
  const std::string& nsp_name() const noexcept { return nsp_name_; }
  const namespace_channels& channels() const noexcept { return channels_; }
  connections& conn() const noexcept { return *conn_; }
  void forget_adapter() noexcept { adapter_.store(nullptr); }
  // The adapter, or null once it is gone. Loop thread.
  redis_adapter* adapter_for_loop() const noexcept { return adapter_.load(); }

  // Runs fn(node&) on the loop, if the node is still there then.
  template <class F>
  void post(F&& fn) {
    asio::post(conn_->loop(), [w = weak_from_this(), fn = std::forward<F>(fn)]() mutable {
      if (auto self = w.lock()) fn(*self);
    });
  }
  // Any thread.
  void publish(std::string_view channel, std::string_view bytes) { conn_->publish(channel, bytes); }
  // The channel of a broadcast: the room's own when there is exactly one.
  std::string broadcast_channel(const broadcast_options& opts) const {
    if (opts.rooms.size() == 1) return broadcast_prefix_ + *opts.rooms.begin() + "#";
    return broadcast_prefix_;
  }

  // ---- loop thread ----
  void start();
  void stop();
  // NUMSUB of the request channel, then, if other nodes are there, publishes `message` and
  // waits for an answer from each of them (NUMSUB - 1: this node counts itself); r->finish is
  // called once in every case.
  void ask(std::string request_id, std::string message, std::shared_ptr<pending_request> r);
  void server_count(adapter_callback<std::size_t> done);
  void start_broadcast_ack(std::string request_id, std::string message, std::shared_ptr<ack_collector> collector,
                           std::chrono::milliseconds timeout);

  // channel_listener
  void on_broadcast(std::string_view channel, std::string_view bytes) override;
  void on_request(std::string_view bytes) override;
  void on_response(std::string_view bytes) override;
  void on_subscriber_lost() override;

 private:
  void complete(pending_request& r, std::error_code ec);
  void expire_ack(const std::string& request_id);
  // Where the answer to a request goes: the shared response channel, or the requester's own.
  std::string answer_channel(const std::optional<std::string>& requester) const;
  void answer_request(wire::request& r, redis_adapter& a);
  void drop(std::string_view what, std::error_code why, std::string_view bytes) const;

  std::atomic<redis_adapter*> adapter_;
  std::shared_ptr<connections> conn_;
  const std::string nsp_name_;
  const std::string uid_ = new_uid();
  std::string broadcast_prefix_;  // "<key>#<nsp>#"
  namespace_channels channels_;
  const std::chrono::milliseconds requests_timeout_;
  const bool answer_on_own_channel_;
  // Loop thread only.
  bool attached_ = false;
  bool closed_ = false;
  std::size_t known_server_count_ = 1;  // the last NUMSUB, for when Redis cannot be asked
  std::unordered_map<std::string, std::shared_ptr<pending_request>> requests_;
  std::unordered_map<std::string, pending_ack> acks_;
};

// Sends a BROADCAST request's acknowledgements back to its requester: the client count of
// this node once, then each client's answer (the reference does not report clients that time
// out or leave: the requester's own timer ends its wait).
class ack_relay final : public ack_collector {
 public:
  ack_relay(std::weak_ptr<node> n, std::string request_id, std::string channel)
      : node_(std::move(n)), request_id_(std::move(request_id)), channel_(std::move(channel)) {}

  void expect_nodes(std::size_t) override {}
  void add_client_count(std::size_t n) override {
    if (auto nd = node_.lock()) nd->publish(channel_, wire::encode_client_count_response(request_id_, n));
  }
  void on_response(payload response) override {
    auto bytes = wire::encode_broadcast_ack_response(request_id_, response);
    if (!bytes) return;
    if (auto nd = node_.lock()) nd->publish(channel_, *bytes);
  }
  void on_failure(std::error_code) override {}
  void expire() override {}

 private:
  std::weak_ptr<node> node_;
  std::string request_id_;
  std::string channel_;
};

class redis_adapter final : public memory_adapter {
 public:
  redis_adapter(local_namespace& nsp, std::shared_ptr<connections> conn)
      : memory_adapter(nsp), node_(std::make_shared<node>(*this, nsp.name(), std::move(conn))) {}

  ~redis_adapter() override { node_->forget_adapter(); }

  void init() override {
    node_->post([](node& n) { n.start(); });
  }
  void close() override {
    node_->post([](node& n) { n.stop(); });
  }

  void broadcast(outgoing_packet p, const broadcast_options& opts) override {
    if (!opts.flags.local) {
      if (auto bytes = wire::encode_broadcast(node_->uid(), p, node_->nsp_name(), opts))
        node_->publish(node_->broadcast_channel(opts), *bytes);
      else
        node_->conn().log("a broadcast too large for MessagePack was not published: " + bytes.error().message());
    }
    memory_adapter::broadcast(std::move(p), opts);
  }

  void broadcast_with_ack(outgoing_packet p, const broadcast_options& opts,
                          std::shared_ptr<ack_collector> collector) override {
    if (opts.flags.local) return memory_adapter::broadcast_with_ack(std::move(p), opts, std::move(collector));
    std::string id = new_uid();
    auto bytes = wire::encode_broadcast_request(node_->uid(), id, p, node_->nsp_name(), opts);
    const auto timeout = opts.flags.timeout.value_or(node_->conn().options().requests_timeout);
    if (!bytes) {
      node_->conn().log("a broadcast too large for MessagePack was not published: " + bytes.error().message());
      bytes = std::string();  // the other nodes cannot be reached: as when Redis is down
    }
    node_->post([id = std::move(id), bytes = std::move(*bytes), collector, timeout](node& n) mutable {
      n.start_broadcast_ack(std::move(id), std::move(bytes), std::move(collector), timeout);
    });
    local_broadcast_with_ack(std::move(p), opts, collector);
  }

  void server_count(adapter_callback<std::size_t> done) override {
    node_->post([done = std::move(done)](node& n) mutable { n.server_count(std::move(done)); });
  }

  void sockets(const room_set& rooms, adapter_callback<std::vector<socket_id>> done) override {
    auto r = std::make_shared<pending_request>();
    r->type = wire::request_type::sockets;
    r->finish = [done = std::move(done)](std::error_code ec, pending_request& r) {
      if (ec) return done(ec);
      // A socket is on one node, but an answer may come twice (two adapters on one channel).
      std::sort(r.ids.begin(), r.ids.end());
      r.ids.erase(std::unique(r.ids.begin(), r.ids.end()), r.ids.end());
      done(std::move(r.ids));
    };
    node_->post([rooms, r](node& n) mutable {
      auto* self = n.adapter_for_loop();
      if (!self) return;
      r->ids = self->local_sockets(rooms);
      std::string id = new_uid();
      n.ask(id, wire::encode_sockets_request(n.uid(), id, rooms), std::move(r));
    });
  }

  void all_rooms(adapter_callback<std::vector<room>> done) override {
    auto r = std::make_shared<pending_request>();
    r->type = wire::request_type::all_rooms;
    r->finish = [done = std::move(done)](std::error_code ec, pending_request& r) {
      if (ec) return done(ec);
      std::sort(r.rooms.begin(), r.rooms.end());
      r.rooms.erase(std::unique(r.rooms.begin(), r.rooms.end()), r.rooms.end());
      done(std::move(r.rooms));
    };
    node_->post([r](node& n) mutable {
      auto* self = n.adapter_for_loop();
      if (!self) return;
      r->rooms = self->local_rooms();
      std::string id = new_uid();
      n.ask(id, wire::encode_all_rooms_request(n.uid(), id), std::move(r));
    });
  }

  void fetch_sockets(const broadcast_options& opts, adapter_callback<std::vector<socket_details>> done) override {
    if (opts.flags.local) return memory_adapter::fetch_sockets(opts, std::move(done));
    auto r = std::make_shared<pending_request>();
    r->type = wire::request_type::remote_fetch;
    r->finish = [done = std::move(done)](std::error_code ec, pending_request& r) {
      if (ec) return done(ec);
      done(std::move(r.sockets));
    };
    // This node's sockets first (each answers on its own thread), then the others', as the
    // reference does.
    local_fetch_sockets(opts, [w = std::weak_ptr<node>(node_), opts, r](std::vector<socket_details> local) mutable {
      auto n = w.lock();
      if (!n) return;
      r->sockets = std::move(local);
      n->post([opts = std::move(opts), r = std::move(r)](node& n) mutable {
        std::string id = new_uid();
        n.ask(id, wire::encode_remote_fetch(n.uid(), id, opts), std::move(r));
      });
    });
  }

  void add_sockets(const broadcast_options& opts, const std::vector<room>& rooms) override {
    memory_adapter::add_sockets(opts, rooms);
    if (!opts.flags.local)
      node_->publish(node_->channels().request, wire::encode_remote_join(node_->uid(), opts, rooms));
  }
  void del_sockets(const broadcast_options& opts, const std::vector<room>& rooms) override {
    memory_adapter::del_sockets(opts, rooms);
    if (!opts.flags.local)
      node_->publish(node_->channels().request, wire::encode_remote_leave(node_->uid(), opts, rooms));
  }
  void disconnect_sockets(const broadcast_options& opts, bool close) override {
    if (!opts.flags.local)
      node_->publish(node_->channels().request, wire::encode_remote_disconnect(node_->uid(), opts, close));
    memory_adapter::disconnect_sockets(opts, close);
  }

  void server_side_emit(payload args, server_side_ack ack) override {
    if (!ack) {
      auto bytes = wire::encode_server_side_emit(node_->uid(), std::nullopt, args);
      if (bytes) node_->publish(node_->channels().request, *bytes);
      else node_->conn().log("a server-side emit too large for MessagePack was not published");
      return;
    }
    auto r = std::make_shared<pending_request>();
    r->type = wire::request_type::server_side_emit;
    r->finish = [ack = std::move(ack)](std::error_code ec, pending_request& r) { ack(ec, std::move(r.replies)); };
    node_->post([args = std::move(args), r](node& n) mutable {
      std::string id = new_uid();
      auto bytes = wire::encode_server_side_emit(n.uid(), id, args);
      if (!bytes) {
        n.conn().log("a server-side emit too large for MessagePack was not published");
        r->finish(make_error_code(redis_adapter_error::not_connected), *r);
        return;
      }
      n.ask(std::move(id), std::move(*bytes), std::move(r));
    });
  }

 private:
  friend class node;
  std::shared_ptr<node> node_;
};

// ---- node ----

node::node(redis_adapter& a, const std::string& nsp_name, std::shared_ptr<connections> conn)
    : adapter_(&a),
      conn_(std::move(conn)),
      nsp_name_(nsp_name),
      requests_timeout_(conn_->options().requests_timeout),
      answer_on_own_channel_(conn_->options().publish_on_specific_response_channel) {
  const std::string& key = conn_->options().key;
  broadcast_prefix_ = key + "#" + nsp_name_ + "#";
  channels_.broadcast_pattern = broadcast_prefix_ + "*";
  channels_.request = key + "-request#" + nsp_name_ + "#";
  channels_.response = key + "-response#" + nsp_name_ + "#";
  channels_.own_response = channels_.response + uid_ + "#";
}

node::~node() {
  // Destroyed while the loop is not running or on its thread (see the top of this file).
  if (attached_) conn_->detach(channels_, this);
}

void node::drop(std::string_view what, std::error_code why, std::string_view bytes) const {
  conn_->log("dropped " + std::string(what) + " in namespace " + nsp_name_ + " (" + why.message() + "), " + preview(bytes));
}

template <class F>
void guarded(connections& conn, std::string_view where, F&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    conn.log(std::string(where) + " threw: " + e.what());
  } catch (...) {
    conn.log(std::string(where) + " threw");
  }
}

void node::start() {
  if (attached_ || closed_) return;
  attached_ = true;
  conn_->attach(channels_, weak_from_this());
}

void node::stop() {
  if (closed_) return;
  closed_ = true;
  if (attached_) conn_->detach(channels_, this);
  attached_ = false;
  auto requests = std::move(requests_);
  requests_.clear();
  for (auto& [_, r] : requests) {
    r->timer->cancel();
    complete(*r, make_error_code(redis_adapter_error::closed));
  }
  auto acks = std::move(acks_);
  acks_.clear();
  for (auto& [_, a] : acks) {
    a.timer->cancel();
    a.collector->expire();
  }
}

void node::complete(pending_request& r, std::error_code ec) {
  auto finish = std::move(r.finish);
  r.finish = nullptr;
  if (finish) guarded(*conn_, "a completion of the Redis adapter", [&] { finish(ec, r); });
}

void node::ask(std::string request_id, std::string message, std::shared_ptr<pending_request> r) {
  if (closed_) return complete(*r, make_error_code(redis_adapter_error::closed));
  if (!conn_->connected()) return complete(*r, make_error_code(redis_adapter_error::not_connected));
  conn_->numsub(channels_.request, [w = weak_from_this(), id = std::move(request_id), message = std::move(message),
                                    r](sio::result<std::size_t> count) mutable {
    auto self = w.lock();
    if (!self) return;
    if (!count) return self->complete(*r, count.error());
    if (self->closed_) return self->complete(*r, make_error_code(redis_adapter_error::closed));
    self->known_server_count_ = std::max<std::size_t>(*count, 1);
    // The subscriber may have gone meanwhile (its loss failed the requests then waiting): the
    // answers could not come.
    if (!self->conn_->connected()) return self->complete(*r, make_error_code(redis_adapter_error::not_connected));
    // NUMSUB counts this node too (the reference's `numSub <= 1` shortcut: nobody else to ask).
    if (*count <= 1) return self->complete(*r, {});
    r->expected = *count - 1;
    r->timer = std::make_unique<asio::steady_timer>(self->conn_->loop(), self->requests_timeout_);
    r->timer->async_wait([w, id](const boost::system::error_code& ec) {
      if (ec) return;  // answered (or closed) first
      auto self = w.lock();
      if (!self) return;
      auto it = self->requests_.find(id);
      if (it == self->requests_.end()) return;
      auto timed_out = std::move(it->second);
      self->requests_.erase(it);
      self->complete(*timed_out, make_error_code(redis_adapter_error::request_timed_out));
    });
    self->requests_.emplace(id, r);
    self->conn_->publish(self->channels_.request, message, [w, id](std::error_code) {
      // Not sent after all (Redis went away in between): nobody will answer.
      auto self = w.lock();
      if (!self) return;
      auto it = self->requests_.find(id);
      if (it == self->requests_.end()) return;
      auto failed = std::move(it->second);
      self->requests_.erase(it);
      failed->timer->cancel();
      self->complete(*failed, make_error_code(redis_adapter_error::not_connected));
    });
  });
}

void node::server_count(adapter_callback<std::size_t> done) {
  auto finish = [this, done = std::move(done)](sio::result<std::size_t> n) {
    guarded(*conn_, "a server_count completion", [&] { done(std::move(n)); });
  };
  if (closed_) return finish(make_error_code(redis_adapter_error::closed));
  if (!conn_->connected()) return finish(make_error_code(redis_adapter_error::not_connected));
  conn_->numsub(channels_.request, [w = weak_from_this(), finish = std::move(finish)](sio::result<std::size_t> n) {
    auto self = w.lock();
    if (!self) return;
    if (n) self->known_server_count_ = std::max<std::size_t>(*n, 1);
    finish(std::move(n));
  });
}

void node::start_broadcast_ack(std::string request_id, std::string message, std::shared_ptr<ack_collector> collector,
                               std::chrono::milliseconds timeout) {
  auto timer = std::make_unique<asio::steady_timer>(conn_->loop(), timeout);
  timer->async_wait([w = weak_from_this(), request_id](const boost::system::error_code& ec) {
    if (ec) return;
    if (auto self = w.lock()) self->expire_ack(request_id);
  });
  acks_.emplace(request_id, pending_ack{collector, std::move(timer)});
  if (closed_ || message.empty() || !conn_->connected()) {
    // The other nodes cannot be told: this node's clients alone answer, and the nodes last
    // counted that do not report make the collector expire at the timeout (as the reference's
    // broadcast ends when Redis is away), unless this node is the whole cluster.
    collector->expect_nodes(known_server_count_);
    return;
  }
  conn_->publish(channels_.request, message);
  conn_->numsub(channels_.request, [w = weak_from_this(), collector](sio::result<std::size_t> n) {
    auto self = w.lock();
    if (!self) return collector->expect_nodes(1);
    if (n) self->known_server_count_ = std::max<std::size_t>(*n, 1);
    collector->expect_nodes(self->known_server_count_);
  });
}

void node::expire_ack(const std::string& request_id) {
  auto it = acks_.find(request_id);
  if (it == acks_.end()) return;
  auto collector = std::move(it->second.collector);
  acks_.erase(it);
  collector->expire();  // a no-op when every count and answer came in time
}

std::string node::answer_channel(const std::optional<std::string>& requester) const {
  if (!answer_on_own_channel_) return channels_.response;
  return channels_.response + requester.value_or("undefined") + "#";  // the reference's `${request.uid}#`
}

void node::on_broadcast(std::string_view channel, std::string_view bytes) {
  redis_adapter* a = adapter_for_loop();
  if (!a || closed_) return;
  // A message for one room names it in the channel: skipped unread when no socket here is in it.
  const std::string_view room = wire::channel_room(channel, broadcast_prefix_);
  if (!room.empty() && !a->has_room(room)) {
    const auto alias = wire::numeric_room_alias(room);
    if (!alias || !a->has_room(*alias)) return;
  }
  auto m = wire::decode_broadcast(bytes);
  if (!m) return drop("a broadcast on " + std::string(channel), m.error(), bytes);
  if (m->uid == uid_) return;                       // ours, delivered here already
  if (m->packet.packet.nsp != nsp_name_) return;    // another namespace's (a pattern overlaps)
  a->memory_adapter::broadcast(std::move(m->packet), m->opts);
}

void node::on_request(std::string_view bytes) {
  redis_adapter* a = adapter_for_loop();
  if (!a || closed_) return;
  auto r = wire::decode_request(bytes);
  if (!r) return drop("a request on " + channels_.request, r.error(), bytes);
  if (r->uid == uid_) return;  // ours: applied here when it was made, or answered by the asker itself
  answer_request(*r, *a);
}

void node::answer_request(wire::request& r, redis_adapter& a) {
  using wire::request_type;
  switch (r.type) {
    case request_type::sockets:
      publish(answer_channel(r.uid), wire::encode_sockets_response(*r.request_id, a.local_sockets(r.opts.rooms)));
      break;
    case request_type::all_rooms:
      publish(answer_channel(r.uid), wire::encode_all_rooms_response(*r.request_id, a.local_rooms()));
      break;
    case request_type::remote_join:
    case request_type::remote_leave:
    case request_type::remote_disconnect: {
      if (r.has_opts) {
        if (r.type == request_type::remote_join) a.memory_adapter::add_sockets(r.opts, r.rooms);
        else if (r.type == request_type::remote_leave) a.memory_adapter::del_sockets(r.opts, r.rooms);
        else a.memory_adapter::disconnect_sockets(r.opts, r.close);
        break;
      }
      // The single-socket form: the node that has the socket answers.
      auto socket = a.nsp().find_socket(r.sid);
      if (!socket) break;
      if (r.type == request_type::remote_join) a.add_all(r.sid, {r.single_room});
      else if (r.type == request_type::remote_leave) a.del(r.sid, r.single_room);
      else socket->disconnect(r.close);
      if (r.request_id) publish(answer_channel(r.uid), wire::encode_done_response(*r.request_id));
      break;
    }
    case request_type::remote_fetch: {
      a.local_fetch_sockets(r.opts, [w = weak_from_this(), channel = answer_channel(r.uid),
                                     id = *r.request_id](std::vector<socket_details> found) {
        if (auto self = w.lock()) self->publish(channel, wire::encode_fetch_response(id, found));
      });
      break;
    }
    case request_type::server_side_emit: {
      server_side_reply reply;
      if (r.request_id) {
        // The reference answers on the shared channel here, whatever publishOnSpecificResponseChannel
        // says, and once, whichever handler answers first.
        reply = [w = weak_from_this(), id = *r.request_id, channel = channels_.response,
                 sent = std::make_shared<std::atomic<bool>>(false)](payload answer) {
          if (sent->exchange(true)) return;
          auto bytes = wire::encode_server_side_emit_response(id, answer);
          auto self = w.lock();
          if (!self) return;
          if (bytes) self->publish(channel, *bytes);
          else self->conn_->log("an answer to a server-side emit too large for MessagePack was not published");
        };
      }
      guarded(*conn_, "a server-side emit handler", [&] { a.nsp().on_server_side_emit(std::move(r.data), std::move(reply)); });
      break;
    }
    case request_type::broadcast: {
      // The reference's receiving node ignores the flags but for the clients it waits for; here
      // their answers wait at most the requester's timeout (or ours), so none is kept forever.
      broadcast_options opts;
      opts.rooms = std::move(r.opts.rooms);
      opts.except = std::move(r.opts.except);
      opts.flags.timeout = r.opts.flags.timeout.value_or(requests_timeout_);
      auto relay = std::make_shared<ack_relay>(weak_from_this(), *r.request_id, answer_channel(r.uid));
      a.local_broadcast_with_ack(std::move(r.packet), opts, relay);
      break;
    }
    case request_type::broadcast_client_count:
    case request_type::broadcast_ack:
      break;  // answers on the request channel: ignored, as the reference does
  }
}

void node::on_response(std::string_view bytes) {
  if (closed_) return;
  auto r = wire::decode_response(bytes);
  if (!r) return drop("a response on " + channels_.response, r.error(), bytes);

  if (auto it = acks_.find(r->request_id); it != acks_.end()) {
    auto collector = it->second.collector;  // a copy: the call may complete the broadcast
    if (r->type == wire::request_type::broadcast_client_count) {
      auto n = wire::read_client_count(*r);
      if (!n) return drop("a client count", n.error(), bytes);
      collector->add_client_count(*n);
    } else if (r->type == wire::request_type::broadcast_ack) {
      auto answer = wire::read_reply(*r);
      if (!answer) return drop("an acknowledgement", answer.error(), bytes);
      collector->on_response(std::move(*answer));
    }
    return;
  }

  auto it = requests_.find(r->request_id);
  if (it == requests_.end()) return;  // another node's request (every node reads this channel)
  std::shared_ptr<pending_request> req = it->second;
  switch (req->type) {
    case wire::request_type::sockets: {
      auto ids = wire::read_socket_ids(*r);
      if (!ids) return drop("an answer to SOCKETS", ids.error(), bytes);
      req->ids.insert(req->ids.end(), std::make_move_iterator(ids->begin()), std::make_move_iterator(ids->end()));
      break;
    }
    case wire::request_type::all_rooms: {
      auto rooms = wire::read_rooms(*r);
      if (!rooms) return drop("an answer to ALL_ROOMS", rooms.error(), bytes);
      req->rooms.insert(req->rooms.end(), std::make_move_iterator(rooms->begin()), std::make_move_iterator(rooms->end()));
      break;
    }
    case wire::request_type::remote_fetch: {
      auto sockets = wire::read_fetched_sockets(*r);
      if (!sockets) return drop("an answer to REMOTE_FETCH", sockets.error(), bytes);
      req->sockets.insert(req->sockets.end(), std::make_move_iterator(sockets->begin()),
                          std::make_move_iterator(sockets->end()));
      break;
    }
    case wire::request_type::server_side_emit: {
      auto answer = wire::read_reply(*r);
      if (!answer) return drop("an answer to SERVER_SIDE_EMIT", answer.error(), bytes);
      req->replies.push_back(std::move(*answer));
      break;
    }
    default:
      return;
  }
  if (++req->answered < req->expected) return;
  requests_.erase(it);
  req->timer->cancel();
  complete(*req, {});
}

void node::on_subscriber_lost() {
  // The answers on their way are lost with the connection: fail now rather than at the timeout.
  auto requests = std::move(requests_);
  requests_.clear();
  for (auto& [_, r] : requests) {
    r->timer->cancel();
    complete(*r, make_error_code(redis_adapter_error::not_connected));
  }
  auto acks = std::move(acks_);
  acks_.clear();
  for (auto& [_, a] : acks) {
    a.timer->cancel();
    a.collector->expire();
  }
}

}  // namespace

adapter_factory make_redis_adapter(boost::asio::io_context& loop, redis_adapter_options opts) {
  auto where = redis::parse_url(opts.url);
  if (!where) throw std::invalid_argument("redis adapter: bad Redis URL \"" + opts.url + "\": " + where.error().message());
  if (opts.requests_timeout <= std::chrono::milliseconds::zero())
    throw std::invalid_argument("redis adapter: requests_timeout must be positive");
  if (opts.reconnection_delay <= std::chrono::milliseconds::zero())
    throw std::invalid_argument("redis adapter: reconnection_delay must be positive");
  if (opts.key.empty()) throw std::invalid_argument("redis adapter: key must not be empty");
  auto conn = std::make_shared<connections>(loop, *where, std::move(opts));
  return [conn](local_namespace& nsp) -> std::unique_ptr<adapter> { return std::make_unique<redis_adapter>(nsp, conn); };
}

}  // namespace sio
