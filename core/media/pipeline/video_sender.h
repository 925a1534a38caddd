// VideoSource's engine: I420 pictures in, SRTP-ready RTP packets out.
//
//   capture(picture) -> VP8 encode (keyframe at start and on PLI) -> [E2EE, async] -> RFC 7741 packetizer ->
//   RTP packets (marker on a frame's last) -> RtpPacketOutput::send_rtp -> send history (for NACKs)
//
// Pictures may be any size up to 1280x720; a size change re-initialises the encoder (and starts with a
// keyframe). RTP timestamps are the capture time on the 90 kHz clock from a random start. A PLI makes the
// next captured picture a keyframe; PLIs arriving while a keyframe is already pending collapse into one.
//
// Memory: encoder, packet buffer and history are allocated by create() (libvpx allocates internally at
// (re-)initialisation only). Runtime-only.
#pragma once

#include <cstdint>
#include <memory>

#include "core/common/error.h"
#include "core/media/codecs/i420.h"
#include "core/media/codecs/vp8_codec.h"
#include "core/media/pipeline/rtp_streams.h"
#include "tandem/platform/platform.h"

namespace tandem::media {

namespace e2ee {
class KeyRing;
}

struct VideoSenderConfig {
  uint8_t payload_type = 96;
  uint32_t ssrc = 0;  // 0: random
  Vp8EncoderConfig encoder;
  size_t max_payload = kMaxRtpPayload;
  size_t history_packets = 1024;  // kept for NACKs (about a second of 1 Mbit/s video)
  e2ee::KeyRing* e2ee_keys = nullptr;  // set: frames are encrypted (VP8 payload header stays clear)
};

struct VideoSenderStats {
  uint64_t frames_captured = 0;
  uint64_t frames_sent = 0;
  uint64_t frames_dropped = 0;  // encoder dropped it, E2EE failed or was saturated
  uint64_t keyframes_sent = 0;
  uint64_t plis_received = 0;
  uint64_t packets_sent = 0;
  uint64_t bytes_sent = 0;  // RTP payload bytes
  uint64_t retransmissions = 0;
  uint64_t nacks_received = 0;  // sequence numbers asked for
  uint64_t nacks_missed = 0;    // asked for, no longer in the history
};

class VideoSender final : public RtpSendStream {
 public:
  static Result<std::unique_ptr<VideoSender>> create(const VideoSenderConfig& config, platform::Platform& platform,
                                                     MediaMetrics& metrics, RtpPacketOutput& output);
  ~VideoSender() override;

  // Errc::invalid_argument for an invalid view or one larger than the encoder's maximum.
  Result<void> capture(const I420View& picture, uint64_t now_ns);
  VideoSenderStats stats() const;

  // RtpSendStream
  MediaKind kind() const override { return MediaKind::video; }
  uint32_t ssrc() const override;
  bool has_sent() const override;
  rtp::SenderInfo sender_info(uint64_t now_ns, uint64_t ntp_offset_ns) const override;
  void on_nack(const rtp::NackView& nack, uint64_t now_ns) override;
  void on_pli(uint64_t now_ns) override;
  void on_report_block(const rtp::ReportBlock& block, std::optional<uint64_t> rtt_ns, uint64_t now_ns) override;

  class Impl;

 private:
  explicit VideoSender(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::media
