// Frame buffers lent to an in-order asynchronous stage (the E2EE FrameCryptor): taken at the tail when a frame
// is submitted, given back at the head when it is delivered, in the same order.
//
// Because frames come back in submission order, one byte ring serves frames of any size (a 60 KB keyframe
// and 2 KB delta frames share it) without fixed slots sized for the worst case. Each frame's bytes are
// contiguous: a frame that does not fit before the end of the ring starts again at its front. Each frame
// carries a small caller-defined `Meta` (its RTP timestamp, submission time...).
//
// All memory is allocated by the constructor; push() and pop() never allocate. Runtime-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tandem::media {

template <class Meta>
class LentFrames {
 public:
  LentFrames() = default;
  LentFrames(size_t bytes, size_t max_frames) : bytes_(bytes), frames_(max_frames) {}

  // Reserves `size` contiguous bytes for a new frame (the newest); empty if there is no room.
  std::span<uint8_t> push(size_t size, const Meta& meta) {
    if (count_ == frames_.size() || size == 0 || size > bytes_.size()) return {};
    size_t offset = 0;
    if (count_ > 0) {
      const Frame& oldest = frames_[head_];
      const Frame& newest = frames_[(head_ + count_ - 1) % frames_.size()];
      const size_t end = newest.offset + newest.size;
      if (newest.offset >= oldest.offset) {  // not wrapped: free space after the newest, then before the oldest
        if (end + size <= bytes_.size()) {
          offset = end;
        } else if (size <= oldest.offset) {
          offset = 0;
        } else {
          return {};
        }
      } else if (end + size <= oldest.offset) {  // wrapped: free space between the newest and the oldest
        offset = end;
      } else {
        return {};
      }
    }
    frames_[(head_ + count_) % frames_.size()] = {offset, size, meta};
    ++count_;
    return std::span<uint8_t>(bytes_).subspan(offset, size);
  }

  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  // The oldest frame (not empty()).
  Meta& front_meta() { return frames_[head_].meta; }
  std::span<uint8_t> front_bytes() {
    return std::span<uint8_t>(bytes_).subspan(frames_[head_].offset, frames_[head_].size);
  }
  void pop() {
    if (count_ == 0) return;
    head_ = (head_ + 1) % frames_.size();
    --count_;
  }
  // Takes back the frame push() just reserved (the asynchronous stage refused it).
  void pop_newest() {
    if (count_ > 0) --count_;
  }

 private:
  struct Frame {
    size_t offset = 0;
    size_t size = 0;
    Meta meta{};
  };
  std::vector<uint8_t> bytes_;
  std::vector<Frame> frames_;  // a ring of max_frames entries
  size_t head_ = 0;
  size_t count_ = 0;
};

}  // namespace tandem::media
