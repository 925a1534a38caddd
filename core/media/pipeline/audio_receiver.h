// AudioStream's engine: RTP packets of one remote SSRC in, decoded 48 kHz PCM frames out at playout time.
//
//   on_rtp -> [E2EE decrypt, async] -> AudioJitterBuffer -> poll(now) at playout time -> decode, or conceal a
//   lost frame (Opus: FEC from the next packet if it is buffered, else PLC; G.711: repeat-and-fade) ->
//   [resample 8 -> 48 kHz for G.711] -> AudioFrameSink
//
// Every frame slot comes out exactly once, decoded or concealed, in order; the sink sees which. The receiver
// also keeps RFC 3550 reception statistics for RRs and, when `nack` is set, NACKs gaps (audio NACK helps when
// the RTT is well below the playout delay; FEC/PLC cover the rest).
//
// Memory: everything is allocated by create(); on_rtp() and poll() do not allocate. Runtime-only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/common/error.h"
#include "core/media/jitter/audio_jitter_buffer.h"
#include "core/media/pipeline/audio_sender.h"
#include "core/media/pipeline/rtp_streams.h"
#include "tandem/platform/platform.h"

namespace tandem::media {

enum class AudioFrameOrigin : uint8_t { decoded, fec, concealed };

struct AudioFrame {
  std::span<const int16_t> pcm;  // interleaved, 48 kHz; valid during on_audio_frame only
  int channels = 1;
  uint32_t sample_rate = 48000;
  uint32_t samples_per_channel = 0;
  uint32_t rtp_timestamp = 0;
  uint64_t playout_ns = 0;
  AudioFrameOrigin origin = AudioFrameOrigin::decoded;
};

class AudioFrameSink {
 public:
  virtual void on_audio_frame(const AudioFrame& frame) = 0;

 protected:
  ~AudioFrameSink() = default;
};

struct AudioReceiverConfig {
  AudioCodec codec = AudioCodec::opus;
  uint8_t payload_type = 111;
  uint32_t remote_ssrc = 0;
  int channels = 1;           // of the PCM handed to the sink (Opus decodes to it; G.711 is duplicated)
  uint32_t frame_ms = 20;     // the sender's packet duration
  AudioJitterConfig jitter;   // clock_rate and frame_samples are derived from codec and frame_ms
  bool nack = true;
  e2ee::KeyRing* e2ee_keys = nullptr;  // set: packets are decrypted (the sender's ring); must outlive this
  StreamWakeup* wakeup = nullptr;      // told when an async decryption moved next_timeout() earlier
};

struct AudioReceiverStats {
  AudioJitterStats jitter;
  uint64_t frames_decoded = 0;
  uint64_t frames_fec = 0;
  uint64_t frames_concealed = 0;
  uint64_t decode_errors = 0;
  uint64_t nacks_sent = 0;
  uint64_t e2ee_failures = 0;
  uint64_t wrong_payload_type = 0;
};

class AudioReceiver final : public RtpReceiveStream {
 public:
  static Result<std::unique_ptr<AudioReceiver>> create(const AudioReceiverConfig& config,
                                                       platform::Platform& platform, MediaMetrics& metrics,
                                                       AudioFrameSink& sink);
  ~AudioReceiver() override;

  AudioReceiverStats stats() const;

  // RtpReceiveStream
  MediaKind kind() const override { return MediaKind::audio; }
  uint32_t remote_ssrc() const override;
  uint8_t payload_type() const override;
  void on_rtp(const rtp::RtpPacketView& packet, uint64_t now_ns) override;
  void on_sender_report(const rtp::SenderInfo& info, uint64_t now_ns) override;
  void set_rtt(uint64_t rtt_ns) override;
  std::optional<rtp::ReportBlock> report_block(uint64_t now_ns) override;
  size_t take_nacks(uint64_t now_ns, std::span<uint16_t> out) override;
  bool take_keyframe_request() override { return false; }
  void poll(uint64_t now_ns) override;
  std::optional<uint64_t> next_timeout() const override;

  class Impl;

 private:
  explicit AudioReceiver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::media
