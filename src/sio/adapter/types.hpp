#pragma once
// Plain data shared by the Socket.IO server and its adapters: rooms, broadcast options, the
// packet a broadcast carries, the handshake, and shared binary attachments. Plain data so that
// a cluster adapter (e.g. one wire-compatible with @socket.io/redis-adapter) can forward it.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "sio/common/result.hpp"
#include "sio/socketio/codec/packet.hpp"

namespace sio {

using room = std::string;
using socket_id = std::string;
using room_set = std::set<room, std::less<>>;

// Immutable bytes, shared by every queue that sends them (a broadcast's binary attachment is
// never copied per recipient). Emitting one puts a placeholder in the JSON and sends a binary frame.
//   socket->emit("file", sio::binary{std::string(bytes)});
class binary {
 public:
  binary() : data_(std::make_shared<const std::string>()) {}
  explicit binary(std::string bytes) : data_(std::make_shared<const std::string>(std::move(bytes))) {}
  explicit binary(std::span<const std::uint8_t> bytes)
      : data_(std::make_shared<const std::string>(reinterpret_cast<const char*>(bytes.data()), bytes.size())) {}
  explicit binary(std::shared_ptr<const std::string> shared) : data_(std::move(shared)) {}

  std::string_view view() const noexcept { return *data_; }
  std::size_t size() const noexcept { return data_->size(); }
  const std::shared_ptr<const std::string>& shared() const noexcept { return data_; }
  friend bool operator==(const binary& a, const binary& b) noexcept { return a.view() == b.view(); }

 private:
  std::shared_ptr<const std::string> data_;  // never null
};

// The arguments of an event or an acknowledgement. `args` may hold placeholders
// ({"_placeholder":true,"num":N}) that stand for attachments[N].
struct payload {
  boost::json::array args;
  std::vector<binary> attachments;
};

// The reference's BroadcastFlags.
struct broadcast_flags {
  bool volatile_ = false;  // drop for clients whose transport is not writable now
  bool compress = true;
  bool local = false;      // only this node (a cluster adapter does not forward it)
  std::optional<std::chrono::milliseconds> timeout;  // for acknowledgements
};

// The reference's BroadcastOptions: who receives a broadcast.
struct broadcast_options {
  room_set rooms;   // empty: every socket of the namespace
  room_set except;  // sockets in any of these rooms are skipped
  broadcast_flags flags;
};

// A packet to broadcast, before encoding. `packet.data` holds placeholders for `attachments`.
struct outgoing_packet {
  parser::packet packet;
  std::vector<binary> attachments;
};

// One message of an encoded packet, as Engine.IO sends it: the text of the Socket.IO packet, or
// one of its binary attachments. Immutable and shared by every recipient's queue.
struct frame {
  std::shared_ptr<const std::string> data;
  bool binary = false;
};

// A packet encoded once for every recipient: the text frame then the binary frames. `source` is
// kept for "any outgoing" listeners.
struct encoded_packet {
  std::vector<frame> frames;
  std::shared_ptr<const outgoing_packet> source;
};

// What became of a packet handed to a socket of this node.
enum class delivery {
  queued,   // it will be written, in order
  dropped,  // volatile, and the transport was not ready for it
  closed,   // the socket's connection is closed (or closing)
};
// Encodes `p` once (the packet type and attachment count follow p.attachments).
encoded_packet encode(outgoing_packet p);

// What the client sent when it connected (the reference's Handshake).
struct handshake {
  std::multimap<std::string, std::string, std::less<>> headers;  // lower-case names
  std::multimap<std::string, std::string, std::less<>> query;
  boost::json::object auth;          // the CONNECT packet's payload
  std::string address;
  std::string url;
  std::chrono::system_clock::time_point time;
  std::int64_t issued = 0;           // ms since the epoch
  bool secure = false;
  bool xdomain = false;              // an Origin header was sent
};

// A socket as fetch_sockets() reports it (possibly from another node).
struct socket_details {
  socket_id id;
  std::shared_ptr<const sio::handshake> handshake;
  std::vector<room> rooms;
  boost::json::value data;
};

// How an adapter's asynchronous operations complete: a value, or an error (a cluster adapter's
// request that timed out, or a broken connection to the other nodes).
template <class T>
using adapter_callback = std::function<void(sio::result<T>)>;

// For connection state recovery (persist_session / restore_session).
struct session_to_persist {
  socket_id sid;
  std::string pid;
  std::vector<room> rooms;
  boost::json::value data;
};
struct restored_session : session_to_persist {
  std::vector<boost::json::array> missed_packets;
};

}  // namespace sio
