#pragma once
// The Redis adapter: the namespaces of several servers share their rooms and broadcasts through
// Redis pub/sub, wire-compatible with npm @socket.io/redis-adapter 8.x (default options), so
// Parley nodes and Node.js socket.io nodes serve one cluster side by side, and a process using
// @socket.io/redis-emitter (or sio::redis_emitter) reaches every node's clients.
//
//   sio::transport::io_pool pool;
//   sio::transport::http_server http(pool);
//   sio::redis_adapter_options ro;
//   ro.url = "redis://127.0.0.1:6379";
//   sio::server_options so;
//   so.adapter = sio::make_redis_adapter(pool.context(0), ro);   // every namespace, one pair of connections
//   sio::server io(http, so);
//
// What crosses nodes (the reference's request types 0-9): broadcasts with every operator (rooms,
// except, volatile, compress, binary; `local` is not published), broadcasts with acknowledgements
// collected from every node's clients, fetch_sockets, all_rooms, sockets, sockets_join / leave,
// disconnect_sockets, server_side_emit with and without acknowledgements, and the cluster size
// from PUBSUB NUMSUB of the request channel (every node's adapter subscribes to it; emitters do
// not). A request that some node does not answer within requests_timeout fails with
// redis_adapter_error::request_timed_out (server_side_emit's acknowledgement gets the replies that
// came in time); a broadcast with acknowledgements ends at its flags.timeout (requests_timeout
// when it has none), its collector expired, when a node or a client did not answer.
// The messages are in sio/redis_adapter/messages.hpp. Two choices of ours on the wire: sockets_join
// / sockets_leave / disconnect_sockets apply to this node at once (the reference applies them when
// its own request comes back from Redis; each socket is affected once either way), and a
// server-side emit with binary arguments is sent as MessagePack (the reference's JSON would turn
// the bytes into {"type":"Buffer","data":[...]}).
//
// Redis is a dependency that fails: the connections reconnect with backoff; meanwhile this node's
// own clients are served (local deliveries go on), publications are dropped (logged once per
// outage, then how many), and cross-node requests fail at once (redis_adapter_error::not_connected)
// instead of hanging, as do those waiting when the subscriber's connection breaks; subscriptions
// come back after a reconnect; each transition is logged once. A message on a channel that does
// not decode, or is not what the reference would accept, is logged and dropped.
//
// Threading: the Redis connections, the request timers and the handling of messages from other
// nodes run on `loop`; every adapter operation is safe from any thread and never blocks, and
// delivers to this node's sockets before it returns. Completions run on `loop`'s thread (those of
// operations confined to this node with flags.local: where the memory adapter runs them). The
// factory (and what it captured) must be destroyed when `loop` is not running or on its thread,
// and before it: a server's options hold it, so destroy the server after the io_pool stops, as
// the apps do.
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>

#include "sio/adapter/adapter.hpp"

namespace boost::asio { class io_context; }

namespace sio {

struct redis_adapter_options {
  // redis://[:password@]host:port[/db]. rediss:// (TLS) is not supported.
  std::string url = "redis://127.0.0.1:6379";
  // The prefix of every channel: "<key>#<nsp>#", "<key>-request#<nsp>#", "<key>-response#<nsp>#".
  std::string key = "socket.io";
  // How long a cross-node request waits for the other nodes' answers (the reference's
  // requestsTimeout), and a broadcast with acknowledgements that has no timeout of its own.
  std::chrono::milliseconds requests_timeout{5000};
  // The reference's publishOnSpecificResponseChannel: answers go to
  // "<key>-response#<nsp>#<uid>#" (the requester's own channel) instead of the shared one.
  bool publish_on_specific_response_channel = false;
  // The delays between reconnection attempts: from reconnection_delay, doubling (with jitter)
  // up to reconnection_delay_max, for as long as Redis stays unreachable.
  std::chrono::milliseconds reconnection_delay{100};
  std::chrono::milliseconds reconnection_delay_max{10'000};
  // Connection transitions, dropped messages, failed publications: one line each. Null: stderr.
  // Called from any thread (mostly the loop's); what it throws is swallowed.
  std::function<void(std::string_view line)> log;
};

enum class redis_adapter_error {
  request_timed_out = 1,  // some node did not answer within requests_timeout
  not_connected,          // Redis is unreachable at the moment: the request was not sent
  closed,                 // the adapter was closed (the server is stopping)
};
const std::error_category& redis_adapter_category() noexcept;
std::error_code make_error_code(redis_adapter_error e) noexcept;

// The adapter factory for sio::server_options::adapter: one adapter per namespace, all of them
// sharing one publishing and one subscribing connection to Redis, made on `loop` (they connect at
// once). One factory per server: two servers on one factory would count as one node. Throws
// std::invalid_argument naming the URL when it does not parse, or for an option that cannot work
// (an empty key, a timeout or delay that is not positive).
adapter_factory make_redis_adapter(boost::asio::io_context& loop, redis_adapter_options opts);

}  // namespace sio

template <>
struct std::is_error_code_enum<sio::redis_adapter_error> : std::true_type {};
