#include "sio/socketio/server.hpp"

#include <cstdio>

#include "sio/adapter/memory_adapter.hpp"
#include "sio/socketio/detail/client.hpp"
#include "sio/socketio/detail/guard.hpp"
#include "sio/socketio/detail/server_core.hpp"

namespace sio {

namespace detail {

void report_handler_error(const server_core& core, const call_site& site, std::exception_ptr e) noexcept {
  handler_error err{site.where, site.nsp, site.socket_id, site.event, std::move(e)};
  try {
    if (const auto& hook = core.options().on_error) return hook(err);
  } catch (...) {
    return;  // the hook's own failure has nowhere better to go
  }
  try {
    // No hook: the application has not said where its log goes.
    std::string line = "sio: " + std::string(site.where);
    if (!site.event.empty()) line += " for \"" + std::string(site.event) + "\"";
    if (!site.nsp.empty()) line += " in namespace " + std::string(site.nsp);
    if (!site.socket_id.empty()) line += " (socket " + std::string(site.socket_id) + ")";
    line += " threw: " + err.what() + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  } catch (...) {
  }
}

server_core::server_core(server_options opts) : opts_(std::move(opts)) {
  opts_.engine.path = opts_.path;
  of("/");
}

server_core::~server_core() {
  // The Engine.IO server is gone (sio::server destroys it first), so no callback runs now.
  // Clients still open would keep their sockets (and the sockets' handlers) in a cycle.
  std::vector<std::shared_ptr<client>> clients;
  {
    std::lock_guard lock(mutex_);
    for (auto& [_, w] : clients_)
      if (auto c = w.lock()) clients.push_back(std::move(c));
    clients_.clear();
  }
  for (auto& c : clients) c->abandon();
}

std::unique_ptr<adapter> server_core::make_adapter(local_namespace& nsp) {
  if (opts_.adapter) return opts_.adapter(nsp);
  return std::make_unique<memory_adapter>(nsp);
}

namespace_* server_core::create(std::string name, namespace_* parent) {
  // Built and started outside the lock: the adapter factory and the adapter's init() are the
  // application's code (a cluster adapter subscribes there).
  auto nsp = std::make_unique<namespace_>(namespace_::passkey{}, *this, name, parent, nullptr);
  namespace_* raw;
  {
    std::lock_guard lock(mutex_);
    auto [it, inserted] = nsps_.try_emplace(std::move(name), std::move(nsp));
    raw = it->second.get();
    if (!inserted) return raw;  // another thread made it meanwhile; ours goes, unlocked
  }
  if (parent) parent->add_child(raw);
  raw->start();
  return raw;
}

namespace_& server_core::of(std::string_view name) {
  std::string n(name);
  if (n.empty() || n.front() != '/') n.insert(n.begin(), '/');
  {
    std::lock_guard lock(mutex_);
    if (auto it = nsps_.find(n); it != nsps_.end()) return *it->second;
  }
  return *create(std::move(n), nullptr);
}

namespace_& server_core::of_parent(namespace_::matcher m) {
  std::lock_guard lock(mutex_);
  auto name = "/_" + std::to_string(parents_.size() + 1);  // the reference names parents "/_<n>"
  parents_.push_back(std::make_unique<namespace_>(namespace_::passkey{}, *this, name, nullptr, std::move(m)));
  return *parents_.back();
}

namespace_* server_core::find_or_create(std::string_view name, const boost::json::object& auth) {
  std::vector<namespace_*> parents;
  {
    std::lock_guard lock(mutex_);
    if (auto it = nsps_.find(name); it != nsps_.end()) return it->second.get();
    for (auto& p : parents_) parents.push_back(p.get());
  }
  for (auto* p : parents) {
    bool matched = false;  // user code: no lock held; a matcher that throws matches nothing
    guarded(*this, {.where = "namespace matcher", .nsp = p->name()}, [&] { matched = p->matcher_(name, auth); });
    if (matched) return create(std::string(name), p);
  }
  return nullptr;
}

void server_core::on_open(const std::shared_ptr<eio::session>& s) {
  auto c = std::make_shared<client>(*this, s);
  s->context = c;
  {
    std::lock_guard lock(mutex_);
    clients_.emplace(c.get(), c);
  }
  c->start();
}

void server_core::on_message(eio::session& s, std::string_view text) {
  if (auto c = std::static_pointer_cast<client>(s.context)) c->on_message(text);
}

void server_core::on_binary(eio::session& s, std::string data) {
  if (auto c = std::static_pointer_cast<client>(s.context)) c->on_binary(std::move(data));
}

void server_core::on_close(eio::session& s, eio::close_reason why) {
  auto c = std::static_pointer_cast<client>(s.context);
  s.context.reset();  // the session owned the client; c keeps it alive until we return
  if (c) c->on_close(why);
}

void server_core::remove_client(const client* c) {
  std::lock_guard lock(mutex_);
  clients_.erase(c);
}

void server_core::close() {
  std::vector<std::shared_ptr<client>> clients;
  {
    std::lock_guard lock(mutex_);
    for (auto& [_, w] : clients_)
      if (auto c = w.lock()) clients.push_back(std::move(c));
  }
  // Each session closes on its own thread and reports on_close(server_shutting_down).
  for (auto& c : clients) c->close_session(eio::close_reason::server_shutting_down);
  if (engine_close) engine_close();
  std::vector<namespace_*> nsps;
  {
    std::lock_guard lock(mutex_);
    for (auto& [_, n] : nsps_) nsps.push_back(n.get());
  }
  for (auto* n : nsps)
    if (n->adapter()) n->adapter()->close();
}

}  // namespace detail

server::server(server_options opts) : core_(std::make_unique<detail::server_core>(std::move(opts))) {}

server::~server() {
  engine_.reset();  // no more callbacks into the core
}

eio::handler& server::engine_handler() noexcept { return *core_; }
const server_options& server::options() const noexcept { return core_->options(); }
namespace_& server::of(std::string_view name) { return core_->of(name); }
namespace_& server::of(const std::regex& re) {
  return core_->of_parent([re](std::string_view name, const boost::json::object&) {
    return std::regex_match(name.begin(), name.end(), re);
  });
}
namespace_& server::of(namespace_::matcher predicate) { return core_->of_parent(std::move(predicate)); }
namespace_& server::sockets() { return core_->of("/"); }
server& server::use(namespace_::middleware mw) {
  sockets().use(std::move(mw));
  return *this;
}
server& server::on_connection(namespace_::connection_handler h) {
  sockets().on_connection(std::move(h));
  return *this;
}
void server::close() { core_->close(); }

}  // namespace sio
