// VideoStream's engine: RTP packets of one remote SSRC in, decoded I420 pictures out.
//
//   on_rtp -> parse VP8 payload descriptor -> NackTracker + VideoFrameAssembler -> complete frame in decode
//   order -> [E2EE decrypt, async] -> VP8 decode -> VideoFrameSink
//
// Loss: gaps are NACKed (retries paced by the RTT); a frame that cannot be completed in time is dropped and a
// keyframe requested (PLI via take_keyframe_request()), repeated until one arrives. A decode error also asks
// for a keyframe. Pictures are delivered as soon as they are decoded (no render smoothing: the application
// paints them).
//
// Memory: allocated by create() (libvpx allocates at (re-)initialisation only). Runtime-only.
#pragma once

#include <cstdint>
#include <memory>

#include "core/common/error.h"
#include "core/media/codecs/i420.h"
#include "core/media/jitter/nack_tracker.h"
#include "core/media/jitter/video_frame_assembler.h"
#include "core/media/pipeline/rtp_streams.h"
#include "tandem/platform/platform.h"

namespace tandem::media {

namespace e2ee {
class KeyRing;
}

struct VideoFrame {
  I420View picture;  // valid during on_video_frame only
  uint32_t rtp_timestamp = 0;
  bool keyframe = false;
  uint64_t first_packet_ns = 0;  // arrival of the frame's first packet
  uint64_t decoded_ns = 0;
};

class VideoFrameSink {
 public:
  virtual void on_video_frame(const VideoFrame& frame) = 0;

 protected:
  ~VideoFrameSink() = default;
};

struct VideoReceiverConfig {
  uint8_t payload_type = 96;
  uint32_t remote_ssrc = 0;
  VideoAssemblerConfig assembler;
  NackConfig nack;
  bool nack_enabled = true;
  uint32_t max_width = 1280;
  uint32_t max_height = 720;
  e2ee::KeyRing* e2ee_keys = nullptr;
  StreamWakeup* wakeup = nullptr;
};

struct VideoReceiverStats {
  VideoAssemblerStats assembler;
  NackStats nack;
  uint64_t frames_decoded = 0;
  // Assembled frames dropped before reaching the sink: E2EE failed, undecodable (the assembler's own drops
  // are in `assembler`), or a delta frame while waiting for a keyframe.
  uint64_t frames_dropped = 0;
  uint64_t decode_errors = 0;
  uint64_t keyframes_decoded = 0;
  uint64_t plis_requested = 0;
  uint64_t e2ee_failures = 0;
  uint64_t malformed_payloads = 0;
  uint64_t wrong_payload_type = 0;
  uint32_t width = 0;
  uint32_t height = 0;
};

class VideoReceiver final : public RtpReceiveStream {
 public:
  static Result<std::unique_ptr<VideoReceiver>> create(const VideoReceiverConfig& config,
                                                       platform::Platform& platform, MediaMetrics& metrics,
                                                       VideoFrameSink& sink);
  ~VideoReceiver() override;

  VideoReceiverStats stats() const;

  // RtpReceiveStream
  MediaKind kind() const override { return MediaKind::video; }
  uint32_t remote_ssrc() const override;
  uint8_t payload_type() const override;
  void on_rtp(const rtp::RtpPacketView& packet, uint64_t now_ns) override;
  void on_sender_report(const rtp::SenderInfo& info, uint64_t now_ns) override;
  void set_rtt(uint64_t rtt_ns) override;
  std::optional<rtp::ReportBlock> report_block(uint64_t now_ns) override;
  size_t take_nacks(uint64_t now_ns, std::span<uint16_t> out) override;
  bool take_keyframe_request() override;
  void poll(uint64_t now_ns) override;
  std::optional<uint64_t> next_timeout() const override;

  class Impl;

 private:
  explicit VideoReceiver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::media
