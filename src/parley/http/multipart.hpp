#pragma once
// multipart/form-data (RFC 7578) as a pure state machine over bytes: the body goes in chunk by
// chunk, cut anywhere (a boundary may straddle two chunks); the content of the file field comes
// out as it arrives, every other field is kept, small. Limits are enforced while parsing.
//
//   auto boundary = parley::multipart::boundary_from_content_type(req[http::field::content_type]);
//   parley::multipart::stream_parser parser(*boundary, "file", {.max_file_bytes = max});
//   for (each chunk of the body)
//     if (auto ec = parser.feed(chunk, [&](std::string_view bytes) { writer.write(bytes); })) fail(ec);
//   if (auto ec = parser.finish()) fail(ec);          // the body ended before its closing boundary
//   if (!parser.file()) fail("no file field");
//   save(parser.file()->filename, parser.file()->content_type, parser.file_size());
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
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
  field_too_large,      // a field other than the file over limits::max_field_bytes
  file_too_large,       // the file field over limits::max_file_bytes
};
const std::error_category& category() noexcept;
std::error_code make_error_code(error e) noexcept;

struct limits {
  std::size_t max_parts = 32;
  std::size_t max_header_bytes = 8 * 1024;   // per part
  std::size_t max_field_bytes = 16 * 1024;   // the content of each field but the file
  std::uint64_t max_file_bytes = std::numeric_limits<std::uint64_t>::max();
};

struct part {
  std::string name;                     // form field name
  std::optional<std::string> filename;  // present for file fields
  std::string content_type;             // as sent; "" when absent (text/plain by the RFC)
  std::string data;                     // a field's content (the streamed file's stays empty)
};

// The boundary parameter of a `multipart/form-data; boundary=...` Content-Type (quoted or not),
// 1-70 printable ASCII characters as RFC 2046 allows.
sio::result<std::string> boundary_from_content_type(std::string_view content_type);

class stream_parser {
 public:
  // `file_field`: the field whose content is streamed out of feed() (the first part of that
  // name); every other part is a field, kept with its content.
  explicit stream_parser(std::string_view boundary, std::string_view file_field = "file", const limits& lim = {});

  // Receives the file's bytes, in order, in pieces of any size.
  using data_fn = std::function<void(std::string_view)>;

  // Parses the next bytes of the body. An error is final: every later call returns it too.
  // Bytes after the closing boundary (the epilogue) are ignored.
  std::error_code feed(std::string_view bytes, const data_fn& on_file_data);
  // The body has ended: missing_end (or no_first_boundary) unless the closing boundary was seen.
  std::error_code finish();

  bool done() const noexcept { return state_ == state::done; }
  // The file field's headers, once they are read (its data stays empty), and its size so far.
  const std::optional<part>& file() const noexcept { return file_; }
  std::uint64_t file_size() const noexcept { return file_size_; }
  // The other parts, in order, with their content.
  const std::vector<part>& fields() const noexcept { return fields_; }

 private:
  enum class state { preamble, after_delimiter, closing_dash, padding, header_lf, headers, data, done, failed };

  std::error_code fail(error e);
  std::error_code emit(std::string_view bytes, const data_fn& on_file_data);
  std::size_t step(std::string_view bytes, const data_fn& on_file_data, std::error_code& ec);
  std::size_t read_headers(std::string_view bytes, std::error_code& ec);

  std::string delimiter_;  // CRLF "--" boundary
  std::string file_field_;
  limits limits_;
  state state_ = state::preamble;
  std::error_code error_;
  std::size_t matched_ = 2;  // bytes of the delimiter matched so far: the body starts after a virtual CRLF
  std::string header_block_;
  std::size_t parts_ = 0;
  bool in_file_ = false;
  std::optional<part> file_;
  std::uint64_t file_size_ = 0;
  std::vector<part> fields_;
};

// The whole body at once, with the file's content in file->data: what a stream_parser fed the
// body in one piece sees.
struct form {
  std::optional<part> file;
  std::vector<part> fields;
};
sio::result<form> parse(std::string_view body, std::string_view boundary, const limits& lim = {},
                        std::string_view file_field = "file");

}  // namespace parley::multipart

template <>
struct std::is_error_code_enum<parley::multipart::error> : std::true_type {};
