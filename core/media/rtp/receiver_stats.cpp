#include "core/media/rtp/receiver_stats.h"

#include <algorithm>

namespace tandem::media::rtp {
namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;
// RFC 3550 appendix A.1's limits: how far ahead a sequence number may jump and how far behind a reordered one
// may arrive before either is taken for a restarted sender (or garbage).
constexpr uint16_t kMaxDropout = 3000;
constexpr uint32_t kMaxMisorder = 100;

// `ns` in units of 1/65536 s (the DLSR unit), saturating at 32 bits.
uint32_t ns_to_dlsr_units(uint64_t ns) {
  const uint64_t seconds = ns / kNsPerSecond;
  if (seconds >= 0x10000) return 0xFFFFFFFF;
  return static_cast<uint32_t>((seconds << 16) + ((ns % kNsPerSecond) << 16) / kNsPerSecond);
}

}  // namespace

uint64_t ntp_from_ns(uint64_t ns) {
  const uint64_t seconds = ns / kNsPerSecond;
  const uint64_t fraction = ((ns % kNsPerSecond) << 32) / kNsPerSecond;
  return (seconds << 32) | fraction;
}

uint32_t ns_to_rtp_ticks(uint64_t ns, uint32_t clock_rate) {
  // Split at whole seconds so ns * clock_rate cannot overflow 64 bits.
  const uint64_t ticks = (ns / kNsPerSecond) * clock_rate + (ns % kNsPerSecond) * clock_rate / kNsPerSecond;
  return static_cast<uint32_t>(ticks);
}

// ---- ReceiverStats ----

void ReceiverStats::restart(uint16_t seq) {
  started_ = true;
  max_seq_ = seq;
  cycles_ = 0;
  base_seq_ = seq;
  bad_seq_ = kNoBadSeq;
  received_ = 0;
  expected_prior_ = 0;
  received_prior_ = 0;
}

void ReceiverStats::on_packet(uint16_t seq, uint32_t rtp_timestamp, uint64_t now_ns) {
  const uint32_t transit = ns_to_rtp_ticks(now_ns, clock_rate_) - rtp_timestamp;
  if (!started_) {
    restart(seq);
    last_transit_ = transit;
    ++received_;
    return;
  }
  const uint16_t ahead = static_cast<uint16_t>(seq - max_seq_);
  if (ahead < kMaxDropout) {
    if (ahead != 0) {  // a new highest sequence number (possibly after a gap)
      if (seq < max_seq_) cycles_ += 0x10000;
      max_seq_ = seq;
      // Jitter only from packets in order: a reordered or retransmitted packet's late arrival says nothing
      // about the network's delay variation and would inflate it (libwebrtc makes the same choice).
      const int32_t d = static_cast<int32_t>(transit - last_transit_);
      last_transit_ = transit;
      const uint64_t abs_d = d < 0 ? uint64_t{0} - static_cast<uint64_t>(static_cast<int64_t>(d)) : uint64_t(d);
      // J += (|D| - J) / 16, kept with 4 fraction bits and rounded (RFC 3550 section 6.4.1 and A.8).
      jitter_q4_ = jitter_q4_ + abs_d - ((jitter_q4_ + 8) >> 4);
    }
  } else if (ahead <= 0x10000 - kMaxMisorder) {
    // A big jump ahead or far behind: believe it only if the next packet follows on from it.
    if (seq != bad_seq_) {
      bad_seq_ = (seq + 1u) & 0xFFFF;
      return;
    }
    restart(seq);
    last_transit_ = transit;
  }
  // Otherwise a duplicate or a packet reordered by less than kMaxMisorder: received, nothing else changes.
  ++received_;
}

void ReceiverStats::on_sender_report(uint64_t ntp_timestamp, uint64_t now_ns) {
  last_sr_ = ntp_mid32(ntp_timestamp);
  last_sr_arrival_ns_ = now_ns;
  has_sr_ = true;
}

ReportBlock ReceiverStats::make_report_block(uint64_t now_ns) {
  ReportBlock block;
  block.ssrc = ssrc_;
  if (started_) {
    const uint64_t expected_now = expected();
    const uint64_t expected_interval = expected_now - expected_prior_;
    const uint64_t received_interval = received_ - received_prior_;
    expected_prior_ = expected_now;
    received_prior_ = received_;
    const int64_t lost_interval = static_cast<int64_t>(expected_interval) - static_cast<int64_t>(received_interval);
    if (expected_interval != 0 && lost_interval > 0)
      block.fraction_lost = static_cast<uint8_t>(
          std::min<uint64_t>(255, (static_cast<uint64_t>(lost_interval) << 8) / expected_interval));
    block.cumulative_lost = static_cast<int32_t>(std::clamp<int64_t>(cumulative_lost(), -0x800000, 0x7FFFFF));
    block.extended_highest_sequence = extended_highest_sequence();
    block.jitter = jitter();
  }
  if (has_sr_) {
    block.last_sr = last_sr_;
    block.delay_since_last_sr = ns_to_dlsr_units(now_ns > last_sr_arrival_ns_ ? now_ns - last_sr_arrival_ns_ : 0);
  }
  return block;
}

// ---- SenderStats ----

void SenderStats::on_packet_sent(size_t payload_size, uint32_t rtp_timestamp, uint64_t now_ns) {
  ++packets_;
  octets_ += static_cast<uint32_t>(payload_size);
  sent_any_ = true;
  last_rtp_timestamp_ = rtp_timestamp;
  last_sent_ns_ = now_ns;
}

SenderInfo SenderStats::sender_info(uint64_t now_ns, uint64_t ntp_offset_ns) const {
  SenderInfo info;
  info.ntp_timestamp = ntp_from_ns(now_ns + ntp_offset_ns);
  if (sent_any_) {
    const uint64_t since_last = now_ns > last_sent_ns_ ? now_ns - last_sent_ns_ : 0;
    info.rtp_timestamp = last_rtp_timestamp_ + ns_to_rtp_ticks(since_last, clock_rate_);
  }
  info.packet_count = packets_;
  info.octet_count = octets_;
  return info;
}

std::optional<uint64_t> SenderStats::round_trip_ns(const ReportBlock& block, uint64_t now_ns, uint64_t ntp_offset_ns) {
  if (block.last_sr == 0) return std::nullopt;
  const uint32_t now_mid = ntp_mid32(ntp_from_ns(now_ns + ntp_offset_ns));
  const uint32_t rtt = now_mid - block.last_sr - block.delay_since_last_sr;  // 1/65536 s, modulo 2^32
  if (static_cast<int32_t>(rtt) < 0) return std::nullopt;
  return uint64_t{rtt} * kNsPerSecond / 0x10000;
}

}  // namespace tandem::media::rtp
