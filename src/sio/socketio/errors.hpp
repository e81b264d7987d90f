#pragma once
// Socket.IO server errors and disconnect reasons (the reference's closed set).
#include <exception>
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

// An exception thrown by the application's code that the library called (a handler, a
// middleware, an ack callback, a fetch_sockets completion...). The library catches it where it
// called, reports it to server_options::on_error and carries on: the other handlers still run,
// a disconnecting socket still leaves its rooms, the server keeps serving. A middleware that
// throws counts as one that refused (next(error) with message "server error").
struct handler_error {
  std::string_view where;      // what was called: "event handler", "disconnect handler", ...
  std::string_view nsp;        // the namespace, when there is one
  std::string_view socket_id;  // the socket, when there is one
  std::string_view event;      // the event's name, for event handlers and ack callbacks of emits
  std::exception_ptr exception;

  // what() of a std::exception, else "a non-standard exception".
  std::string what() const;
};

}  // namespace sio

template <>
struct std::is_error_code_enum<sio::error> : std::true_type {};
