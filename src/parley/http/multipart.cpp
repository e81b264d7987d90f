#include "parley/http/multipart.hpp"

#include <algorithm>
#include <cctype>

namespace parley::multipart {

namespace {

class category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "parley.multipart"; }
  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::no_boundary: return "not multipart/form-data with a boundary";
      case error::no_first_boundary: return "the body does not start with the boundary";
      case error::missing_end: return "the body ends before the closing boundary";
      case error::bad_header: return "malformed part header";
      case error::header_too_large: return "part headers too large";
      case error::too_many_parts: return "too many parts";
      case error::no_disposition: return "a part has no Content-Disposition form-data name";
      case error::field_too_large: return "a form field is too large";
      case error::file_too_large: return "the file is too large";
    }
    return "multipart error";
  }
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

struct param {
  std::string name;  // lower case
  std::string value;
};

// `value; a=b; c="d\"e"` -> the leading value and its parameters. False on a broken quote.
bool split_params(std::string_view s, std::string_view& head, std::vector<param>& out) {
  auto semi = s.find(';');
  head = trim(s.substr(0, semi));
  std::size_t i = semi == std::string_view::npos ? s.size() : semi + 1;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == ';')) ++i;
    if (i >= s.size()) break;
    auto eq = s.find('=', i);
    auto next_semi = s.find(';', i);
    if (eq == std::string_view::npos || (next_semi != std::string_view::npos && next_semi < eq)) {
      // A parameter with no value: skip it.
      i = next_semi == std::string_view::npos ? s.size() : next_semi + 1;
      continue;
    }
    param p;
    for (char c : trim(s.substr(i, eq - i))) p.name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    i = eq + 1;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        char c = s[i++];
        if (c == '\\' && i < s.size()) {
          p.value.push_back(s[i++]);
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          p.value.push_back(c);
        }
      }
      if (!closed) return false;
    } else {
      auto end = s.find(';', i);
      p.value = std::string(trim(s.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i)));
      i = end == std::string_view::npos ? s.size() : end;
    }
    out.push_back(std::move(p));
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 5987 ext-value: charset'lang'percent-encoded. Only UTF-8 (and ASCII) are taken.
std::optional<std::string> decode_ext_value(std::string_view v) {
  auto q1 = v.find('\'');
  if (q1 == std::string_view::npos) return std::nullopt;
  auto q2 = v.find('\'', q1 + 1);
  if (q2 == std::string_view::npos) return std::nullopt;
  auto charset = v.substr(0, q1);
  if (!iequals(charset, "utf-8") && !iequals(charset, "us-ascii")) return std::nullopt;
  std::string out;
  for (std::size_t i = q2 + 1; i < v.size(); ++i) {
    if (v[i] == '%') {
      if (i + 2 >= v.size()) return std::nullopt;
      int h = hex_value(v[i + 1]), l = hex_value(v[i + 2]);
      if (h < 0 || l < 0) return std::nullopt;
      out.push_back(static_cast<char>(h * 16 + l));
      i += 2;
    } else {
      out.push_back(v[i]);
    }
  }
  return out;
}

std::error_code parse_headers(std::string_view block, part& p) {
  bool has_disposition = false;
  while (!block.empty()) {
    auto eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 2);
    if (line.empty()) continue;
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return error::bad_header;
    auto name = trim(line.substr(0, colon));
    auto value = trim(line.substr(colon + 1));
    if (iequals(name, "content-disposition")) {
      std::string_view head;
      std::vector<param> params;
      if (!split_params(value, head, params)) return error::bad_header;
      if (!iequals(head, "form-data")) return error::no_disposition;
      std::optional<std::string> ext_filename;
      bool has_name = false;
      for (auto& prm : params) {
        if (prm.name == "name") {
          p.name = std::move(prm.value);
          has_name = true;
        } else if (prm.name == "filename") {
          p.filename = std::move(prm.value);
        } else if (prm.name == "filename*") {
          ext_filename = decode_ext_value(prm.value);
        }
      }
      if (ext_filename) p.filename = std::move(ext_filename);
      if (!has_name) return error::no_disposition;
      has_disposition = true;
    } else if (iequals(name, "content-type")) {
      p.content_type = std::string(value);
    }
  }
  if (!has_disposition) return error::no_disposition;
  return {};
}

}  // namespace

const std::error_category& category() noexcept {
  static const category_impl c;
  return c;
}
std::error_code make_error_code(error e) noexcept { return {static_cast<int>(e), category()}; }

sio::result<std::string> boundary_from_content_type(std::string_view content_type) {
  std::string_view head;
  std::vector<param> params;
  if (!split_params(content_type, head, params) || !iequals(head, "multipart/form-data")) return error::no_boundary;
  for (auto& p : params) {
    if (p.name != "boundary") continue;
    if (p.value.empty() || p.value.size() > 70) return error::no_boundary;
    for (unsigned char c : p.value)
      if (c < 0x20 || c > 0x7E) return error::no_boundary;
    return std::move(p.value);
  }
  return error::no_boundary;
}


stream_parser::stream_parser(std::string_view boundary, std::string_view file_field, const limits& lim)
    : delimiter_("\r\n--" + std::string(boundary)), file_field_(file_field), limits_(lim) {
  // The delimiter search relies on CR appearing only as the delimiter's first byte.
  if (boundary.empty() || boundary.size() > 70 || boundary.find_first_of("\r\n") != std::string_view::npos)
    fail(error::no_boundary);
}

std::error_code stream_parser::fail(error e) {
  state_ = state::failed;
  error_ = e;
  header_block_.clear();
  return error_;
}

std::error_code stream_parser::feed(std::string_view bytes, const data_fn& on_file_data) {
  while (!bytes.empty() && state_ != state::done && state_ != state::failed) {
    std::error_code ec;
    auto n = step(bytes, on_file_data, ec);
    if (ec) return fail(static_cast<error>(ec.value()));
    bytes.remove_prefix(n);
  }
  return state_ == state::failed ? error_ : std::error_code();
}

std::error_code stream_parser::finish() {
  if (state_ == state::failed) return error_;
  if (state_ == state::done) return {};
  return fail(state_ == state::preamble ? error::no_first_boundary : error::missing_end);
}

// Content found before a delimiter: the preamble's is dropped, the file's goes out, a field's is kept.
std::error_code stream_parser::emit(std::string_view bytes, const data_fn& on_file_data) {
  if (bytes.empty() || state_ != state::data) return {};
  if (in_file_) {
    if (bytes.size() > limits_.max_file_bytes - file_size_) return error::file_too_large;
    file_size_ += bytes.size();
    on_file_data(bytes);
    return {};
  }
  auto& data = fields_.back().data;
  if (bytes.size() > limits_.max_field_bytes - data.size()) return error::field_too_large;
  data.append(bytes);
  return {};
}

// Consumes a prefix of `bytes` (possibly empty, when only the state changes).
std::size_t stream_parser::step(std::string_view bytes, const data_fn& on_file_data, std::error_code& ec) {
  const char c = bytes.front();
  switch (state_) {
    case state::preamble:
    case state::data: {
      const std::string_view d = delimiter_;
      if (matched_ > 0) {  // a delimiter begun in earlier bytes: does it go on?
        std::size_t i = 0, k = matched_;
        while (i < bytes.size() && k < d.size() && bytes[i] == d[k]) ++i, ++k;
        if (k == d.size()) {
          matched_ = 0;
          state_ = state::after_delimiter;
          return i;
        }
        if (i == bytes.size()) {
          matched_ = k;
          return i;
        }
        // No: the bytes held back were content. None of them starts another delimiter, as only
        // its first byte is CR; scan again from here.
        ec = emit(d.substr(0, matched_), on_file_data);
        matched_ = 0;
        return 0;
      }
      for (std::size_t pos = 0;;) {
        auto cr = bytes.find('\r', pos);
        if (cr == std::string_view::npos) {
          ec = emit(bytes, on_file_data);
          return bytes.size();
        }
        auto avail = std::min(d.size(), bytes.size() - cr);
        if (bytes.substr(cr, avail) == d.substr(0, avail)) {
          ec = emit(bytes.substr(0, cr), on_file_data);
          if (avail < d.size()) {  // the chunk ends inside what may be a delimiter: hold it back
            matched_ = avail;
            return bytes.size();
          }
          state_ = state::after_delimiter;
          return cr + avail;
        }
        pos = cr + 1;
      }
    }
    // After a delimiter: "--" closes the body, else optional padding then CRLF.
    case state::after_delimiter:
      if (c == '-') {
        state_ = state::closing_dash;
        return 1;
      }
      [[fallthrough]];
    case state::padding:
      if (c == ' ' || c == '\t') {
        state_ = state::padding;
      } else if (c == '\r') {
        state_ = state::header_lf;
      } else {
        ec = error::bad_header;
      }
      return 1;
    case state::closing_dash:
      if (c != '-') ec = error::bad_header;
      state_ = state::done;  // the epilogue is ignored
      return 1;
    case state::header_lf:
      if (c != '\n') {
        ec = error::bad_header;
      } else if (parts_ >= limits_.max_parts) {
        ec = error::too_many_parts;
      } else {
        ++parts_;
        header_block_.clear();
        state_ = state::headers;
      }
      return 1;
    case state::headers:
      return read_headers(bytes, ec);
    case state::done:
    case state::failed:
      break;
  }
  return bytes.size();
}

// A part's headers end at an empty line; they are gathered (within the limit), then parsed.
std::size_t stream_parser::read_headers(std::string_view bytes, std::error_code& ec) {
  const std::size_t old = header_block_.size();
  const std::size_t take = std::min(bytes.size(), limits_.max_header_bytes + 4 - old);
  header_block_.append(bytes.substr(0, take));
  std::size_t end, terminator;
  if (header_block_.starts_with("\r\n")) {  // no headers at all
    end = 0;
    terminator = 2;
  } else {
    end = header_block_.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
    terminator = 4;
  }
  if (end == std::string::npos) {
    if (header_block_.size() >= limits_.max_header_bytes + 4) ec = error::header_too_large;
    return take;
  }
  if (end > limits_.max_header_bytes) {
    ec = error::header_too_large;
    return take;
  }
  header_block_.resize(end);
  part p;
  if ((ec = parse_headers(header_block_, p))) return take;
  header_block_.clear();
  if (!file_ && p.name == file_field_) {
    file_ = std::move(p);
    in_file_ = true;
  } else {
    fields_.push_back(std::move(p));
    in_file_ = false;
  }
  state_ = state::data;
  matched_ = 0;
  return end + terminator - old;
}

sio::result<form> parse(std::string_view body, std::string_view boundary, const limits& lim,
                        std::string_view file_field) {
  stream_parser parser(boundary, file_field, lim);
  std::string file_data;
  if (auto ec = parser.feed(body, [&](std::string_view bytes) { file_data.append(bytes); })) return ec;
  if (auto ec = parser.finish()) return ec;
  form out;
  out.fields = parser.fields();
  if (parser.file()) {
    out.file = *parser.file();
    out.file->data = std::move(file_data);
  }
  return out;
}

}  // namespace parley::multipart
