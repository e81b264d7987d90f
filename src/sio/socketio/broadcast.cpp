#include "sio/socketio/broadcast.hpp"

#include <mutex>

#include "sio/socketio/detail/guard.hpp"
#include "sio/socketio/namespace.hpp"
#include "sio/socketio/socket.hpp"

namespace sio {

namespace {

// Collects the acknowledgements of a broadcast: complete once every node reported its
// recipient count and every recipient answered or failed.
class multi_ack final : public ack_collector {
 public:
  multi_ack(const namespace_& nsp, std::size_t servers, detail::multi_ack_fn fn)
      : nsp_(nsp), expected_servers_(servers), fn_(std::move(fn)) {}

  void add_client_count(std::size_t n) override {
    std::unique_lock lock(mutex_);
    ++servers_;
    expected_clients_ += n;
    check(lock);
  }
  void on_response(payload p) override {
    std::unique_lock lock(mutex_);
    responses_.push_back(std::move(p));
    ++answered_;
    check(lock);
  }
  void on_failure(std::error_code) override {
    std::unique_lock lock(mutex_);
    failed_ = true;
    ++answered_;
    check(lock);
  }

 private:
  void check(std::unique_lock<std::mutex>& lock) {
    if (done_ || servers_ < expected_servers_ || answered_ < expected_clients_) return;
    done_ = true;
    auto fn = std::move(fn_);
    auto responses = std::move(responses_);
    const bool failed = failed_;
    lock.unlock();  // user code runs without our lock
    detail::guarded(nsp_.core(), {.where = "broadcast ack callback", .nsp = nsp_.name()}, [&] {
      fn(failed ? make_error_code(error::timed_out) : std::error_code{}, std::move(responses));
    });
  }

  const namespace_& nsp_;
  std::mutex mutex_;
  std::size_t expected_servers_;
  std::size_t servers_ = 0;
  std::size_t expected_clients_ = 0;
  std::size_t answered_ = 0;
  bool failed_ = false;
  bool done_ = false;
  std::vector<payload> responses_;
  detail::multi_ack_fn fn_;
};

// The namespaces a broadcast reaches: the namespace, or a parent's children.
std::vector<namespace_*> targets(namespace_& nsp) {
  if (nsp.is_parent()) return nsp.children();
  return {&nsp};
}

}  // namespace

broadcast_operator broadcast_operator::to(std::string_view room) const {
  auto c = *this;
  c.opts_.rooms.emplace(room);
  return c;
}
broadcast_operator broadcast_operator::to(std::initializer_list<std::string_view> rooms) const {
  auto c = *this;
  for (auto r : rooms) c.opts_.rooms.emplace(r);
  return c;
}
broadcast_operator broadcast_operator::to(const std::vector<room>& rooms) const {
  auto c = *this;
  c.opts_.rooms.insert(rooms.begin(), rooms.end());
  return c;
}
broadcast_operator broadcast_operator::except(std::string_view room) const {
  auto c = *this;
  c.opts_.except.emplace(room);
  return c;
}
broadcast_operator broadcast_operator::except(std::initializer_list<std::string_view> rooms) const {
  auto c = *this;
  for (auto r : rooms) c.opts_.except.emplace(r);
  return c;
}
broadcast_operator broadcast_operator::except(const std::vector<room>& rooms) const {
  auto c = *this;
  c.opts_.except.insert(rooms.begin(), rooms.end());
  return c;
}
broadcast_operator broadcast_operator::compress(bool on) const {
  auto c = *this;
  c.opts_.flags.compress = on;
  return c;
}
broadcast_operator broadcast_operator::volatile_() const {
  auto c = *this;
  c.opts_.flags.volatile_ = true;
  return c;
}
broadcast_operator broadcast_operator::local() const {
  auto c = *this;
  c.opts_.flags.local = true;
  return c;
}
broadcast_operator broadcast_operator::timeout(std::chrono::milliseconds t) const {
  auto c = *this;
  c.opts_.flags.timeout = t;
  return c;
}

std::error_code broadcast_operator::emit_payload(std::string_view name, payload p) const {
  return emit_packet(detail::make_event(name, std::move(p)));
}

std::error_code broadcast_operator::emit_packet(outgoing_packet p) const {
  if (parser::is_reserved_event(p.packet.data.as_array().at(0).as_string())) return error::reserved_event;
  auto nsps = targets(*nsp_);
  for (std::size_t i = 0; i < nsps.size(); ++i) {
    auto* a = nsps[i]->adapter();
    if (!a) continue;
    if (i + 1 == nsps.size()) a->broadcast(std::move(p), opts_);
    else a->broadcast(p, opts_);
  }
  return {};
}

std::error_code broadcast_operator::emit_packet_with_ack(outgoing_packet p, detail::multi_ack_fn cb) const {
  if (parser::is_reserved_event(p.packet.data.as_array().at(0).as_string())) return error::reserved_event;
  auto nsps = targets(*nsp_);
  std::size_t servers = 0;
  for (auto* n : nsps)
    if (n->adapter()) servers += n->adapter()->server_count();
  auto collector = std::make_shared<multi_ack>(*nsp_, servers, std::move(cb));
  if (servers == 0) {  // a parent without children yet: nobody to wait for
    collector->add_client_count(0);
    return {};
  }
  for (auto* n : nsps)
    if (auto* a = n->adapter()) a->broadcast_with_ack(p, opts_, collector);
  return {};
}

void broadcast_operator::fetch_sockets(std::function<void(std::vector<remote_socket>)> done) const {
  auto nsps = targets(*nsp_);
  struct gather {
    std::mutex mutex;
    std::size_t remaining;
    std::vector<remote_socket> found;
    std::function<void(std::vector<remote_socket>)> done;
  };
  auto g = std::make_shared<gather>();
  g->remaining = nsps.size();
  // The completion may run on any thread (the last socket's, an adapter's): guarded there.
  g->done = [nsp = nsp_, done = std::move(done)](std::vector<remote_socket> found) {
    detail::guarded(nsp->core(), {.where = "fetch_sockets callback", .nsp = nsp->name()}, [&] { done(std::move(found)); });
  };
  if (nsps.empty()) return g->done({});
  for (auto* n : nsps) {
    auto* a = n->adapter();
    auto finish = [g, n](std::vector<socket_details> ds) {
      std::vector<remote_socket> result;
      {
        std::lock_guard lock(g->mutex);
        for (auto& d : ds) {
          auto local = n->find(d.id);
          g->found.emplace_back(*n, std::move(d), std::move(local));
        }
        if (--g->remaining != 0) return;
        result = std::move(g->found);
      }
      g->done(std::move(result));
    };
    if (a) a->fetch_sockets(opts_, std::move(finish));
    else finish({});
  }
}

std::vector<socket_id> broadcast_operator::all_sockets() const {
  std::vector<socket_id> out;
  for (auto* n : targets(*nsp_)) {
    auto* a = n->adapter();
    if (!a) continue;
    auto ids = a->sockets(opts_.rooms);
    if (opts_.except.empty()) {
      out.insert(out.end(), ids.begin(), ids.end());
      continue;
    }
    for (auto& id : ids) {
      auto rooms = a->socket_rooms(id);
      bool skip = false;
      for (auto& r : rooms) skip = skip || opts_.except.contains(r);
      if (!skip) out.push_back(std::move(id));
    }
  }
  return out;
}

void broadcast_operator::sockets_join(std::string_view room) const { sockets_join(std::vector<sio::room>{std::string(room)}); }
void broadcast_operator::sockets_join(const std::vector<room>& rooms) const {
  for (auto* n : targets(*nsp_))
    if (auto* a = n->adapter()) a->add_sockets(opts_, rooms);
}
void broadcast_operator::sockets_leave(std::string_view room) const {
  sockets_leave(std::vector<sio::room>{std::string(room)});
}
void broadcast_operator::sockets_leave(const std::vector<room>& rooms) const {
  for (auto* n : targets(*nsp_))
    if (auto* a = n->adapter()) a->del_sockets(opts_, rooms);
}
void broadcast_operator::disconnect_sockets(bool close) const {
  for (auto* n : targets(*nsp_))
    if (auto* a = n->adapter()) a->disconnect_sockets(opts_, close);
}

remote_socket::remote_socket(namespace_& nsp, socket_details d, std::shared_ptr<class socket> local_)
    : id(std::move(d.id)),
      handshake(std::move(d.handshake)),
      rooms(std::move(d.rooms)),
      data(std::move(d.data)),
      local(std::move(local_)),
      nsp_(&nsp) {}

broadcast_operator remote_socket::op() const {
  broadcast_options o;
  o.rooms.insert(id);
  return broadcast_operator(*nsp_, std::move(o));
}

}  // namespace sio
