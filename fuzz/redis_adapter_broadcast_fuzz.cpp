// libFuzzer target: a message on a Redis adapter's broadcast channel ("<key>#<nsp>#..."), what any
// process that can publish on Redis sends. Decoding never crashes and fails only with a
// sio.redis_wire or sio.msgpack error, under the default limits and tight ones. A decoded
// broadcast is an event whose placeholders name its attachments one each, and it writes back
// to bytes that decode to the same broadcast (and are a fixed point of decode-then-encode). The input also goes through the channel helpers.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/serialize.hpp>

#include "sio/redis_adapter/messages.hpp"

namespace wire = sio::redis_wire;

namespace {

bool expected_error(std::error_code ec) {
  return ec.category() == wire::category() || ec.category() == sio::msgpack::category();
}

void check(const wire::broadcast_message& m) {
  const auto& data = m.packet.packet.data;
  if (!data.is_array() || data.as_array().empty() || !data.as_array()[0].is_string()) __builtin_trap();
  if (sio::parser::count_placeholders(data) != m.packet.attachments.size()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);

  (void)wire::channel_room(input, "socket.io#/#");
  if (auto alias = wire::numeric_room_alias(input.substr(0, 80)); alias && *alias == input.substr(0, 80)) __builtin_trap();

  wire::decode_limits tight;
  tight.msgpack.max_depth = 6;
  tight.msgpack.max_elements = 40;
  tight.msgpack.max_attachments = 3;
  tight.msgpack.max_message_bytes = 2048;
  if (auto small = wire::decode_broadcast(input, tight)) check(*small);
  else if (!expected_error(small.error())) __builtin_trap();

  auto m = wire::decode_broadcast(input);
  if (!m) {
    if (!expected_error(m.error())) __builtin_trap();
    return 0;
  }
  check(*m);
  auto again = wire::encode_broadcast(m->uid, m->packet, m->packet.packet.nsp, m->opts);
  if (!again) __builtin_trap();
  auto back = wire::decode_broadcast(*again);
  if (!back) __builtin_trap();
  if (back->uid != m->uid || back->packet.packet.nsp != m->packet.packet.nsp || back->opts.rooms != m->opts.rooms ||
      back->opts.except != m->opts.except || back->opts.flags.volatile_ != m->opts.flags.volatile_ ||
      back->opts.flags.compress != m->opts.flags.compress || back->opts.flags.timeout != m->opts.flags.timeout)
    __builtin_trap();
  if (back->packet.attachments != m->packet.attachments) __builtin_trap();
  // The data as JavaScript sees it (-0 is 0, NaN stays NaN): written again, the same bytes.
  auto third = wire::encode_broadcast(back->uid, back->packet, back->packet.packet.nsp, back->opts);
  if (!third || *third != *again) __builtin_trap();
  return 0;
}
