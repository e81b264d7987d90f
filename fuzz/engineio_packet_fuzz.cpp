// libFuzzer target: one Engine.IO packet, as a WebSocket text frame / polling segment and as a binary frame.
// Both text forms are canonical (strict base64), so a decoded packet must encode back to the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sio/engineio/codec/packet.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (auto p = sio::eio::decode_packet(input)) {
    const std::string text = sio::eio::encode_packet(*p);
    if (text != input) __builtin_trap();
    auto again = sio::eio::decode_packet(text);
    if (!again || *again != *p) __builtin_trap();
  } else if (p.error().category() != sio::eio::codec_category()) {
    __builtin_trap();
  }

  // Any bytes are a valid binary frame; over polling they travel as "b" + base64.
  const sio::eio::packet frame = sio::eio::decode_binary_frame(input);
  auto polled = sio::eio::decode_packet(sio::eio::encode_packet(frame));
  if (!polled || *polled != frame) __builtin_trap();
  return 0;
}
