// The WebSocket opening handshake (RFC 6455 section 4.2) and the permessage-deflate
// negotiation (RFC 7692 section 7.1), server side.
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sio/transport/websocket_codec.hpp"

namespace sio::transport::ws {
namespace {

constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// True when the comma-separated list `value` has `token` as one of its elements.
bool has_token(std::string_view value, std::string_view token) noexcept {
  while (true) {
    const std::size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) return false;
    value.remove_prefix(comma + 1);
  }
}

// The key must be the base64 of 16 bytes: 22 characters of the alphabet and "==".
bool valid_key(std::string_view key) noexcept {
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  for (std::size_t i = 0; i < 22; ++i) {
    const char c = key[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!ok) return false;
  }
  return true;
}

// ---- Sec-WebSocket-Extensions (RFC 6455 section 9.1) ----
//   extension-list = 1#extension
//   extension      = extension-token *( ";" extension-param )
//   extension-param = token [ "=" ( token | quoted-string ) ]

bool is_tchar(char c) noexcept {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

struct ext_param {
  std::string_view name;
  std::optional<std::string> value;
};

struct ext_offer {
  std::string_view name;
  std::vector<ext_param> params;
};

class ext_parser {
 public:
  explicit ext_parser(std::string_view s) : s_(s) {}

  // The next offer; nullopt at the end or on a syntax error (then nothing after it is read,
  // since where the next offer starts is unknown).
  std::optional<ext_offer> next() {
    // Empty list elements (", ,") are allowed by HTTP's list rule.
    while (true) {
      skip_ows();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      break;
    }
    if (pos_ >= s_.size()) return std::nullopt;
    ext_offer offer;
    offer.name = token();
    if (offer.name.empty()) return fail();
    skip_ows();
    while (pos_ < s_.size() && s_[pos_] == ';') {
      ++pos_;
      skip_ows();
      ext_param param;
      param.name = token();
      if (param.name.empty()) return fail();
      skip_ows();
      if (pos_ < s_.size() && s_[pos_] == '=') {
        ++pos_;
        skip_ows();
        if (pos_ < s_.size() && s_[pos_] == '"') {
          param.value = quoted();
          if (!param.value) return fail();
        } else {
          const std::string_view v = token();
          if (v.empty()) return fail();
          param.value = std::string(v);
        }
        skip_ows();
      }
      offer.params.push_back(std::move(param));
    }
    if (pos_ < s_.size() && s_[pos_] != ',') return fail();
    return offer;
  }

 private:
  std::optional<ext_offer> fail() {
    pos_ = s_.size();
    return std::nullopt;
  }
  void skip_ows() {
    while (pos_ < s_.size() && is_ows(s_[pos_])) ++pos_;
  }
  std::string_view token() {
    const std::size_t start = pos_;
    while (pos_ < s_.size() && is_tchar(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // A quoted-string, unescaped. RFC 6455 requires its content to be a token; the values of the
  // parameters this server knows are checked later, those of other extensions do not matter.
  std::optional<std::string> quoted() {
    ++pos_;  // the opening quote
    std::string out;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return out;
      if (c == '\\') {
        if (pos_ >= s_.size()) return std::nullopt;
        c = s_[pos_++];
      }
      out.push_back(c);
    }
    return std::nullopt;  // unterminated
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

// A window size value: a decimal 8..15 without leading zeros (RFC 7692 section 7.1.2).
std::optional<int> window_bits(const std::string& v) {
  if (v.size() == 1 && v[0] >= '8' && v[0] <= '9') return v[0] - '0';
  if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') return 10 + (v[1] - '0');
  return std::nullopt;
}

// The parameters this server agrees to for one permessage-deflate offer, and the response's
// extension element; nullopt when the offer is invalid or cannot be honoured.
std::optional<deflate_params> negotiate(const ext_offer& offer, std::string& element) {
  deflate_params agreed;  // server_no_context_takeover is always on: each message compressed alone
  bool seen_snct = false, seen_cnct = false, seen_smwb = false, seen_cmwb = false;
  std::optional<int> server_bits, client_bits;
  for (const ext_param& p : offer.params) {
    if (iequals(p.name, "server_no_context_takeover")) {
      if (seen_snct || p.value) return std::nullopt;
      seen_snct = true;
    } else if (iequals(p.name, "client_no_context_takeover")) {
      if (seen_cnct || p.value) return std::nullopt;
      seen_cnct = true;
    } else if (iequals(p.name, "server_max_window_bits")) {
      if (seen_smwb || !p.value) return std::nullopt;
      seen_smwb = true;
      server_bits = window_bits(*p.value);
      if (!server_bits) return std::nullopt;
      // zlib turns a raw deflate window of 8 bits into 9 bits, so a limit of 8 cannot be
      // honoured: decline this offer (the client may have sent another one).
      if (*server_bits == 8) return std::nullopt;
    } else if (iequals(p.name, "client_max_window_bits")) {
      if (seen_cmwb) return std::nullopt;
      seen_cmwb = true;
      if (p.value) {
        client_bits = window_bits(*p.value);
        if (!client_bits) return std::nullopt;
      }
    } else {
      return std::nullopt;  // unknown parameter
    }
  }

  element = "permessage-deflate; server_no_context_takeover";
  if (seen_cnct) {
    agreed.client_no_context_takeover = true;
    element += "; client_no_context_takeover";
  }
  if (server_bits) {
    agreed.server_max_window_bits = *server_bits;
    element += "; server_max_window_bits=" + std::to_string(*server_bits);
  }
  // With a value the client promised a smaller window: echo it, and inflate with that window.
  // Without one, the parameter is omitted and the client may use the full 15 bits.
  if (client_bits) {
    agreed.client_max_window_bits = *client_bits;
    element += "; client_max_window_bits=" + std::to_string(*client_bits);
  }
  return agreed;
}

handshake_answer refuse(std::string why) {
  handshake_answer a;
  a.error = std::move(why);
  return a;
}

}  // namespace

std::string accept_key(std::string_view key) {
  std::string input;
  input.reserve(key.size() + websocket_guid.size());
  input.append(key);
  input.append(websocket_guid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(n));
}

handshake_answer answer_handshake(const upgrade_request& req, bool allow_deflate, std::string_view extra_headers) {
  if (req.method != "GET") return refuse("WebSocket upgrade must use GET");
  if (!has_token(req.upgrade, "websocket")) return refuse("missing Upgrade: websocket");
  if (!has_token(req.connection, "upgrade")) return refuse("missing Connection: Upgrade");
  if (trim(req.version) != "13") return refuse("unsupported Sec-WebSocket-Version (13 is required)");
  const std::string_view key = trim(req.key);
  if (!valid_key(key)) return refuse("invalid Sec-WebSocket-Key");

  handshake_answer a;
  a.accepted = true;
  std::string element;
  if (allow_deflate && !req.extensions.empty()) {
    ext_parser parser(req.extensions);
    while (auto offer = parser.next()) {
      if (!iequals(offer->name, "permessage-deflate")) continue;
      if (auto agreed = negotiate(*offer, element)) {
        a.deflate = *agreed;
        break;
      }
    }
  }

  a.response.reserve(160 + element.size() + extra_headers.size());
  a.response +=
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
  a.response += accept_key(key);
  a.response += "\r\n";
  if (a.deflate) {
    a.response += "Sec-WebSocket-Extensions: ";
    a.response += element;
    a.response += "\r\n";
  }
  a.response += extra_headers;
  a.response += "\r\n";
  return a;
}

}  // namespace sio::transport::ws
