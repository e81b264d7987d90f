#pragma once
// A sequencer runs asynchronous tasks one at a time, in the order they were pushed. A task is
// given a `turn`; the next task starts once that turn has ended: turn.end() was called, or the
// last copy of the turn was destroyed (so a task that gives up, or whose callback is dropped,
// cannot stall the ones behind it).
//
//   parley::sequencer order(256);
//   order.push([&](parley::sequencer::turn t) {      // runs now, or when the previous turn ends
//     db.get_conversation(id, [&, t](auto r) {        // later, on a store thread
//       if (r) db.insert_message(m, on_stored);       // queued before the next task's insert
//       t.end();                                      // the next task may start (on this thread)
//     });
//   });
//
// The chat service keeps one per socket, so that one sender's messages reach the store in the
// order they arrived, whatever asynchronous steps (a lookup, file writes) come before the insert.
//
// Threading: push and turn::end are safe from any thread. A task runs on the thread that pushed
// it (when no turn is under way) or on the thread that ended the previous turn. Never nested: a
// turn that ends inside its own task (a step that completed at once) only marks it so, and the
// loop already running starts the next task when that task returns; however many tasks complete
// synchronously, the stack does not grow. No lock is held while a task runs or is destroyed.
// Bounded: at most `max_waiting` tasks wait behind the running one; push refuses more.
// A task should not throw: an exception is swallowed (and the turn ends) so that the tasks
// behind it still run; report errors from inside the task.
#include <cstddef>
#include <functional>
#include <memory>
#include <utility>

namespace parley {

class sequencer {
  struct core;  // the queue and its lock, shared with the turns (which may outlive the sequencer)

 public:
  class turn {
   public:
    // Lets the next task start. Once per turn; later calls (and copies' calls) do nothing.
    void end() const;
    bool ended() const noexcept;

   private:
    friend struct sequencer::core;
    struct state;
    explicit turn(std::shared_ptr<state> s) : state_(std::move(s)) {}
    std::shared_ptr<state> state_;
  };
  using task = std::function<void(turn)>;

  explicit sequencer(std::size_t max_waiting);
  sequencer(sequencer&&) noexcept = default;
  sequencer& operator=(sequencer&&) noexcept = default;

  // Runs `t` now when no turn is under way, else queues it behind the others. false when
  // max_waiting tasks wait already: `t` is then dropped without running.
  bool push(task t);
  // Tasks waiting for their turn (not counting the running one).
  std::size_t waiting() const;

 private:
  std::shared_ptr<core> core_;
};

}  // namespace parley
