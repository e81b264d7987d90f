#include "sio/redis/client.hpp"

#include <stdexcept>

#include "sio/redis/detail/connection.hpp"

namespace sio::redis {
namespace {

bool iequals(std::string_view a, std::string_view upper) {
  if (a.size() != upper.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char c = (a[i] >= 'a' && a[i] <= 'z') ? static_cast<char>(a[i] - 32) : a[i];
    if (c != upper[i]) return false;
  }
  return true;
}

// Commands after which replies would no longer match commands one to one, or that would
// change what the client restores after a reconnection.
bool changes_connection_mode(std::span<const std::string_view> args) {
  static constexpr std::string_view refused[] = {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE",
                                                 "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR", "SYNC",
                                                 "PSYNC", "HELLO", "RESET", "SELECT"};
  for (auto name : refused)
    if (iequals(args[0], name)) return true;
  return args.size() >= 2 && iequals(args[0], "CLIENT") && iequals(args[1], "REPLY");
}

}  // namespace

std::string_view to_string(connection_state s) noexcept {
  switch (s) {
    case connection_state::connected: return "connected";
    case connection_state::lost: return "lost";
    case connection_state::reconnecting: return "reconnecting";
    case connection_state::reconnected: return "reconnected";
  }
  return "?";
}

namespace detail {
void check_options(const address& server, const client_options& o) {
  if (server.host.empty()) throw std::invalid_argument("redis: the server address has no host");
  if (auto why = validate(o.reconnect); !why.empty()) throw std::invalid_argument("redis: " + why);
  if (o.connect_timeout.count() <= 0) throw std::invalid_argument("redis: the connect timeout must be positive");
  if (o.max_pending_commands == 0) throw std::invalid_argument("redis: max_pending_commands must be at least 1");
  if (o.limits.max_depth == 0 || o.limits.max_line < 32)
    throw std::invalid_argument("redis: the RESP limits are too small for any reply");
}
}  // namespace detail

client::client(boost::asio::io_context& loop, address server, client_options options) {
  detail::check_options(server, options);
  connection_ = std::make_shared<detail::connection>(loop, std::move(server), std::move(options),
                                                     detail::role::commands, message_handler{});
  connection_->start();
}

client::~client() { connection_->shutdown(); }

void client::submit(std::span<const std::string_view> args, reply_handler on_reply) {
  if (args.empty() || changes_connection_mode(args))
    return connection_->submit_command({}, std::move(on_reply), error::invalid_command);
  std::string encoded;
  append_command(encoded, args);
  connection_->submit_command(std::move(encoded), std::move(on_reply));
}

void client::command(std::initializer_list<std::string_view> args, reply_handler on_reply) {
  submit(std::span<const std::string_view>(args.begin(), args.size()), std::move(on_reply));
}

void client::command(std::span<const std::string_view> args, reply_handler on_reply) {
  submit(args, std::move(on_reply));
}

void client::command(std::span<const std::string> args, reply_handler on_reply) {
  std::vector<std::string_view> views(args.begin(), args.end());
  submit(views, std::move(on_reply));
}

void client::publish(std::string_view channel, std::string_view payload, reply_handler on_reply) {
  const std::string_view args[] = {"PUBLISH", channel, payload};
  submit(args, std::move(on_reply));
}

void client::spublish(std::string_view channel, std::string_view payload, reply_handler on_reply) {
  const std::string_view args[] = {"SPUBLISH", channel, payload};
  submit(args, std::move(on_reply));
}

void client::pubsub_numsub(std::span<const std::string_view> channels, numsub_handler on_counts) {
  std::vector<std::string_view> args{"PUBSUB", "NUMSUB"};
  args.insert(args.end(), channels.begin(), channels.end());
  // Redis answers a flat array: channel, count, channel, count...
  submit(args, [on_counts = std::move(on_counts)](std::error_code ec, reply r) {
    if (!on_counts) return;
    std::vector<channel_count> counts;
    if (!ec) {
      if (!r.is_array() || r.elements().size() % 2 != 0) {
        ec = error::unexpected_reply;
      } else {
        const auto& e = r.elements();
        for (std::size_t i = 0; i < e.size(); i += 2) {
          if (!e[i].is_bulk() || !e[i + 1].is_integer()) {
            ec = error::unexpected_reply;
            counts.clear();
            break;
          }
          counts.push_back({e[i].bulk(), e[i + 1].integer()});
        }
      }
    }
    on_counts(ec, std::move(counts));
  });
}

void client::pubsub_numsub(std::initializer_list<std::string_view> channels, numsub_handler on_counts) {
  pubsub_numsub(std::span<const std::string_view>(channels.begin(), channels.size()), std::move(on_counts));
}

bool client::connected() const noexcept { return connection_->ready(); }

}  // namespace sio::redis
