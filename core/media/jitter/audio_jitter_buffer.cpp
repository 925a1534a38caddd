#include "core/media/jitter/audio_jitter_buffer.h"

#include <algorithm>
#include <cmath>

#include "core/media/jitter/unwrap.h"

namespace tandem::media {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;

}  // namespace

Result<AudioJitterBuffer> AudioJitterBuffer::create(const AudioJitterConfig& config) {
  if (config.clock_rate == 0 || config.frame_samples == 0 || config.capacity == 0 || config.capacity > 32768 ||
      config.max_payload == 0 || config.delay_window == 0) {
    return Error{Errc::invalid_argument, "audio jitter buffer sizes and rates must be > 0 (capacity <= 32768)"};
  }
  if (config.min_delay_ns > config.max_delay_ns) {
    return Error{Errc::invalid_argument, "min_delay_ns must not exceed max_delay_ns"};
  }
  const uint64_t frame_ns = uint64_t{config.frame_samples} * kNsPerSecond / config.clock_rate;
  if (config.max_delay_ns > frame_ns * config.capacity) {
    return Error{Errc::invalid_argument, "max_delay_ns needs more frames than the capacity holds"};
  }
  if (!(config.delay_quantile > 0.0 && config.delay_quantile <= 1.0)) {
    return Error{Errc::invalid_argument, "delay_quantile must be within (0, 1]"};
  }
  return AudioJitterBuffer(config);
}

AudioJitterBuffer::AudioJitterBuffer(const AudioJitterConfig& config)
    : config_(config),
      slots_(config.capacity),
      payloads_(config.capacity, config.max_payload),
      transits_(config.delay_window),
      scratch_(config.delay_window) {}

int64_t AudioJitterBuffer::media_ns(int64_t ts) const {
  // Split so that ticks * 1e9 cannot overflow however long the stream runs.
  const int64_t ticks = ts - base_ts_;
  const int64_t rate = config_.clock_rate;
  return ticks / rate * kNsPerSecond + ticks % rate * kNsPerSecond / rate;
}

void AudioJitterBuffer::measure(int64_t ts, uint64_t arrival_ns) {
  const int64_t transit = static_cast<int64_t>(arrival_ns) - media_ns(ts);

  // RFC 3550 A.8: J += (|D| - J) / 16, D the difference of consecutive transits.
  if (have_last_transit_) {
    const double d = std::fabs(static_cast<double>(transit - last_transit_));
    jitter_ns_ += (d - jitter_ns_) / 16.0;
  }
  have_last_transit_ = true;
  last_transit_ = transit;

  transits_[transit_next_] = transit;
  transit_next_ = (transit_next_ + 1) % transits_.size();
  transit_count_ = std::min(transit_count_ + 1, transits_.size());

  const auto window = std::span<const int64_t>(transits_.data(), transit_count_);
  min_transit_ = *std::min_element(window.begin(), window.end());
  std::copy(window.begin(), window.end(), scratch_.begin());
  const auto rank = static_cast<size_t>(std::ceil(config_.delay_quantile * static_cast<double>(transit_count_)));
  const auto nth = scratch_.begin() + static_cast<std::ptrdiff_t>(std::clamp<size_t>(rank, 1, transit_count_) - 1);
  std::nth_element(scratch_.begin(), nth, scratch_.begin() + static_cast<std::ptrdiff_t>(transit_count_));
  const auto spread = static_cast<uint64_t>(*nth - min_transit_);
  target_delay_ns_ = std::clamp(spread, config_.min_delay_ns, config_.max_delay_ns);
  wanted_offset_ns_ = min_transit_ + static_cast<int64_t>(target_delay_ns_);
  // Until a talk spurt's first frame is out, nothing the renderer heard depends on the offset.
  if (!played_since_restart_) offset_ns_ = wanted_offset_ns_;
}

void AudioJitterBuffer::restart_schedule(int64_t seq, int64_t ts) {
  idle_ = false;
  played_since_restart_ = false;
  next_seq_ = seq;
  cursor_ts_ = ts;
  underrun_run_ = 0;
  offset_ns_ = wanted_offset_ns_;
}

void AudioJitterBuffer::reset() {
  for (Slot& s : slots_) s = Slot{};
  buffered_ = 0;
  lost_before_reset_ = stats().lost;
  received_before_reset_ = counts_.packets_received;
  seen_any_ = false;
  idle_ = true;
  transit_count_ = transit_next_ = 0;
  have_last_transit_ = false;
  ++counts_.resets;
}

void AudioJitterBuffer::store(int64_t seq, int64_t ts, const MediaPacket& packet) {
  const size_t index = slot_index(seq);
  slots_[index] = Slot{seq, ts, true};
  payloads_.store(index, packet.payload);
  ++buffered_;
}

Result<void> AudioJitterBuffer::insert(const MediaPacket& packet) {
  if (packet.payload.size() > payloads_.slot_bytes()) {
    ++counts_.rejected;
    return {Errc::malformed_packet, "audio payload larger than max_payload"};
  }
  if (!seen_any_) {
    seen_any_ = true;
    newest_seq_ = lowest_seq_ = highest_seq_ = kFirstExtended + packet.seq;
    newest_ts_ = base_ts_ = kFirstExtended + packet.rtp_timestamp;
  }
  const int64_t seq = extend_seq(newest_seq_, packet.seq);
  const int64_t ts = extend_timestamp(newest_ts_, packet.rtp_timestamp);
  const int64_t capacity = static_cast<int64_t>(slots_.size());
  const Slot& existing = slot(seq);
  if (existing.seq == seq && (existing.buffered || seq < next_seq_)) {
    ++counts_.duplicates;
    return {};
  }
  if (!idle_ && seq - next_seq_ >= capacity) {
    reset();  // the stream jumped: start over from this packet
    return insert(packet);
  }

  newest_seq_ = seq;
  newest_ts_ = ts;
  lowest_seq_ = std::min(lowest_seq_, seq);
  highest_seq_ = std::max(highest_seq_, seq);
  ++counts_.packets_received;
  measure(ts, packet.arrival_ns);

  if (idle_) {
    restart_schedule(seq, ts);
  } else if (seq < next_seq_) {
    const bool fits = highest_seq_ - seq < capacity;  // its slot is not holding a newer buffered packet
    // Before the first frame is out, an earlier packet simply becomes the start of the schedule; a marker
    // packet still in the future is a talk spurt resuming after frames were guessed lost during silence.
    const bool resumes = packet.marker && playout_ns(ts) > static_cast<int64_t>(packet.arrival_ns);
    if (fits && (!played_since_restart_ || resumes)) {
      restart_schedule(seq, ts);
    } else {
      ++counts_.late;
      if (!slot(seq).buffered) slot(seq) = Slot{seq, ts, false};  // remembered for duplicate detection
      return {};
    }
  }
  store(seq, ts, packet);
  return {};
}

void AudioJitterBuffer::advance(int64_t played_ts) {
  ++next_seq_;
  cursor_ts_ = played_ts + config_.frame_samples;
  played_since_restart_ = true;
  const int64_t step = static_cast<int64_t>(config_.delay_step_ns);
  offset_ns_ += std::clamp(wanted_offset_ns_ - offset_ns_, -step, step);
}

AudioOutput AudioJitterBuffer::pop(uint64_t now_ns) {
  if (idle_) return {};
  const auto now = static_cast<int64_t>(now_ns);
  const size_t index = slot_index(next_seq_);
  Slot& next = slots_[index];
  if (next.seq == next_seq_ && next.buffered) {
    // Its own timestamp decides, not the cursor: after a DTX gap the timestamp jumps while numbers continue.
    const int64_t due = playout_ns(next.ts);
    if (due > now) return {};
    next.buffered = false;
    --buffered_;
    underrun_run_ = 0;
    ++counts_.played;
    AudioOutput out{AudioPop::frame, static_cast<uint16_t>(next_seq_), static_cast<uint32_t>(next.ts), due,
                    payloads_.view(index)};
    advance(next.ts);
    return out;
  }
  const int64_t due = playout_ns(cursor_ts_);
  if (due > now) return {};
  if (buffered_ == 0) {
    // Nothing newer is known: a late packet or silence. Conceal for a while, then stop guessing.
    if (underrun_run_ >= config_.max_underrun_frames) {
      idle_ = true;
      return {};
    }
    ++underrun_run_;
  } else {
    underrun_run_ = 0;
  }
  ++counts_.concealed;
  AudioOutput out{AudioPop::lost, static_cast<uint16_t>(next_seq_), static_cast<uint32_t>(cursor_ts_), due, {}};
  advance(cursor_ts_);
  return out;
}

AudioOutput AudioJitterBuffer::peek() const {
  if (idle_) return {};
  const size_t index = slot_index(next_seq_);
  const Slot& next = slots_[index];
  if (next.seq != next_seq_ || !next.buffered) return {};
  return {AudioPop::frame, static_cast<uint16_t>(next_seq_), static_cast<uint32_t>(next.ts), playout_ns(next.ts),
          payloads_.view(index)};
}

std::optional<uint64_t> AudioJitterBuffer::next_due_ns() const {
  if (idle_) return std::nullopt;
  const Slot& next = slots_[slot_index(next_seq_)];
  const int64_t due = playout_ns(next.seq == next_seq_ && next.buffered ? next.ts : cursor_ts_);
  return static_cast<uint64_t>(std::max<int64_t>(due, 0));
}

AudioJitterStats AudioJitterBuffer::stats() const {
  AudioJitterStats s = counts_;
  s.lost = lost_before_reset_;
  if (seen_any_) {
    // Only packets in [lowest, highest] are expected; late ones count as received (RFC 3550 section 6.4.1).
    const auto expected = static_cast<uint64_t>(highest_seq_ - lowest_seq_ + 1);
    const uint64_t received_since_reset = counts_.packets_received - received_before_reset_;
    s.lost += expected > received_since_reset ? expected - received_since_reset : 0;
  }
  s.jitter_ns = static_cast<uint64_t>(jitter_ns_);
  s.jitter_rtp = static_cast<uint32_t>(jitter_ns_ * config_.clock_rate / 1e9);
  s.target_delay_ns = target_delay_ns_;
  s.current_delay_ns = offset_ns_ > min_transit_ ? static_cast<uint64_t>(offset_ns_ - min_transit_) : 0;
  s.buffered = buffered_;
  return s;
}

}  // namespace tandem::media
