#pragma once
// The messages of npm @socket.io/redis-adapter 8.x (and @socket.io/redis-emitter 5.x) on Redis,
// as plain data: what sio::make_redis_adapter publishes and reads. Pure functions over bytes, no
// I/O; every decoder is bounded and fuzzed (fuzz/redis_adapter_*_fuzz.cpp).
//
//   auto bytes = sio::redis_wire::encode_broadcast(uid, packet, "/", opts);   // MessagePack
//   auto m = sio::redis_wire::decode_broadcast(bytes);   // m->uid, m->packet, m->opts
//
// The channels, with key "socket.io" and namespace "/":
//   socket.io#/#            broadcasts to several rooms or to everyone (PSUBSCRIBE socket.io#/#*)
//   socket.io#/#<room>#     broadcasts to exactly one room
//   socket.io-request#/#    requests (its PUBSUB NUMSUB is the number of nodes)
//   socket.io-response#/#   responses; socket.io-response#/#<uid>#: the requester's own channel
//
// A broadcast, always MessagePack (notepack.io): [uid, packet, opts] with
//   packet = {type: 2, data: [event, ...args], nsp}      binary arguments as bin
//   opts   = {rooms: [...], except: [...], flags: {...}}  (the emitter: rooms, flags, except)
//   flags  = the operators used: volatile: true, compress: false, timeout: ms (the reference
//            writes the keys in the order the operators were called; we write them in this order)
// The uid is 6 characters of uid2's alphabet (A-Z a-z 0-9 - _), "emitter" for the emitter.
//
// Requests and responses are objects, JSON (JSON.stringify) or MessagePack: a reader tells them
// apart by the first byte ('{' is JSON). What the reference sends:
//   type                    request (on -request#)                   answer (on -response#)
//   0 SOCKETS               JSON {uid, requestId, type, rooms}       JSON {requestId, sockets: [id]}
//   1 ALL_ROOMS             JSON {uid, requestId, type}              JSON {requestId, rooms}
//   2 REMOTE_JOIN           JSON {uid, type, opts: {rooms, except}, rooms}   none
//   3 REMOTE_LEAVE          JSON {uid, type, opts, rooms}                    none
//   4 REMOTE_DISCONNECT     JSON {uid, type, opts, close}                    none
//     (2-4 single-socket form, answered by 8.x but sent by nobody now:
//      {uid, requestId, type, sid, room|close} -> JSON {requestId})
//   5 REMOTE_FETCH          JSON {uid, requestId, type, opts}        JSON {requestId, sockets:
//                                                                    [{id, handshake, rooms, data}]}
//   6 SERVER_SIDE_EMIT      JSON {uid, [requestId,] type, data: [event, ...args]}
//                                                                    JSON {type, requestId, data}
//   7 BROADCAST (with ack)  MessagePack {uid, requestId, type, packet, opts}
//                                                                    JSON {type: 8, requestId, clientCount}
//                                                                    then per client answer:
//                                                                    MessagePack {type: 9, requestId, packet}
// The emitter's socketsJoin / socketsLeave / disconnectSockets carry no uid; its serverSideEmit
// has uid "emitter" and no requestId. Every acknowledgement carries one value (the reference's
// callbacks take their first argument only); a missing one is an empty payload here.
// Deviation, for binary data: where the reference writes JSON, a Buffer becomes
// {"type":"Buffer","data":[...]}; a server-side emit or its answer that carries binary is written
// as MessagePack here instead (every reader accepts it, and the bytes stay bytes).
//
// Decoding is as strict as the reference is able to use a message: what would make a Node.js
// member throw (a broadcast that is not [uid, packet, opts], opts that are not an object, a
// server-side emit whose data is not an event array...) is an error, and so are rooms that are
// neither strings nor numbers (a number names the room of its JavaScript text: 42 is "42"),
// placeholders that name no binary, an event named like a reserved one. Binary attachments come
// as placeholders {"_placeholder":true,"num":N} for payload::attachments[N], renumbered per payload.
//
// Threading: pure functions, reentrant.
#include <cstddef>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/json/object.hpp>

#include "sio/adapter/types.hpp"
#include "sio/common/result.hpp"
#include "sio/msgpack/codec.hpp"

namespace sio::redis_wire {

enum class request_type : std::uint8_t {
  sockets = 0,
  all_rooms = 1,
  remote_join = 2,
  remote_leave = 3,
  remote_disconnect = 4,
  remote_fetch = 5,
  server_side_emit = 6,
  broadcast = 7,
  broadcast_client_count = 8,
  broadcast_ack = 9,
};

enum class error {
  invalid_json = 1,     // starts with '{' but is not one JSON text (or nests too deep)
  not_an_object,        // a request or response that is not an object
  not_a_broadcast,      // a broadcast that is not an array [uid, packet, opts]
  invalid_packet,       // not {type: 2, data: [event name, ...], nsp?}, or a reserved event name
  invalid_opts,         // opts, opts.rooms, opts.except or opts.flags of the wrong type
  invalid_rooms,        // rooms that are not an array of strings and numbers
  invalid_type,         // "type" missing or not one of 0-9
  invalid_request_id,   // "requestId" missing where it is needed, or not a string
  invalid_field,        // another field of the wrong type (sid, room, close, data, sockets...)
  invalid_placeholder,  // a placeholder that names no binary attachment
  too_large,            // encode: a value MessagePack cannot hold
};
const std::error_category& category() noexcept;
std::error_code make_error_code(error e) noexcept;

struct decode_limits {
  msgpack::decode_limits msgpack;  // max_message_bytes applies to JSON too
  std::size_t max_json_depth = 64;
};

// ---- broadcasts: "<key>#<nsp>#[<room>#]" ----

struct broadcast_message {
  std::string uid;        // empty when it is not a string (then it is nobody's)
  outgoing_packet packet; // an event; packet.nsp is "/" when the message has none
  broadcast_options opts; // flags: volatile, compress, local, timeout as sent
};

result<std::string> encode_broadcast(std::string_view uid, const outgoing_packet& p, std::string_view nsp,
                                     const broadcast_options& opts);
result<broadcast_message> decode_broadcast(std::string_view bytes, const decode_limits& limits = {});

// The room a broadcast channel names: what follows `prefix` ("<key>#<nsp>#") without its last
// character (the reference's channel.slice(prefix.length, -1)); empty for the bare channel.
std::string_view channel_room(std::string_view channel, std::string_view prefix) noexcept;

// The reference's hasRoom() also finds a numeric room (socket.join(42)) from its channel text in
// any notation ("42", "42.0", "4.2e1"): the room's JavaScript text ("42") when `room` reads as a
// decimal number and that text differs from it.
std::optional<std::string> numeric_room_alias(std::string_view room);

// ---- requests: "<key>-request#<nsp>#" ----

struct request {
  request_type type;
  std::optional<std::string> uid;         // absent in the emitter's join, leave and disconnect
  std::optional<std::string> request_id;  // present when an answer is expected
  // sockets: the rooms asked (rooms). remote_join / remote_leave / remote_disconnect /
  // remote_fetch / broadcast: the sockets selected (opts: rooms, except; broadcast: flags too).
  broadcast_options opts;
  // remote_join / remote_leave / remote_disconnect: true for the cluster form (opts), false for
  // the single-socket form (sid, room).
  bool has_opts = false;
  std::vector<room> rooms;  // remote_join / remote_leave: the rooms to join or leave
  socket_id sid;            // single-socket form
  room single_room;         // single-socket remote_join / remote_leave
  bool close = false;       // remote_disconnect
  payload data;             // server_side_emit: [event, ...args]
  outgoing_packet packet;   // broadcast
};

result<request> decode_request(std::string_view bytes, const decode_limits& limits = {});

std::string encode_sockets_request(std::string_view uid, std::string_view request_id, const room_set& rooms);
std::string encode_all_rooms_request(std::string_view uid, std::string_view request_id);
std::string encode_remote_join(std::string_view uid, const broadcast_options& opts, const std::vector<room>& rooms);
std::string encode_remote_leave(std::string_view uid, const broadcast_options& opts, const std::vector<room>& rooms);
std::string encode_remote_disconnect(std::string_view uid, const broadcast_options& opts, bool close);
std::string encode_remote_fetch(std::string_view uid, std::string_view request_id, const broadcast_options& opts);
// Without request_id: no answer expected. JSON, or MessagePack when `data` has attachments.
result<std::string> encode_server_side_emit(std::string_view uid, std::optional<std::string_view> request_id,
                                            const payload& data);
result<std::string> encode_broadcast_request(std::string_view uid, std::string_view request_id,
                                             const outgoing_packet& p, std::string_view nsp,
                                             const broadcast_options& opts);

// ---- responses: "<key>-response#<nsp>#[<uid>#]" ----

struct response {
  std::string request_id;
  std::optional<request_type> type;  // only the answers to 6 and 7 (types 6, 8, 9) say it
  boost::json::object fields;        // the whole message, read below by the requester's type
  std::vector<msgpack::attachment> attachments;
};

result<response> decode_response(std::string_view bytes, const decode_limits& limits = {});
// "sockets": the answer to SOCKETS.
result<std::vector<socket_id>> read_socket_ids(const response& r);
// "rooms": the answer to ALL_ROOMS.
result<std::vector<room>> read_rooms(const response& r);
// "sockets": the answer to REMOTE_FETCH. A handshake field of the wrong type is left at its
// default (the handshake is informational); id, rooms and the array itself are checked.
result<std::vector<socket_details>> read_fetched_sockets(const response& r);
// "clientCount" of BROADCAST_CLIENT_COUNT: a non-negative integer.
result<std::size_t> read_client_count(const response& r);
// "data" of a SERVER_SIDE_EMIT answer, "packet" of a BROADCAST_ACK: one argument, or none.
result<payload> read_reply(const response& r);

std::string encode_sockets_response(std::string_view request_id, const std::vector<socket_id>& ids);
std::string encode_all_rooms_response(std::string_view request_id, const std::vector<room>& rooms);
std::string encode_fetch_response(std::string_view request_id, const std::vector<socket_details>& sockets);
// The answer to a single-socket REMOTE_JOIN / LEAVE / DISCONNECT: {requestId}.
std::string encode_done_response(std::string_view request_id);
// {type: 6, requestId, data: reply's first argument}; MessagePack when it carries binary.
result<std::string> encode_server_side_emit_response(std::string_view request_id, const payload& reply);
std::string encode_client_count_response(std::string_view request_id, std::size_t client_count);
// {type: 9, requestId, packet: reply's first argument}, MessagePack.
result<std::string> encode_broadcast_ack_response(std::string_view request_id, const payload& reply);

// ---- the handshake as socket.io writes it (Socket#handshake, without sessionStore) ----
// {headers, time, address, xdomain, secure, issued, url, query, auth}. time is Date#toString
// in UTC ("Mon Dec 07 2026 19:31:45 GMT+0000 (Coordinated Universal Time)"); headers sent more
// than once are joined as Node.js joins them (", "; "; " for cookie; set-cookie an array); a
// query parameter given twice keeps its last value (engine.io's Object.fromEntries).
boost::json::object handshake_to_json(const handshake& h);
// The reverse, leniently: fields of the wrong type keep their defaults; `time` is read back
// from Date#toString's text in any offset, or from `issued` when it does not parse.
handshake handshake_from_json(const boost::json::object& o);
std::string format_js_date(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> parse_js_date(std::string_view text);

}  // namespace sio::redis_wire

template <>
struct std::is_error_code_enum<sio::redis_wire::error> : std::true_type {};
