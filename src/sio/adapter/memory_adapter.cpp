#include "sio/adapter/memory_adapter.hpp"

#include <atomic>

#include <boost/container/small_vector.hpp>

namespace sio {

encoded_packet encode(outgoing_packet p) {
  // The packet type follows the attachments, so callers never have to keep the two in step.
  auto& pk = p.packet;
  const bool bin = !p.attachments.empty();
  if (pk.type == parser::packet_type::event || pk.type == parser::packet_type::binary_event)
    pk.type = bin ? parser::packet_type::binary_event : parser::packet_type::event;
  else if (pk.type == parser::packet_type::ack || pk.type == parser::packet_type::binary_ack)
    pk.type = bin ? parser::packet_type::binary_ack : parser::packet_type::ack;
  pk.attachments = p.attachments.size();

  encoded_packet e;
  e.frames.reserve(1 + p.attachments.size());
  e.frames.push_back({std::make_shared<const std::string>(parser::encode(pk)), false});
  for (const auto& b : p.attachments) e.frames.push_back({b.shared(), true});
  e.source = std::make_shared<const outgoing_packet>(std::move(p));
  return e;
}

template <class F>
void memory_adapter::apply_locked(const broadcast_options& opts, F&& fn) const {
  boost::container::small_vector<const member_set*, 4> except;
  for (const auto& r : opts.except)
    if (auto it = rooms_.find(r); it != rooms_.end()) except.push_back(&it->second);
  auto excluded = [&](member* m) {
    for (auto* set : except)
      if (set->contains(m)) return true;
    return false;
  };

  if (opts.rooms.empty()) {
    for (auto& [id, m] : sids_) {
      auto* pm = const_cast<member*>(&m);
      if (!excluded(pm)) fn(*pm);
    }
    return;
  }
  if (opts.rooms.size() == 1) {  // the common case needs no de-duplication
    auto it = rooms_.find(*opts.rooms.begin());
    if (it == rooms_.end()) return;
    for (member* m : it->second)
      if (!excluded(m)) fn(*m);
    return;
  }
  member_set seen;
  for (const auto& r : opts.rooms) {
    auto it = rooms_.find(r);
    if (it == rooms_.end()) continue;
    for (member* m : it->second)
      if (!excluded(m) && seen.insert(m).second) fn(*m);
  }
}

std::vector<std::shared_ptr<local_socket>> memory_adapter::recipients(const broadcast_options& opts) const {
  std::vector<std::shared_ptr<local_socket>> out;
  std::lock_guard lock(mutex_);
  out.reserve(opts.rooms.size() == 1 ? 8 : sids_.size());
  apply_locked(opts, [&](member& m) { out.push_back(m.socket); });
  return out;
}

void memory_adapter::add_all(const socket_id& id, const std::vector<room>& rooms) {
  // Looked up outside our lock: the namespace has its own.
  auto socket = nsp_.find_socket(id);
  if (!socket) return;
  std::lock_guard lock(mutex_);
  // Checked under the lock: a socket's cleanup marks it disconnected before del_all(), so a
  // join racing with a disconnect cannot leave a dead socket in a room.
  if (!socket->connected()) return;
  auto [it, inserted] = sids_.try_emplace(id);
  member& m = it->second;
  if (inserted) m.socket = std::move(socket);
  for (const auto& r : rooms) {
    if (m.rooms.insert(r).second) rooms_[r].insert(&m);
  }
}

void memory_adapter::del_locked(const room& r, member* m) {
  auto it = rooms_.find(r);
  if (it == rooms_.end()) return;
  it->second.erase(m);
  if (it->second.empty()) rooms_.erase(it);
}

void memory_adapter::del(const socket_id& id, const room& r) {
  std::lock_guard lock(mutex_);
  auto it = sids_.find(id);
  if (it == sids_.end()) return;
  if (it->second.rooms.erase(r)) del_locked(r, &it->second);
}

void memory_adapter::del_all(const socket_id& id) {
  std::shared_ptr<local_socket> keep;  // released after the lock: its destructor may run user code
  {
    std::lock_guard lock(mutex_);
    auto it = sids_.find(id);
    if (it == sids_.end()) return;
    for (const auto& r : it->second.rooms) del_locked(r, &it->second);
    keep = std::move(it->second.socket);
    sids_.erase(it);
  }
}

void memory_adapter::broadcast(outgoing_packet p, const broadcast_options& opts) {
  auto targets = recipients(opts);
  if (targets.empty()) return;
  p.packet.nsp = nsp_.name();
  const encoded_packet e = encode(std::move(p));  // once, for every recipient
  for (const auto& s : targets) s->deliver(e, opts.flags);
}

void memory_adapter::broadcast_with_ack(outgoing_packet p, const broadcast_options& opts,
                                        std::shared_ptr<ack_collector> collector) {
  auto targets = recipients(opts);
  if (!targets.empty()) {
    p.packet.nsp = nsp_.name();
    // One id for every recipient: ids come from the namespace's counter, so it is unused by all.
    p.packet.id = nsp_.next_ack_id();
    const std::uint64_t id = *p.packet.id;
    const encoded_packet e = encode(std::move(p));
    for (const auto& s : targets) s->deliver_with_ack(e, opts.flags, id, collector);
  }
  collector->add_client_count(targets.size());
}

std::vector<socket_id> memory_adapter::sockets(const room_set& rooms) const {
  std::vector<socket_id> out;
  broadcast_options opts;
  opts.rooms = rooms;
  std::lock_guard lock(mutex_);
  apply_locked(opts, [&](member& m) { out.push_back(m.socket->id()); });
  return out;
}

std::vector<room> memory_adapter::socket_rooms(const socket_id& id) const {
  std::lock_guard lock(mutex_);
  auto it = sids_.find(id);
  if (it == sids_.end()) return {};
  return {it->second.rooms.begin(), it->second.rooms.end()};
}

std::vector<room> memory_adapter::all_rooms() const {
  std::lock_guard lock(mutex_);
  std::vector<room> out;
  out.reserve(rooms_.size());
  for (const auto& [r, _] : rooms_) out.push_back(r);
  return out;
}

void memory_adapter::fetch_sockets(const broadcast_options& opts,
                                   std::function<void(std::vector<socket_details>)> done) {
  auto targets = recipients(opts);
  if (targets.empty()) {
    done({});
    return;
  }
  // Each socket answers from its own thread; the last answer completes the fetch.
  struct gather {
    std::mutex mutex;
    std::vector<socket_details> found;
    std::size_t remaining;
    std::function<void(std::vector<socket_details>)> done;
  };
  auto g = std::make_shared<gather>();
  g->remaining = targets.size();
  g->done = std::move(done);
  g->found.reserve(targets.size());
  for (const auto& s : targets) {
    s->fetch_details([g](std::optional<socket_details> d) {
      std::vector<socket_details> result;
      {
        std::lock_guard lock(g->mutex);
        if (d) g->found.push_back(std::move(*d));
        if (--g->remaining != 0) return;
        result = std::move(g->found);
      }
      g->done(std::move(result));
    });
  }
}

void memory_adapter::add_sockets(const broadcast_options& opts, const std::vector<room>& rooms) {
  std::lock_guard lock(mutex_);
  std::vector<member*> targets;
  apply_locked(opts, [&](member& m) { targets.push_back(&m); });
  for (member* m : targets) {
    if (!m->socket->connected()) continue;
    for (const auto& r : rooms)
      if (m->rooms.insert(r).second) rooms_[r].insert(m);
  }
}

void memory_adapter::del_sockets(const broadcast_options& opts, const std::vector<room>& rooms) {
  std::lock_guard lock(mutex_);
  std::vector<member*> targets;
  apply_locked(opts, [&](member& m) { targets.push_back(&m); });
  for (member* m : targets)
    for (const auto& r : rooms)
      if (m->rooms.erase(r)) del_locked(r, m);
}

void memory_adapter::disconnect_sockets(const broadcast_options& opts, bool close) {
  for (const auto& s : recipients(opts)) s->disconnect(close);
}

}  // namespace sio
