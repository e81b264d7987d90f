#include "sio/redis/errors.hpp"

#include <string>

namespace sio::redis {
namespace {

class redis_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sio.redis"; }
  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::not_connected: return "not connected to Redis";
      case error::connection_lost: return "the connection to Redis was lost before the reply";
      case error::client_closed: return "the Redis client was closed";
      case error::queue_full: return "too many Redis commands waiting for a reply";
      case error::server_error: return "Redis answered with an error";
      case error::invalid_command:
        return "invalid Redis command (empty, or one that changes the connection's mode: "
               "use redis::subscriber for pub/sub, the URL for the database)";
      case error::unexpected_reply: return "unexpected Redis reply";
      case error::connect_timeout: return "timed out connecting to Redis";
      case error::auth_failed: return "Redis refused the password (AUTH)";
      case error::select_failed: return "Redis refused the database number (SELECT)";
      case error::subscribe_failed: return "Redis refused to restore a subscription";
      case error::protocol_error: return "malformed RESP from Redis";
      case error::unsupported_resp3: return "a RESP3 reply (this client speaks RESP2)";
      case error::line_too_long: return "a RESP line over the limit";
      case error::bulk_too_long: return "a RESP bulk string over the limit";
      case error::too_many_elements: return "a RESP reply with too many elements";
      case error::nesting_too_deep: return "RESP arrays nested too deep";
      case error::url_invalid: return "not a valid redis:// URL";
      case error::url_scheme: return "a Redis URL must start with redis://";
      case error::url_tls_unsupported: return "rediss:// (Redis over TLS) is not supported; use redis://";
      case error::url_missing_host: return "the Redis URL has no host";
      case error::url_invalid_port: return "the Redis URL's port must be a number from 1 to 65535";
      case error::url_invalid_userinfo:
        return "the Redis URL's credentials must be :password@ or user:password@";
      case error::url_invalid_db: return "the Redis URL's path must be /<database number>, e.g. /0";
      case error::url_unexpected_part: return "the Redis URL must not have a query or a fragment";
    }
    return "unknown Redis client error";
  }
};

}  // namespace

const std::error_category& redis_category() noexcept {
  static const redis_category_impl instance;
  return instance;
}

std::error_code make_error_code(error e) noexcept { return {static_cast<int>(e), redis_category()}; }

}  // namespace sio::redis
