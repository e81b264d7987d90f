#include "sio/socketio/errors.hpp"

namespace sio {

namespace {
class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sio"; }
  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::timed_out: return "operation has timed out";
      case error::disconnected: return "the socket disconnected";
      case error::reserved_event: return "reserved event name";
      case error::invalid_payload: return "invalid payload";
      case error::not_connected: return "the socket is not connected";
    }
    return "unknown sio error";
  }
};
}  // namespace

const std::error_category& error_category() noexcept {
  static const category c;
  return c;
}

std::error_code make_error_code(error e) noexcept { return {static_cast<int>(e), error_category()}; }

std::string_view to_string(disconnect_reason r) noexcept {
  switch (r) {
    case disconnect_reason::transport_error: return "transport error";
    case disconnect_reason::transport_close: return "transport close";
    case disconnect_reason::forced_close: return "forced close";
    case disconnect_reason::ping_timeout: return "ping timeout";
    case disconnect_reason::parse_error: return "parse error";
    case disconnect_reason::server_shutting_down: return "server shutting down";
    case disconnect_reason::forced_server_close: return "forced server close";
    case disconnect_reason::client_namespace_disconnect: return "client namespace disconnect";
    case disconnect_reason::server_namespace_disconnect: return "server namespace disconnect";
  }
  return "unknown";
}

std::string handler_error::what() const {
  try {
    if (exception) std::rethrow_exception(exception);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
  }
  return "a non-standard exception";
}

}  // namespace sio
