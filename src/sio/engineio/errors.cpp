#include "sio/engineio/detail/errors.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "sio/engineio/session.hpp"

namespace sio::eio {

std::string_view to_string(close_reason r) noexcept {
  switch (r) {
    case close_reason::transport_close: return "transport close";
    case close_reason::transport_error: return "transport error";
    case close_reason::ping_timeout: return "ping timeout";
    case close_reason::parse_error: return "parse error";
    case close_reason::forced_close: return "forced close";
    case close_reason::server_shutting_down: return "server shutting down";
  }
  return "unknown";
}

namespace {
template <class Map>
std::string_view first(const Map& m, std::string_view key) {
  auto it = m.find(key);
  return it == m.end() ? std::string_view{} : std::string_view(it->second);
}
}  // namespace

std::string_view handshake_request::header(std::string_view name) const { return first(headers, name); }
std::string_view handshake_request::query_param(std::string_view name) const { return first(query, name); }

namespace detail {

std::string_view error_message(http_error e) noexcept {
  switch (e) {
    case http_error::unknown_transport: return "Transport unknown";
    case http_error::unknown_sid: return "Session ID unknown";
    case http_error::bad_handshake_method: return "Bad handshake method";
    case http_error::bad_request: return "Bad request";
    case http_error::forbidden: return "Forbidden";
    case http_error::unsupported_protocol_version: return "Unsupported protocol version";
  }
  return "Bad request";
}

std::string error_body(http_error e, std::string_view message_override) {
  boost::json::object o;
  o["code"] = static_cast<int>(e);
  o["message"] = message_override.empty() ? error_message(e) : message_override;
  return boost::json::serialize(o);
}

}  // namespace detail
}  // namespace sio::eio
