// HTTP long-polling helpers: response compression as the reference does it (gzip or deflate,
// by the request's Accept-Encoding, for bodies over the threshold).
#include <zlib.h>

#include <boost/beast/http/field.hpp>

#include "sio/engineio/detail/session_impl.hpp"

namespace sio::eio::detail {

namespace {

// windowBits 15 + 16 writes a gzip wrapper; 15 alone the zlib format that HTTP calls "deflate".
std::optional<std::string> deflate_body(std::string_view body, int window_bits) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) return std::nullopt;
  std::string out;
  out.resize(deflateBound(&zs, body.size()) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  zs.avail_in = static_cast<uInt>(body.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return std::nullopt;
  out.resize(zs.total_out);
  return out;
}

bool accepts(std::string_view header, std::string_view coding) {
  // A coding listed with q=0 is refused; anything else listed is accepted.
  std::size_t pos = 0;
  while (pos < header.size()) {
    auto end = header.find(',', pos);
    if (end == std::string_view::npos) end = header.size();
    auto item = header.substr(pos, end - pos);
    pos = end + 1;
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    auto semi = item.find(';');
    auto name = item.substr(0, semi);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (name != coding && name != "*") continue;
    if (semi != std::string_view::npos) {
      auto params = item.substr(semi + 1);
      auto q = params.find("q=");
      if (q != std::string_view::npos) {
        auto v = params.substr(q + 2);
        if (v.starts_with("0") && (v.size() == 1 || v.substr(1).find_first_not_of(".0 ") == std::string_view::npos)) return false;
      }
    }
    return true;
  }
  return false;
}

}  // namespace

std::optional<std::string> compress_for(const transport::request& req, std::string_view body, std::string& encoding_out) {
  auto header = req[transport::http::field::accept_encoding];
  if (header.empty()) return std::nullopt;
  if (accepts(header, "gzip")) {
    encoding_out = "gzip";
    return deflate_body(body, 15 + 16);
  }
  if (accepts(header, "deflate")) {
    encoding_out = "deflate";
    return deflate_body(body, 15);
  }
  return std::nullopt;
}

}  // namespace sio::eio::detail
