#pragma once
// The errors of the Redis client (category "sio.redis"): what a command's or a subscription's
// handler receives, what the state hook gives as a reason, and what URL parsing and the RESP
// parser refuse. Errors of the operating system (connection refused, reset, end of file) are
// passed on as they are, with their own category, as the reason of a state change.
#include <system_error>

namespace sio::redis {

enum class error {
  // A command or subscription that did not get its answer.
  not_connected = 1,  // refused at once, never sent: no connection to Redis at the moment
  connection_lost,    // sent, but the connection broke before the reply: it may or may not have run
  client_closed,      // the client was destroyed first
  queue_full,         // client_options::max_pending_commands are already waiting for replies
  server_error,       // Redis answered with an error reply (the reply holds its text)
  invalid_command,    // empty, or one that would change the connection's mode (see client::command)
  unexpected_reply,   // a reply of a shape the command does not give, or that nobody asked for

  // Why a connection attempt failed (state_change::reason).
  connect_timeout,  // no connection, AUTH and SELECT (and subscriptions) within connect_timeout
  auth_failed,      // Redis refused AUTH (state_change::detail has its words)
  select_failed,    // Redis refused SELECT
  subscribe_failed, // Redis refused to restore a subscription after a reconnect

  // The RESP parser: what Redis sent is not RESP2, or is over a limit (resp_limits).
  protocol_error,     // an unknown type byte, a malformed number or length, a missing CRLF
  unsupported_resp3,  // a RESP3 type: this client speaks RESP2 only
  line_too_long,      // a status, error or integer line over resp_limits::max_line
  bulk_too_long,      // a bulk string over resp_limits::max_bulk
  too_many_elements,  // one reply with more than resp_limits::max_elements array elements
  nesting_too_deep,   // arrays nested deeper than resp_limits::max_depth

  // redis://[[user]:password@]host[:port][/db]
  url_invalid,         // not a URL at all
  url_scheme,          // a scheme other than redis://
  url_tls_unsupported, // rediss:// (TLS) is not supported
  url_missing_host,
  url_invalid_port,
  url_invalid_userinfo,  // a user without a password
  url_invalid_db,        // a path other than /<database number>
  url_unexpected_part,   // a query or a fragment
};

const std::error_category& redis_category() noexcept;
std::error_code make_error_code(error e) noexcept;

}  // namespace sio::redis

template <>
struct std::is_error_code_enum<sio::redis::error> : std::true_type {};
