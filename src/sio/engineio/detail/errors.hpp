#pragma once
// The Engine.IO HTTP error codes 0-5, with the reference's messages.
#include <string>
#include <string_view>

namespace sio::eio::detail {

enum class http_error : int {
  unknown_transport = 0,
  unknown_sid = 1,
  bad_handshake_method = 2,
  bad_request = 3,
  forbidden = 4,
  unsupported_protocol_version = 5,
};

std::string_view error_message(http_error e) noexcept;
// {"code":N,"message":"..."}
std::string error_body(http_error e, std::string_view message_override = {});

}  // namespace sio::eio::detail
