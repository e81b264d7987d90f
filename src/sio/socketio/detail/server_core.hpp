#pragma once
// The server's state and its Engine.IO handler, free of any transport so that it can be driven
// over in-memory sessions. sio::server wraps it (and owns the eio::server when it has one).
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "sio/engineio/session.hpp"
#include "sio/socketio/namespace.hpp"
#include "sio/socketio/server.hpp"

namespace sio::detail {

class client;

class server_core final : public eio::handler {
 public:
  explicit server_core(server_options opts);
  ~server_core() override;

  void on_open(const std::shared_ptr<eio::session>& s) override;
  void on_message(eio::session& s, std::string_view text) override;
  void on_binary(eio::session& s, std::string data) override;
  void on_close(eio::session& s, eio::close_reason why) override;

  const server_options& options() const noexcept { return opts_; }
  namespace_& of(std::string_view name);
  namespace_& of_parent(namespace_::matcher m);
  // The namespace a client may connect to: an existing one, or a child of a matching parent.
  namespace_* find_or_create(std::string_view name, const boost::json::object& auth);
  std::unique_ptr<adapter> make_adapter(local_namespace& nsp);
  void remove_client(const client* c);
  void close();

  std::function<void()> engine_close;  // set by the wrapper that owns an eio::server

 private:
  // The namespace `name` (a child of `parent` if given), made and started unless another thread
  // made it first.
  namespace_* create(std::string name, namespace_* parent);

  server_options opts_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<namespace_>, std::less<>> nsps_;
  std::vector<std::unique_ptr<namespace_>> parents_;
  std::unordered_map<const client*, std::weak_ptr<client>> clients_;
};

}  // namespace sio::detail
