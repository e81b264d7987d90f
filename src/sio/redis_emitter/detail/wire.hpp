#pragma once
// The messages of npm @socket.io/redis-emitter 5.1 as bytes: pure functions, no I/O. What the
// emitter publishes, and where (<key> is the adapter's key, "socket.io" by default):
//
//   broadcast   on <key>#<nsp>#, or <key>#<nsp>#<room># when it targets exactly one room (a
//               node that has no such room ignores it without decoding it), MessagePack as
//               notepack.io writes it, binary as bin:
//                 ["emitter", {"type": 2, "data": [name, ...args], "nsp": nsp},
//                             {"rooms": [...], "flags": {...}, "except": [...]}]
//               The packet stays type 2 (EVENT) with binary in it: each server makes it a
//               BINARY_EVENT when it encodes it for its clients. "flags" holds only the flags
//               that were set, "compress" and "volatile", in the order they were first set.
//   requests    on <key>-request#<nsp>#, JSON as JSON.stringify writes it; no "uid" except in
//               SERVER_SIDE_EMIT (the adapter uses it only to ignore its own requests):
//                 {"type":2,"opts":{"rooms":[...],"except":[...]},"rooms":[...]}   REMOTE_JOIN
//                 {"type":3,"opts":{"rooms":[...],"except":[...]},"rooms":[...]}   REMOTE_LEAVE
//                 {"type":4,"opts":{"rooms":[...],"except":[...]},"close":false}   REMOTE_DISCONNECT
//                 {"uid":"emitter","type":6,"data":[name,...args]}                  SERVER_SIDE_EMIT
//               Deviation: a SERVER_SIDE_EMIT with binary arguments is MessagePack (the same
//               map, binary as bin). The npm emitter JSON.stringifies a Buffer, which then
//               arrives as {"type":"Buffer","data":[...]} instead of bytes; the Redis adapter
//               reads a request whose first byte is not '{' as MessagePack (its BROADCAST
//               requests are), so there the handler gets a Buffer.
//
// `data` is the event's JSON array, name first, with placeholders {"_placeholder":true,"num":N}
// standing for attachments[N].
//
// Threading: pure and reentrant.
#include <span>
#include <string>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "sio/adapter/types.hpp"
#include "sio/common/result.hpp"

namespace sio::detail::emitter_wire {

// The uid the npm emitter puts in its broadcasts and server-side emits: a server ignores a
// broadcast whose uid is its own, so this must never be a server's (theirs are random).
inline constexpr std::string_view uid = "emitter";

// The request types of socket.io-adapter's cluster protocol that the emitter sends.
enum class request_type { remote_join = 2, remote_leave = 3, remote_disconnect = 4, server_side_emit = 6 };

// Who receives: rooms (none: everybody) minus the sockets in any of `except`.
struct target {
  std::span<const room> rooms;
  std::span<const room> except;
};

std::string broadcast_channel(std::string_view key, std::string_view nsp, std::span<const room> rooms);
std::string request_channel(std::string_view key, std::string_view nsp);

// Fails only when a string or binary is 4 GB or more (MessagePack cannot say its length).
result<std::string> encode_broadcast(std::string_view nsp, boost::json::array data,
                                     std::span<const binary> attachments, target to,
                                     const boost::json::object& flags);
std::string encode_rooms_request(request_type type, target to, std::span<const room> rooms);
std::string encode_disconnect_request(target to, bool close);
result<std::string> encode_server_side_emit(boost::json::array data, std::span<const binary> attachments);

// JSON.stringify's bytes for a value without placeholders: numbers as JavaScript writes them
// ("1.5", "1e+21", "null" for NaN), only '"', '\\' and control characters escaped.
std::string json_stringify(boost::json::value value);

}  // namespace sio::detail::emitter_wire
