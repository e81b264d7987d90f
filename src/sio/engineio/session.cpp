#include <algorithm>
#include <iterator>

#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "sio/engineio/detail/errors.hpp"
#include "sio/engineio/detail/session_impl.hpp"

namespace sio::eio::detail {

namespace http = transport::http;

namespace {

struct timer_impl final : timer {
  explicit timer_impl(asio::io_context& ctx) : t(ctx) {}
  void cancel() override { t.cancel(); }
  asio::steady_timer t;
};

}  // namespace

session_impl::session_impl(std::shared_ptr<server_core> core, asio::io_context& ctx, std::string id,
                           handshake_request req)
    : core_(std::move(core)),
      ctx_(ctx),
      id_(std::move(id)),
      request_(std::move(req)),
      loop_(core_->loop_for(ctx)) {}

loop_timer& session_impl::aux_timer() {
  if (!aux_timer_) aux_timer_ = std::make_unique<loop_timer>(ctx_);
  return *aux_timer_;
}

session_impl::~session_impl() = default;

bool session_impl::on_session_thread() const noexcept { return ctx_.get_executor().running_in_this_thread(); }

void session_impl::post(std::function<void()> fn) {
  asio::post(ctx_, [self = shared_from_this(), fn = std::move(fn)] { fn(); });
}

std::shared_ptr<timer> session_impl::start_timer(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto t = std::make_shared<timer_impl>(ctx_);
  t->t.expires_after(delay);
  t->t.async_wait([weak = weak_from_this(), fn = std::move(fn)](boost::system::error_code ec) {
    if (ec) return;
    if (auto s = weak.lock(); s && s->is_open()) fn();
  });
  return t;
}

// ---- sending ----

send_result session_impl::send(message msg, send_options opts) {
  if (closed_.load(std::memory_order_acquire)) return send_result::closed;
  out_packet p{.type = packet_type::message, .binary = msg.binary, .data = std::move(msg.data)};
  if (!on_session_thread()) {
    loop_.post_send(self(), std::move(p), opts.volatile_);
    return send_result::queued;
  }
  if (state_ != state::open) return state_ == state::opening ? send_result::dropped : send_result::closed;
  if (opts.volatile_ && !writable()) return send_result::dropped;
  std::size_t size = p.data ? p.data->size() : 0;
  if (queued_bytes_ + size > core_->opts.max_send_queue_bytes) {
    // The client does not keep up: close it rather than buffer without bound. Not from here:
    // the caller may hold its own locks, and closing runs the upper layer's disconnect handlers.
    close_from_send();
    return send_result::closed;
  }
  enqueue(std::move(p));
  if (!flush_scheduled_) {
    flush_scheduled_ = true;
    loop_.schedule_flush(self());
  }
  return send_result::queued;
}

void session_impl::close_from_send() {
  // Closed at once for every sender (sends see closed_, packets received meanwhile are ignored:
  // the state is no longer open); what the upper layer hears of it runs from the loop, once the
  // sender has returned.
  state_ = state::closing;
  closing_reason_ = close_reason::transport_error;
  closed_.store(true, std::memory_order_release);
  ++heartbeat_seq_;  // no more pings
  asio::post(ctx_, [self = self()] { self->finish_close(close_reason::transport_error, false); });
}

void session_impl::send_here(out_packet p, bool volatile_) {
  if (state_ != state::open) return;
  if (volatile_ && !writable()) return;
  std::size_t size = p.data ? p.data->size() : 0;
  if (queued_bytes_ + size > core_->opts.max_send_queue_bytes) return finish_close(close_reason::transport_error, false);
  enqueue(std::move(p));
  if (!flush_scheduled_) {
    flush_scheduled_ = true;
    loop_.schedule_flush(self());
  }
}

void session_impl::flush_now() {
  flush_scheduled_ = false;
  if (state_ == state::open || state_ == state::closing) flush();
}

// ---- the loop's shared state ----

loop_state& server_core::loop_for(asio::io_context& ctx) {
  std::lock_guard lock(mutex_);
  for (auto& l : loops_)
    if (&l->ctx == &ctx) return *l;
  auto& added = *loops_.emplace_back(std::make_unique<loop_state>(*this, ctx));
  loop_count_.store(loops_.size(), std::memory_order_release);
  return added;
}

loop_state* server_core::current_loop() {
  // A thread runs one loop for its life, or none (the chat service's storage threads send on
  // every commit): remember the answer per server, and look again only when a loop was added
  // since (this thread's loop may have been the one missing).
  thread_local const server_core* cached_core = nullptr;
  thread_local loop_state* cached_loop = nullptr;
  thread_local std::size_t cached_loop_count = 0;
  auto count = loop_count_.load(std::memory_order_acquire);
  if (cached_core == this && (cached_loop || cached_loop_count == count)) return cached_loop;
  loop_state* found = nullptr;
  {
    std::lock_guard lock(mutex_);
    for (auto& l : loops_)
      if (l->ctx.get_executor().running_in_this_thread()) found = l.get();
  }
  cached_core = this;
  cached_loop = found;
  cached_loop_count = count;
  return found;
}

void loop_state::post_send(std::shared_ptr<session_impl> s, out_packet p, bool volatile_) {
  if (auto* here = core.current_loop()) {
    // From another loop's thread: batched there until that loop's handlers are done.
    auto it = std::find_if(here->outbox_.begin(), here->outbox_.end(), [this](const auto& e) { return e.first == this; });
    if (it == here->outbox_.end()) it = here->outbox_.insert(here->outbox_.end(), {this, {}});
    it->second.push_back({std::move(s), std::move(p), volatile_});
    here->post_flush();
    return;
  }
  std::vector<inbox_item> one;
  one.push_back({std::move(s), std::move(p), volatile_});
  take_batch(one);
}

void loop_state::take_batch(std::vector<inbox_item>& items) {
  bool first;
  {
    std::lock_guard lock(inbox_mutex_);
    first = inbox_.empty();
    if (first)
      inbox_.swap(items);
    else
      std::move(items.begin(), items.end(), std::back_inserter(inbox_));
  }
  items.clear();
  // One wake-up per batch: later sends find the inbox non-empty and the drain already posted.
  if (first) asio::post(ctx, [this, hold = core.shared_from_this()] { drain_inbox(); });
}

void loop_state::drain_inbox() {
  std::vector<inbox_item> batch;
  {
    std::lock_guard lock(inbox_mutex_);
    batch.swap(inbox_);
  }
  for (auto& item : batch) item.session->send_here(std::move(item.packet), item.volatile_);
}

void loop_state::schedule_flush(std::shared_ptr<session_impl> s) {
  dirty_.push_back(std::move(s));
  post_flush();
}

void loop_state::post_flush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  // Posted: it runs after the handlers that are ready now, which may add more output.
  asio::post(ctx, [this, hold = core.shared_from_this()] { flush_all(); });
}

void loop_state::clear() {
  std::vector<inbox_item> inbox;
  {
    std::lock_guard lock(inbox_mutex_);
    inbox.swap(inbox_);
  }
  dirty_.clear();
  outbox_.clear();
  pings_.clear();
  timeouts_.clear();
  // The timer belongs to this loop's io_context: destroyed now, while that still exists (handlers
  // queued on other loops may keep the core, and so this state, alive past it).
  heartbeat_timer_.reset();
  heartbeat_armed_at_ = std::chrono::steady_clock::time_point::max();
}

void loop_state::flush_all() {
  flush_posted_ = false;
  for (auto& [loop, items] : outbox_)
    if (!items.empty()) loop->take_batch(items);
  auto batch = std::move(dirty_);
  dirty_.clear();
  for (auto& s : batch) s->flush_now();
  batch.clear();
  if (dirty_.empty()) dirty_.swap(batch);  // keep the capacity for the next round
}

// ---- the session's queue ----

void session_impl::enqueue(out_packet p) {
  queued_bytes_ += p.data ? p.data->size() : 0;
  queue_.push_back(std::move(p));
}

bool session_impl::writable() const noexcept {
  if (upgraded()) return !ws_->writing;
  return pending_get_ != nullptr && !(ws_ && ws_->probed);
}

void session_impl::flush() {
  if (queue_.empty()) return;
  if (upgraded()) return do_ws_write();
  if (!pending_get_ || (ws_ && ws_->probed)) return;  // wait for a GET; while upgrading, for the WebSocket
  std::string body;
  body.reserve(queued_bytes_ + queue_.size() * 2);
  for (const auto& p : queue_) append_to_payload(body, p.type, p.data ? std::string_view(*p.data) : std::string_view{}, p.binary);
  queue_.clear();
  queued_bytes_ = 0;
  respond_poll(std::move(body));
}

// ---- opening ----

std::string handshake_data(const server_core& core, const std::string& id, bool websocket) {
  boost::json::object o;
  o["sid"] = id;
  boost::json::array upgrades;
  if (!websocket && core.opts.allow_upgrades && core.opts.allow_websocket) upgrades.emplace_back("websocket");
  o["upgrades"] = std::move(upgrades);
  o["pingInterval"] = core.opts.ping_interval.count();
  o["pingTimeout"] = core.opts.ping_timeout.count();
  o["maxPayload"] = core.opts.max_http_buffer_size;
  return boost::json::serialize(o);
}

namespace {
std::string cookie_header(const cookie_options& c, const std::string& sid) {
  std::string v = c.name + "=" + sid + "; Path=" + c.path;
  if (c.http_only) v += "; HttpOnly";
  if (!c.same_site.empty()) v += "; SameSite=" + c.same_site;
  return v;
}
}  // namespace

void session_impl::open_with_polling(const std::shared_ptr<transport::http_connection>& conn, transport::request req) {
  std::string body;
  append_to_payload(body, packet_type::open, handshake_data(*core_, id_, false));
  auto res = transport::make_response(req, http::status::ok, std::move(body), "text/plain; charset=UTF-8");
  transport::apply_cors(core_->opts.cors, req, res);
  if (core_->opts.cookie) res.set(http::field::set_cookie, cookie_header(*core_->opts.cookie, id_));
  conn->respond(std::move(res));
  on_opened();
}

void session_impl::open_with_websocket(tcp::socket socket, transport::request req) {
  accept_websocket(std::make_shared<ws_connection>(adopt_socket(ctx_, std::move(socket)), core_->opts.max_http_buffer_size),
                   req, false);
}

void session_impl::on_opened() {
  state_ = state::open;
  schedule_ping();
  core_->upper.on_open(self());
}

// ---- heartbeat ----

void session_impl::schedule_ping() {
  awaiting_pong_ = false;
  loop_.add_heartbeat(self(), loop_state::beat::ping, std::chrono::steady_clock::now() + core_->opts.ping_interval,
                      ++heartbeat_seq_);
}

void session_impl::on_heartbeat(loop_state::beat kind, std::uint32_t seq, std::chrono::steady_clock::time_point due) {
  if (seq != heartbeat_seq_ || state_ != state::open) return;
  if (kind == loop_state::beat::ping) {
    enqueue({.type = packet_type::ping});
    flush();
    awaiting_pong_ = true;
    // Measured from when the ping was due, not from now, so that timeouts stay exact.
    loop_.add_heartbeat(self(), loop_state::beat::timeout, due + core_->opts.ping_timeout, ++heartbeat_seq_);
  } else if (awaiting_pong_) {
    finish_close(close_reason::ping_timeout, false);
  }
}

void loop_state::add_heartbeat(const std::shared_ptr<session_impl>& s, beat kind, std::chrono::steady_clock::time_point due,
                               std::uint32_t seq) {
  (kind == beat::ping ? pings_ : timeouts_).push_back({s, due, seq});
  if (due < heartbeat_armed_at_) arm_heartbeat_timer();
}

void loop_state::arm_heartbeat_timer() {
  auto next = std::chrono::steady_clock::time_point::max();
  if (!pings_.empty()) next = pings_.front().due;
  if (!timeouts_.empty()) next = std::min(next, timeouts_.front().due);
  heartbeat_armed_at_ = next;
  if (next == std::chrono::steady_clock::time_point::max()) return;
  if (!heartbeat_timer_) heartbeat_timer_ = std::make_unique<loop_timer>(ctx);
  heartbeat_timer_->expires_at(next);  // cancels a wait for a later deadline
  heartbeat_timer_->async_wait([this, hold = core.shared_from_this()](boost::system::error_code ec) {
    if (!ec) on_heartbeat_timer();
  });
}

void loop_state::on_heartbeat_timer() {
  auto now = std::chrono::steady_clock::now();
  for (auto* list : {&pings_, &timeouts_}) {
    auto kind = list == &pings_ ? beat::ping : beat::timeout;
    while (!list->empty() && list->front().due <= now) {
      auto entry = std::move(list->front());
      list->pop_front();
      if (auto s = entry.session.lock()) s->on_heartbeat(kind, entry.seq, entry.due);
    }
  }
  if (pings_.empty()) pings_.shrink_to_fit();
  if (timeouts_.empty()) timeouts_.shrink_to_fit();
  arm_heartbeat_timer();
}

void session_impl::on_pong() {
  if (!awaiting_pong_) return;
  schedule_ping();  // the pending timeout entry goes stale
}

// ---- incoming ----

void session_impl::on_packet(packet_type type, std::string_view data, bool binary, std::string&& binary_data) {
  switch (type) {
    case packet_type::message:
      // Closing (forced, or the send queue overflowed): the upper layer hears nothing more, as
      // the reference ignores packets once its socket is no longer open.
      if (state_ != state::open) break;
      if (binary)
        core_->upper.on_binary(*this, std::move(binary_data));
      else
        core_->upper.on_message(*this, data);
      break;
    case packet_type::pong:
      on_pong();
      break;
    case packet_type::close:
      finish_close(close_reason::transport_close, true);
      break;
    case packet_type::ping:  // in protocol 4 only the server pings
      finish_close(close_reason::transport_error, false);
      break;
    case packet_type::open:
    case packet_type::upgrade:
    case packet_type::noop:
      break;
  }
}

// ---- polling ----

void session_impl::respond_poll(std::string body) {
  auto& req = *pending_get_request_;
  auto res = transport::make_response(req, http::status::ok, {}, "text/plain; charset=UTF-8");
  std::string encoding;
  if (core_->opts.http_compression && body.size() >= core_->opts.http_compression_threshold) {
    if (auto compressed = compress_for(req, body, encoding)) {
      body = std::move(*compressed);
      res.set(http::field::content_encoding, encoding);
    }
  }
  res.body() = std::move(body);
  res.prepare_payload();
  transport::apply_cors(core_->opts.cors, req, res);
  auto conn = std::move(pending_get_);
  pending_get_request_.reset();
  conn->respond(std::move(res));
}

void session_impl::answer_pending_get(packet_type last) {
  if (!pending_get_) return;
  std::string body;
  if (last == packet_type::close)  // what is still queued goes out before the close packet
    for (const auto& p : queue_) append_to_payload(body, p.type, p.data ? std::string_view(*p.data) : std::string_view{}, p.binary);
  append_to_payload(body, last, {});
  respond_poll(std::move(body));
}

void session_impl::on_poll_get(const std::shared_ptr<transport::http_connection>& conn, transport::request req) {
  auto refuse = [&] {
    auto res = transport::make_response(req, http::status::bad_request, error_body(http_error::bad_request), "application/json");
    transport::apply_cors(core_->opts.cors, req, res);
    conn->respond(std::move(res));
  };
  if (linger_for_get_) {
    linger_for_get_ = false;
    if (aux_timer_) aux_timer_->cancel();
    core_->remove(id_);
    auto res = transport::make_response(req, http::status::ok, "6", "text/plain; charset=UTF-8");
    transport::apply_cors(core_->opts.cors, req, res);
    return conn->respond(std::move(res));
  }
  if (state_ == state::closed || upgraded()) return refuse();
  if (pending_get_) {
    // Two concurrent GETs: the reference closes the session ("overlap from client").
    refuse();
    return finish_close(close_reason::transport_error, false);
  }
  pending_get_ = conn;
  pending_get_request_ = std::make_unique<transport::request>(std::move(req));
  if (state_ == state::closing) return poll_closing_step();
  if (ws_ && ws_->probed) {
    // Upgrading. This GET is either the client's last poll, which it waits for before sending
    // the upgrade packet (answer it soon with a noop), or a request that overtook that upgrade
    // packet from another loop (finish_upgrade refuses it). Hold it briefly to tell them apart.
    auto hold = std::make_shared<asio::steady_timer>(ctx_, std::chrono::milliseconds(50));
    hold->async_wait([self = self(), hold, conn = pending_get_.get()](boost::system::error_code) {
      if (self->pending_get_.get() == conn && self->ws_ && self->ws_->probed) self->answer_pending_get(packet_type::noop);
    });
    return;
  }
  flush();
}

void session_impl::on_get_aborted(const transport::http_connection* conn) {
  if (pending_get_.get() != conn) return;
  pending_get_.reset();
  pending_get_request_.reset();
  finish_close(close_reason::transport_error, false);
}

void session_impl::on_poll_post(const std::shared_ptr<transport::http_connection>& conn, transport::request req) {
  auto reply = [&](http::status status, std::string body, std::string_view type) {
    auto res = transport::make_response(req, status, std::move(body), type);
    transport::apply_cors(core_->opts.cors, req, res);
    conn->respond(std::move(res));
  };
  if (state_ == state::closed || upgraded()) return reply(http::status::bad_request, error_body(http_error::bad_request), "application/json");
  if (req[http::field::content_type] == "application/octet-stream") {
    reply(http::status::bad_request, error_body(http_error::bad_request), "application/json");
    return finish_close(close_reason::transport_error, false);
  }
  auto packets = decode_payload(req.body());
  if (!packets) {
    reply(http::status::bad_request, error_body(http_error::bad_request), "application/json");
    return finish_close(close_reason::parse_error, false);
  }
  for (auto& p : *packets) {
    if (state_ != state::open && state_ != state::closing) break;
    on_packet(p.type, p.data, p.binary, std::move(p.data));
  }
  reply(http::status::ok, "ok", "text/html");
}

void session_impl::on_payload_too_large() { finish_close(close_reason::transport_error, false); }

// ---- closing ----

void session_impl::close(close_reason why) {
  if (!on_session_thread()) {
    asio::post(ctx_, [self = self(), why] { self->close(why); });
    return;
  }
  if (state_ == state::closed || state_ == state::closing) return;
  if (why != close_reason::forced_close && why != close_reason::server_shutting_down)
    return finish_close(why, false);
  begin_forced_close(why);
}

void session_impl::begin_forced_close(close_reason why) {
  // What is already queued is delivered before the transport closes.
  state_ = state::closing;
  closing_reason_ = why;
  closed_.store(true, std::memory_order_release);
  ++heartbeat_seq_;  // no more pings
  if (ws_ && ws_->is_probe) close_ws(std::move(ws_));
  if (upgraded()) {
    if (queue_.empty() && !ws_->writing) finish_close(why, false);
    return;  // do_ws_write finishes the close once the queue is drained
  }
  // The client's next GETs carry what is queued, then the close packet; but don't wait forever.
  aux_timer().expires_after(core_->opts.ping_interval + core_->opts.ping_timeout);
  aux_timer().async_wait([self = self(), why](boost::system::error_code ec) {
    if (!ec) self->finish_close(why, false);
  });
  if (pending_get_) poll_closing_step();
}

void session_impl::poll_closing_step() {
  // What is queued goes first, alone: clients handle a payload's packets asynchronously but
  // its close packet at once, so a close in the same response would overtake them.
  if (!queue_.empty()) return flush();
  answer_pending_get(packet_type::close);
  finish_close(closing_reason_, false);
}

void session_impl::finish_close(close_reason why, bool client_initiated) {
  if (state_ == state::closed) return;
  bool was_opened = state_ != state::opening;
  state_ = state::closed;
  closed_.store(true, std::memory_order_release);
  ++heartbeat_seq_;  // no more pings
  if (aux_timer_) aux_timer_->cancel();
  // A pending GET learns of the close: a noop when the client closed, else a close packet.
  bool get_answered = pending_get_ != nullptr;
  if (pending_get_) answer_pending_get(client_initiated ? packet_type::noop : packet_type::close);
  queue_.clear();
  queued_bytes_ = 0;
  bool was_polling = !upgraded();
  close_ws(std::move(ws_));
  if (client_initiated && was_polling && !get_answered && why == close_reason::transport_close) {
    // The client's close packet (POST) may overtake its own pending GET when the two arrive on
    // different loops: keep the sid a moment so that GET still gets its noop, not an error.
    linger_for_get_ = true;
    aux_timer().expires_after(std::chrono::milliseconds(500));
    aux_timer().async_wait([self = self()](boost::system::error_code) {
      if (self->linger_for_get_) self->core_->remove(self->id_);
      self->linger_for_get_ = false;
    });
  } else {
    core_->remove(id_);
  }
  if (was_opened) core_->upper.on_close(*this, why);
  context.reset();  // the upper layer's state usually holds this session: break the cycle
}

}  // namespace sio::eio::detail
