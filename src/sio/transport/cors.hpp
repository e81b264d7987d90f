#pragma once
// Cross-origin settings, shared by every HTTP route (Engine.IO and the application's own).
//
// "*" grants any origin without credentials (Access-Control-Allow-Origin: *). Credentials go only
// to origins that are listed, or that `allow_origin` approves one by one: browsers refuse
// credentials for "*" on purpose, and echoing every origin instead would hand every site the
// user's cookies. So "*" together with `credentials` is a configuration error (validate(), which
// eio::server calls when it is constructed).
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sio::transport {

struct cors_options {
  bool enabled = false;                       // off: no CORS headers at all (the reference's default)
  std::vector<std::string> origins;           // exact origins; "*" allows any origin
  std::function<bool(std::string_view)> allow_origin;  // when set, decides instead of `origins`
  bool credentials = false;                   // Access-Control-Allow-Credentials: true
  std::vector<std::string> methods = {"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"};
  std::vector<std::string> allowed_headers;   // empty: reflect Access-Control-Request-Headers
  std::vector<std::string> exposed_headers;
  std::optional<std::chrono::seconds> max_age;

  // Whether a request from `origin` gets a CORS grant.
  bool allows(std::string_view origin) const;
  // Throws std::invalid_argument for a combination the server must not run with: "*" among the
  // origins with `credentials` on (without `allow_origin`, which decides instead of `origins`).
  void validate() const;
};

}  // namespace sio::transport
