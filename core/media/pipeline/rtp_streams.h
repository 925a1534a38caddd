// The contract between a media session (SRTP, demultiplexing, RTCP: media_session.h) and the streams it
// carries (audio/video senders and receivers). Streams never see SRTP or datagrams; the session never sees
// codecs. Tests can join a sender to a receiver without a session by implementing RtpPacketOutput.
//
// Everything here is runtime-only and sans-IO: times are `now_ns` on the core's monotonic clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/common/error.h"
#include "core/media/pipeline/media_metrics.h"
#include "core/media/rtp/rtcp.h"
#include "core/media/rtp/rtp_packet.h"

namespace tandem::media {

// Largest datagram the pipeline builds or accepts (an Ethernet MTU; RTP payload budgets stay well below).
inline constexpr size_t kMaxDatagramSize = 1500;
// Room a sender leaves after each RTP packet for the SRTP trailer (HMAC-SHA1-80: 10, AEAD: 16 bytes).
inline constexpr size_t kSrtpTrailerRoom = 16;
// The RTP payload budget per packet: leaves room for the RTP header with a few extensions, and for DTLS/UDP/IP
// over IPv6 on a 1280-byte path, as browsers do.
inline constexpr size_t kMaxRtpPayload = 1200;

// Where a sender puts its packets: the session (protect + send), or a test double.
class RtpPacketOutput {
 public:
  // `buffer` holds a plain RTP packet in its first `size` bytes and has at least kSrtpTrailerRoom bytes after
  // it. The packet is protected in place and sent; returns the protected size (the sender keeps those bytes in
  // its history, so a retransmission is the identical SRTP packet and costs no second encryption).
  virtual Result<size_t> send_rtp(std::span<uint8_t> buffer, size_t size, uint64_t now_ns) = 0;
  // Sends an already protected packet again (answering a NACK).
  virtual void resend_rtp(std::span<const uint8_t> protected_packet, uint64_t now_ns) = 0;

 protected:
  ~RtpPacketOutput() = default;
};

// Streams that finish work asynchronously (E2EE completions arrive as later runtime tasks) call wake() when
// their next_timeout() may have moved earlier outside on_rtp()/poll(), so the owner re-arms its timer.
class StreamWakeup {
 public:
  virtual void wake() = 0;

 protected:
  ~StreamWakeup() = default;
};

// A local source: one SSRC we send.
class RtpSendStream {
 public:
  virtual ~RtpSendStream() = default;
  virtual MediaKind kind() const = 0;
  virtual uint32_t ssrc() const = 0;
  // False until the first packet went out (no SR before that).
  virtual bool has_sent() const = 0;
  // For this stream's SR: NTP time now_ns + ntp_offset_ns and the RTP timestamp of the same instant.
  virtual rtp::SenderInfo sender_info(uint64_t now_ns, uint64_t ntp_offset_ns) const = 0;

  // Feedback from the remote receiver of this SSRC.
  virtual void on_nack(const rtp::NackView& nack, uint64_t now_ns) = 0;  // resend what the history holds
  virtual void on_pli(uint64_t now_ns) = 0;                             // video: next frame is a keyframe
  // A report block about this SSRC (loss fraction steers Opus FEC, for instance); rtt_ns if the block echoed
  // one of our SRs.
  virtual void on_report_block(const rtp::ReportBlock& block, std::optional<uint64_t> rtt_ns, uint64_t now_ns) = 0;
};

// A remote source: one SSRC we receive.
class RtpReceiveStream {
 public:
  virtual ~RtpReceiveStream() = default;
  virtual MediaKind kind() const = 0;
  virtual uint32_t remote_ssrc() const = 0;
  virtual uint8_t payload_type() const = 0;  // packets of another type for this SSRC are dropped by the session

  // An authenticated, parsed packet of this SSRC. The view points into the session's receive buffer and is
  // valid during the call only.
  virtual void on_rtp(const rtp::RtpPacketView& packet, uint64_t now_ns) = 0;
  virtual void on_sender_report(const rtp::SenderInfo& info, uint64_t now_ns) = 0;
  // Round-trip time to the remote peer, as the session measured it (NACK retry pacing).
  virtual void set_rtt(uint64_t rtt_ns) = 0;

  // For the next RR/SR; nothing before the first packet.
  virtual std::optional<rtp::ReportBlock> report_block(uint64_t now_ns) = 0;
  // Feedback to send now (the session sends it at once, RFC 4585 immediate mode): sequence numbers to NACK
  // (written to `out`, returns how many) and whether to send a PLI.
  virtual size_t take_nacks(uint64_t now_ns, std::span<uint16_t> out) = 0;
  virtual bool take_keyframe_request() = 0;

  // Timers: playout of audio frames, gap deadlines, NACK retries. The session calls poll() at or after
  // next_timeout() and after each on_rtp().
  virtual void poll(uint64_t now_ns) = 0;
  virtual std::optional<uint64_t> next_timeout() const = 0;
};

}  // namespace tandem::media
