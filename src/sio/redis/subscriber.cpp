#include "sio/redis/subscriber.hpp"

#include "sio/redis/detail/connection.hpp"

namespace sio::redis {

subscriber::subscriber(boost::asio::io_context& loop, address server, message_handler on_message,
                       client_options options) {
  detail::check_options(server, options);
  connection_ = std::make_shared<detail::connection>(loop, std::move(server), std::move(options),
                                                     detail::role::subscriptions, std::move(on_message));
  connection_->start();
}

subscriber::~subscriber() { connection_->shutdown(); }

void subscriber::subscribe(std::vector<std::string> channels, done_handler on_done) {
  connection_->submit_subscription(true, detail::family::channel, std::move(channels), std::move(on_done));
}

void subscriber::unsubscribe(std::vector<std::string> channels, done_handler on_done) {
  connection_->submit_subscription(false, detail::family::channel, std::move(channels), std::move(on_done));
}

void subscriber::psubscribe(std::vector<std::string> patterns, done_handler on_done) {
  connection_->submit_subscription(true, detail::family::pattern, std::move(patterns), std::move(on_done));
}

void subscriber::punsubscribe(std::vector<std::string> patterns, done_handler on_done) {
  connection_->submit_subscription(false, detail::family::pattern, std::move(patterns), std::move(on_done));
}

void subscriber::ssubscribe(std::vector<std::string> channels, done_handler on_done) {
  connection_->submit_subscription(true, detail::family::shard, std::move(channels), std::move(on_done));
}

void subscriber::sunsubscribe(std::vector<std::string> channels, done_handler on_done) {
  connection_->submit_subscription(false, detail::family::shard, std::move(channels), std::move(on_done));
}

bool subscriber::connected() const noexcept { return connection_->ready(); }

}  // namespace sio::redis
