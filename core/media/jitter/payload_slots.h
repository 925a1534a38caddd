// Fixed-size payload storage for the jitter buffers: `count` slots of `slot_bytes` each, allocated once.
// Storing copies a payload into its slot and never allocates; slot i is addressed by the caller's own index
// (typically sequence number modulo the capacity).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace tandem::media {

class PayloadSlots {
 public:
  PayloadSlots(size_t count, size_t slot_bytes)
      : slot_bytes_(slot_bytes), bytes_(count * slot_bytes), sizes_(count) {}

  size_t slot_bytes() const { return slot_bytes_; }
  // The caller has checked payload.size() <= slot_bytes().
  void store(size_t slot, std::span<const uint8_t> payload) {
    if (!payload.empty()) std::memcpy(&bytes_[slot * slot_bytes_], payload.data(), payload.size());
    sizes_[slot] = static_cast<uint32_t>(payload.size());
  }
  std::span<const uint8_t> view(size_t slot) const {
    return std::span<const uint8_t>(bytes_.data() + slot * slot_bytes_, sizes_[slot]);
  }

 private:
  size_t slot_bytes_;
  std::vector<uint8_t> bytes_;
  std::vector<uint32_t> sizes_;
};

}  // namespace tandem::media
