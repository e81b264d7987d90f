#pragma once
// Every call from the library into the application's code goes through guarded(): an exception
// is reported to server_options::on_error and goes no further, so a handler that throws cannot
// end a loop thread (std::terminate) nor skip the library's own work after the call.
#include <exception>
#include <string_view>
#include <utility>

#include "sio/socketio/errors.hpp"

namespace sio::detail {

class server_core;

// Where the library called the application.
struct call_site {
  std::string_view where;
  std::string_view nsp = {};
  std::string_view socket_id = {};
  std::string_view event = {};
};

// Reports `e` for `site` to the server's on_error (or stderr). Never throws.
void report_handler_error(const server_core& core, const call_site& site, std::exception_ptr e) noexcept;

// Calls f(); true when it returned, false when it threw (and was reported).
template <class F>
bool guarded(const server_core& core, const call_site& site, F&& f) noexcept {
  try {
    std::forward<F>(f)();
    return true;
  } catch (...) {
    report_handler_error(core, site, std::current_exception());
    return false;
  }
}

}  // namespace sio::detail
