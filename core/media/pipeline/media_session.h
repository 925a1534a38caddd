// One media transport: SRTP in both directions, demultiplexing of incoming RTP/RTCP to streams, and the RTCP
// loop (SR/RR + SDES every interval, NACK and PLI as soon as a receiver asks). Sans-IO: datagrams come in
// through receive(), go out through the DatagramSink, and time moves only through the `now_ns` arguments.
//
//   out: sender -> send_rtp (srtp_protect) -> DatagramSink
//   in:  receive -> RTP or RTCP (RFC 5761) -> srtp_unprotect -> rtp_parse -> stream by SSRC -> on_rtp
//                                           -> srtcp unprotect -> SR/RR/NACK/PLI -> streams
//
// Rejections are counted, never fatal: datagrams that are too short or of neither kind (malformed_packets),
// SRTP authentication failures and replays (srtp_rejected{...}), RTP for an SSRC or payload type no stream
// expects (unknown_ssrc). receive() also returns the reason, for tests.
//
// RTT: measured from report blocks that echo our SRs (needs a local sender), handed to receivers for NACK
// pacing. The session's own SSRC (for RRs and feedback when it sends nothing) is `rtcp_ssrc`.
//
// The session does not own its streams: the owner adds them after creating them with the session as their
// RtpPacketOutput, and removes them before destroying them. Runtime-only. No allocation per packet.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <span>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/media/pipeline/rtp_streams.h"
#include "core/media/srtp_session.h"
#include "tandem/platform/platform.h"

namespace tandem::media {

class DatagramSink {
 public:
  virtual void send_datagram(std::span<const uint8_t> datagram) = 0;

 protected:
  ~DatagramSink() = default;
};

struct MediaSessionConfig {
  SrtpProfile profile = SrtpProfile::aes_cm_128_hmac_sha1_80;
  std::span<const uint8_t> local_key;  // protects what we send (copied)
  std::span<const uint8_t> local_salt;
  std::span<const uint8_t> remote_key;  // verifies what we receive (copied)
  std::span<const uint8_t> remote_salt;
  uint32_t rtcp_ssrc = 0;         // 0: random
  std::string cname = "tandem";   // SDES CNAME in every compound packet
  uint64_t rtcp_interval_ns = 1'000'000'000;
  uint32_t replay_window = 128;
  // NTP time minus the core's monotonic clock (ns since 1900). The core has no wall clock; any fixed value
  // keeps SR/RR round-trip times right, the default just looks plausible in captures.
  uint64_t ntp_offset_ns = (2'208'988'800ull + 1'700'000'000ull) * 1'000'000'000ull;
};

struct MediaSessionStats {
  uint64_t datagrams_sent = 0;
  uint64_t datagrams_received = 0;
  uint64_t rtp_received = 0;
  uint64_t rtcp_sent = 0;
  uint64_t rtcp_received = 0;
  uint64_t srtp_auth_failures = 0;
  uint64_t srtp_replays = 0;
  uint64_t malformed = 0;
  uint64_t unknown_ssrc = 0;
  uint64_t nack_packets_sent = 0;
  uint64_t pli_sent = 0;
  uint64_t unkeyed_drops = 0;  // sent or received before set_keys(): not protected, so not sent / not accepted
  std::optional<uint64_t> rtt_ns;
};

class MediaSession final : public RtpPacketOutput {
 public:
  static Result<std::unique_ptr<MediaSession>> create(const MediaSessionConfig& config, platform::Platform& platform,
                                                      MediaMetrics& metrics, DatagramSink& out);
  ~MediaSession();
  MediaSession(const MediaSession&) = delete;
  MediaSession& operator=(const MediaSession&) = delete;

  // Errc::invalid_argument if the SSRC is already used by a stream of the same direction, or the stream is
  // already added.
  Result<void> add_sender(RtpSendStream& stream);
  // Keys a session created without keys (all four key/salt spans empty): DTLS-SRTP exports them only after
  // the handshake, while tracks are added before. Until then nothing is sent and nothing accepted (counted
  // in unkeyed_drops); RTCP waits. Errc::invalid_argument if the session is keyed already.
  Result<void> set_keys(SrtpProfile profile, std::span<const uint8_t> local_key, std::span<const uint8_t> local_salt,
                        std::span<const uint8_t> remote_key, std::span<const uint8_t> remote_salt);
  bool keyed() const { return outbound_.has_value(); }
  Result<void> add_receiver(RtpReceiveStream& stream);
  void remove_sender(RtpSendStream& stream);
  void remove_receiver(RtpReceiveStream& stream);

  // One datagram from the network. It is unprotected in place (so it must be writable). Returns Errc::ok or
  // why it was dropped (the counters say the same); a plain code, so a flood of garbage allocates nothing.
  Errc receive(std::span<uint8_t> datagram, uint64_t now_ns);
  // Runs due work: RTCP reports, receivers' playout and feedback. Call at or after next_timeout() and after
  // receive() (receive() does not call it, so a burst of datagrams costs one pass).
  void poll(uint64_t now_ns);
  std::optional<uint64_t> next_timeout() const;

  // Sends BYE for the local SSRCs (RFC 3550 section 6.6); the session stays usable.
  void send_bye(uint64_t now_ns);

  uint32_t rtcp_ssrc() const { return rtcp_ssrc_; }
  const MediaSessionStats& stats() const { return stats_; }

  // RtpPacketOutput
  Result<size_t> send_rtp(std::span<uint8_t> buffer, size_t size, uint64_t now_ns) override;
  void resend_rtp(std::span<const uint8_t> protected_packet, uint64_t now_ns) override;

 private:
  MediaSession(const MediaSessionConfig& config, platform::Platform& platform, MediaMetrics& metrics,
               DatagramSink& out, std::optional<SrtpSession> outbound, std::optional<SrtpSession> inbound,
               uint32_t rtcp_ssrc);
  static Result<std::pair<SrtpSession, SrtpSession>> make_srtp_pair(
      SrtpProfile profile, std::span<const uint8_t> local_key, std::span<const uint8_t> local_salt,
      std::span<const uint8_t> remote_key, std::span<const uint8_t> remote_salt, uint32_t replay_window);
  Errc handle_rtp(std::span<uint8_t> datagram, uint64_t now_ns);
  Errc handle_rtcp(std::span<uint8_t> datagram, uint64_t now_ns);
  void on_report_block(const rtp::ReportBlock& block, uint64_t now_ns);
  // Sends one compound packet (SR or RR, SDES, then the NACKs/PLIs receivers want, then BYE) if a report is
  // due, a receiver has feedback, or `bye`.
  void run_rtcp(uint64_t now_ns, bool report_due, bool bye);
  Result<void> begin_compound(rtp::RtcpCompoundWriter& writer, uint64_t now_ns);
  Errc count_srtp_error(Errc error);
  uint32_t local_ssrc() const;
  RtpSendStream* sender_for(uint32_t ssrc) const;
  RtpReceiveStream* receiver_for(uint32_t ssrc) const;
  uint64_t next_report_delay();

  MediaSessionConfig config_;
  platform::Platform& platform_;
  MediaMetrics& metrics_;
  DatagramSink& out_;
  std::optional<SrtpSession> outbound_;  // empty until keyed (DTLS-SRTP keys arrive after the handshake)
  std::optional<SrtpSession> inbound_;
  uint32_t rtcp_ssrc_;
  std::vector<RtpSendStream*> senders_;    // reserved at creation (kMaxStreams)
  std::vector<RtpReceiveStream*> receivers_;
  std::vector<uint8_t> rtcp_buffer_;       // one compound packet + SRTCP trailer
  std::vector<uint16_t> nack_scratch_;
  std::vector<rtp::ReportBlock> blocks_scratch_;
  uint64_t next_report_ns_ = 0;
  bool started_ = false;
  MediaSessionStats stats_;
};

}  // namespace tandem::media
