// Reception and transmission statistics for RTCP reports (RFC 3550 section 6.4 and appendices A.1, A.3, A.8).
//
// ReceiverStats follows one remote SSRC: the extended highest sequence number (counting 16-bit wraps), packets
// expected and received, cumulative and interval loss, interarrival jitter, and the LSR/DLSR echo of the
// source's last SR. make_report_block() turns that into an RR/SR report block. SenderStats counts what one
// local SSRC sent and produces an SR's sender info.
//
// Sans-IO: arrival and send times are `now_ns` arguments from the runtime's monotonic clock. NTP (wall clock)
// time, which SRs carry, is that same clock plus an offset the caller supplies (ntp_offset_ns: NTP time in ns
// since 1900 minus now_ns, taken once from the platform's wall clock), so nothing here reads a clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/media/rtp/rtcp.h"
#include "core/media/rtp/rtp_packet.h"

namespace tandem::media::rtp {

// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
inline constexpr uint64_t kNtpUnixEpochDeltaSeconds = 2'208'988'800;

// 32.32 fixed-point NTP timestamp of a time in ns since 1900 (valid until the year 2484).
uint64_t ntp_from_ns(uint64_t ns_since_1900);
// `ns` of a clock ticking `clock_rate` times a second, rounded down, modulo 2^32 as RTP timestamps are.
uint32_t ns_to_rtp_ticks(uint64_t ns, uint32_t clock_rate);

class ReceiverStats {
 public:
  // `clock_rate`: the RTP clock of the source's payload format (90000 for video, 48000 for Opus).
  ReceiverStats(uint32_t ssrc, uint32_t clock_rate) : ssrc_(ssrc), clock_rate_(clock_rate) {}

  // An RTP packet from this source arrived at `now_ns` (after SRTP authentication, which is why there is no
  // A.1-style probation: forged packets never get here). Duplicates and reordered packets count as received,
  // as RFC 3550 defines it, so cumulative loss can go negative. A jump of 3000 or more ahead (or more than 100
  // behind) is ignored unless the next packet continues from it, which restarts the statistics (a sender that
  // restarted its sequence).
  void on_packet(uint16_t sequence_number, uint32_t rtp_timestamp, uint64_t now_ns);
  void on_packet(const RtpPacketView& packet, uint64_t now_ns) {
    on_packet(packet.sequence_number, packet.timestamp, now_ns);
  }
  // A sender report from this source arrived at `now_ns`: the next report blocks echo it as LSR/DLSR.
  void on_sender_report(uint64_t ntp_timestamp, uint64_t now_ns);

  // The report block about this source. Starts a new interval for fraction_lost, so call it once per report
  // actually sent.
  ReportBlock make_report_block(uint64_t now_ns);

  uint32_t ssrc() const { return ssrc_; }
  bool has_packets() const { return started_; }
  uint32_t extended_highest_sequence() const { return static_cast<uint32_t>(extended_max()); }
  uint64_t expected() const { return started_ ? extended_max() - base_seq_ + 1 : 0; }
  uint64_t received() const { return received_; }
  int64_t cumulative_lost() const { return static_cast<int64_t>(expected()) - static_cast<int64_t>(received_); }
  uint32_t jitter() const { return static_cast<uint32_t>(jitter_q4_ >> 4); }  // RTP timestamp units

 private:
  void restart(uint16_t seq);
  void update_jitter(uint32_t rtp_timestamp, uint64_t now_ns);
  uint64_t extended_max() const { return cycles_ + max_seq_; }

  uint32_t ssrc_;
  uint32_t clock_rate_;
  bool started_ = false;
  uint16_t max_seq_ = 0;
  uint64_t cycles_ = 0;    // 65536 per wrap of the sequence number
  uint64_t base_seq_ = 0;  // extended sequence number of the first packet
  uint32_t bad_seq_ = kNoBadSeq;
  uint64_t received_ = 0;
  uint64_t expected_prior_ = 0;  // at the previous report
  uint64_t received_prior_ = 0;
  uint32_t last_transit_ = 0;  // arrival minus RTP timestamp, in RTP ticks, of the last in-order packet
  uint64_t jitter_q4_ = 0;     // jitter in RTP ticks, times 16 (4 fraction bits, as A.8 suggests)
  uint32_t last_sr_ = 0;       // ntp_mid32 of the last SR
  uint64_t last_sr_arrival_ns_ = 0;
  bool has_sr_ = false;

  static constexpr uint32_t kNoBadSeq = 0x10000 + 1;  // not a 16-bit number
};

class SenderStats {
 public:
  SenderStats(uint32_t ssrc, uint32_t clock_rate) : ssrc_(ssrc), clock_rate_(clock_rate) {}

  // A packet left at `now_ns`; `payload_size` excludes the RTP header and padding (RFC 3550's octet count).
  void on_packet_sent(size_t payload_size, uint32_t rtp_timestamp, uint64_t now_ns);

  // Sender info for an SR sent at `now_ns`: NTP time now_ns + ntp_offset_ns, and the RTP timestamp of the same
  // instant, extrapolated from the last packet sent on the RTP clock (0 before any packet).
  SenderInfo sender_info(uint64_t now_ns, uint64_t ntp_offset_ns) const;

  // Round-trip time from a report block about this source (RFC 3550 section 6.4.1: now - LSR - DLSR), in ns;
  // nullopt when the block echoes no SR (LSR 0) or the result would be negative (clock trouble).
  static std::optional<uint64_t> round_trip_ns(const ReportBlock& block, uint64_t now_ns, uint64_t ntp_offset_ns);

  uint32_t ssrc() const { return ssrc_; }
  uint32_t packet_count() const { return packets_; }  // modulo 2^32, as the SR carries it
  uint32_t octet_count() const { return octets_; }

 private:
  uint32_t ssrc_;
  uint32_t clock_rate_;
  uint32_t packets_ = 0;
  uint32_t octets_ = 0;
  bool sent_any_ = false;
  uint32_t last_rtp_timestamp_ = 0;
  uint64_t last_sent_ns_ = 0;
};

}  // namespace tandem::media::rtp
