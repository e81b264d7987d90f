#pragma once
// multipart/form-data (RFC 7578) as a pure function over bytes: the body and the boundary in,
// the parts (views into the body) or an error out. Limits are enforced while parsing.
//
//   auto boundary = parley::multipart::boundary_from_content_type(req[http::field::content_type]);
//   auto parts = parley::multipart::parse(req.body(), *boundary);
//   for (auto& p : *parts) if (p.name == "file") save(p.filename, p.content_type, p.data);
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "sio/common/result.hpp"

namespace parley::multipart {

enum class error {
  no_boundary = 1,      // the Content-Type is not multipart/form-data with a usable boundary
  no_first_boundary,    // the body does not start with --boundary
  missing_end,          // no closing --boundary-- (truncated body)
  bad_header,           // a part header line without ':' or not ending in CRLF
  header_too_large,     // a part's headers over limits::max_header_bytes
  too_many_parts,       // over limits::max_parts
  no_disposition,       // a part without Content-Disposition: form-data; name="..."
};
const std::error_category& category() noexcept;
std::error_code make_error_code(error e) noexcept;

struct limits {
  std::size_t max_parts = 32;
  std::size_t max_header_bytes = 8 * 1024;  // per part
};

struct part {
  std::string name;                  // form field name
  std::optional<std::string> filename;  // present for file fields
  std::string content_type;          // as sent; "" when absent (text/plain by the RFC)
  std::string_view data;             // into the parsed body
};

// The boundary parameter of a `multipart/form-data; boundary=...` Content-Type (quoted or not),
// 1-70 characters as RFC 2046 allows.
sio::result<std::string> boundary_from_content_type(std::string_view content_type);

sio::result<std::vector<part>> parse(std::string_view body, std::string_view boundary, const limits& lim = {});

}  // namespace parley::multipart

template <>
struct std::is_error_code_enum<parley::multipart::error> : std::true_type {};
