// libFuzzer target: an HTTP long-polling request body. A decoded payload must rebuild the exact body.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sio/engineio/codec/packet.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  constexpr std::size_t max_packets = 64;

  auto packets = sio::eio::decode_payload(input, max_packets);
  if (!packets) {
    if (packets.error().category() != sio::eio::codec_category()) __builtin_trap();
    return 0;
  }
  if (packets->empty() || packets->size() > max_packets) __builtin_trap();

  std::string body;
  for (const auto& p : *packets) {
    if (p.binary && p.type != sio::eio::packet_type::message) __builtin_trap();
    sio::eio::append_to_payload(body, p.type, p.data, p.binary);
  }
  if (body != input) __builtin_trap();

  auto again = sio::eio::decode_payload(body, max_packets);
  if (!again || *again != *packets) __builtin_trap();
  return 0;
}
