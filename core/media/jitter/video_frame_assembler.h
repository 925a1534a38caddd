// Assembles video frames from packets and releases complete frames in decode order, sans-IO.
//
// A frame is a run of consecutive sequence numbers from a packet with frame_start to one with the marker bit,
// all with the same RTP timestamp. insert(packet, now) stores a copy of the packet; poll_frame(now) returns the
// next frame once all its packets are in, its payloads concatenated in sequence order. Frames come out in
// sequence-number order only, so a complete frame waits behind an earlier incomplete one: the decoder never
// sees a frame whose predecessor it has not seen (a simplification of reference tracking that is exact for
// streams where each frame depends on the one before, as in real-time VP8/H.264 without layers).
//
// Loss. A frame is blocked when one of its packets is missing while a later packet has arrived (the gap is
// known). It waits up to `max_wait_ns` from the arrival of the first packet after the gap, which is the time
// NACKs have to repair it; then it is dropped (frames_incomplete). A dropped frame breaks the reference chain,
// so the assembler asks for a keyframe (take_keyframe_request(); send a PLI or FIR) and discards complete
// non-keyframes until a keyframe is released (frames_undecodable). While waiting for a keyframe, a complete
// keyframe further on is released at once and everything before it dropped. The request repeats every
// `keyframe_retry_ns` until a keyframe comes. A stream that starts with a non-keyframe asks for one too.
//
// Memory: `capacity` packet slots of `max_payload` bytes and one frame buffer of `max_frame_bytes` are allocated
// by create(); nothing allocates afterwards. A packet `capacity` or more numbers ahead of the oldest unreleased
// one forces the frames in the way out (dropped, keyframe requested): the buffer cannot wait that long.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/common/error.h"
#include "core/media/jitter/media_packet.h"
#include "core/media/jitter/payload_slots.h"

namespace tandem::media {

struct VideoAssemblerConfig {
  size_t capacity = 512;  // packets held at once
  size_t max_payload = 1500;
  size_t max_frame_bytes = 1 << 20;  // larger frames are dropped as if incomplete
  uint64_t max_wait_ns = 500'000'000;  // how long a known gap may block; ~ retries x RTT of the NACK loop
  uint64_t keyframe_retry_ns = 1'000'000'000;
};

struct AssembledFrame {
  std::span<const uint8_t> data;  // payloads in sequence order; valid until the next poll_frame()
  uint32_t rtp_timestamp = 0;
  uint16_t first_seq = 0;
  uint16_t last_seq = 0;
  uint32_t packets = 0;
  bool keyframe = false;
  uint64_t first_arrival_ns = 0;  // earliest packet arrival
  uint64_t complete_ns = 0;       // latest packet arrival: when the frame became complete
};

struct VideoAssemblerStats {
  uint64_t packets_received = 0;  // stored (not duplicates, late or rejected)
  uint64_t duplicates = 0;
  uint64_t late = 0;       // arrived after their frame was released or dropped
  uint64_t rejected = 0;   // payload larger than max_payload
  uint64_t frames_complete = 0;     // released to the decoder
  uint64_t frames_incomplete = 0;   // dropped: a packet never came in time (or the frame was too large)
  uint64_t frames_undecodable = 0;  // complete, but dropped while waiting for a keyframe
  uint64_t keyframe_requests = 0;
  uint64_t frames_dropped() const { return frames_incomplete + frames_undecodable; }
};

class VideoFrameAssembler {
 public:
  static Result<VideoFrameAssembler> create(const VideoAssemblerConfig& config = {});

  // Errc::malformed_packet if the payload is larger than max_payload (counted as rejected). Duplicates and
  // late packets are counted and dropped, not errors.
  Result<void> insert(const MediaPacket& packet, uint64_t now_ns);
  // The next decodable complete frame, if there is one. Also applies the gap deadline and the keyframe
  // request timer, so call it after inserts and at next_timeout().
  std::optional<AssembledFrame> poll_frame(uint64_t now_ns);
  // When poll_frame() has something to do without new packets (a gap deadline or a keyframe re-request).
  std::optional<uint64_t> next_timeout() const;

  // True once per keyframe request: the caller sends a PLI/FIR to the sender.
  bool take_keyframe_request();
  bool waiting_for_keyframe() const { return need_keyframe_; }
  // The oldest sequence number still wanted: NACKs for anything older are useless (NackTracker::forget_before).
  uint16_t oldest_wanted_seq() const { return static_cast<uint16_t>(head_); }

  const VideoAssemblerStats& stats() const { return stats_; }

 private:
  struct Slot {
    int64_t seq = -1;  // extended; kept after release so duplicates are recognised
    uint32_t ts = 0;
    uint64_t arrival_ns = 0;
    bool present = false;  // buffered, not yet released or dropped
    bool frame_start = false;
    bool marker = false;
    bool keyframe = false;
  };
  // What the frame starting at a given packet looks like.
  struct Scan {
    enum Kind : uint8_t { complete, gap, in_progress } kind = in_progress;
    int64_t end = 0;  // complete: one past the last packet; gap: the first missing number
  };

  explicit VideoFrameAssembler(const VideoAssemblerConfig& config);
  size_t index(int64_t seq) const { return static_cast<size_t>(seq % static_cast<int64_t>(slots_.size())); }
  const Slot* present(int64_t seq) const;
  Scan scan_frame(int64_t first) const;
  std::optional<int64_t> find_complete_keyframe() const;
  std::optional<int64_t> next_frame_start_after(int64_t seq) const;
  uint64_t gap_deadline(int64_t missing) const;
  // Drops [from, to) and moves head_ to `to`; undecodable = complete frames the decoder cannot use.
  void discard(int64_t from, int64_t to, bool undecodable, uint64_t now_ns);
  void request_keyframe(uint64_t now_ns);
  AssembledFrame release(int64_t first, int64_t end);

  VideoAssemblerConfig config_;
  std::vector<Slot> slots_;
  PayloadSlots payloads_;
  std::vector<uint8_t> frame_;  // the released frame's bytes
  VideoAssemblerStats stats_;
  size_t buffered_ = 0;

  bool started_ = false;
  bool released_any_ = false;
  int64_t head_ = 0;     // extended number of the oldest packet not yet released or dropped
  int64_t newest_ = 0;   // reference for extending sequence numbers
  int64_t highest_ = 0;  // the highest number stored
  std::optional<uint32_t> last_dropped_ts_;  // so one broken frame is counted once

  bool need_keyframe_ = true;  // the decoder has no valid reference yet
  bool request_pending_ = false;
  bool requested_ = false;  // a request went out since need_keyframe_ became true
  uint64_t last_request_ns_ = 0;
  std::optional<uint64_t> gap_deadline_ns_;  // of the blocked head frame, as of the last poll_frame()
};

}  // namespace tandem::media
