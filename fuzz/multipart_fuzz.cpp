// libFuzzer target: multipart/form-data. The first line of the input is the Content-Type (the
// boundary comes from it), the rest is the body. The body is parsed whole, then again cut into
// pieces at places drawn from the input itself: both must give the same result, within the limits,
// and an error must be a multipart error.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "parley/http/multipart.hpp"

namespace {

namespace mp = parley::multipart;

struct outcome {
  std::error_code ec;
  std::optional<mp::part> file;
  std::string file_data;
  std::vector<mp::part> fields;
};

outcome run(std::string_view body, const std::string& boundary, const mp::limits& lim, std::minstd_rand* cuts) {
  mp::stream_parser parser(boundary, "file", lim);
  outcome out;
  auto on_data = [&](std::string_view bytes) {
    if (bytes.empty()) __builtin_trap();
    out.file_data.append(bytes);
  };
  while (!body.empty() && !out.ec) {
    std::size_t n = cuts ? 1 + (*cuts)() % (body.size() < 96 ? body.size() : 96) : body.size();
    out.ec = parser.feed(body.substr(0, n), on_data);
    body.remove_prefix(n);
  }
  if (!out.ec) out.ec = parser.finish();
  out.file = parser.file();
  out.fields = parser.fields();
  if (parser.file_size() != out.file_data.size()) __builtin_trap();
  return out;
}

bool same_part(const mp::part& a, const mp::part& b) {
  return a.name == b.name && a.filename == b.filename && a.content_type == b.content_type && a.data == b.data;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nl = input.find('\n');
  const std::string_view content_type = input.substr(0, nl);
  const std::string_view body = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);

  auto boundary = mp::boundary_from_content_type(content_type);
  if (!boundary) {
    if (boundary.error().category() != mp::category()) __builtin_trap();
    return 0;
  }
  if (boundary->empty() || boundary->size() > 70) __builtin_trap();

  const mp::limits lim{.max_parts = 8, .max_header_bytes = 512, .max_field_bytes = 256, .max_file_bytes = 1024};
  const auto whole = run(body, *boundary, lim, nullptr);
  std::uint32_t seed = 2166136261u;  // FNV-1a of the input: the same cuts on every run
  for (unsigned char c : input) seed = (seed ^ c) * 16777619u;
  std::minstd_rand cuts(seed);
  const auto split = run(body, *boundary, lim, &cuts);

  if (whole.ec != split.ec) __builtin_trap();
  if (whole.ec) {
    if (whole.ec.category() != mp::category()) __builtin_trap();
    return 0;
  }
  if (whole.fields.size() + (whole.file ? 1 : 0) > lim.max_parts) __builtin_trap();
  for (const auto& f : whole.fields)
    if (f.data.size() > lim.max_field_bytes || (f.name == "file" && !whole.file)) __builtin_trap();
  if (whole.file_data.size() > lim.max_file_bytes || (!whole.file && !whole.file_data.empty())) __builtin_trap();
  if (whole.file.has_value() != split.file.has_value() || whole.file_data != split.file_data) __builtin_trap();
  if (whole.file && !same_part(*whole.file, *split.file)) __builtin_trap();
  if (whole.fields.size() != split.fields.size()) __builtin_trap();
  for (std::size_t i = 0; i < whole.fields.size(); ++i)
    if (!same_part(whole.fields[i], split.fields[i])) __builtin_trap();
  return 0;
}
