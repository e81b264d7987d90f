#include "sio/adapter/memory_adapter.hpp"

#include <algorithm>
#include <atomic>
#include <unordered_set>

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
void memory_adapter::for_each_in_room_locked(std::string_view r, F&& fn) const {
  if (auto it = rooms_.find(r); it != rooms_.end())
    for (member* m : it->second.list) fn(*m);
  // Disjoint from the explicit members: joining one's own room only sets the flag.
  if (auto it = sids_.find(r); it != sids_.end() && it->second.own_room) fn(const_cast<member&>(it->second));
}

template <class F>
void memory_adapter::apply_locked(const broadcast_options& opts, F&& fn) const {
  // The excluded sockets, sorted (usually the sender alone, through its own room).
  boost::container::small_vector<const member*, 8> except;
  for (const auto& r : opts.except) for_each_in_room_locked(r, [&](member& m) { except.push_back(&m); });
  std::sort(except.begin(), except.end());
  auto excluded = [&](const member* m) { return !except.empty() && std::binary_search(except.begin(), except.end(), m); };

  if (opts.rooms.empty()) {
    for (auto& [id, m] : sids_) {
      auto* pm = const_cast<member*>(&m);
      if (!excluded(pm)) fn(*pm);
    }
    return;
  }
  if (opts.rooms.size() == 1) {  // the common case needs no de-duplication
    for_each_in_room_locked(*opts.rooms.begin(), [&](member& m) {
      if (!excluded(&m)) fn(m);
    });
    return;
  }
  std::unordered_set<const member*> seen;
  for (const auto& r : opts.rooms) {
    for_each_in_room_locked(r, [&](member& m) {
      if (!excluded(&m) && seen.insert(&m).second) fn(m);
    });
  }
}

std::vector<std::shared_ptr<local_socket>> memory_adapter::recipients(const broadcast_options& opts) const {
  std::vector<std::shared_ptr<local_socket>> out;
  std::lock_guard lock(mutex_);
  if (opts.rooms.size() == 1) {
    auto it = rooms_.find(*opts.rooms.begin());
    out.reserve(1 + (it == rooms_.end() ? 0 : it->second.list.size()));
  } else {
    out.reserve(sids_.size());
  }
  apply_locked(opts, [&](member& m) { out.push_back(m.socket); });
  return out;
}

void memory_adapter::join_locked(member& m, const room& r) {
  if (r == m.socket->id()) {
    m.own_room = true;
    return;
  }
  auto& entry = *rooms_.try_emplace(r).first;
  auto& list = entry.second.list;
  // Already a member? Whichever of the two lists is shorter says.
  if (list.size() <= m.rooms.size()) {
    if (std::find(list.begin(), list.end(), &m) != list.end()) return;
  } else if (std::any_of(m.rooms.begin(), m.rooms.end(), [&](const membership& x) { return x.room == &entry; })) {
    return;
  }
  list.push_back(&m);
  m.rooms.push_back({&entry, list.size() - 1});
}

// Removes m from the room of m.rooms[i] (swapping the room's last member into its slot) and
// drops the room once empty. Leaves m.rooms as it is: the caller erases the membership.
void memory_adapter::unlink_locked(member& m, std::size_t i) {
  room_entry* entry = m.rooms[i].room;
  auto& list = entry->second.list;
  const std::size_t at = m.rooms[i].index;
  member* moved = list.back();
  list[at] = moved;
  list.pop_back();
  if (moved != &m) {
    for (auto& x : moved->rooms) {
      if (x.room == entry) {
        x.index = at;
        break;
      }
    }
  }
  if (list.empty()) {
    rooms_.erase(rooms_.find(entry->first));  // by iterator: the key is the node's own
  } else if (list.capacity() > 64 && list.size() < list.capacity() / 4) {
    list.shrink_to_fit();  // a room that emptied out does not keep its peak
  }
}

void memory_adapter::leave_locked(member& m, const room& r) {
  if (r == m.socket->id()) {
    m.own_room = false;
    return;
  }
  auto it = rooms_.find(r);
  if (it == rooms_.end()) return;
  for (std::size_t i = 0; i < m.rooms.size(); ++i) {
    if (m.rooms[i].room != &*it) continue;
    unlink_locked(m, i);
    m.rooms.erase(m.rooms.begin() + static_cast<std::ptrdiff_t>(i));
    if (m.rooms.empty()) m.rooms.shrink_to_fit();
    return;
  }
}

void memory_adapter::add_all(const socket_id& id, const std::vector<room>& rooms) {
  // Looked up outside our lock: the namespace has its own.
  auto socket = nsp_.find_socket(id);
  if (!socket) return;
  std::lock_guard lock(mutex_);
  // Checked under the lock: a socket's cleanup marks it disconnected before del_all(), so a
  // join racing with a disconnect cannot leave a dead socket in a room.
  if (!socket->connected()) return;
  auto it = sids_.find(id);
  if (it == sids_.end()) {
    const std::string_view key = socket->id();  // lives as long as the member's socket
    it = sids_.try_emplace(key).first;
    it->second.socket = std::move(socket);
  }
  for (const auto& r : rooms) join_locked(it->second, r);
}

void memory_adapter::del(const socket_id& id, const room& r) {
  std::lock_guard lock(mutex_);
  auto it = sids_.find(id);
  if (it == sids_.end()) return;
  leave_locked(it->second, r);
}

void memory_adapter::del_all(const socket_id& id) {
  std::shared_ptr<local_socket> keep;  // released after the lock: its destructor may run user code
  {
    std::lock_guard lock(mutex_);
    auto it = sids_.find(id);
    if (it == sids_.end()) return;
    member& m = it->second;
    for (std::size_t i = 0; i < m.rooms.size(); ++i) unlink_locked(m, i);
    keep = std::move(m.socket);  // the key views its id: erased before `keep` goes
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
  collector->expect_nodes(1);
  local_broadcast_with_ack(std::move(p), opts, collector);
}

void memory_adapter::local_broadcast_with_ack(outgoing_packet p, const broadcast_options& opts,
                                              const std::shared_ptr<ack_collector>& collector) {
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

std::vector<socket_id> memory_adapter::local_sockets(const room_set& rooms) const {
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
  const member& m = it->second;
  std::vector<room> out;
  out.reserve(m.rooms.size() + 1);
  if (m.own_room) out.push_back(m.socket->id());
  for (const auto& x : m.rooms) out.push_back(x.room->first);
  return out;
}

std::vector<room> memory_adapter::local_rooms() const {
  std::lock_guard lock(mutex_);
  std::vector<room> out;
  out.reserve(rooms_.size() + sids_.size());
  for (const auto& [r, _] : rooms_) out.push_back(r);
  for (const auto& [id, m] : sids_)
    if (m.own_room && !rooms_.contains(id)) out.emplace_back(id);
  return out;
}

bool memory_adapter::has_room(std::string_view r) const {
  std::lock_guard lock(mutex_);
  if (rooms_.find(r) != rooms_.end()) return true;
  auto it = sids_.find(r);
  return it != sids_.end() && it->second.own_room;
}

void memory_adapter::fetch_sockets(const broadcast_options& opts, adapter_callback<std::vector<socket_details>> done) {
  local_fetch_sockets(opts, [done = std::move(done)](std::vector<socket_details> found) { done(std::move(found)); });
}

void memory_adapter::local_fetch_sockets(const broadcast_options& opts,
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
    for (const auto& r : rooms) join_locked(*m, r);
  }
}

void memory_adapter::del_sockets(const broadcast_options& opts, const std::vector<room>& rooms) {
  std::lock_guard lock(mutex_);
  std::vector<member*> targets;
  apply_locked(opts, [&](member& m) { targets.push_back(&m); });
  for (member* m : targets)
    for (const auto& r : rooms) leave_locked(*m, r);
}

void memory_adapter::disconnect_sockets(const broadcast_options& opts, bool close) {
  for (const auto& s : recipients(opts)) s->disconnect(close);
}

}  // namespace sio
