#include "sio/socketio/socket.hpp"

#include <algorithm>
#include <new>
#include <utility>

#include "sio/socketio/detail/client.hpp"
#include "sio/socketio/detail/guard.hpp"
#include "sio/socketio/namespace.hpp"

namespace sio {

namespace detail {

outgoing_packet make_event(std::string_view name, payload p) {
  outgoing_packet o;
  o.packet.type = parser::packet_type::event;
  auto& arr = o.packet.data.emplace_array();
  arr.reserve(1 + p.args.size());
  arr.emplace_back(name);
  for (auto& v : p.args) arr.push_back(std::move(v));
  o.attachments = std::move(p.attachments);
  return o;
}

namespace {
// The callback of one socket's emit_with_ack.
class single_ack final : public ack_collector {
 public:
  single_ack(const namespace_& nsp, single_ack_fn fn) : nsp_(nsp), fn_(std::move(fn)) {}
  // One socket of this node: no node to count, nothing for an adapter to expire.
  void expect_nodes(std::size_t) override {}
  void add_client_count(std::size_t) override {}
  void expire() override {}
  void on_response(payload p) override {
    if (!done_.exchange(true)) call(std::error_code{}, std::move(p));
  }
  void on_failure(std::error_code why) override {
    if (!done_.exchange(true)) call(why, payload{});
  }

 private:
  void call(std::error_code ec, payload p) {
    guarded(nsp_.core(), {.where = "ack callback", .nsp = nsp_.name()}, [&] { fn_(ec, std::move(p)); });
  }
  const namespace_& nsp_;
  single_ack_fn fn_;
  std::atomic<bool> done_{false};
};
}  // namespace

}  // namespace detail

namespace {
bool reserved_name(const outgoing_packet& p) {
  const auto& arr = p.packet.data.as_array();
  return parser::is_reserved_event(arr.at(0).as_string());
}
}  // namespace

// ---- ack_fn

void ack_fn::send(payload p) const {
  if (!state_ || state_->sent.exchange(true)) return;
  state_->owner->send_ack(state_->id, std::move(p));
}

// ---- socket_emitter

std::error_code socket_emitter::emit_payload(std::string_view name, payload p) const {
  return emit_packet(detail::make_event(name, std::move(p)));
}
std::error_code socket_emitter::emit_packet(outgoing_packet p) const { return s_->emit_packet(std::move(p), flags_); }
std::error_code socket_emitter::emit_packet_with_ack(outgoing_packet p, detail::single_ack_fn cb) const {
  return s_->emit_packet_with_ack(std::move(p), flags_, std::make_shared<detail::single_ack>(s_->nsp(), std::move(cb)));
}
broadcast_operator socket_emitter::to(std::string_view room) const {
  return broadcast().to(room);
}
broadcast_operator socket_emitter::to(std::initializer_list<std::string_view> rooms) const {
  return broadcast().to(rooms);
}
broadcast_operator socket_emitter::except(std::string_view room) const { return broadcast().except(room); }
broadcast_operator socket_emitter::broadcast() const {
  broadcast_options o;
  o.except.insert(s_->id());
  o.flags = flags_;
  return broadcast_operator(s_->nsp(), std::move(o));
}
broadcast_operator socket_emitter::local() const { return broadcast().local(); }

// ---- socket

struct socket::extra_handlers {
  template <class T>
  using list = std::shared_ptr<const std::vector<T>>;  // copy-on-write: dispatch holds a snapshot
  list<event_handler> any;
  list<outgoing_handler> any_outgoing;
  list<middleware> middlewares;
  std::vector<error_handler> errors;
  std::vector<reason_handler> disconnecting;
  std::vector<reason_handler> disconnect;
};

socket::socket(passkey, namespace_& nsp, std::shared_ptr<detail::client> c, socket_id id, boost::json::object auth)
    : data(boost::json::object()),
      nsp_(&nsp),
      client_(std::move(c)),
      id_(std::move(id)),
      auth_(std::move(auth)),
      issued_(std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch()).count()) {}

socket::~socket() { drop_handlers(); }

socket::extra_handlers& socket::extras() {
  if (!extras_) extras_ = std::make_unique<extra_handlers>();
  return *extras_;
}

namespace {
// The list to append to: `list` itself when no dispatch holds a snapshot of it (every use is on
// the socket's thread, so the count is exact), else a copy.
template <class T>
std::vector<T>& writable(std::shared_ptr<const std::vector<T>>& list) {
  if (!list || list.use_count() != 1) {
    list = list ? std::make_shared<std::vector<T>>(*list) : std::make_shared<std::vector<T>>();
  }
  return const_cast<std::vector<T>&>(*list);  // every list is created here, non-const
}
template <class T>
void appended(std::shared_ptr<const std::vector<T>>& list, T h) {
  writable(list).push_back(std::move(h));
}
}  // namespace

// The entries follow the header in the same allocation.
class socket::handler_table {
 public:
  // An empty table with room for `capacity` entries and one reference.
  static handler_table* create(std::size_t capacity) {
    static_assert(sizeof(handler_table) % alignof(named_handler) == 0, "the entries follow the header");
    void* mem = ::operator new(sizeof(handler_table) + capacity * sizeof(named_handler));
    return new (mem) handler_table();
  }
  named_handler* begin() noexcept { return reinterpret_cast<named_handler*>(this + 1); }
  named_handler* end() noexcept { return begin() + size_; }
  bool shared() const noexcept { return refs_ > 1; }
  // Constructs the next entry (the caller allocated room for it).
  template <class E>
  void push(E&& e) {
    new (end()) named_handler(std::forward<E>(e));
    ++size_;
  }
  void add_ref() noexcept { ++refs_; }
  void release() noexcept {
    if (--refs_ != 0) return;
    for (auto& e : *this) e.~named_handler();
    this->~handler_table();
    ::operator delete(this);
  }

 private:
  handler_table() = default;
  std::uint32_t refs_ = 1;
  std::uint32_t size_ = 0;
};

// A counted reference to a table (the socket's thread only, so the count is a plain integer).
class socket::table_ref {
 public:
  explicit table_ref(handler_table* t, bool adopt = false) noexcept : t_(t) {
    if (t_ && !adopt) t_->add_ref();
  }
  table_ref(const table_ref&) = delete;
  table_ref& operator=(const table_ref&) = delete;
  ~table_ref() {
    if (t_) t_->release();
  }
  handler_table* get() const noexcept { return t_; }
  handler_table* release() noexcept { return std::exchange(t_, nullptr); }

 private:
  handler_table* t_;
};

void socket::drop_handlers() noexcept {
  if (auto* t = std::exchange(handlers_, nullptr)) t->release();
}

// Replaces the handler table by one with the entries `keep` accepts, plus `extra` if given.
// The entries are moved when no dispatch holds the old table, else copied.
template <class Keep>
void socket::rebuild_handlers(Keep keep, named_handler* extra) {
  std::size_t n = extra ? 1 : 0;
  if (handlers_)
    for (auto& e : *handlers_) n += keep(e) ? 1 : 0;
  if (n == 0) return drop_handlers();
  table_ref next(handler_table::create(n), true);  // freed, with what it holds, if a copy throws
  if (handlers_) {
    const bool shared = handlers_->shared();
    for (auto& e : *handlers_) {
      if (!keep(e)) continue;
      if (shared) next.get()->push(e);
      else next.get()->push(std::move(e));
    }
  }
  if (extra) next.get()->push(std::move(*extra));
  drop_handlers();
  handlers_ = next.release();
}

socket& socket::on(std::string name, event_handler h) {
  named_handler entry{std::move(name), std::move(h)};
  rebuild_handlers([](const named_handler&) { return true; }, &entry);
  return *this;
}

socket& socket::off(std::string_view name) {
  auto other = [&](const named_handler& e) { return e.name != name; };
  if (!handlers_ || std::all_of(handlers_->begin(), handlers_->end(), other)) return *this;
  rebuild_handlers(other, nullptr);
  return *this;
}

socket& socket::on_any(event_handler h) {
  appended(extras().any, std::move(h));
  return *this;
}
socket& socket::on_any_outgoing(outgoing_handler h) {
  appended(extras().any_outgoing, std::move(h));
  has_outgoing_.store(true, std::memory_order_release);
  return *this;
}
socket& socket::use(middleware mw) {
  appended(extras().middlewares, std::move(mw));
  return *this;
}
socket& socket::on_error(error_handler h) {
  extras().errors.push_back(std::move(h));
  return *this;
}
socket& socket::on_disconnecting(reason_handler h) {
  extras().disconnecting.push_back(std::move(h));
  return *this;
}
socket& socket::on_disconnect(reason_handler h) {
  extras().disconnect.push_back(std::move(h));
  return *this;
}

const std::shared_ptr<const sio::handshake>& socket::shared_handshake() const noexcept {
  std::call_once(handshake_once_, [this] {
    auto hs = std::make_shared<sio::handshake>();
    hs->auth = std::move(auth_);
    hs->issued = issued_;
    // The session outlives every connected socket's disconnection (which builds the handshake
    // first), so it is gone only for a socket dropped without one (the server destroyed first).
    if (auto session = client_->locked_session()) {
      const auto& req = session->request();
      hs->headers.insert(req.headers.begin(), req.headers.end());
      hs->query.insert(req.query.begin(), req.query.end());
      hs->address = req.remote_address;
      hs->url = req.url;
      hs->time = req.time;
      hs->secure = req.secure;
      hs->xdomain = req.headers.contains("origin");
    }
    handshake_ = std::move(hs);
  });
  return handshake_;
}

broadcast_operator socket::to(std::string_view room) const { return broadcast().to(room); }
broadcast_operator socket::to(std::initializer_list<std::string_view> rooms) const { return broadcast().to(rooms); }
broadcast_operator socket::to(const std::vector<room>& rooms) const { return broadcast().to(rooms); }
broadcast_operator socket::except(std::string_view room) const { return broadcast().except(room); }
broadcast_operator socket::except(std::initializer_list<std::string_view> rooms) const {
  return broadcast().except(rooms);
}
broadcast_operator socket::broadcast() const {
  broadcast_options o;
  o.except.insert(id_);  // the reference: a socket's broadcasts skip the socket itself
  return broadcast_operator(*nsp_, std::move(o));
}
broadcast_operator socket::local() const { return broadcast().local(); }

void socket::join(std::string_view room) { nsp_->adapter_->add_all(id_, {std::string(room)}); }
void socket::join(const std::vector<room>& rooms) { nsp_->adapter_->add_all(id_, rooms); }
void socket::leave(std::string_view room) { nsp_->adapter_->del(id_, std::string(room)); }
std::vector<room> socket::rooms() const { return nsp_->adapter_->socket_rooms(id_); }

// -- session thread

void socket::on_connect() {
  connected_.store(true, std::memory_order_release);
  join(id_);  // every socket is in the room of its own id
  parser::packet p;
  p.type = parser::packet_type::connect;
  p.nsp = nsp_->name();
  p.data = boost::json::object{{"sid", id_}};
  client_->send_packet(p);
}

void socket::on_packet(parser::packet& p, std::vector<binary>& attachments) {
  switch (p.type) {
    case parser::packet_type::event:
    case parser::packet_type::binary_event: on_event(p, attachments); break;
    case parser::packet_type::ack:
    case parser::packet_type::binary_ack: on_ack(p, attachments); break;
    case parser::packet_type::disconnect: on_close(disconnect_reason::client_namespace_disconnect); break;
    default: break;
  }
}

void socket::on_event(parser::packet& p, std::vector<binary>& attachments) {
  auto& arr = p.data.as_array();  // the decoder checked: a non-empty array starting with a string
  std::string name(arr.front().as_string());
  arr.erase(arr.begin());
  ack_fn ack;
  if (p.id) {
    auto st = std::make_shared<ack_fn::state>();
    st->owner = shared_from_this();
    st->id = *p.id;
    ack = ack_fn(std::move(st));
  }
  if (extras_ && extras_->middlewares && !extras_->middlewares->empty()) {
    auto ev = std::make_shared<event>(std::move(name), payload{std::move(arr), std::move(attachments)}, std::move(ack));
    run_middlewares(std::move(ev), 0, extras_->middlewares);
    return;
  }
  event ev(std::move(name), payload{std::move(arr), std::move(attachments)}, std::move(ack));
  dispatch(ev);
}

template <class F>
bool socket::call_app(std::string_view where, std::string_view event_name, F&& f) const noexcept {
  return detail::guarded(nsp_->core(), {.where = where, .nsp = nsp_->name(), .socket_id = id_, .event = event_name},
                         std::forward<F>(f));
}

void socket::run_middlewares(std::shared_ptr<event> ev, std::size_t i,
                             std::shared_ptr<const std::vector<middleware>> fns) {
  auto self = shared_from_this();
  next_fn next([self, ev, i, fns, called = std::make_shared<std::atomic<bool>>(false)](
                   std::optional<middleware_error> err) mutable {
    if (called->exchange(true)) return;
    // Runs the next step, on the socket's thread: the middleware may have finished anywhere.
    auto go = [self, ev, i, fns, err = std::move(err)]() mutable {
      if (err) return self->report_error(*err);
      if (i + 1 < fns->size()) return self->run_middlewares(std::move(ev), i + 1, std::move(fns));
      self->dispatch(*ev);
    };
    if (self->client_->on_thread()) go();
    else self->client_->post(std::move(go));
  });
  // A middleware that throws refused the event (unless it called next first).
  if (!call_app("event middleware", ev->name(), [&] { (*fns)[i](*ev, next); }))
    next(middleware_error{"server error", {}});
}

void socket::report_error(const middleware_error& err) {
  if (!extras_) return;
  auto handlers = extras_->errors;
  for (auto& h : handlers) call_app("error handler", {}, [&] { h(err); });
}

void socket::dispatch(event& ev) {
  if (!connected()) return;  // the reference ignores packets received after disconnection
  const auto name = ev.name();
  if (extras_) {
    if (auto any = extras_->any) {
      for (auto& h : *any) call_app("catch-all event handler", name, [&] { h(ev); });
    }
  }
  if (!handlers_) return;
  table_ref list(handlers_);  // a snapshot: handlers may add or remove handlers
  for (auto& e : *list.get())
    if (e.name == name) call_app("event handler", name, [&] { e.fn(ev); });
}

void socket::on_ack(parser::packet& p, std::vector<binary>& attachments) {
  if (!p.id) return;
  pending_ack entry;
  {
    std::lock_guard lock(client_->mutex());
    if (!acks_) return;
    auto it = acks_->find(*p.id);
    if (it == acks_->end()) return;  // unknown or already timed out: ignored, as the reference does
    entry = std::move(it->second);
    acks_->erase(it);
    if (acks_->empty()) acks_.reset();  // its buckets go too: most sockets wait for no ack
  }
  if (entry.timer) entry.timer->cancel();
  entry.target->on_response(payload{std::move(p.data.as_array()), std::move(attachments)});
}

void socket::on_close(disconnect_reason why) {
  if (!connected()) return;
  auto self = shared_from_this();  // the namespace and the client drop theirs below
  keep_handshake();  // while the session is there to build it from
  if (extras_) {
    auto handlers = extras_->disconnecting;
    for (auto& h : handlers) call_app("disconnecting handler", {}, [&] { h(why); });  // still in its rooms
  }
  // Marked before leaving the rooms, so a join racing from another thread cannot re-add it.
  connected_.store(false, std::memory_order_release);
  nsp_->adapter_->del_all(id_);
  nsp_->remove(*this);
  client_->remove_socket(*this);
  fail_pending_acks();
  if (extras_) {
    auto handlers = std::move(extras_->disconnect);
    for (auto& h : handlers) call_app("disconnect handler", {}, [&] { h(why); });
  }
  // The handlers usually capture the socket: dropping them breaks the cycle.
  cleanup();
}

void socket::cleanup() {
  drop_handlers();
  has_outgoing_.store(false);
  // Moved out first: a handler's destructor may re-enter (say, register a handler).
  auto extras = std::move(extras_);
}

void socket::disconnect(bool close) {
  if (!client_->on_thread()) {
    client_->post([self = shared_from_this(), close] { self->disconnect(close); });
    return;
  }
  if (!connected()) return;
  auto self = shared_from_this();
  if (close) {
    client_->disconnect_all();
    return;
  }
  parser::packet p;
  p.type = parser::packet_type::disconnect;
  p.nsp = nsp_->name();
  client_->send_packet(p);
  on_close(disconnect_reason::server_namespace_disconnect);
}

// -- any thread

delivery socket::send_encoded(const encoded_packet& p, const broadcast_flags& flags) {
  if (has_outgoing_.load(std::memory_order_acquire) && p.source) notify_outgoing(*p.source);
  return client_->send(p.frames, flags.volatile_);
}

void socket::notify_outgoing(const outgoing_packet& p) {
  if (!client_->on_thread()) {
    // The listeners belong to the socket's thread.
    client_->post([self = shared_from_this(), data = p.packet.data] {
      outgoing_packet copy;
      copy.packet.data = data;
      self->notify_outgoing(copy);
    });
    return;
  }
  if (!extras_) return;
  auto list = extras_->any_outgoing;
  if (!list || !p.packet.data.is_array()) return;
  const auto& arr = p.packet.data.as_array();
  if (arr.empty() || !arr.front().is_string()) return;
  boost::json::array args(arr.begin() + 1, arr.end());
  const std::string_view name = arr.front().as_string();
  for (auto& h : *list) call_app("outgoing event handler", name, [&] { h(name, args); });
}

delivery socket::deliver(const encoded_packet& p, const broadcast_flags& flags) {
  if (!connected()) return delivery::closed;
  return send_encoded(p, flags);
}

void socket::deliver_with_ack(const encoded_packet& p, const broadcast_flags& flags, std::uint64_t ack_id,
                              const std::shared_ptr<ack_collector>& collector) {
  register_ack(ack_id, flags, collector);
  if (!connected()) return;  // register_ack failed it already
  if (send_encoded(p, flags) == delivery::dropped) {
    // A dropped volatile packet will never be acknowledged: fail it now rather than at the timeout.
    ack_timed_out(ack_id);
  }
}

std::error_code socket::emit_packet(outgoing_packet p, const broadcast_flags& flags) {
  if (reserved_name(p)) return error::reserved_event;
  if (!connected()) return error::not_connected;
  p.packet.nsp = nsp_->name();
  send_encoded(encode(std::move(p)), flags);
  return {};
}

std::error_code socket::emit_packet_with_ack(outgoing_packet p, const broadcast_flags& flags,
                                             std::shared_ptr<ack_collector> collector) {
  if (reserved_name(p)) return error::reserved_event;
  if (!connected()) return error::not_connected;
  p.packet.nsp = nsp_->name();
  const std::uint64_t id = nsp_->next_ack_id();
  p.packet.id = id;
  deliver_with_ack(encode(std::move(p)), flags, id, collector);
  return {};
}

void socket::register_ack(std::uint64_t id, const broadcast_flags& flags, const std::shared_ptr<ack_collector>& c) {
  bool registered = false;
  {
    std::lock_guard lock(client_->mutex());
    // Checked under the lock that fail_pending_acks() takes: an ack registered after the socket
    // closed would never be answered nor failed.
    if (connected()) {
      if (!acks_) acks_ = std::make_unique<ack_map>();
      registered = acks_->emplace(id, pending_ack{c, nullptr}).second;
    }
  }
  if (!registered) return c->on_failure(error::disconnected);
  if (flags.timeout) arm_ack_timer(id, *flags.timeout);
}

void socket::arm_ack_timer(std::uint64_t id, std::chrono::milliseconds t) {
  if (!client_->on_thread()) {
    // Timers belong to the session's thread.
    client_->post([self = shared_from_this(), id, t] { self->arm_ack_timer(id, t); });
    return;
  }
  {
    std::lock_guard lock(client_->mutex());
    if (!acks_ || !acks_->contains(id)) return;  // answered already
  }
  auto timer = client_->session().start_timer(t, [w = weak_from_this(), id] {
    if (auto self = w.lock()) self->ack_timed_out(id);
  });
  std::lock_guard lock(client_->mutex());
  if (acks_) {
    if (auto it = acks_->find(id); it != acks_->end()) {
      it->second.timer = std::move(timer);
      return;
    }
  }
  timer->cancel();  // answered meanwhile
}

void socket::ack_timed_out(std::uint64_t id) {
  pending_ack entry;
  {
    std::lock_guard lock(client_->mutex());
    if (!acks_) return;
    auto it = acks_->find(id);
    if (it == acks_->end()) return;
    entry = std::move(it->second);
    acks_->erase(it);
    if (acks_->empty()) acks_.reset();  // its buckets go too: most sockets wait for no ack
  }
  if (entry.timer) entry.timer->cancel();
  entry.target->on_failure(error::timed_out);
}

void socket::fail_pending_acks() {
  std::unique_ptr<ack_map> pending;
  {
    std::lock_guard lock(client_->mutex());
    pending = std::move(acks_);
  }
  if (!pending) return;
  for (auto& [_, a] : *pending) {
    if (a.timer) a.timer->cancel();
    a.target->on_failure(error::disconnected);
  }
}

void socket::send_ack(std::uint64_t id, payload p) {
  if (!connected()) return;
  outgoing_packet o;
  o.packet.type = parser::packet_type::ack;
  o.packet.nsp = nsp_->name();
  o.packet.id = id;
  o.packet.data = std::move(p.args);
  o.attachments = std::move(p.attachments);
  client_->send(encode(std::move(o)).frames, false);
}

void socket::fetch_details(std::function<void(std::optional<socket_details>)> done) {
  if (!connected()) return done(std::nullopt);
  auto snapshot = [this] { return socket_details{id_, shared_handshake(), rooms(), data}; };
  if (client_->on_thread()) return done(snapshot());
  // If the session drops the posted function unrun (it closed), the guard still answers.
  struct guard {
    std::function<void(std::optional<socket_details>)> done;
    ~guard() {
      if (done) done(std::nullopt);
    }
  };
  auto g = std::make_shared<guard>(std::move(done));
  client_->post([self = shared_from_this(), g, snapshot] {
    auto d = std::exchange(g->done, nullptr);
    if (self->connected()) d(snapshot());
    else d(std::nullopt);
  });
}

}  // namespace sio
