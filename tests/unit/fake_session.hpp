#pragma once
// An in-memory Engine.IO session for testing the layers above Engine.IO: records what is sent,
// runs posted functions and timers when the test says so, and reports close() back to the
// handler (posted, like the real one, which reports on the session's thread).
#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sio/engineio/session.hpp"

namespace sio::test {

class fake_session : public eio::session {
 public:
  explicit fake_session(std::string id = "eio-sid", eio::handler* h = nullptr) : id_(std::move(id)), handler_(h) {
    request_.url = "/socket.io/?EIO=4&transport=websocket";
    request_.remote_address = "127.0.0.1";
    request_.time = std::chrono::system_clock::now();
  }

  // --- eio::session
  const std::string& id() const noexcept override { return id_; }
  const eio::handshake_request& request() const noexcept override { return request_; }
  std::string_view transport_name() const noexcept override { return "websocket"; }
  eio::send_result send(eio::message msg, eio::send_options opts = {}) override {
    if (!open_) return eio::send_result::closed;
    if (opts.volatile_ && !writable) return eio::send_result::dropped;
    sent.push_back(std::move(msg));
    return eio::send_result::queued;
  }
  void close(eio::close_reason why) override {
    if (!open_) return;
    open_ = false;
    closed_with = why;
    if (handler_) {
      auto self = std::static_pointer_cast<fake_session>(shared_from_this());
      tasks_.push_back([self, why] { self->handler_->on_close(*self, why); });
    }
  }
  bool is_open() const noexcept override { return open_; }
  void post(std::function<void()> fn) override { tasks_.push_back(std::move(fn)); }
  bool on_session_thread() const noexcept override { return on_thread; }
  std::shared_ptr<eio::timer> start_timer(std::chrono::milliseconds delay, std::function<void()> fn) override {
    auto t = std::make_shared<fake_timer>();
    t->due = now_ + delay;
    t->fn = std::move(fn);
    timers_.push_back(t);
    return t;
  }

  // --- test controls
  eio::handshake_request& mutable_request() { return request_; }
  // Runs posted functions (and what they post) until none is left.
  void run() {
    while (!tasks_.empty()) {
      auto fn = std::move(tasks_.front());
      tasks_.pop_front();
      fn();
    }
  }
  std::size_t pending_tasks() const { return tasks_.size(); }
  // Moves the clock and fires the timers that are due, in order.
  void advance(std::chrono::milliseconds d) {
    now_ += d;
    for (;;) {
      run();
      auto it = std::min_element(timers_.begin(), timers_.end(), [](auto& a, auto& b) { return a->due < b->due; });
      if (it == timers_.end() || (*it)->due > now_) break;
      auto t = *it;
      timers_.erase(it);
      if (!t->cancelled && open_) t->fn();
    }
    run();
  }
  std::size_t active_timers() const {
    return std::count_if(timers_.begin(), timers_.end(), [](auto& t) { return !t->cancelled; });
  }
  // The text frames sent so far (and forgets them).
  std::vector<std::string> take_texts() {
    std::vector<std::string> out;
    for (auto& m : sent)
      if (!m.binary) out.push_back(*m.data);
    sent.clear();
    return out;
  }
  std::vector<eio::message> take() { return std::exchange(sent, {}); }

  std::vector<eio::message> sent;
  bool writable = true;   // false: volatile sends are dropped
  bool on_thread = true;  // false: pretend calls come from another thread
  std::optional<eio::close_reason> closed_with;

 private:
  struct fake_timer : eio::timer {
    void cancel() override { cancelled = true; }
    std::chrono::milliseconds due{0};
    std::function<void()> fn;
    bool cancelled = false;
  };

  std::string id_;
  eio::handler* handler_;
  eio::handshake_request request_;
  bool open_ = true;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::shared_ptr<fake_timer>> timers_;
  std::chrono::milliseconds now_{0};
};

}  // namespace sio::test
