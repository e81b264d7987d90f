#include "parley/handlers/sequencer.hpp"

#include <atomic>
#include <deque>
#include <mutex>
#include <utility>

namespace parley {

struct sequencer::core : std::enable_shared_from_this<core> {
  explicit core(std::size_t max) : max_waiting(max) {}

  const std::size_t max_waiting;
  mutable std::mutex mu;
  std::deque<task> queue;  // waiting tasks, oldest first
  bool in_turn = false;    // a task has started and its turn has not ended
  bool running = false;    // a thread is inside run_ready(): it starts whatever becomes ready

  bool push(task t) {
    {
      std::unique_lock lk(mu);
      if (queue.size() >= max_waiting) {
        lk.unlock();
        t = nullptr;  // destroyed unlocked, like every task
        return false;
      }
      queue.push_back(std::move(t));
      if (in_turn || running) return true;  // whoever ends the turn (or the running loop) starts it
      running = true;
    }
    run_ready();
    return true;
  }

  void end_turn() {
    {
      std::lock_guard lk(mu);
      in_turn = false;
      // The running loop (perhaps this very thread, further up the stack: the task ended its
      // turn synchronously) starts the next task; starting it here would nest.
      if (running || queue.empty()) return;
      running = true;
    }
    run_ready();
  }

  // The trampoline: starts tasks while each ends its turn before returning. Entered with
  // running == true; leaves it false once a turn is under way or nothing waits.
  void run_ready() {
    std::unique_lock lk(mu);
    while (!in_turn && !queue.empty()) {
      task next = std::move(queue.front());
      queue.pop_front();
      in_turn = true;
      lk.unlock();
      try {
        next(turn(std::make_shared<turn::state>(shared_from_this())));
      } catch (...) {
        // Swallowed: the tasks behind must still run. The turn ends as always, when the task
        // ends it or its last copy goes (the temporary one went with the exception).
      }
      next = nullptr;  // its captures (perhaps turns) go before the lock is taken again
      lk.lock();
    }
    running = false;
  }
};

struct sequencer::turn::state {
  explicit state(std::shared_ptr<core> c) : owner(std::move(c)) {}
  state(const state&) = delete;
  state& operator=(const state&) = delete;
  ~state() { end(); }  // the last copy of a turn ends it

  void end() {
    if (!ended.exchange(true, std::memory_order_acq_rel)) owner->end_turn();
  }

  std::shared_ptr<core> owner;
  std::atomic<bool> ended{false};
};

void sequencer::turn::end() const { state_->end(); }

bool sequencer::turn::ended() const noexcept { return state_->ended.load(std::memory_order_acquire); }

sequencer::sequencer(std::size_t max_waiting) : core_(std::make_shared<core>(max_waiting)) {}

bool sequencer::push(task t) { return core_->push(std::move(t)); }

std::size_t sequencer::waiting() const {
  std::lock_guard lk(core_->mu);
  return core_->queue.size();
}

}  // namespace parley
