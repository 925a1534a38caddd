// Opus (RFC 6716) over libopus: an encoder for 48 kHz mono or stereo in 10 or 20 ms frames, tuned for calls
// (in-band FEC, optional DTX), and a decoder with the three ways a receiver fills a frame: decode a packet,
// conceal a lost one (PLC), or rebuild a lost one from the in-band FEC of the packet after it.
//
// Samples are interleaved 16-bit PCM. Both objects allocate their libopus state once, in create(); encode
// and decode never allocate (libopus works on the stack). Not thread-safe: one runtime thread owns each.
// Errors are values: a packet libopus cannot parse is Errc::malformed_packet (drop it and count it, then treat
// the frame as lost); a wrong-sized buffer or an out-of-range setting is Errc::invalid_argument.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "core/common/error.h"
#include "core/media/codecs/opus_payload.h"

// libopus's state types; keeps <opus/opus.h> out of our headers.
struct OpusEncoder;
struct OpusDecoder;

namespace tandem::media {

inline constexpr uint32_t kOpusSampleRate = 48000;

struct OpusEncoderConfig {
  int channels = 1;             // 1 or 2
  uint32_t frame_ms = 20;       // 10 or 20
  int bitrate_bps = 32000;      // 6000 .. 510000
  int complexity = 9;           // 0 .. 10; 9 is a common real-time choice (10 costs ~20% more for little)
  // In-band FEC: SILK re-encodes the previous frame at low rate into each packet. libopus only spends bits
  // on it when the expected loss is above zero, so the hint matters as much as the switch.
  bool inband_fec = true;
  int packet_loss_percent = 10;  // 0 .. 100; update it from RTCP receiver reports
  // Discontinuous transmission: during silence the encoder emits packets of at most 2 bytes (the caller may
  // skip sending those) and one every 400 ms to keep comfort noise going.
  bool dtx = false;
};

class OpusAudioEncoder {
 public:
  static Result<OpusAudioEncoder> create(const OpusEncoderConfig& config);

  OpusAudioEncoder(OpusAudioEncoder&&) noexcept = default;
  OpusAudioEncoder& operator=(OpusAudioEncoder&&) noexcept = default;

  const OpusEncoderConfig& config() const { return config_; }
  // Samples per channel in one frame (480 or 960), which is also the RTP timestamp step.
  uint32_t frame_samples() const { return config_.frame_ms * (kOpusSampleRate / 1000); }
  // Delay the encoder adds (its look-ahead), in samples per channel: the decoded signal lags by this much.
  uint32_t lookahead_samples() const { return lookahead_; }

  // Encodes exactly one frame: `pcm` holds frame_samples() * channels interleaved samples. Writes the packet
  // into `out` and returns its size. 1275 bytes is the most one frame can take; 4000 covers anything.
  // With DTX, a result of at most 2 bytes means "silence: need not be sent".
  Result<size_t> encode(std::span<const int16_t> pcm, std::span<uint8_t> out);

  // Adjustments a running call makes (congestion control, loss reports). No allocation.
  Result<void> set_bitrate(int bitrate_bps);
  Result<void> set_packet_loss_percent(int percent);

 private:
  struct Destroy {
    void operator()(::OpusEncoder* state) const;
  };
  OpusAudioEncoder(const OpusEncoderConfig& config, ::OpusEncoder* state, uint32_t lookahead)
      : config_(config), state_(state), lookahead_(lookahead) {}

  OpusEncoderConfig config_;
  std::unique_ptr<::OpusEncoder, Destroy> state_;
  uint32_t lookahead_ = 0;
};

class OpusAudioDecoder {
 public:
  // `channels` is what the decoder outputs (1 or 2), whatever the packets carry: libopus down- or up-mixes.
  static Result<OpusAudioDecoder> create(int channels);

  OpusAudioDecoder(OpusAudioDecoder&&) noexcept = default;
  OpusAudioDecoder& operator=(OpusAudioDecoder&&) noexcept = default;

  int channels() const { return channels_; }

  // Decodes a packet into `pcm` (interleaved; room for the packet's duration times channels, at most
  // kOpusMaxPacketSamples per channel). Returns samples per channel.
  Result<size_t> decode(std::span<const uint8_t> packet, std::span<int16_t> pcm);

  // Conceals `samples` (per channel, a multiple of 120 = 2.5 ms) of lost audio: extrapolates from what was
  // decoded before, fading out over long gaps. Returns `samples`.
  Result<size_t> decode_lost(uint32_t samples, std::span<int16_t> pcm);

  // Rebuilds the `samples` (per channel) of lost audio just before `next_packet` from that packet's in-band
  // FEC. Call it when packet N is missing but N+1 has arrived, then decode(N+1) as usual. If N+1 carries no
  // FEC (see opus_packet_has_fec), libopus conceals instead, as decode_lost() would.
  Result<size_t> decode_fec(std::span<const uint8_t> next_packet, uint32_t samples, std::span<int16_t> pcm);

  // Duration of the last packet decoded (or concealed), per channel: the usual size of one lost frame.
  // 960 (20 ms) before the first packet.
  uint32_t last_packet_samples() const;

 private:
  struct Destroy {
    void operator()(::OpusDecoder* state) const;
  };
  OpusAudioDecoder(int channels, ::OpusDecoder* state) : channels_(channels), state_(state) {}
  Result<size_t> run(const uint8_t* data, size_t size, uint32_t samples, std::span<int16_t> pcm, bool fec);

  int channels_ = 1;
  std::unique_ptr<::OpusDecoder, Destroy> state_;
};

}  // namespace tandem::media
