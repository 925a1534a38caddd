// AudioSource's engine: PCM frames in, SRTP-ready RTP packets out.
//
//   capture(pcm) -> [resample 48 -> 8 kHz for G.711] -> encode (Opus / PCMU / PCMA) -> [E2EE, async] ->
//   RTP packet (one frame per packet) -> RtpPacketOutput::send_rtp -> send history (for NACKs)
//
// Input is always interleaved s16 PCM at 48 kHz, 10 or 20 ms, mono or stereo (G.711 is mono: stereo input is
// downmixed). RTP timestamps advance by the frame's duration on the payload's clock (48 kHz for Opus, 8 kHz
// for G.711) per captured frame, from a random start; sequence numbers start at random (RFC 3550 section 5.1).
// The first packet after create() carries the marker bit.
//
// With E2EE the encoded frame is encrypted by the platform (asynchronously) before packetization; frames keep
// their order. If the cryptor is saturated the frame is dropped and counted (capture() returns
// resource_exhausted), never queued without bound.
//
// Memory: frame buffers, the packet buffer and the send history are allocated by create(); capture() does not
// allocate. Runtime-only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/common/error.h"
#include "core/media/pipeline/rtp_streams.h"
#include "tandem/platform/platform.h"

namespace tandem::media {

namespace e2ee {
class KeyRing;
}

enum class AudioCodec : uint8_t { opus, pcmu, pcma };

struct AudioSenderConfig {
  AudioCodec codec = AudioCodec::opus;
  uint8_t payload_type = 111;  // PCMU is 0 and PCMA 8 in SDP, but any dynamic type works too
  uint32_t ssrc = 0;           // 0: random
  int channels = 1;            // of the captured PCM: 1 or 2 (Opus sends what it gets; G.711 downmixes)
  uint32_t frame_ms = 20;      // 10 or 20
  int bitrate_bps = 32000;     // Opus only
  bool inband_fec = true;      // Opus only
  bool dtx = false;            // Opus only
  size_t history_packets = 256;  // kept for NACKs (5 s at 20 ms)
  // Set: frames are encrypted with the ring's active key before packetization. The ring must outlive the sender.
  e2ee::KeyRing* e2ee_keys = nullptr;
};

struct AudioSenderStats {
  uint64_t frames_captured = 0;
  uint64_t frames_sent = 0;      // packetized and handed to the output
  uint64_t frames_dropped = 0;   // encoder or E2EE failures, saturation
  uint64_t packets_sent = 0;
  uint64_t bytes_sent = 0;       // RTP payload bytes
  uint64_t retransmissions = 0;
  uint8_t last_fraction_lost = 0;  // from the latest report block
};

class AudioSender final : public RtpSendStream {
 public:
  // Errc::invalid_argument for an unsupported codec/channel/frame combination.
  static Result<std::unique_ptr<AudioSender>> create(const AudioSenderConfig& config, platform::Platform& platform,
                                                     MediaMetrics& metrics, RtpPacketOutput& output);
  ~AudioSender() override;

  // `pcm`: exactly frame_ms * 48 * channels interleaved samples (Errc::invalid_argument otherwise).
  Result<void> capture(std::span<const int16_t> pcm, uint64_t now_ns);

  uint32_t samples_per_frame() const;  // per channel, at 48 kHz
  AudioSenderStats stats() const;

  // RtpSendStream
  MediaKind kind() const override { return MediaKind::audio; }
  uint32_t ssrc() const override;
  bool has_sent() const override;
  rtp::SenderInfo sender_info(uint64_t now_ns, uint64_t ntp_offset_ns) const override;
  void on_nack(const rtp::NackView& nack, uint64_t now_ns) override;
  void on_pli(uint64_t) override {}
  void on_report_block(const rtp::ReportBlock& block, std::optional<uint64_t> rtt_ns, uint64_t now_ns) override;

  class Impl;

 private:
  explicit AudioSender(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::media
