#pragma once
// An incoming event as handlers see it, and the acknowledgement callback.
//
//   socket->on("chat", [](sio::event& ev) {
//     auto text = ev.args().at(0).as_string();
//     if (ev.has_ack()) ev.ack("ok", 42);
//   });
#include <atomic>
#include <functional>
#include <optional>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sio/socketio/detail/args.hpp"
#include "sio/socketio/errors.hpp"

namespace sio {

class socket;

// Sends the acknowledgement of one incoming event, at most once (later calls do nothing).
// Copyable; may be kept and called later, from any thread.
class ack_fn {
 public:
  ack_fn() = default;
  explicit operator bool() const noexcept { return state_ != nullptr; }

  template <class... A>
  void operator()(A&&... args) const {
    send(detail::make_payload(std::forward<A>(args)...));
  }
  // Acknowledges with args that may hold placeholders for p.attachments.
  void send(payload p) const;

 private:
  friend class socket;
  struct state {
    std::shared_ptr<socket> owner;
    std::uint64_t id = 0;
    std::atomic<bool> sent{false};
  };
  explicit ack_fn(std::shared_ptr<state> s) : state_(std::move(s)) {}
  std::shared_ptr<state> state_;
};

class event {
 public:
  event(std::string name, payload p, ack_fn ack)
      : name_(std::move(name)), payload_(std::move(p)), ack_(std::move(ack)) {}

  std::string_view name() const noexcept { return name_; }
  // The arguments after the name. Binary arguments are placeholders {"_placeholder":true,"num":N}
  // for attachments()[N], so that re-emitting raw() round-trips them.
  const boost::json::array& args() const noexcept { return payload_.args; }
  boost::json::array& args() noexcept { return payload_.args; }
  const std::vector<binary>& attachments() const noexcept { return payload_.attachments; }
  const payload& raw() const noexcept { return payload_; }
  payload& raw() noexcept { return payload_; }

  bool has_ack() const noexcept { return static_cast<bool>(ack_); }
  // Acknowledges (once; no-op when the client asked for no acknowledgement).
  template <class... A>
  void ack(A&&... args) const {
    if (ack_) ack_(std::forward<A>(args)...);
  }
  const ack_fn& ack_callback() const noexcept { return ack_; }

 private:
  std::string name_;
  payload payload_;
  ack_fn ack_;
};

// What a middleware calls to go on (no argument) or to refuse (an error).
// Calls after the first are ignored. Safe from any thread.
class next_fn {
 public:
  using impl = std::function<void(std::optional<middleware_error>)>;
  explicit next_fn(impl f) : f_(std::make_shared<impl>(std::move(f))) {}
  void operator()() const { (*f_)(std::nullopt); }
  void operator()(middleware_error err) const { (*f_)(std::move(err)); }

 private:
  std::shared_ptr<impl> f_;
};

}  // namespace sio
