#include "sio/transport/http_server.hpp"

#include <algorithm>
#include <optional>
#include <type_traits>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/write.hpp>

#include "sio/transport/http.hpp"
#include "sio/transport/io_pool.hpp"

namespace sio::transport {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

// A streamed body is read into a buffer of this size and handed to the sink one buffer at a time.
constexpr std::size_t stream_chunk_bytes = 64 * 1024;

struct route {
  std::string prefix;
  std::size_t max_body_bytes;
  std::shared_ptr<route_handler> handler;
};

struct routes_and_options {
  http_options options;
  std::vector<route> routes;  // longest prefix first; fixed once listening
  std::size_t max_body_bytes = 0;

  const route* find(std::string_view target) const {
    auto path = target.substr(0, target.find('?'));
    for (const auto& r : routes)
      if (path.starts_with(r.prefix) || (r.prefix.ends_with('/') && path == std::string_view(r.prefix).substr(0, r.prefix.size() - 1)))
        return &r;
    return nullptr;
  }
};

// RFC 9112 §6: a request's body is delimited by `Transfer-Encoding: chunked` (chunked last and
// once) or by Content-Length, never by both, and by nothing else. Beast reads any other
// Transfer-Encoding ("xchunked", "chunked, gzip") as no body at all, so the body would be parsed
// as the next request: request smuggling, wherever a proxy in front frames it the other way.
// Such a request is refused and its connection closed (§6.3). nullopt: the framing is sound
// (Beast itself refuses conflicting Content-Length fields, see on_header()).
std::optional<http::status> framing_problem(const http::request_header<>& req) {
  auto [first, last] = req.equal_range(http::field::transfer_encoding);
  if (first == last) return std::nullopt;
  if (req.version() < 11) return http::status::bad_request;  // HTTP/1.0 has no transfer codings (§6.1)
  if (req.find(http::field::content_length) != req.end()) return http::status::bad_request;
  std::size_t codings = 0, chunked = 0;
  bool chunked_last = false;
  for (auto it = first; it != last; ++it) {
    http::opt_token_list list{it->value()};
    if (!http::validate_list(list)) return http::status::bad_request;
    for (auto coding : list) {
      ++codings;
      chunked_last = beast::iequals(coding, "chunked");
      if (chunked_last) ++chunked;
    }
  }
  if (!chunked_last || chunked != 1) return http::status::bad_request;
  // "gzip, chunked" is well framed, but with a coding this server does not decode (§6.1).
  if (codings != 1) return http::status::not_implemented;
  return std::nullopt;
}

class connection final : public http_connection, public std::enable_shared_from_this<connection> {
 public:
  connection(tcp::socket socket, std::shared_ptr<const routes_and_options> config)
      : stream_(std::move(socket)), config_(std::move(config)) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_address_ = ep.address().to_string();
    stream_.socket().set_option(tcp::no_delay(true), ec);
  }

  ~connection() override {
    if (sink_) sink_->abort();
  }

  void start() { do_read_header(); }

  void respond(response res) override {
    if (!on_thread()) {
      asio::post(stream_.get_executor(), [self = shared_from_this(), res = std::move(res)]() mutable {
        self->respond(std::move(res));
      });
      return;
    }
    if (state_ != state::handling) return;  // aborted, taken, or already answered
    state_ = state::writing;
    abort_fn_ = nullptr;
    if (watching_) {
      beast::error_code ec;
      stream_.socket().cancel(ec);
    }
    auto msg = std::make_shared<response>(std::move(res));
    if (!keep_alive_) msg->keep_alive(false);  // say so: e.g. an answer from the header, its body unread
    keep_alive_ = keep_alive_ && msg->keep_alive();
    http::async_write(stream_, *msg, [self = shared_from_this(), msg](beast::error_code ec, std::size_t) {
      self->on_write(ec);
    });
  }

  beast::tcp_stream take_stream(beast::flat_buffer& leftover) override {
    state_ = state::taken;
    leftover = std::move(buffer_);
    return std::move(stream_);
  }

  void on_abort(std::function<void()> fn) override { abort_fn_ = std::move(fn); }

  asio::io_context& context() noexcept override {
    return static_cast<asio::io_context&>(stream_.get_executor().context());
  }
  const std::string& remote_address() const noexcept override { return remote_address_; }

 private:
  enum class state { reading, handling, writing, taken, closed };

  bool on_thread() {
    return stream_.get_executor().target<asio::io_context::executor_type>()->running_in_this_thread();
  }

  void do_read_header() {
    state_ = state::reading;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(config_->options.max_header_bytes));
    // Beast checks Content-Length against the limit while parsing the header, before the
    // route is known: allow the largest route's limit here, the route's own after the header.
    parser_->body_limit(config_->max_body_bytes);
    stream_.expires_after(config_->options.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec == http::error::body_limit) {  // Content-Length over every route's limit
      route_ = config_->find(parser_->get().target());
      if (route_) return refuse_too_large();
    }
    // Content-Length malformed, or given twice with different values, or after chunked (or
    // chunked after it, or twice): where the body ends is unknown (RFC 9112 §6.3).
    if (ec == http::error::bad_content_length || ec == http::error::multiple_content_length ||
        ec == http::error::bad_transfer_encoding)
      return refuse_unframed(http::status::bad_request);
    if (ec) return close();
    if (auto status = framing_problem(parser_->get())) return refuse_unframed(*status);
    route_ = config_->find(parser_->get().target());
    if (!route_) return reply_error(http::status::not_found, "Not Found");
    // Beast checks a Content-Length against the limit only while parsing the header, where it
    // could only use the largest route's: check it against this route's here.
    if (auto length = parser_->content_length(); length && *length > route_->max_body_bytes)
      return refuse_too_large();
    parser_->body_limit(route_->max_body_bytes);
    if (parser_->is_done()) return dispatch();
    if (offer_stream()) return;
    send_continue_if_expected([self = shared_from_this()] {
      http::async_read(self->stream_, self->buffer_, *self->parser_,
                       [self](beast::error_code ec, std::size_t) { self->on_body(ec); });
    });
  }

  void on_body(beast::error_code ec) {
    if (ec == http::error::body_limit) return refuse_too_large();
    if (ec) return close();
    dispatch();
  }

  // Offers the body to the route as a stream. True when the route took it, or answered from the
  // header; false when it wants the body whole.
  bool offer_stream() {
    // The route may answer from the header: then the body is left unread, and the connection
    // closes after the answer.
    state_ = state::handling;
    keep_alive_ = false;
    drain_before_close_ = true;
    auto sink = call_route([&] { return route_->handler->open_body(shared_from_this(), parser_->get()); });
    if (state_ != state::handling) {
      if (sink) sink->abort();
      return true;
    }
    state_ = state::reading;
    keep_alive_ = parser_->get().keep_alive();
    drain_before_close_ = false;
    if (!sink) return false;
    sink_ = std::move(sink);
    stream_parser_.emplace(std::move(*parser_));  // same header, the body now read in chunks
    stream_parser_->body_limit(route_->max_body_bytes);
    chunk_.resize(stream_chunk_bytes);
    send_continue_if_expected([self = shared_from_this()] { self->do_read_chunk(); });
    return true;
  }

  void do_read_chunk() {
    auto& body = stream_parser_->get().body();
    body.data = chunk_.data();
    body.size = chunk_.size();
    // A large body may take long; a silent client may not.
    stream_.expires_after(config_->options.idle_timeout);
    http::async_read(stream_, buffer_, *stream_parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_chunk(ec); });
  }

  void on_chunk(beast::error_code ec) {
    if (ec == http::error::need_buffer) ec = {};  // the chunk is full
    if (ec == http::error::body_limit) {
      if (auto sink = std::move(sink_)) sink->abort();
      return refuse_too_large();
    }
    if (ec) return close();  // gone, timed out or malformed: close() aborts the sink
    const std::size_t n = chunk_.size() - stream_parser_->get().body().size;
    const bool more = n == 0 || call_route([&] { return sink_->write(std::string_view(chunk_.data(), n)); });
    if (more && !stream_parser_->is_done()) return do_read_chunk();
    if (!more) {  // the sink refused the rest: answer, then close without reading it
      keep_alive_ = false;
      drain_before_close_ = true;
    }
    stream_.expires_never();
    request header = take_request();
    chunk_ = {};
    state_ = state::handling;
    auto sink = std::move(sink_);
    call_route([&] { sink->finish(shared_from_this(), std::move(header)); });
    if (state_ == state::handling) watch_for_abort();
  }

  // A client that sent "Expect: 100-continue" waits for this before sending the body.
  void send_continue_if_expected(std::function<void()> next) {
    const auto& req = stream_parser_ ? stream_parser_->get().base() : parser_->get().base();
    if (req.version() < 11 || !beast::iequals(req[http::field::expect], "100-continue")) return next();
    static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(stream_, asio::buffer(continue_line.data(), continue_line.size()),
                      [self = shared_from_this(), next = std::move(next)](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      next();
    });
  }

  // The request read so far (for a streamed body, its header alone).
  request take_request() {
    if (!stream_parser_) return parser_->release();
    auto msg = stream_parser_->release();
    stream_parser_.reset();
    return request(std::move(msg.base()));
  }

  // Answers 413 (in the route's words) to a body over the route's limit, then closes.
  void refuse_too_large() {
    keep_alive_ = false;
    drain_before_close_ = true;
    request req = take_request();
    chunk_ = {};
    state_ = state::handling;
    auto res = make_response(req, http::status::payload_too_large, "Payload Too Large");
    call_route([&] { route_->handler->body_too_large(req, res); });
    res.keep_alive(false);
    respond(std::move(res));
  }

  // Answers a request whose body cannot be delimited, then closes: none of the bytes after its
  // header is read as a request, since they may be anything (a smuggled one).
  void refuse_unframed(http::status status) {
    keep_alive_ = false;
    drain_before_close_ = true;
    state_ = state::handling;
    response res{status, 11};
    res.set(http::field::content_type, "text/plain; charset=UTF-8");
    res.body() = status == http::status::not_implemented ? "Unsupported Transfer-Encoding"
                                                         : "Bad Request: the length of the body is ambiguous";
    res.keep_alive(false);
    res.prepare_payload();
    respond(std::move(res));
  }

  void reply_error(http::status status, std::string_view text) {
    bool body_unread = !parser_->is_done();  // answered from the header: what follows is its body
    request req = parser_->release();
    state_ = state::handling;
    auto res = make_response(req, status, std::string(text));
    if (!keep_alive_ || body_unread) res.keep_alive(false);
    respond(std::move(res));
  }

  void dispatch() {
    stream_.expires_never();
    request req = parser_->release();
    keep_alive_ = req.keep_alive();
    state_ = state::handling;
    auto self = shared_from_this();
    call_route([&] { route_->handler->handle(self, std::move(req)); });
    if (state_ == state::handling) watch_for_abort();
  }

  // Calls the route (the application's code). What it throws is a bug there: the client gets a
  // 500 if it had no answer yet, the connection closes, and the exception goes on up to the
  // loop (io_pool::on_error reports it; the loop carries on).
  template <class F>
  std::invoke_result_t<F> call_route(F&& f) {
    try {
      return std::forward<F>(f)();
    } catch (...) {
      if (auto sink = std::move(sink_)) {
        try {
          sink->abort();
        } catch (...) {  // the first exception is the one to report
        }
      }
      keep_alive_ = false;
      if (state_ == state::reading) state_ = state::handling;  // threw before taking the request
      if (state_ == state::handling) {
        drain_before_close_ = true;  // the body may be unread: let the client finish, then read the 500
        response res{http::status::internal_server_error, 11};
        res.set(http::field::content_type, "text/plain; charset=UTF-8");
        res.body() = "Internal Server Error";
        res.keep_alive(false);
        res.prepare_payload();
        respond(std::move(res));
      } else {
        close();
      }
      throw;
    }
  }

  // While a route holds the request (a long-polling GET), notice the client going away.
  void watch_for_abort() {
    watching_ = true;
    stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
      self->watching_ = false;
      if (ec || self->state_ != state::handling) return;
      // Readable while waiting for our response: either the peer closed (0 bytes to peek),
      // or it pipelined the next request, which stays in the socket until we answer.
      char byte;
      beast::error_code peek_ec;
      auto n = self->stream_.socket().receive(asio::buffer(&byte, 1), tcp::socket::message_peek, peek_ec);
      if (peek_ec || n == 0) {
        if (auto fn = std::move(self->abort_fn_)) fn();
        self->close();
      }
    });
  }

  void on_write(beast::error_code ec) {
    if (!ec && drain_before_close_) return drain_then_close();
    if (ec || !keep_alive_) return close();
    do_read_header();
  }

  // After refusing a body we did not read, let the client finish sending it (within limits) so
  // that it reads our answer instead of failing on a reset connection.
  void drain_then_close() {
    state_ = state::closed;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(2));
    drain_buffer_.resize(16 * 1024);
    do_drain();
  }

  void do_drain() {
    stream_.async_read_some(asio::buffer(drain_buffer_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > 64 * 1024 * 1024) {
        beast::error_code ignored;
        self->stream_.socket().close(ignored);
        return;
      }
      self->do_drain();
    });
  }

  void close() {
    if (auto sink = std::move(sink_)) sink->abort();  // a streamed body cut short
    if (state_ == state::taken || state_ == state::closed) return;
    bool was_handling = state_ == state::handling;
    state_ = state::closed;
    if (was_handling)
      if (auto fn = std::move(abort_fn_)) fn();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::request_parser<http::buffer_body>> stream_parser_;  // while a body is streamed
  std::shared_ptr<body_sink> sink_;
  std::string chunk_;
  std::shared_ptr<const routes_and_options> config_;
  const route* route_ = nullptr;
  std::function<void()> abort_fn_;
  std::string remote_address_;
  state state_ = state::reading;
  bool keep_alive_ = true;
  bool watching_ = false;
  bool drain_before_close_ = false;
  std::string drain_buffer_;
  std::size_t drained_ = 0;
};

}  // namespace

struct http_server::impl : std::enable_shared_from_this<impl> {
  io_pool& pool;
  std::shared_ptr<routes_and_options> config = std::make_shared<routes_and_options>();
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
  std::uint16_t port = 0;

  explicit impl(io_pool& p) : pool(p) {}

  void do_accept(std::shared_ptr<tcp::acceptor> acceptor, asio::io_context& ctx) {
    auto& a = *acceptor;
    a.async_accept(ctx, [self = shared_from_this(), acceptor = std::move(acceptor), &ctx](beast::error_code ec, tcp::socket socket) mutable {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      if (!ec) std::make_shared<connection>(std::move(socket), self->config)->start();
      self->do_accept(std::move(acceptor), ctx);
    });
  }
};

http_server::http_server(io_pool& pool, http_options opts) : impl_(std::make_shared<impl>(pool)) {
  impl_->config->options = opts;
}

http_server::~http_server() { stop_accepting(); }

void http_server::add_route(std::string prefix, std::size_t max_body_bytes, std::shared_ptr<route_handler> handler) {
  auto& routes = impl_->config->routes;
  routes.push_back({std::move(prefix), max_body_bytes, std::move(handler)});
  impl_->config->max_body_bytes = std::max(impl_->config->max_body_bytes, max_body_bytes);
  std::stable_sort(routes.begin(), routes.end(),
                   [](const route& a, const route& b) { return a.prefix.size() > b.prefix.size(); });
}

void http_server::listen(const std::string& host, std::uint16_t port) {
  tcp::resolver resolver(impl_->pool.context(0));
  beast::error_code ec;
  auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty())
    throw std::system_error(ec ? std::error_code(ec) : std::make_error_code(std::errc::invalid_argument),
                            "cannot resolve listen address '" + host + "'");
  tcp::endpoint endpoint = results.begin()->endpoint();
  {
    // SO_REUSEPORT would let a second server join this port silently and take half of its
    // connections: first check, with a plain bind, that the port is really free (and pick it,
    // for port 0).
    tcp::acceptor probe(impl_->pool.context(0));
    probe.open(endpoint.protocol());
    probe.set_option(tcp::acceptor::reuse_address(true));
    probe.bind(endpoint, ec);
    if (ec) throw std::system_error(ec, "cannot listen on " + host + ":" + std::to_string(port));
    endpoint.port(probe.local_endpoint().port());
  }
  // One acceptor per loop on the same port (SO_REUSEPORT): the kernel spreads new connections
  // over the loops, and accepting never crosses threads.
  for (std::size_t i = 0; i < impl_->pool.size(); ++i) {
    auto& ctx = impl_->pool.context(i);
    auto acceptor = std::make_shared<tcp::acceptor>(ctx);
    acceptor->open(endpoint.protocol());
    acceptor->set_option(tcp::acceptor::reuse_address(true));
    int one = 1;
    ::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    acceptor->bind(endpoint, ec);
    if (ec)
      throw std::system_error(ec, "cannot listen on " + host + ":" + std::to_string(endpoint.port()));
    acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::system_error(ec, "cannot listen on " + host + ":" + std::to_string(endpoint.port()));
    impl_->acceptors.push_back(acceptor);
    impl_->do_accept(std::move(acceptor), ctx);
  }
  impl_->port = endpoint.port();
}

std::uint16_t http_server::port() const noexcept { return impl_->port; }

void http_server::stop_accepting() {
  for (auto& a : impl_->acceptors) {
    asio::post(a->get_executor(), [a] {
      beast::error_code ec;
      a->close(ec);
    });
  }
  impl_->acceptors.clear();
}

io_pool& http_server::pool() noexcept { return impl_->pool; }

}  // namespace sio::transport
