#include "parley/auth/guard.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <utility>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include "sio/socketio/socket.hpp"

namespace parley::auth {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "Bearer <token>" (the scheme is case-insensitive, RFC 7235 §2.1); nullopt for other schemes.
std::optional<std::string> bearer(std::string_view header) {
  header = trim(header);
  constexpr std::string_view scheme = "bearer";
  if (header.size() <= scheme.size() || (header[scheme.size()] != ' ' && header[scheme.size()] != '\t'))
    return std::nullopt;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != scheme[i]) return std::nullopt;
  auto token = trim(header.substr(scheme.size()));
  if (token.empty()) return std::nullopt;
  return std::string(token);
}

}  // namespace

std::optional<std::string> token_from_handshake(const sio::handshake& hs) {
  // 1. io(url, { auth: { token } }). Like the reference's `auth.token || ...`, an empty or null
  // token counts as none; a token of another type was provided but is no JWT, so it is passed on
  // as its JSON text, which no verifier accepts.
  if (const auto* t = hs.auth.if_contains("token"); t && !t->is_null()) {
    if (!t->is_string()) return boost::json::serialize(*t);
    if (!t->get_string().empty()) return std::string(t->get_string());
  }
  // 2. Authorization: Bearer <token>
  auto [first, last] = hs.headers.equal_range("authorization");
  for (auto it = first; it != last; ++it)
    if (auto t = bearer(it->second)) return t;
  // 3. ?token=<token>
  if (auto it = hs.query.find("token"); it != hs.query.end() && !it->second.empty()) return it->second;
  return std::nullopt;
}

sio::namespace_::middleware make_guard(std::shared_ptr<const jwt_verifier> verifier) {
  return [verifier = std::move(verifier)](const std::shared_ptr<sio::socket>& s, sio::next_fn next) {
    const auto& hs = s->handshake();
    auto token = token_from_handshake(hs);
    if (!token) {
      spdlog::debug("auth: {} refused: no token", hs.address);
      next(sio::connect_error{make_error_code(auth_error::no_token).message(), {}});
      return;
    }
    std::string why;
    auto who = verifier->verify(*token, std::chrono::system_clock::now(), why);
    if (!who) {
      spdlog::debug("auth: {} refused: {}", hs.address, why);
      next(sio::connect_error{who.error().message(), {}});
      return;
    }
    s->data = boost::json::object{{"userId", who->user_id}, {"name", who->name}};
    next();
  };
}

}  // namespace parley::auth
