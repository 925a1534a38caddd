#include "core/media/jitter/video_frame_assembler.h"

#include <algorithm>
#include <cstring>

#include "core/media/jitter/unwrap.h"

namespace tandem::media {

Result<VideoFrameAssembler> VideoFrameAssembler::create(const VideoAssemblerConfig& config) {
  if (config.capacity == 0 || config.capacity > 32768 || config.max_payload == 0 || config.max_frame_bytes == 0) {
    return Error{Errc::invalid_argument, "video assembler sizes must be > 0 (capacity <= 32768)"};
  }
  return VideoFrameAssembler(config);
}

VideoFrameAssembler::VideoFrameAssembler(const VideoAssemblerConfig& config)
    : config_(config),
      slots_(config.capacity),
      payloads_(config.capacity, config.max_payload),
      frame_(config.max_frame_bytes) {}

const VideoFrameAssembler::Slot* VideoFrameAssembler::present(int64_t seq) const {
  const Slot& s = slots_[index(seq)];
  return s.present && s.seq == seq ? &s : nullptr;
}

Result<void> VideoFrameAssembler::insert(const MediaPacket& packet, uint64_t now_ns) {
  if (packet.payload.size() > payloads_.slot_bytes()) {
    ++stats_.rejected;
    return {Errc::malformed_packet, "video payload larger than max_payload"};
  }
  if (!started_) {
    started_ = true;
    head_ = newest_ = highest_ = kFirstExtended + packet.seq;
  }
  const int64_t seq = extend_seq(newest_, packet.seq);
  const auto capacity = static_cast<int64_t>(slots_.size());
  Slot& slot = slots_[index(seq)];
  if (slot.seq == seq && (slot.present || seq < head_)) {
    ++stats_.duplicates;
    return {};
  }
  if (seq < head_) {
    // Before anything came out, an earlier packet just moves the start back (the first ones arrived reordered).
    if (released_any_ || highest_ - seq >= capacity) {
      ++stats_.late;
      if (!slot.present) slot = Slot{seq, packet.rtp_timestamp, packet.arrival_ns};  // for duplicate detection
      return {};
    }
    head_ = seq;
  }
  if (seq - head_ >= capacity) {
    // The oldest frames have blocked for as long as the buffer can hold: force them out.
    const int64_t new_head = seq - capacity + 1;
    discard(head_, next_frame_start_after(new_head - 1).value_or(new_head), false, now_ns);
    head_ = std::max(head_, new_head);
  }
  newest_ = seq;
  highest_ = std::max(highest_, seq);
  slot = Slot{seq, packet.rtp_timestamp, packet.arrival_ns, true, packet.frame_start, packet.marker, packet.keyframe};
  payloads_.store(index(seq), packet.payload);
  ++buffered_;
  ++stats_.packets_received;
  return {};
}

VideoFrameAssembler::Scan VideoFrameAssembler::scan_frame(int64_t first) const {
  const uint32_t ts = present(first)->ts;
  for (int64_t s = first;; ++s) {
    const Slot* p = present(s);
    if (p == nullptr) return {s > highest_ ? Scan::in_progress : Scan::gap, s};
    if (p->ts != ts) return {Scan::complete, s};  // a sender that forgot the marker: the next frame began
    if (p->marker) return {Scan::complete, s + 1};
  }
}

std::optional<int64_t> VideoFrameAssembler::next_frame_start_after(int64_t seq) const {
  for (int64_t s = seq + 1; s <= highest_; ++s) {
    const Slot* p = present(s);
    if (p != nullptr && p->frame_start) return s;
  }
  return std::nullopt;
}

std::optional<int64_t> VideoFrameAssembler::find_complete_keyframe() const {
  for (int64_t s = head_ + 1; s <= highest_; ++s) {
    const Slot* p = present(s);
    if (p != nullptr && p->frame_start && p->keyframe && scan_frame(s).kind == Scan::complete) return s;
  }
  return std::nullopt;
}

uint64_t VideoFrameAssembler::gap_deadline(int64_t missing) const {
  // The gap became known when the first packet after it arrived; NACKs have had since then to repair it.
  for (int64_t s = missing + 1; s <= highest_; ++s) {
    if (const Slot* p = present(s)) return p->arrival_ns + config_.max_wait_ns;
  }
  return UINT64_MAX;  // unreachable while something is buffered after the gap
}

void VideoFrameAssembler::discard(int64_t from, int64_t to, bool undecodable, uint64_t now_ns) {
  uint64_t frames = 0;
  bool any = false;
  // Only [head_, head_ + capacity) can hold packets, so a huge range costs no more than the capacity.
  const int64_t end = std::min(to, from + static_cast<int64_t>(slots_.size()));
  for (int64_t s = from; s < end; ++s) {
    Slot& slot = slots_[index(s)];
    if (!slot.present || slot.seq != s) continue;
    slot.present = false;
    --buffered_;
    any = true;
    if (last_dropped_ts_ != slot.ts) ++frames;
    last_dropped_ts_ = slot.ts;
  }
  if (!any && !undecodable) frames = 1;  // a frame none of whose packets arrived
  (undecodable ? stats_.frames_undecodable : stats_.frames_incomplete) += frames;
  head_ = std::max(head_, to);
  released_any_ = true;
  if (!undecodable) need_keyframe_ = true;
  if (need_keyframe_ && !requested_) request_keyframe(now_ns);
}

void VideoFrameAssembler::request_keyframe(uint64_t now_ns) {
  ++stats_.keyframe_requests;
  request_pending_ = true;
  requested_ = true;
  last_request_ns_ = now_ns;
}

bool VideoFrameAssembler::take_keyframe_request() {
  const bool pending = request_pending_;
  request_pending_ = false;
  return pending;
}

AssembledFrame VideoFrameAssembler::release(int64_t first, int64_t end) {
  AssembledFrame out;
  out.first_seq = static_cast<uint16_t>(first);
  out.last_seq = static_cast<uint16_t>(end - 1);
  out.first_arrival_ns = UINT64_MAX;
  size_t size = 0;
  for (int64_t s = first; s < end; ++s) {
    Slot& slot = slots_[index(s)];
    const auto payload = payloads_.view(index(s));
    if (!payload.empty()) std::memcpy(frame_.data() + size, payload.data(), payload.size());
    size += payload.size();
    out.keyframe = out.keyframe || slot.keyframe;
    out.first_arrival_ns = std::min(out.first_arrival_ns, slot.arrival_ns);
    out.complete_ns = std::max(out.complete_ns, slot.arrival_ns);
    slot.present = false;
  }
  out.data = std::span<const uint8_t>(frame_.data(), size);
  out.rtp_timestamp = slots_[index(first)].ts;
  out.packets = static_cast<uint32_t>(end - first);
  buffered_ -= out.packets;
  head_ = end;
  released_any_ = true;
  if (out.keyframe) need_keyframe_ = requested_ = false;
  ++stats_.frames_complete;
  return out;
}

std::optional<AssembledFrame> VideoFrameAssembler::poll_frame(uint64_t now_ns) {
  gap_deadline_ns_.reset();
  if (need_keyframe_ && requested_ && now_ns >= last_request_ns_ + config_.keyframe_retry_ns) {
    request_keyframe(now_ns);  // the request or its keyframe was lost
  }
  while (buffered_ > 0) {
    const Slot* first = present(head_);
    if (first != nullptr && !first->frame_start) {
      // The rest of a frame whose start is gone. At the very beginning the start may still be on its way
      // (reordering), so it gets the gap wait; later it cannot come any more (it is older than head_).
      const uint64_t deadline = first->arrival_ns + config_.max_wait_ns;
      if (!released_any_ && now_ns < deadline) {
        gap_deadline_ns_ = deadline;
        return std::nullopt;
      }
      discard(head_, head_ + 1, false, now_ns);
      continue;
    }
    const Scan scan = first != nullptr ? scan_frame(head_) : Scan{Scan::gap, head_};
    if (scan.kind == Scan::in_progress) return std::nullopt;
    if (scan.kind == Scan::complete) {
      size_t size = 0;
      bool keyframe = false;  // any packet may carry the flag (e.g. the IDR after SPS/PPS in H.264)
      for (int64_t s = head_; s < scan.end; ++s) {
        size += payloads_.view(index(s)).size();
        keyframe = keyframe || slots_[index(s)].keyframe;
      }
      if (size > frame_.size()) {
        discard(head_, scan.end, false, now_ns);
      } else if (need_keyframe_ && !keyframe) {
        discard(head_, scan.end, true, now_ns);
      } else {
        return release(head_, scan.end);
      }
      continue;
    }
    // A known gap. When the decoder needs a keyframe anyway, one that is ready ends the wait.
    if (need_keyframe_) {
      if (const auto keyframe = find_complete_keyframe()) {
        discard(head_, *keyframe, true, now_ns);
        continue;
      }
    }
    const uint64_t deadline = gap_deadline(scan.end);
    if (now_ns < deadline) {
      gap_deadline_ns_ = deadline;
      return std::nullopt;
    }
    discard(head_, next_frame_start_after(head_).value_or(highest_ + 1), false, now_ns);
  }
  return std::nullopt;
}

std::optional<uint64_t> VideoFrameAssembler::next_timeout() const {
  std::optional<uint64_t> t = gap_deadline_ns_;
  if (need_keyframe_ && requested_) {
    const uint64_t retry = last_request_ns_ + config_.keyframe_retry_ns;
    t = t ? std::min(*t, retry) : retry;
  }
  return t;
}

}  // namespace tandem::media
