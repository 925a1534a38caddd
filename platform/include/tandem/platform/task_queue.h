// The queue behind every TaskRunner implementation (the native runtime thread, the wasm worker loop, the
// tests' manual runner): FIFO immediate tasks plus timers ordered by (deadline, post order).
// Not thread-safe; each runner wraps it with whatever synchronisation its target needs.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include "tandem/platform/platform.h"

namespace tandem::platform {

class TaskQueue {
 public:
  void push(Task task) { immediate_.push_back(std::move(task)); }

  TimerId push_at(uint64_t deadline_ns, Task task) {
    const TimerId id = next_id_++;
    timers_.emplace(Key{deadline_ns, id}, std::move(task));
    deadlines_.emplace(id, deadline_ns);
    return id;
  }

  bool cancel(TimerId id) {
    auto it = deadlines_.find(id);
    if (it == deadlines_.end()) return false;
    timers_.erase(Key{it->second, id});
    deadlines_.erase(it);
    return true;
  }

  // The next task to run at time `now`: a due timer first (so a stream of immediate tasks cannot starve
  // timers), else the oldest immediate task.
  std::optional<Task> pop_ready(uint64_t now) {
    if (!timers_.empty() && timers_.begin()->first.first <= now) {
      auto node = timers_.extract(timers_.begin());
      deadlines_.erase(node.key().second);
      return std::move(node.mapped());
    }
    if (!immediate_.empty()) {
      Task t = std::move(immediate_.front());
      immediate_.pop_front();
      return t;
    }
    return std::nullopt;
  }

  bool has_immediate() const { return !immediate_.empty(); }
  std::optional<uint64_t> next_deadline() const {
    if (timers_.empty()) return std::nullopt;
    return timers_.begin()->first.first;
  }
  bool empty() const { return immediate_.empty() && timers_.empty(); }
  size_t size() const { return immediate_.size() + timers_.size(); }
  void clear() {
    immediate_.clear();
    timers_.clear();
    deadlines_.clear();
  }

 private:
  using Key = std::pair<uint64_t, TimerId>;  // (deadline, id): ids grow, so equal deadlines stay FIFO
  std::deque<Task> immediate_;
  std::map<Key, Task> timers_;
  std::unordered_map<TimerId, uint64_t> deadlines_;
  TimerId next_id_ = 1;
};

}  // namespace tandem::platform
