#pragma once
// Socket.IO server errors and disconnect reasons (the reference's closed set).
#include <string>
#include <string_view>
#include <system_error>

#include <boost/json/value.hpp>

namespace sio {

enum class error {
  timed_out = 1,      // "operation has timed out": an acknowledgement did not come in time
  disconnected,       // the socket disconnected before acknowledging
  reserved_event,     // the application tried to emit a reserved event name
  invalid_payload,    // a typed event's payload did not match its declared type
  not_connected,      // the socket is not connected
};
const std::error_category& error_category() noexcept;
std::error_code make_error_code(error e) noexcept;

// Why a socket disconnected; to_string() gives the reference's strings.
enum class disconnect_reason {
  transport_error,              // "transport error"
  transport_close,              // "transport close"
  forced_close,                 // "forced close"
  ping_timeout,                 // "ping timeout"
  parse_error,                  // "parse error"
  server_shutting_down,         // "server shutting down"
  forced_server_close,          // "forced server close"
  client_namespace_disconnect,  // "client namespace disconnect"
  server_namespace_disconnect,  // "server namespace disconnect"
};
std::string_view to_string(disconnect_reason r) noexcept;

// The error a middleware passes to next(). A namespace middleware's error is sent to the client
// as CONNECT_ERROR {"message":..,"data":..} (data omitted when null); a socket middleware's
// error goes to the socket's on_error handlers (the reference emits it as a local "error" event).
struct middleware_error {
  std::string message;
  boost::json::value data;
};
using connect_error = middleware_error;

}  // namespace sio

template <>
struct std::is_error_code_enum<sio::error> : std::true_type {};
