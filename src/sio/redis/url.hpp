#pragma once
// Where the Redis server is, from a URL: redis://[[user]:password@]host[:port][/db]
//
//   auto where = sio::redis::parse_url("redis://:s3cret@10.0.0.5:6380/2");
//   if (!where) fail_at_start(where.error().message());   // says what is wrong with it
//   // where->host "10.0.0.5", port 6380, password "s3cret" (AUTH), db 2 (SELECT)
//
// The port defaults to 6379, the database to 0. A password (percent-encoded in the URL) makes
// the client send AUTH, a user AUTH user password (Redis 6 ACL), a database other than 0 SELECT;
// both again after every reconnect. The host is a name, an IPv4 address or an [IPv6] address.
// rediss:// (TLS), unix sockets, queries and fragments are refused, each with its own error.
//
// Pure; thread-safe.
#include <cstdint>
#include <string>
#include <string_view>

#include "sio/common/result.hpp"
#include "sio/redis/errors.hpp"

namespace sio::redis {

struct address {
  std::string host;
  std::uint16_t port = 6379;
  std::string username;  // empty: the default user
  std::string password;  // empty: no AUTH
  std::uint32_t db = 0;  // not 0: SELECT db

  friend bool operator==(const address&, const address&) = default;
};

result<address> parse_url(std::string_view url);

// The URL again with the password masked ("redis://:***@host:6379/2"), for logs.
std::string to_string(const address& a);

}  // namespace sio::redis
