// Joins a send stream to a receive stream without a MediaSession, over simulated links, for the pipeline
// tests of every media kind.
//
//   sender --send_rtp/resend_rtp--> LoopbackOutput (NetworkLink) --parse_rtp--> receiver.on_rtp
//   receiver --take_nacks/take_keyframe_request/report_block--> FeedbackLoop (NetworkLink) --RTCP--> sender
//
// No SRTP: send_rtp returns the size unchanged, so the sender's history keeps the plain packet. Both links are
// seeded, so a run replays exactly. Neither allocates per packet (the links' slots and the RTCP buffer are
// allocated up front), so allocation tests can run through them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "core/media/pipeline/rtp_streams.h"
#include "core/sim/network.h"

namespace tandem::test {

class LoopbackOutput final : public media::RtpPacketOutput {
 public:
  explicit LoopbackOutput(const sim::Impairments& impairments = {}, uint64_t seed = 1);

  void connect(media::RtpReceiveStream* receiver) { receiver_ = receiver; }

  Result<size_t> send_rtp(std::span<uint8_t> buffer, size_t size, uint64_t now_ns) override;
  void resend_rtp(std::span<const uint8_t> protected_packet, uint64_t now_ns) override;

  // Hands every datagram that has arrived by `now_ns` to the connected receiver (after parse_rtp). Returns
  // how many it handed over.
  size_t deliver(uint64_t now_ns);
  std::optional<uint64_t> next_timeout() const { return link_.next_timeout(); }

  sim::NetworkLink& link() { return link_; }
  uint64_t originals() const { return originals_; }            // send_rtp calls
  uint64_t originals_lost() const { return originals_lost_; }  // of those, dropped by the link
  uint64_t resends() const { return resends_; }
  uint64_t malformed() const { return malformed_; }  // delivered datagrams parse_rtp refused
  // The last packet given to send_rtp (plain RTP, as the sender built it).
  std::span<const uint8_t> last_sent() const { return std::span<const uint8_t>(last_).first(last_size_); }

 private:
  sim::NetworkLink link_;
  media::RtpReceiveStream* receiver_ = nullptr;
  uint64_t originals_ = 0;
  uint64_t originals_lost_ = 0;
  uint64_t resends_ = 0;
  uint64_t malformed_ = 0;
  std::array<uint8_t, media::kMaxDatagramSize> last_{};
  size_t last_size_ = 0;
};

// RTCP feedback from a receive stream to the send stream it hears, over a link of its own: NACKs and PLIs
// are sent as soon as the receiver has them (RFC 4585 immediate mode), a receiver report block every
// `report_interval_ns`. Built and parsed with the real RTCP writer and parser.
class FeedbackLoop {
 public:
  FeedbackLoop(media::RtpReceiveStream& receiver, media::RtpSendStream& sender,
               const sim::Impairments& impairments = {}, uint64_t seed = 2,
               uint64_t report_interval_ns = 1'000'000'000);

  // Collects what the receiver wants to say at `now_ns` and delivers to the sender what has arrived.
  void pump(uint64_t now_ns);

  sim::NetworkLink& link() { return link_; }
  uint64_t nack_packets() const { return nack_packets_; }
  uint64_t plis() const { return plis_; }
  uint64_t reports() const { return reports_; }

 private:
  void send(std::span<const uint8_t> rtcp, uint64_t now_ns);

  media::RtpReceiveStream& receiver_;
  media::RtpSendStream& sender_;
  sim::NetworkLink link_;
  uint64_t report_interval_ns_;
  std::optional<uint64_t> next_report_ns_;
  std::array<uint16_t, 256> nacks_{};
  std::array<uint8_t, media::kMaxDatagramSize> buffer_{};
  uint64_t nack_packets_ = 0;
  uint64_t plis_ = 0;
  uint64_t reports_ = 0;
};

}  // namespace tandem::test
