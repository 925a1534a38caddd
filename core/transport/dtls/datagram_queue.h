// A bounded FIFO of byte strings whose buffers are reused: once the queue has held N items of up to S bytes,
// pushing and popping N items of up to S bytes again never allocates. Internal to the DTLS endpoint, which
// queues the datagrams it sends and the application records it receives in two of these.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tandem::transport::detail {

class DatagramQueue {
 public:
  // `limit` items at most; each slot is created with `reserve` bytes of capacity.
  DatagramQueue(size_t limit, size_t reserve) : limit_(limit), reserve_(reserve) {}

  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  bool full() const { return count_ == limit_; }

  // Copies `bytes` in; false (and nothing queued) when `limit` items are already queued.
  bool push(std::span<const uint8_t> bytes) {
    if (full()) return false;
    if (count_ == slots_.size()) grow();
    auto& slot = slots_[(head_ + count_) % slots_.size()];
    slot.assign(bytes.begin(), bytes.end());  // reuses the slot's capacity
    ++count_;
    return true;
  }

  // The oldest item, removed from the queue; its bytes stay valid until the next push() (the slot is then
  // free for reuse), which the endpoint documents as "until the next call".
  std::span<const uint8_t> pop() {
    const auto& slot = slots_[head_];
    head_ = (head_ + 1) % slots_.size();
    --count_;
    return slot;
  }

  void clear() { head_ = count_ = 0; }

 private:
  void grow() {
    // Put the live items first so the new slot extends the ring at its end. Moving a vector keeps its heap
    // buffer, so spans into popped slots stay valid.
    std::rotate(slots_.begin(), slots_.begin() + static_cast<std::ptrdiff_t>(head_), slots_.end());
    head_ = 0;
    slots_.emplace_back().reserve(reserve_);
  }

  size_t limit_;
  size_t reserve_;
  std::vector<std::vector<uint8_t>> slots_;
  size_t head_ = 0;
  size_t count_ = 0;
};

}  // namespace tandem::transport::detail
