#include "sio/socketio/broadcast.hpp"

#include <mutex>

#include "sio/socketio/detail/guard.hpp"
#include "sio/socketio/namespace.hpp"
#include "sio/socketio/socket.hpp"

namespace sio {

namespace {

// Collects the acknowledgements of a broadcast: complete once every adapter said how many nodes
// will report, every node reported its recipient count, and every recipient answered or failed;
// or at once when an adapter expires it.
class multi_ack final : public ack_collector {
 public:
  multi_ack(const namespace_& nsp, std::size_t adapters, detail::multi_ack_fn fn)
      : nsp_(nsp), adapters_pending_(adapters), fn_(std::move(fn)) {}

  void expect_nodes(std::size_t n) override {
    std::unique_lock lock(mutex_);
    --adapters_pending_;
    expected_nodes_ += n;
    check(lock);
  }
  void add_client_count(std::size_t n) override {
    std::unique_lock lock(mutex_);
    ++nodes_;
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
  void expire() override {
    std::unique_lock lock(mutex_);
    failed_ = true;
    finish(lock);
  }

 private:
  void check(std::unique_lock<std::mutex>& lock) {
    if (adapters_pending_ > 0 || nodes_ < expected_nodes_ || answered_ < expected_clients_) return;
    finish(lock);
  }
  void finish(std::unique_lock<std::mutex>& lock) {
    if (done_) return;
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
  std::size_t adapters_pending_;
  std::size_t expected_nodes_ = 0;
  std::size_t nodes_ = 0;
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
  std::vector<sio::adapter*> adapters;
  for (auto* n : targets(*nsp_))
    if (auto* a = n->adapter()) adapters.push_back(a);
  if (adapters.empty()) {  // a parent without children yet: nobody to wait for, so complete
    std::make_shared<multi_ack>(*nsp_, 1, std::move(cb))->expect_nodes(0);
    return {};
  }
  auto collector = std::make_shared<multi_ack>(*nsp_, adapters.size(), std::move(cb));
  for (auto* a : adapters) a->broadcast_with_ack(p, opts_, collector);
  return {};
}

void broadcast_operator::fetch_sockets(fetch_sockets_callback done) const {
  auto nsps = targets(*nsp_);
  struct gather {
    std::mutex mutex;
    std::size_t remaining;
    std::vector<remote_socket> found;
    std::error_code error;
    fetch_sockets_callback done;
  };
  auto g = std::make_shared<gather>();
  g->remaining = nsps.size();
  // The completion may run on any thread (the last socket's, an adapter's): guarded there.
  g->done = [nsp = nsp_, done = std::move(done)](sio::result<std::vector<remote_socket>> found) {
    detail::guarded(nsp->core(), {.where = "fetch_sockets callback", .nsp = nsp->name()}, [&] { done(std::move(found)); });
  };
  if (nsps.empty()) return g->done(std::vector<remote_socket>{});
  for (auto* n : nsps) {
    auto* a = n->adapter();
    auto finish = [g, n](sio::result<std::vector<socket_details>> ds) {
      sio::result<std::vector<remote_socket>> result = std::vector<remote_socket>{};
      {
        std::lock_guard lock(g->mutex);
        if (!ds) {
          g->error = ds.error();
        } else {
          for (auto& d : *ds) {
            auto local = n->find(d.id);
            g->found.emplace_back(*n, std::move(d), std::move(local));
          }
        }
        if (--g->remaining != 0) return;
        if (g->error) result = g->error;
        else result = std::move(g->found);
      }
      g->done(std::move(result));
    };
    if (a) a->fetch_sockets(opts_, std::move(finish));
    else finish(std::vector<socket_details>{});
  }
}

namespace {
// Ids of the sockets of `ids` not in any room of `except` (`rooms_of` gives a socket's rooms).
template <class RoomsOf>
std::vector<socket_id> without_excepted(std::vector<socket_id> ids, const room_set& except, RoomsOf&& rooms_of) {
  if (except.empty()) return ids;
  std::vector<socket_id> out;
  for (auto& id : ids) {
    bool skip = except.contains(id);
    for (const auto& r : rooms_of(id)) skip = skip || except.contains(r);
    if (!skip) out.push_back(std::move(id));
  }
  return out;
}
}  // namespace

std::vector<socket_id> broadcast_operator::local_sockets() const {
  std::vector<socket_id> out;
  for (auto* n : targets(*nsp_)) {
    auto* a = n->adapter();
    if (!a) continue;
    auto ids = without_excepted(a->local_sockets(opts_.rooms), opts_.except,
                                [a](const socket_id& id) { return a->socket_rooms(id); });
    out.insert(out.end(), std::make_move_iterator(ids.begin()), std::make_move_iterator(ids.end()));
  }
  return out;
}

void broadcast_operator::all_sockets(adapter_callback<std::vector<socket_id>> done) const {
  // The cluster's sockets in the rooms; `except` needs each socket's rooms, which fetch_sockets
  // brings (the reference's allSockets() ignores except; socket.io's fetchSockets() does not).
  if (opts_.except.empty()) {
    auto nsps = targets(*nsp_);
    struct gather {
      std::mutex mutex;
      std::size_t remaining;
      std::vector<socket_id> ids;
      std::error_code error;
    };
    auto g = std::make_shared<gather>();
    g->remaining = nsps.size();
    auto finish = [g, nsp = nsp_, done = std::move(done)](sio::result<std::vector<socket_id>> r) {
      sio::result<std::vector<socket_id>> result = std::vector<socket_id>{};
      {
        std::lock_guard lock(g->mutex);
        if (!r) g->error = r.error();
        else g->ids.insert(g->ids.end(), std::make_move_iterator(r->begin()), std::make_move_iterator(r->end()));
        if (--g->remaining != 0) return;
        if (g->error) result = g->error;
        else result = std::move(g->ids);
      }
      detail::guarded(nsp->core(), {.where = "all_sockets callback", .nsp = nsp->name()}, [&] { done(std::move(result)); });
    };
    if (nsps.empty()) return finish(std::vector<socket_id>{});
    g->remaining = nsps.size();
    for (auto* n : nsps) {
      if (auto* a = n->adapter()) a->sockets(opts_.rooms, finish);
      else finish(std::vector<socket_id>{});
    }
    return;
  }
  fetch_sockets([done = std::move(done)](sio::result<std::vector<remote_socket>> found) {
    if (!found) return done(found.error());
    std::vector<socket_id> ids;
    ids.reserve(found->size());
    for (auto& s : *found) ids.push_back(std::move(s.id));
    done(std::move(ids));
  });
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
