#pragma once
// Publishing into a cluster of Socket.IO servers from a process that is not one of them (a
// worker, a batch job): the servers share Redis through the Redis adapter (npm
// @socket.io/redis-adapter 8, or sio's), and this writes on its channels exactly what npm
// @socket.io/redis-emitter 5.1 writes, byte for byte (tests/unit/redis_emitter_test.cpp).
//
//   boost::asio::io_context loop;
//   sio::redis_emitter io(loop, {.url = "redis://127.0.0.1:6379"});
//   io.emit("news", "hello");                                   // every client of namespace "/"
//   io.to("room1").except("banned").emit("file", sio::binary{bytes}, json::object{{"n", 1}});
//   io.of("/admin").volatile_().emit("tick", 42);
//   io.in("room1").sockets_join("room2");                       // every server applies it
//   io.to(socket_id).disconnect_sockets(true);
//   io.server_side_emit("job-done", job_id);                    // the servers' io.on("job-done")
//   io.flush([&](std::error_code ec) { loop.stop(); });         // all of the above reached Redis
//   loop.run();
//
// The npm emitter's API in C++ casing: Emitter is redis_emitter (for "/") and what of() returns,
// emitter_namespace; BroadcastOperator is emitter_broadcast_operator. The same operators
// (to/in/except with rooms or socket ids, volatile_, compress), the same reserved event names
// refused by emit (emitter_error::reserved_event, nothing sent). What the npm emitter does not
// have: flush(), and typed events. What it has and this does not: acknowledgements (the npm
// emitter throws "Acknowledgements are not supported": it subscribes to nothing, so no answer
// could reach it) and a custom parser (MessagePack, the adapter's default, always).
// The wire format, and where this deliberately differs from npm (server_side_emit with binary
// arguments, three names server_side_emit refuses): sio/redis_emitter/detail/wire.hpp and below.
//
// Arguments: a sio::binary is sent as binary (the clients get a Buffer / ArrayBuffer); anything
// a boost::json::value can be made of is stored as is; anything else goes through
// boost::json::value_from (described structs, containers); binary deeper inside an argument
// takes emit_payload. A number is one JavaScript number whatever its C++ type (3, 3u and 3.0 are
// the same bytes; an integral double of 2^64 or more is float64, which notepack would wrap).
//
// Delivery: fire and forget, like the npm emitter; a broadcast reaches the clients connected at
// the moment each server reads it, a volatile one only those whose transport is writable then.
// The Redis client connects at once and reconnects after failures with backoff
// (redis_emitter_options::redis); a message given during a connection attempt waits for it, one
// given between attempts is lost.
// flush() tells whether everything published before it reached Redis.
//
// Threading: every call is safe from any thread; operators are immutable values. A message is
// encoded on the caller's thread and handed to the loop; the messages of one thread reach Redis
// in the order they were given. flush() callbacks and the redis hooks run on the loop's thread.
//
// Lifetime: the operators and namespaces made from an emitter refer to it: it must outlive
// them. Construct it anywhere; destroy it on its loop's thread (a flush callback may destroy
// it) or while the loop is not running, and before the io_context. Flush callbacks still
// pending are then called, from the destructor, with sio::redis::error::client_closed.
#include <concepts>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <memory>
#include <ranges>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include "sio/adapter/arguments.hpp"
#include "sio/adapter/types.hpp"
#include "sio/redis/client.hpp"
#include "sio/socketio/codec/packet.hpp"

namespace boost::asio { class io_context; }

namespace sio {

class redis_emitter;

// What emit and server_side_emit refuse (category "sio.redis_emitter"). Encoding can also fail
// with sio::msgpack::error::value_too_large (a string or binary of 4 GB or more).
enum class emitter_error {
  reserved_event = 1,  // a name the receiving side keeps for itself (see emit, server_side_emit)
};
const std::error_category& emitter_category() noexcept;
std::error_code make_error_code(emitter_error e) noexcept;

}  // namespace sio

template <>
struct std::is_error_code_enum<sio::emitter_error> : std::true_type {};

namespace sio {

// A typed event: a type with a name and its payload types, such as sio::event_def<"chat",
// chat_message> (typed_events.hpp, which this does not need) or a struct of one's own:
//   struct job_done { static constexpr std::string_view name = "job-done"; using payload_types = std::tuple<job>; };
//   io.to("ops").emit<job_done>(job{...});     // emit<job_done>(42) does not compile
template <class Ev>
concept emitter_event = requires {
  { Ev::name } -> std::convertible_to<std::string_view>;
  typename Ev::payload_types;
};

namespace detail::emitter_args {

// [name, args...] and the attachments its placeholders stand for.
template <class... A>
payload event_data(std::string_view name, A&&... args) {
  payload p;
  p.args.reserve(1 + sizeof...(A));
  p.args.emplace_back(name);
  (append_argument(p.args, p.attachments, std::forward<A>(args)), ...);
  return p;
}

template <class Tuple, class... A>
struct converts_to : std::false_type {};
template <class... P, class... A>
  requires(sizeof...(P) == sizeof...(A))
struct converts_to<std::tuple<P...>, A...> : std::conjunction<std::is_convertible<A&&, P>...> {};

template <class Ev, class... A>
payload typed_event_data(A&&... args) {
  return [&]<class... P>(std::tuple<P...>*) {
    return event_data(std::string_view(Ev::name), P(std::forward<A>(args))...);
  }(static_cast<typename Ev::payload_types*>(nullptr));
}

// Rooms as the npm emitter keeps them (a JavaScript Set): in the order first added, no repeats.
void add_room(std::vector<room>& rooms, std::string_view r);

}  // namespace detail::emitter_args

// The rooms a range holds: std::vector<std::string>, sio::room_set, std::array<std::string_view, N>...
template <class R>
concept room_range = std::ranges::input_range<R> && std::convertible_to<std::ranges::range_reference_t<R>, std::string_view>;

// Who receives an emit or a request, and how: npm's BroadcastOperator. An immutable value: each
// call returns a new operator. Targets are rooms or socket ids (a socket is in the room of its id).
class emitter_broadcast_operator {
 public:
  // Sockets in any of these rooms (several calls add up; none: every socket of the namespace).
  emitter_broadcast_operator to(std::string_view room) const;
  emitter_broadcast_operator to(std::initializer_list<std::string_view> rooms) const { return with_rooms(room_list::to, rooms); }
  template <room_range R>
  emitter_broadcast_operator to(const R& rooms) const { return with_rooms(room_list::to, rooms); }
  emitter_broadcast_operator in(std::string_view room) const { return to(room); }
  emitter_broadcast_operator in(std::initializer_list<std::string_view> rooms) const { return to(rooms); }
  template <room_range R>
  emitter_broadcast_operator in(const R& rooms) const { return to(rooms); }
  // But not the sockets in any of these rooms.
  emitter_broadcast_operator except(std::string_view room) const;
  emitter_broadcast_operator except(std::initializer_list<std::string_view> rooms) const { return with_rooms(room_list::except, rooms); }
  template <room_range R>
  emitter_broadcast_operator except(const R& rooms) const { return with_rooms(room_list::except, rooms); }
  // Dropped for a client whose transport is not writable when its server gets it.
  emitter_broadcast_operator volatile_() const;
  // Whether the servers may compress it for WebSocket clients (permessage-deflate).
  emitter_broadcast_operator compress(bool on) const;

  // Publishes the event to the matching clients of every server. Returns
  // emitter_error::reserved_event (nothing is published) for the names a client reserves:
  // connect, connect_error, disconnect, disconnecting, newListener, removeListener.
  template <class... A>
  std::error_code emit(std::string_view name, A&&... args) const {
    if (is_reserved(name)) return make_error_code(emitter_error::reserved_event);
    return publish_event(detail::emitter_args::event_data(name, std::forward<A>(args)...));
  }
  // Typed: emit<job_done>(job{...}) (see emitter_event).
  template <emitter_event Ev, class... A>
    requires detail::emitter_args::converts_to<typename Ev::payload_types, A...>::value
  std::error_code emit(A&&... args) const {
    if (is_reserved(Ev::name)) return make_error_code(emitter_error::reserved_event);
    return publish_event(detail::emitter_args::typed_event_data<Ev>(std::forward<A>(args)...));
  }
  // args may hold placeholders for p.attachments (e.g. a payload a server handed on).
  std::error_code emit_payload(std::string_view name, payload p) const;

  // The matching sockets join / leave the rooms, on every server. The rooms go as given (the
  // npm emitter does not remove repeats here either).
  void sockets_join(std::string_view room) const { sockets_join({room}); }
  void sockets_join(std::initializer_list<std::string_view> rooms) const;
  template <room_range R>
  void sockets_join(const R& rooms) const { sockets_join(std::vector<room>(std::ranges::begin(rooms), std::ranges::end(rooms))); }
  void sockets_join(const std::vector<room>& rooms) const;
  void sockets_leave(std::string_view room) const { sockets_leave({room}); }
  void sockets_leave(std::initializer_list<std::string_view> rooms) const;
  template <room_range R>
  void sockets_leave(const R& rooms) const { sockets_leave(std::vector<room>(std::ranges::begin(rooms), std::ranges::end(rooms))); }
  void sockets_leave(const std::vector<room>& rooms) const;
  // The matching sockets are disconnected (the client sees "io server disconnect"); with
  // `close`, their whole connection is closed too, and with it the same client's sockets in
  // the other namespaces.
  void disconnect_sockets(bool close = false) const;

  const std::string& nsp() const noexcept { return nsp_; }
  const std::vector<room>& rooms() const noexcept { return rooms_; }
  const std::vector<room>& except_rooms() const noexcept { return except_; }

 protected:
  emitter_broadcast_operator(redis_emitter& emitter, std::string nsp) : emitter_(&emitter), nsp_(std::move(nsp)) {}
  redis_emitter& emitter() const noexcept { return *emitter_; }

 private:
  enum class room_list { to, except };
  template <class R>
  emitter_broadcast_operator with_rooms(room_list which, const R& rooms) const {
    emitter_broadcast_operator copy = *this;
    auto& into = which == room_list::to ? copy.rooms_ : copy.except_;
    for (auto&& r : rooms) detail::emitter_args::add_room(into, std::string_view(r));
    return copy;
  }
  static bool is_reserved(std::string_view name) noexcept;
  std::error_code publish_event(payload data) const;
  enum class membership { join, leave };
  void publish_rooms_request(membership change, const std::vector<room>& rooms) const;

  redis_emitter* emitter_;
  std::string nsp_;
  std::vector<room> rooms_;
  std::vector<room> except_;
  // The npm emitter's flags object: only the flags set, keys in the order first set (it is
  // Object.assign({}, flags, {volatile: true}), and its key order is on the wire).
  boost::json::object flags_;
};

// A namespace of the cluster: npm's Emitter, what of() returns. Everything an operator does to
// every socket of the namespace, and server_side_emit.
class emitter_namespace : public emitter_broadcast_operator {
 public:
  // Another namespace ("admin" is "/admin", as in npm).
  emitter_namespace of(std::string_view nsp) const;

  // Emits `name` to the servers themselves (their io.on(name) / of(nsp).on(name) handlers), not
  // to clients. No acknowledgement. Returns emitter_error::reserved_event for the names a server
  // keeps for its own events (connect, connection, new_namespace): the npm emitter sends them,
  // and a Node.js server then calls its connection handlers with a string for a socket.
  template <class... A>
  std::error_code server_side_emit(std::string_view name, A&&... args) const {
    if (is_reserved_server_side(name)) return make_error_code(emitter_error::reserved_event);
    return publish_server_side(detail::emitter_args::event_data(name, std::forward<A>(args)...));
  }
  std::error_code server_side_emit_payload(std::string_view name, payload p) const;

 protected:
  emitter_namespace(redis_emitter& emitter, std::string nsp) : emitter_broadcast_operator(emitter, std::move(nsp)) {}

 private:
  static bool is_reserved_server_side(std::string_view name) noexcept;
  std::error_code publish_server_side(payload data) const;
};

struct redis_emitter_options {
  std::string url = "redis://127.0.0.1:6379";  // redis://[[user]:password@]host[:port][/db]
  std::string key = "socket.io";               // the adapter's key: the prefix of its channels
  redis::client_options redis;                 // reconnection, timeouts, state and error hooks
};

// The emitter: a Redis connection, and namespace "/" of the cluster.
class redis_emitter : public emitter_namespace {
 public:
  // Connects at once (asynchronously). Throws std::invalid_argument for a URL that is not
  // redis://... or options that cannot work (redis::client's).
  explicit redis_emitter(boost::asio::io_context& loop, redis_emitter_options options = {});
  ~redis_emitter();
  redis_emitter(const redis_emitter&) = delete;  // the operators made from it point to it
  redis_emitter& operator=(const redis_emitter&) = delete;

  // Calls `done`, on the loop's thread, once Redis has answered every message this thread gave
  // the emitter before (other threads' messages are ordered with it only as redis::client
  // orders commands): with the first failure since the previous flush completed
  // (redis::error::not_connected, connection_lost...), or none when Redis took them all.
  void flush(std::function<void(std::error_code)> done);

  // Whether the connection to Redis is up now (a hint: it may change at any moment).
  bool connected() const noexcept;
  const std::string& key() const noexcept { return key_; }

 private:
  friend class emitter_broadcast_operator;
  friend class emitter_namespace;
  void publish(const std::string& channel, const std::string& message);

  struct state;
  std::string key_;
  std::unique_ptr<state> state_;
};

}  // namespace sio
