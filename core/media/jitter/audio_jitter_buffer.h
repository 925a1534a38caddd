// An adaptive jitter buffer for audio packets (one packet = one frame, e.g. 20 ms of Opus), sans-IO.
//
// insert(packet) stores a copy; pop(now) returns what the renderer should play next once it is due:
//   - frame: the next packet in sequence order;
//   - lost:  the next frame is missing at its playout time; the decoder conceals it (PLC, or FEC from the
//            following packet, which may already be buffered);
//   - none:  nothing is due yet (or the stream is idle).
// Call pop() until it returns none whenever the renderer wants audio. Every sequence number from the first
// one played comes out exactly once, as frame or lost, in order; a packet arriving after its frame came out
// is counted late and dropped. A packet already held (or already played) is counted duplicate and dropped.
//
// Playout schedule. A frame with RTP timestamp ts plays at media(ts) + offset, where media() converts the
// timestamp to ns from the stream's first packet and `offset` is the playout delay. Per packet, transit =
// arrival - media(ts). Over the last `delay_window` packets the buffer keeps the smallest transit (the path
// with no queueing) and the `delay_quantile` of transit above it (how much later than that packets arrive):
//   target delay  = clamp(quantile(transit) - min(transit), min_delay_ns, max_delay_ns)
//   wanted offset = min(transit) + target delay
// so about (1 - delay_quantile) of packets would miss their playout under the recent jitter. The offset jumps
// to the wanted value until the first frame of a talk spurt is played, then moves towards it by at most
// `delay_step_ns` per frame handed out: the renderer sees small gaps or overlaps it can absorb by stretching
// or shortening audio, instead of a jump. The window also makes clock drift between sender and receiver
// harmless: min(transit) follows it.
//
// Silence. If nothing is buffered when the next frame is due, the buffer still reports it lost (the sender
// might have sent it), up to `max_underrun_frames` in a row; then it goes idle and the next packet starts a
// new schedule. A packet with the RTP marker (first packet after a silence, RFC 3551 section 4.1) that is
// still in the future also restarts the schedule, so frames guessed lost during a DTX pause do not make the
// resumed talk spurt late.
//
// Jitter is also measured as RFC 3550 (section 6.4.1, A.8) defines it, for receiver reports.
//
// Memory: `capacity` slots of `max_payload` bytes and the delay window are allocated by create(); insert()
// and pop() never allocate. A packet more than `capacity` numbers ahead of the next frame to play means the
// stream jumped (a sender restart): the buffer resets and starts over from that packet (counted in resets).
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

struct AudioJitterConfig {
  uint32_t clock_rate = 48000;
  uint32_t frame_samples = 960;  // RTP timestamp ticks per packet (20 ms at 48 kHz)
  size_t capacity = 64;          // packets held at once
  size_t max_payload = 1500;
  uint64_t min_delay_ns = 20'000'000;
  uint64_t max_delay_ns = 500'000'000;  // must fit in capacity frames
  double delay_quantile = 0.97;
  size_t delay_window = 128;  // packets the delay rule looks back over (2.56 s at 20 ms)
  uint64_t delay_step_ns = 5'000'000;
  uint32_t max_underrun_frames = 50;
};

enum class AudioPop : uint8_t { none, frame, lost };

struct AudioOutput {
  AudioPop kind = AudioPop::none;
  uint16_t seq = 0;  // for lost: the number the missing frame had (guessed during an underrun)
  uint32_t rtp_timestamp = 0;
  int64_t playout_ns = 0;  // when it was due
  std::span<const uint8_t> payload;  // frame only; valid until the next insert() or pop()
};

struct AudioJitterStats {
  uint64_t packets_received = 0;  // distinct packets, late ones included
  uint64_t lost = 0;              // expected minus received (RFC 3550 cumulative loss; late is received)
  uint64_t late = 0;
  uint64_t duplicates = 0;
  uint64_t rejected = 0;  // payload larger than max_payload
  uint64_t played = 0;
  uint64_t concealed = 0;  // pops that returned lost
  uint64_t resets = 0;
  uint64_t jitter_ns = 0;   // RFC 3550 interarrival jitter
  uint32_t jitter_rtp = 0;  // the same in timestamp units, as a receiver report carries it
  uint64_t target_delay_ns = 0;
  uint64_t current_delay_ns = 0;  // the playout offset above the fastest recent transit
  size_t buffered = 0;
};

class AudioJitterBuffer {
 public:
  // Errc::invalid_argument for zero sizes or rates, min_delay > max_delay, a max_delay longer than capacity
  // frames, or a quantile outside (0, 1].
  static Result<AudioJitterBuffer> create(const AudioJitterConfig& config = {});

  // Errc::malformed_packet if the payload is larger than max_payload (counted as rejected). Late packets and
  // duplicates are not errors: they are counted and dropped.
  Result<void> insert(const MediaPacket& packet);
  AudioOutput pop(uint64_t now_ns);
  // The next frame pop() will hand out, if it is buffered, without taking it and whether or not it is due
  // (kind frame; none otherwise). After pop() returned `lost`, this is the packet after the missing one: the
  // one whose in-band FEC can rebuild it. The payload is valid until the next insert() or pop().
  AudioOutput peek() const;
  // When pop() next has something to do (a frame or a loss falls due); nothing while idle.
  std::optional<uint64_t> next_due_ns() const;

  AudioJitterStats stats() const;

 private:
  struct Slot {
    int64_t seq = -1;  // extended; kept after the frame is played so duplicates are recognised
    int64_t ts = 0;    // extended
    bool buffered = false;
  };

  explicit AudioJitterBuffer(const AudioJitterConfig& config);
  Slot& slot(int64_t seq) { return slots_[static_cast<size_t>(seq % static_cast<int64_t>(slots_.size()))]; }
  size_t slot_index(int64_t seq) const { return static_cast<size_t>(seq % static_cast<int64_t>(slots_.size())); }
  int64_t media_ns(int64_t ts) const;
  int64_t playout_ns(int64_t ts) const { return media_ns(ts) + offset_ns_; }
  void measure(int64_t ts, uint64_t arrival_ns);
  void restart_schedule(int64_t seq, int64_t ts);
  void reset();
  void store(int64_t seq, int64_t ts, const MediaPacket& packet);
  void advance(int64_t played_ts);

  AudioJitterConfig config_;
  std::vector<Slot> slots_;
  PayloadSlots payloads_;
  size_t buffered_ = 0;

  // Sequence and timestamp bookkeeping (extended numbers, see unwrap.h).
  bool seen_any_ = false;
  int64_t newest_seq_ = 0;   // reference for extending the next sequence number
  int64_t newest_ts_ = 0;    // reference for extending the next timestamp
  int64_t base_ts_ = 0;      // media time zero
  int64_t lowest_seq_ = 0;   // for the RFC 3550 loss count
  int64_t highest_seq_ = 0;
  uint64_t lost_before_reset_ = 0;
  uint64_t received_before_reset_ = 0;

  // Playout.
  bool idle_ = true;
  bool played_since_restart_ = false;
  int64_t next_seq_ = 0;   // the next frame to hand out
  int64_t cursor_ts_ = 0;  // its timestamp, or the guess for it when it is missing
  int64_t offset_ns_ = 0;
  uint32_t underrun_run_ = 0;

  // Delay estimation.
  std::vector<int64_t> transits_;  // ring of the last delay_window transits
  std::vector<int64_t> scratch_;   // for the quantile, so it never allocates
  size_t transit_count_ = 0;
  size_t transit_next_ = 0;
  int64_t min_transit_ = 0;
  int64_t wanted_offset_ns_ = 0;
  uint64_t target_delay_ns_ = 0;
  bool have_last_transit_ = false;
  int64_t last_transit_ = 0;
  double jitter_ns_ = 0.0;

  AudioJitterStats counts_;  // the counters; stats() fills in the derived fields
};

}  // namespace tandem::media
