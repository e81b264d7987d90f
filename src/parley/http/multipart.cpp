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

sio::result<std::vector<part>> parse(std::string_view body, std::string_view boundary, const limits& lim) {
  if (boundary.empty()) return error::no_boundary;
  const std::string delim = "--" + std::string(boundary);
  const std::string next_delim = "\r\n" + delim;

  std::size_t pos;
  if (body.substr(0, delim.size()) == delim) {
    pos = delim.size();
  } else {  // a preamble before the first boundary is allowed, and ignored
    auto at = body.find(next_delim);
    if (at == std::string_view::npos) return error::no_first_boundary;
    pos = at + next_delim.size();
  }

  std::vector<part> parts;
  for (;;) {
    // After a delimiter: "--" closes the body; else optional padding then CRLF.
    if (body.substr(pos, 2) == "--") return parts;  // the epilogue is ignored
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (pos >= body.size()) return error::missing_end;
    if (body.substr(pos, 2) != "\r\n") return error::bad_header;
    pos += 2;

    if (parts.size() >= lim.max_parts) return error::too_many_parts;
    part p;
    std::size_t data_start;
    if (body.substr(pos, 2) == "\r\n") {  // no headers at all
      data_start = pos + 2;
    } else {
      auto end = body.find("\r\n\r\n", pos);
      std::size_t searched = end == std::string_view::npos ? body.size() - pos : end - pos;
      if (searched > lim.max_header_bytes) return error::header_too_large;
      if (end == std::string_view::npos) return error::missing_end;
      if (auto ec = parse_headers(body.substr(pos, end - pos), p)) return ec;
      data_start = end + 4;
    }
    if (data_start == pos + 2 && p.name.empty()) return error::no_disposition;

    auto data_end = body.find(next_delim, data_start);
    if (data_end == std::string_view::npos) return error::missing_end;
    p.data = body.substr(data_start, data_end - data_start);
    parts.push_back(std::move(p));
    pos = data_end + next_delim.size();
  }
}

}  // namespace parley::multipart
