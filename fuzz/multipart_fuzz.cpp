// libFuzzer target: multipart/form-data. The first line of the input is the Content-Type (the
// boundary comes from it), the rest is the body. Every part returned must lie inside the body,
// and an error must be a multipart error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "parley/http/multipart.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nl = input.find('\n');
  const std::string_view content_type = input.substr(0, nl);
  const std::string_view body = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);

  auto boundary = parley::multipart::boundary_from_content_type(content_type);
  if (!boundary) {
    if (boundary.error().category() != parley::multipart::category()) __builtin_trap();
    return 0;
  }
  if (boundary->empty() || boundary->size() > 70) __builtin_trap();

  const parley::multipart::limits lim{.max_parts = 8, .max_header_bytes = 512};
  auto parts = parley::multipart::parse(body, *boundary, lim);
  if (!parts) {
    if (parts.error().category() != parley::multipart::category()) __builtin_trap();
    return 0;
  }
  if (parts->size() > lim.max_parts) __builtin_trap();
  for (const auto& p : *parts) {
    if (p.data.data() < body.data() || p.data.data() + p.data.size() > body.data() + body.size()) __builtin_trap();
  }
  return 0;
}
