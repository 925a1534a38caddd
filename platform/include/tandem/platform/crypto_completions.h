// The delivery half every AsyncCrypto implementation shares: finished operations are queued, and one task
// per batch, posted on the runtime, hands them to their handlers. One task per batch (not per operation)
// keeps the runner's queue short when a frame burst completes together, and a lambda capturing only `this`
// fits std::function's inline storage, so queueing a completion does not allocate.
#pragma once

#include <algorithm>
#include <utility>
#include <vector>

#include "tandem/platform/crypto.h"
#include "tandem/platform/platform.h"

namespace tandem::platform {

class CryptoCompletionQueue {
 public:
  // reverse: each batch is delivered last-first. Only tests want that (FakePlatform), to prove that callers
  // cope with completions out of submission order as WebCrypto may produce them.
  enum class Order : uint8_t { fifo, reverse };

  // The owner must make sure a posted delivery task never runs after this queue is gone (stop or clear the
  // runner first).
  explicit CryptoCompletionQueue(TaskRunner& runner, size_t reserve = 64) : runner_(runner) {
    queued_.reserve(reserve);
    delivering_.reserve(reserve);
  }
  CryptoCompletionQueue(const CryptoCompletionQueue&) = delete;
  CryptoCompletionQueue& operator=(const CryptoCompletionQueue&) = delete;

  void set_order(Order order) { order_ = order; }

  // Call on the runtime. The completion reaches `handler` from a later task, never from inside push().
  void push(CryptoCompletionHandler& handler, const CryptoCompletion& completion) {
    queued_.push_back({&handler, completion});
    if (!posted_) {
      posted_ = true;
      runner_.post([this] { deliver(); });
    }
  }

  // Nothing more reaches `handler`, including completions of the batch being delivered right now.
  void cancel(CryptoCompletionHandler& handler) {
    for (auto& e : queued_) {
      if (e.handler == &handler) e.handler = nullptr;
    }
    for (auto& e : delivering_) {
      if (e.handler == &handler) e.handler = nullptr;
    }
  }

  size_t pending() const { return queued_.size(); }

 private:
  struct Entry {
    CryptoCompletionHandler* handler;
    CryptoCompletion completion;
  };

  void deliver() {
    posted_ = false;
    // Handlers may start new operations (they land in queued_ and post the next batch) or cancel.
    std::swap(queued_, delivering_);
    if (order_ == Order::reverse) std::reverse(delivering_.begin(), delivering_.end());
    for (size_t i = 0; i < delivering_.size(); ++i) {
      const Entry e = delivering_[i];
      if (e.handler != nullptr) e.handler->on_crypto_complete(e.completion);
    }
    delivering_.clear();  // keeps its capacity for the next swap
  }

  TaskRunner& runner_;
  std::vector<Entry> queued_;
  std::vector<Entry> delivering_;
  Order order_ = Order::fifo;
  bool posted_ = false;
};

}  // namespace tandem::platform
