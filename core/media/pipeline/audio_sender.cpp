#include "core/media/pipeline/audio_sender.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "core/media/codecs/g711.h"
#include "core/media/codecs/opus_codec.h"
#include "core/media/e2ee/frame_cryptor.h"
#include "core/media/pipeline/audio_resample.h"
#include "core/media/rtp/receiver_stats.h"
#include "core/media/rtp/send_history.h"
#include "core/metrics/timer.h"

namespace tandem::media {
namespace {

constexpr uint32_t kPcmRate = 48000;
constexpr size_t kMaxFrameSamples48 = 960;  // 20 ms per channel at 48 kHz
constexpr size_t kE2eeInFlight = 16;        // 320 ms of 20 ms frames waiting for the platform's AES-GCM
// An encoded frame must fit one packet, with the E2EE trailer when there is one.
constexpr size_t kMaxFrameBytes = kMaxRtpPayload;

uint32_t rtp_clock_rate(AudioCodec codec) { return codec == AudioCodec::opus ? kOpusRtpClockRate : kG711ClockRate; }

e2ee::CodecKind e2ee_codec(AudioCodec codec) {
  switch (codec) {
    case AudioCodec::opus: return e2ee::CodecKind::opus;
    case AudioCodec::pcmu: return e2ee::CodecKind::pcmu;
    case AudioCodec::pcma: return e2ee::CodecKind::pcma;
  }
  return e2ee::CodecKind::opaque;
}

template <class T>
bool random_value(platform::Entropy& entropy, T& out) {
  uint8_t bytes[sizeof(T)];
  if (!entropy.fill(bytes)) return false;
  out = 0;
  for (uint8_t b : bytes) out = static_cast<T>((out << 8) | b);
  return true;
}

}  // namespace

class AudioSender::Impl final : private e2ee::FrameSink {
 public:
  Impl(const AudioSenderConfig& config, platform::Platform& platform, MediaMetrics& metrics, RtpPacketOutput& output,
       uint32_t ssrc, uint16_t first_seq, uint32_t first_timestamp, rtp::SendHistory history)
      : config_(config),
        platform_(platform),
        metrics_(metrics),
        output_(output),
        ssrc_(ssrc),
        ticks_per_frame_(config.frame_ms * (rtp_clock_rate(config.codec) / 1000)),
        next_seq_(first_seq),
        next_timestamp_(first_timestamp),
        history_(std::move(history)),
        sender_stats_(ssrc, rtp_clock_rate(config.codec)),
        packet_(kMaxDatagramSize + kSrtpTrailerRoom),
        mono_(kMaxFrameSamples48),
        narrow_(kMaxFrameSamples48 / kResampleFactor) {}

  Result<void> init() {
    if (config_.codec == AudioCodec::opus) {
      OpusEncoderConfig oc;
      oc.channels = config_.channels;
      oc.frame_ms = config_.frame_ms;
      oc.bitrate_bps = config_.bitrate_bps;
      oc.inband_fec = config_.inband_fec;
      oc.dtx = config_.dtx;
      auto encoder = OpusAudioEncoder::create(oc);
      if (!encoder.ok()) return encoder.error();
      opus_.emplace(std::move(encoder).value());
    }
    if (config_.e2ee_keys != nullptr) {
      frames_.resize(kE2eeInFlight * kFrameSlotBytes);
      pending_.resize(kE2eeInFlight);
      e2ee::FrameCryptorOptions options;
      options.role = e2ee::CryptorRole::sender;
      options.max_in_flight = kE2eeInFlight;
      auto cryptor = e2ee::FrameCryptor::create(platform_, *config_.e2ee_keys, *this, options);
      if (!cryptor.ok()) return cryptor.error();
      cryptor_ = std::move(cryptor).value();
    }
    return {};
  }

  uint32_t samples_per_frame() const { return config_.frame_ms * (kPcmRate / 1000); }

  Result<void> capture(std::span<const int16_t> pcm, uint64_t now_ns) {
    metrics::ScopedTimer whole(platform_.clock, metrics_.capture_audio_frame);
    if (pcm.size() != size_t{samples_per_frame()} * static_cast<size_t>(config_.channels))
      return Error{Errc::invalid_argument, "audio capture: frame must be frame_ms * 48 samples per channel"};
    ++stats_.frames_captured;
    // The timestamp advances per captured frame, sent or not: the receiver's clock keeps pace with real time.
    const uint32_t timestamp = next_timestamp_;
    next_timestamp_ += ticks_per_frame_;

    if (cryptor_ && cryptor_->in_flight() >= cryptor_->max_in_flight()) {
      ++stats_.frames_dropped;
      return Error{Errc::resource_exhausted, "audio capture: E2EE is saturated, frame dropped"};
    }
    // Without E2EE the codec writes straight into the packet, after the header.
    const std::span<uint8_t> dst =
        cryptor_ ? std::span<uint8_t>(frames_).subspan(slot_of(next_tag_) * kFrameSlotBytes, kFrameSlotBytes)
                 : std::span<uint8_t>(packet_).subspan(rtp::kRtpFixedHeaderSize, kMaxFrameBytes);
    const size_t budget = cryptor_ ? kMaxFrameBytes - e2ee::kFrameOverhead : kMaxFrameBytes;
    Result<size_t> encoded = encode(pcm, dst.first(budget));
    if (!encoded.ok()) {
      ++stats_.frames_dropped;
      return encoded.error();
    }
    if (config_.dtx && opus_ && *encoded <= 2) {
      marker_next_ = true;  // silence is not sent; the next talk spurt starts with the marker (RFC 3551 4.1)
      return {};
    }
    if (!cryptor_) return send(dst.first(*encoded), timestamp, now_ns);

    Pending& p = pending_[slot_of(next_tag_)];
    p.timestamp = timestamp;
    p.submitted_ns = platform_.clock.now_ns();
    Result<void> submitted = cryptor_->encrypt(dst, *encoded, e2ee_codec(config_.codec), next_tag_);
    if (!submitted.ok()) {
      ++stats_.frames_dropped;
      return submitted;
    }
    ++next_tag_;
    return {};
  }

  void on_nack(const rtp::NackView& nack, uint64_t now_ns) {
    uint64_t asked = 0;
    for (uint16_t seq : nack.lost_sequence_numbers()) {
      (void)seq;
      ++asked;
    }
    metrics_.audio_counters.nacks_received.add(asked);
    const size_t resent = history_.answer_nack(
        nack, now_ns, [&](std::span<const uint8_t> packet) { output_.resend_rtp(packet, now_ns); });
    metrics_.audio_counters.retransmissions.add(resent);
    stats_.retransmissions += resent;
  }

  void on_report_block(const rtp::ReportBlock& block) {
    stats_.last_fraction_lost = block.fraction_lost;
    if (!opus_) return;
    // Round up: any reported loss keeps in-band FEC on (libopus spends nothing on it at 0%).
    const int percent = (int{block.fraction_lost} * 100 + 255) / 256;
    (void)opus_->set_packet_loss_percent(std::clamp(percent, 0, 100));
  }

  uint32_t ssrc() const { return ssrc_; }
  bool has_sent() const { return stats_.packets_sent > 0; }
  rtp::SenderInfo sender_info(uint64_t now_ns, uint64_t ntp_offset_ns) const {
    return sender_stats_.sender_info(now_ns, ntp_offset_ns);
  }
  const AudioSenderStats& stats() const { return stats_; }

 private:
  // One in-flight E2EE frame: its buffer is frames_[slot * kFrameSlotBytes ...].
  struct Pending {
    uint32_t timestamp = 0;
    uint64_t submitted_ns = 0;
  };
  static constexpr size_t kFrameSlotBytes = kMaxFrameBytes;

  static size_t slot_of(uint64_t tag) { return static_cast<size_t>(tag % kE2eeInFlight); }

  Result<size_t> encode(std::span<const int16_t> pcm, std::span<uint8_t> out) {
    metrics::ScopedTimer timer(platform_.clock, metrics_.audio.encode);
    if (opus_) return opus_->encode(pcm, out);
    // G.711: downmix to mono, then 48 -> 8 kHz (the resampling is part of this codec's encode cost).
    std::span<const int16_t> mono = pcm;
    if (config_.channels == 2) {
      const size_t n = pcm.size() / 2;
      for (size_t i = 0; i < n; ++i) mono_[i] = static_cast<int16_t>((int32_t{pcm[2 * i]} + pcm[2 * i + 1]) / 2);
      mono = std::span<const int16_t>(mono_).first(n);
    }
    const size_t narrow = downsampler_.process(mono, narrow_);
    const std::span<const int16_t> samples = std::span<const int16_t>(narrow_).first(narrow);
    return config_.codec == AudioCodec::pcmu ? pcmu_encode(samples, out) : pcma_encode(samples, out);
  }

  Result<void> send(std::span<const uint8_t> payload, uint32_t timestamp, uint64_t now_ns) {
    rtp::RtpHeader header;
    header.payload_type = config_.payload_type;
    header.marker = marker_next_;
    header.sequence_number = next_seq_;
    header.timestamp = timestamp;
    header.ssrc = ssrc_;
    Result<size_t> size = [&] {
      metrics::ScopedTimer timer(platform_.clock, metrics_.audio.packetize);
      return rtp::write_rtp(header, payload, packet_);
    }();
    if (!size.ok()) {
      ++stats_.frames_dropped;
      return size.error();
    }
    Result<size_t> sent = output_.send_rtp(packet_, *size, now_ns);
    if (!sent.ok()) {
      ++stats_.frames_dropped;  // the sequence number was not used: the receiver sees no gap
      return sent.error();
    }
    (void)history_.store(std::span<const uint8_t>(packet_).first(*sent), now_ns);
    ++next_seq_;
    marker_next_ = false;
    sender_stats_.on_packet_sent(payload.size(), timestamp, now_ns);
    ++stats_.frames_sent;
    ++stats_.packets_sent;
    stats_.bytes_sent += payload.size();
    metrics_.audio_counters.packets_sent.add();
    metrics_.audio_counters.frames_sent.add();
    return {};
  }

  // e2ee::FrameSink: encrypted frames come back in capture order, from a later runtime task.
  void on_frame(const e2ee::CryptedFrame& frame) override {
    const uint64_t now = platform_.clock.now_ns();
    const Pending& p = pending_[slot_of(frame.user_tag)];
    metrics_.e2ee_encrypt.record(now > p.submitted_ns ? now - p.submitted_ns : 0);
    if (frame.error != Errc::ok) {
      ++stats_.frames_dropped;
      return;
    }
    (void)send(frame.frame, p.timestamp, now);
  }

  const AudioSenderConfig config_;
  platform::Platform& platform_;
  MediaMetrics& metrics_;
  RtpPacketOutput& output_;
  const uint32_t ssrc_;
  const uint32_t ticks_per_frame_;
  uint16_t next_seq_;
  uint32_t next_timestamp_;
  bool marker_next_ = true;
  rtp::SendHistory history_;
  rtp::SenderStats sender_stats_;
  AudioSenderStats stats_;

  std::optional<OpusAudioEncoder> opus_;
  Downsampler48To8 downsampler_;
  std::vector<uint8_t> packet_;
  std::vector<int16_t> mono_;
  std::vector<int16_t> narrow_;

  std::vector<uint8_t> frames_;    // E2EE frame buffers, lent to the cryptor
  std::vector<Pending> pending_;
  uint64_t next_tag_ = 0;
  std::unique_ptr<e2ee::FrameCryptor> cryptor_;  // last: destroyed first, while the buffers still exist
};

Result<std::unique_ptr<AudioSender>> AudioSender::create(const AudioSenderConfig& config,
                                                         platform::Platform& platform, MediaMetrics& metrics,
                                                         RtpPacketOutput& output) {
  if (config.codec != AudioCodec::opus && config.codec != AudioCodec::pcmu && config.codec != AudioCodec::pcma)
    return Error{Errc::invalid_argument, "audio sender: unknown codec"};
  if (config.channels != 1 && config.channels != 2)
    return Error{Errc::invalid_argument, "audio sender: channels must be 1 or 2"};
  if (config.frame_ms != 10 && config.frame_ms != 20)
    return Error{Errc::invalid_argument, "audio sender: frame_ms must be 10 or 20"};
  if (config.payload_type > 127) return Error{Errc::invalid_argument, "audio sender: payload type must be 0..127"};
  if (config.history_packets == 0 || config.history_packets > 32768)
    return Error{Errc::invalid_argument, "audio sender: history_packets must be 1..32768"};

  uint32_t ssrc = config.ssrc;
  uint16_t first_seq = 0;
  uint32_t first_timestamp = 0;
  while (ssrc == 0)
    if (!random_value(platform.entropy, ssrc)) return Error{Errc::internal, "audio sender: entropy failed"};
  if (!random_value(platform.entropy, first_seq) || !random_value(platform.entropy, first_timestamp))
    return Error{Errc::internal, "audio sender: entropy failed"};

  rtp::SendHistoryOptions history;
  history.capacity = config.history_packets;
  history.max_packet_size = kMaxDatagramSize + kSrtpTrailerRoom;  // protected packets
  auto impl = std::make_unique<Impl>(config, platform, metrics, output, ssrc, first_seq, first_timestamp,
                                     rtp::SendHistory(history));
  if (Result<void> ok = impl->init(); !ok.ok()) return ok.error();
  return std::unique_ptr<AudioSender>(new AudioSender(std::move(impl)));
}

AudioSender::AudioSender(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AudioSender::~AudioSender() = default;

Result<void> AudioSender::capture(std::span<const int16_t> pcm, uint64_t now_ns) { return impl_->capture(pcm, now_ns); }
uint32_t AudioSender::samples_per_frame() const { return impl_->samples_per_frame(); }
AudioSenderStats AudioSender::stats() const { return impl_->stats(); }
uint32_t AudioSender::ssrc() const { return impl_->ssrc(); }
bool AudioSender::has_sent() const { return impl_->has_sent(); }
rtp::SenderInfo AudioSender::sender_info(uint64_t now_ns, uint64_t ntp_offset_ns) const {
  return impl_->sender_info(now_ns, ntp_offset_ns);
}
void AudioSender::on_nack(const rtp::NackView& nack, uint64_t now_ns) { impl_->on_nack(nack, now_ns); }
void AudioSender::on_report_block(const rtp::ReportBlock& block, std::optional<uint64_t>, uint64_t) {
  impl_->on_report_block(block);
}

}  // namespace tandem::media
