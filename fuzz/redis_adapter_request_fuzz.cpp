// libFuzzer target: a message on a Redis adapter's request channel ("<key>-request#<nsp>#"), JSON
// or MessagePack. Decoding never crashes and fails only with a sio.redis_wire or sio.msgpack
// error; a decoded request has what its type needs, and written back it decodes to the same
// (and those bytes are a fixed point of decode-then-encode).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sio/redis_adapter/messages.hpp"

namespace wire = sio::redis_wire;
using wire::request_type;

namespace {

bool expected_error(std::error_code ec) {
  return ec.category() == wire::category() || ec.category() == sio::msgpack::category();
}

// The request written back with sio's encoders (nullopt for what sio never writes).
std::optional<std::string> encode(const wire::request& r) {
  const std::string uid = r.uid.value_or("u");
  const std::string id = r.request_id.value_or("");
  switch (r.type) {
    case request_type::sockets: return wire::encode_sockets_request(uid, id, r.opts.rooms);
    case request_type::all_rooms: return wire::encode_all_rooms_request(uid, id);
    case request_type::remote_join: return r.has_opts ? std::optional(wire::encode_remote_join(uid, r.opts, r.rooms)) : std::nullopt;
    case request_type::remote_leave: return r.has_opts ? std::optional(wire::encode_remote_leave(uid, r.opts, r.rooms)) : std::nullopt;
    case request_type::remote_disconnect:
      return r.has_opts ? std::optional(wire::encode_remote_disconnect(uid, r.opts, r.close)) : std::nullopt;
    case request_type::remote_fetch: return wire::encode_remote_fetch(uid, id, r.opts);
    case request_type::server_side_emit: {
      auto e = wire::encode_server_side_emit(uid, r.request_id ? std::optional<std::string_view>(id) : std::nullopt, r.data);
      if (!e) __builtin_trap();
      return *e;
    }
    case request_type::broadcast: {
      auto e = wire::encode_broadcast_request(uid, id, r.packet, r.packet.packet.nsp, r.opts);
      if (!e) __builtin_trap();
      return *e;
    }
    default: return std::nullopt;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);
  wire::decode_limits tight;
  tight.msgpack.max_depth = 6;
  tight.msgpack.max_elements = 40;
  tight.msgpack.max_attachments = 3;
  tight.msgpack.max_message_bytes = 2048;
  tight.max_json_depth = 6;
  if (auto small = wire::decode_request(input, tight); !small && !expected_error(small.error())) __builtin_trap();

  auto r = wire::decode_request(input);
  if (!r) {
    if (!expected_error(r.error())) __builtin_trap();
    return 0;
  }
  const bool needs_id = r->type == request_type::sockets || r->type == request_type::all_rooms ||
                        r->type == request_type::remote_fetch || r->type == request_type::broadcast;
  if (needs_id && !r->request_id) __builtin_trap();
  if (r->type == request_type::server_side_emit &&
      sio::parser::count_placeholders(r->data.args) != r->data.attachments.size())
    __builtin_trap();

  const auto again = encode(*r);
  if (!again) return 0;
  auto back = wire::decode_request(*again);
  if (!back) __builtin_trap();
  // sio writes a requestId where it expects an answer: never in the cluster form of 2-4.
  const bool keeps_id = r->type != request_type::remote_join && r->type != request_type::remote_leave &&
                        r->type != request_type::remote_disconnect;
  if (back->type != r->type || (keeps_id && back->request_id != r->request_id) || back->opts.rooms != r->opts.rooms ||
      back->opts.except != r->opts.except || back->rooms != r->rooms || back->close != r->close ||
      back->data.attachments != r->data.attachments || back->packet.attachments != r->packet.attachments)
    __builtin_trap();
  // Values as JavaScript sees them (JSON has no -0, NaN or Infinity): written again, the same bytes.
  if (encode(*back) != again) __builtin_trap();
  return 0;
}
