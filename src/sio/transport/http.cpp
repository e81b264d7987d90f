#include "sio/transport/http.hpp"

#include <boost/beast/http/field.hpp>

namespace sio::transport {

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ',';
    out += s;
  }
  return out;
}

}  // namespace

response make_response(const request& req, http::status status, std::string body,
                       std::string_view content_type) {
  response res{status, req.version()};
  res.set(http::field::content_type, content_type);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

void apply_cors(const cors_options& opts, const request& req, response& res) {
  if (!opts.enabled) return;
  auto origin = req[http::field::origin];
  res.set(http::field::vary, "Origin");
  if (origin.empty() || !opts.allows(origin)) return;
  // "*" answers "*" and never grants credentials, even if validate() was skipped: echoing the
  // origin with credentials would grant them to every site, which browsers refuse "*" to prevent.
  bool any = !opts.allow_origin && std::find(opts.origins.begin(), opts.origins.end(), "*") != opts.origins.end();
  res.set(http::field::access_control_allow_origin, any ? std::string_view("*") : std::string_view(origin));
  if (opts.credentials && !any) res.set(http::field::access_control_allow_credentials, "true");
  if (!opts.exposed_headers.empty())
    res.set(http::field::access_control_expose_headers, join(opts.exposed_headers));
}

response preflight_response(const cors_options& opts, const request& req) {
  response res{http::status::no_content, req.version()};
  res.keep_alive(req.keep_alive());
  apply_cors(opts, req, res);
  if (opts.enabled && opts.allows(req[http::field::origin])) {
    res.set(http::field::access_control_allow_methods, join(opts.methods));
    if (!opts.allowed_headers.empty())
      res.set(http::field::access_control_allow_headers, join(opts.allowed_headers));
    else if (auto h = req[http::field::access_control_request_headers]; !h.empty())
      res.set(http::field::access_control_allow_headers, h);
    if (opts.max_age) res.set(http::field::access_control_max_age, std::to_string(opts.max_age->count()));
  }
  res.content_length(0);
  return res;
}

}  // namespace sio::transport
