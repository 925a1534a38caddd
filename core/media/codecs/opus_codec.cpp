#include "core/media/codecs/opus_codec.h"

#include <opus/opus.h>

#include <algorithm>
#include <string>

namespace tandem::media {
namespace {

Error opus_error(Errc code, const char* what, int status) {
  return Error{code, std::string(what) + ": " + opus_strerror(status)};
}

// libopus reports a bad packet as OPUS_INVALID_PACKET (or OPUS_INTERNAL_ERROR for some corrupt frames);
// everything else that fails here is the caller's argument.
Errc decode_errc(int status) {
  return status == OPUS_INVALID_PACKET || status == OPUS_INTERNAL_ERROR ? Errc::malformed_packet
                                                                        : Errc::invalid_argument;
}

bool valid_channels(int channels) { return channels == 1 || channels == 2; }

}  // namespace

void OpusAudioEncoder::Destroy::operator()(::OpusEncoder* state) const { opus_encoder_destroy(state); }
void OpusAudioDecoder::Destroy::operator()(::OpusDecoder* state) const { opus_decoder_destroy(state); }

Result<OpusAudioEncoder> OpusAudioEncoder::create(const OpusEncoderConfig& config) {
  if (!valid_channels(config.channels)) return Error{Errc::invalid_argument, "Opus: channels must be 1 or 2"};
  if (config.frame_ms != 10 && config.frame_ms != 20)
    return Error{Errc::invalid_argument, "Opus: frame_ms must be 10 or 20"};
  if (config.complexity < 0 || config.complexity > 10)
    return Error{Errc::invalid_argument, "Opus: complexity must be 0..10"};
  if (config.packet_loss_percent < 0 || config.packet_loss_percent > 100)
    return Error{Errc::invalid_argument, "Opus: packet_loss_percent must be 0..100"};
  if (config.bitrate_bps < 6000 || config.bitrate_bps > 510000)
    return Error{Errc::invalid_argument, "Opus: bitrate must be 6000..510000 bps"};

  int status = OPUS_OK;
  // VOIP: favours speech intelligibility and enables the SILK/hybrid modes that carry in-band FEC.
  ::OpusEncoder* raw = opus_encoder_create(kOpusSampleRate, config.channels, OPUS_APPLICATION_VOIP, &status);
  if (raw == nullptr) return opus_error(Errc::internal, "opus_encoder_create", status);
  OpusAudioEncoder encoder(config, raw, 0);

  const int settings[][2] = {
      {OPUS_SET_BITRATE_REQUEST, config.bitrate_bps},
      {OPUS_SET_COMPLEXITY_REQUEST, config.complexity},
      {OPUS_SET_INBAND_FEC_REQUEST, config.inband_fec ? 1 : 0},
      {OPUS_SET_PACKET_LOSS_PERC_REQUEST, config.packet_loss_percent},
      {OPUS_SET_DTX_REQUEST, config.dtx ? 1 : 0},
  };
  for (const auto& [request, value] : settings) {
    status = opus_encoder_ctl(raw, request, value);
    if (status != OPUS_OK) return opus_error(Errc::invalid_argument, "opus_encoder_ctl", status);
  }
  opus_int32 lookahead = 0;
  opus_encoder_ctl(raw, OPUS_GET_LOOKAHEAD(&lookahead));
  encoder.lookahead_ = static_cast<uint32_t>(lookahead);
  return encoder;
}

Result<size_t> OpusAudioEncoder::encode(std::span<const int16_t> pcm, std::span<uint8_t> out) {
  const size_t expected = size_t{frame_samples()} * static_cast<size_t>(config_.channels);
  if (pcm.size() != expected) return Error{Errc::invalid_argument, "Opus: encode takes exactly one frame"};
  if (out.empty()) return Error{Errc::invalid_argument, "Opus: empty output buffer"};
  const opus_int32 capacity = static_cast<opus_int32>(std::min<size_t>(out.size(), 1 << 20));
  const int n = opus_encode(state_.get(), pcm.data(), static_cast<int>(frame_samples()), out.data(), capacity);
  if (n < 0) return opus_error(Errc::invalid_argument, "opus_encode", n);
  return static_cast<size_t>(n);
}

Result<void> OpusAudioEncoder::set_bitrate(int bitrate_bps) {
  if (bitrate_bps < 6000 || bitrate_bps > 510000)
    return Error{Errc::invalid_argument, "Opus: bitrate must be 6000..510000 bps"};
  opus_encoder_ctl(state_.get(), OPUS_SET_BITRATE(bitrate_bps));
  config_.bitrate_bps = bitrate_bps;
  return {};
}

Result<void> OpusAudioEncoder::set_packet_loss_percent(int percent) {
  if (percent < 0 || percent > 100) return Error{Errc::invalid_argument, "Opus: packet_loss_percent must be 0..100"};
  opus_encoder_ctl(state_.get(), OPUS_SET_PACKET_LOSS_PERC(percent));
  config_.packet_loss_percent = percent;
  return {};
}

Result<OpusAudioDecoder> OpusAudioDecoder::create(int channels) {
  if (!valid_channels(channels)) return Error{Errc::invalid_argument, "Opus: channels must be 1 or 2"};
  int status = OPUS_OK;
  ::OpusDecoder* raw = opus_decoder_create(kOpusSampleRate, channels, &status);
  if (raw == nullptr) return opus_error(Errc::internal, "opus_decoder_create", status);
  return OpusAudioDecoder(channels, raw);
}

Result<size_t> OpusAudioDecoder::run(const uint8_t* data, size_t size, uint32_t samples, std::span<int16_t> pcm,
                                     bool fec) {
  if (size_t{samples} * static_cast<size_t>(channels_) > pcm.size())
    return Error{Errc::invalid_argument, "Opus: output buffer too small"};
  const int n = opus_decode(state_.get(), data, static_cast<opus_int32>(size), pcm.data(), static_cast<int>(samples),
                            fec ? 1 : 0);
  if (n < 0) return opus_error(decode_errc(n), "opus_decode", n);
  return static_cast<size_t>(n);
}

Result<size_t> OpusAudioDecoder::decode(std::span<const uint8_t> packet, std::span<int16_t> pcm) {
  // libopus would take an empty packet as "lost"; on the wire it is a broken payload, so say so.
  if (packet.empty()) return Error{Errc::malformed_packet, "empty Opus packet"};
  if (packet.size() > 0x7FFFFFFF) return Error{Errc::malformed_packet, "Opus packet too large"};
  // libopus needs the room for the packet's full duration up front; give it what the caller has, capped at
  // the longest legal packet, and let it reject packets that need more.
  const size_t room = std::min<size_t>(pcm.size() / static_cast<size_t>(channels_), kOpusMaxPacketSamples);
  return run(packet.data(), packet.size(), static_cast<uint32_t>(room), pcm, false);
}

Result<size_t> OpusAudioDecoder::decode_lost(uint32_t samples, std::span<int16_t> pcm) {
  if (samples == 0 || samples % 120 != 0 || samples > kOpusMaxPacketSamples)
    return Error{Errc::invalid_argument, "Opus: lost duration must be a multiple of 2.5 ms up to 120 ms"};
  return run(nullptr, 0, samples, pcm, false);
}

Result<size_t> OpusAudioDecoder::decode_fec(std::span<const uint8_t> next_packet, uint32_t samples,
                                            std::span<int16_t> pcm) {
  if (next_packet.empty()) return Error{Errc::malformed_packet, "empty Opus packet"};
  if (samples == 0 || samples % 120 != 0 || samples > kOpusMaxPacketSamples)
    return Error{Errc::invalid_argument, "Opus: lost duration must be a multiple of 2.5 ms up to 120 ms"};
  // FEC decoding wants exactly the lost duration (libopus decodes the LBRR frame into its last 20 ms and
  // conceals anything before it).
  return run(next_packet.data(), next_packet.size(), samples, pcm, true);
}

uint32_t OpusAudioDecoder::last_packet_samples() const {
  opus_int32 samples = 0;
  opus_decoder_ctl(state_.get(), OPUS_GET_LAST_PACKET_DURATION(&samples));
  return samples > 0 ? static_cast<uint32_t>(samples) : 960;
}

}  // namespace tandem::media
