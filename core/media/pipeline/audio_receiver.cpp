#include "core/media/pipeline/audio_receiver.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "core/media/codecs/g711.h"
#include "core/media/codecs/opus_codec.h"
#include "core/media/e2ee/frame_cryptor.h"
#include "core/media/jitter/nack_tracker.h"
#include "core/media/pipeline/audio_resample.h"
#include "core/media/rtp/receiver_stats.h"
#include "core/metrics/timer.h"

namespace tandem::media {
namespace {

constexpr uint32_t kPcmRate = 48000;
constexpr size_t kMaxPacketSamples48 = kOpusMaxPacketSamples;  // 120 ms per channel: the longest Opus packet
constexpr size_t kMaxG711Samples = kMaxPacketSamples48 / kResampleFactor;
constexpr size_t kE2eeInFlight = 32;
// G.711 concealment: each repeated frame is this much quieter than the one before (-6 dB), so a long gap
// fades to silence within ~100 ms instead of buzzing.
constexpr float kConcealFade = 0.5f;

uint32_t rtp_clock_rate(AudioCodec codec) { return codec == AudioCodec::opus ? kOpusRtpClockRate : kG711ClockRate; }

}  // namespace

class AudioReceiver::Impl final : private e2ee::FrameSink {
 public:
  Impl(const AudioReceiverConfig& config, platform::Platform& platform, MediaMetrics& metrics, AudioFrameSink& sink,
       AudioJitterBuffer jitter, std::optional<NackTracker> nack)
      : config_(config),
        platform_(platform),
        metrics_(metrics),
        sink_(sink),
        jitter_(std::move(jitter)),
        nack_(std::move(nack)),
        rx_stats_(config.remote_ssrc, rtp_clock_rate(config.codec)),
        arrivals_(config.jitter.capacity),
        pcm_(kMaxPacketSamples48 * static_cast<size_t>(config.channels)),
        narrow_(kMaxG711Samples),
        last_narrow_(kMaxG711Samples),
        wide_(kMaxPacketSamples48) {}

  Result<void> init() {
    if (config_.codec == AudioCodec::opus) {
      auto decoder = OpusAudioDecoder::create(config_.channels);
      if (!decoder.ok()) return decoder.error();
      opus_.emplace(std::move(decoder).value());
    }
    if (config_.e2ee_keys != nullptr) {
      slot_bytes_ = config_.jitter.max_payload + e2ee::kFrameOverhead;
      encrypted_.resize(kE2eeInFlight * slot_bytes_);
      pending_.resize(kE2eeInFlight);
      e2ee::FrameCryptorOptions options;
      options.role = e2ee::CryptorRole::receiver;
      options.max_in_flight = kE2eeInFlight;
      auto cryptor = e2ee::FrameCryptor::create(platform_, *config_.e2ee_keys, *this, options);
      if (!cryptor.ok()) return cryptor.error();
      cryptor_ = std::move(cryptor).value();
    }
    return {};
  }

  uint32_t remote_ssrc() const { return config_.remote_ssrc; }
  uint8_t payload_type() const { return config_.payload_type; }

  void on_rtp(const rtp::RtpPacketView& packet, uint64_t now_ns) {
    if (packet.payload_type != config_.payload_type) {
      ++stats_.wrong_payload_type;
      return;
    }
    metrics_.audio_counters.packets_received.add();
    rx_stats_.on_packet(packet, now_ns);
    // Counters only grow: a late packet lowers RFC 3550's cumulative loss, the counter keeps its peak.
    const int64_t lost = rx_stats_.cumulative_lost();
    if (lost > lost_counted_) {
      metrics_.audio_counters.packets_lost.add(static_cast<uint64_t>(lost - lost_counted_));
      lost_counted_ = lost;
    }
    if (nack_) nack_->on_packet(packet.sequence_number, now_ns);
    arrivals_[packet.sequence_number % arrivals_.size()] = {packet.sequence_number, true, now_ns};

    if (!cryptor_) {
      insert(packet.sequence_number, packet.timestamp, packet.marker, packet.payload, now_ns);
      return;
    }
    submit_decrypt(packet);
  }

  void on_sender_report(const rtp::SenderInfo& info, uint64_t now_ns) {
    rx_stats_.on_sender_report(info.ntp_timestamp, now_ns);
  }
  void set_rtt(uint64_t rtt_ns) {
    if (nack_) nack_->set_rtt(rtt_ns);
  }
  std::optional<rtp::ReportBlock> report_block(uint64_t now_ns) {
    if (!rx_stats_.has_packets()) return std::nullopt;
    return rx_stats_.make_report_block(now_ns);
  }
  size_t take_nacks(uint64_t now_ns, std::span<uint16_t> out) {
    if (!nack_) return 0;
    const size_t n = nack_->collect_nacks(now_ns, out);
    stats_.nacks_sent += n;
    metrics_.audio_counters.nacks_sent.add(n);
    return n;
  }

  void poll(uint64_t now_ns) {
    for (AudioOutput out = jitter_.pop(now_ns); out.kind != AudioPop::none; out = jitter_.pop(now_ns)) {
      play(out, now_ns);
      // A retransmission of this frame or an earlier one could only be late now.
      if (nack_) nack_->forget_before(static_cast<uint16_t>(out.seq + 1));
    }
  }

  std::optional<uint64_t> next_timeout() const {
    std::optional<uint64_t> t = jitter_.next_due_ns();
    if (nack_) {
      if (const std::optional<uint64_t> n = nack_->next_timeout(); n && (!t || *n < *t)) t = n;
    }
    return t;
  }

  AudioReceiverStats stats() const {
    AudioReceiverStats s = stats_;
    s.jitter = jitter_.stats();
    return s;
  }

 private:
  struct Arrival {
    uint16_t seq = 0;
    bool valid = false;
    uint64_t ns = 0;
  };
  // A packet waiting for decryption: its payload sits in encrypted_[slot * slot_bytes_ ...].
  struct Pending {
    uint16_t seq = 0;
    uint32_t timestamp = 0;
    bool marker = false;
    uint64_t submitted_ns = 0;
  };

  void insert(uint16_t seq, uint32_t timestamp, bool marker, std::span<const uint8_t> payload, uint64_t now_ns) {
    MediaPacket packet;
    packet.seq = seq;
    packet.rtp_timestamp = timestamp;
    packet.marker = marker;
    packet.payload = payload;
    packet.arrival_ns = now_ns;
    (void)jitter_.insert(packet);  // too large: counted as rejected by the buffer
    const AudioJitterStats js = jitter_.stats();
    metrics_.audio_counters.late_packets.add(js.late - late_counted_);
    metrics_.audio_counters.duplicate_packets.add(js.duplicates - duplicates_counted_);
    late_counted_ = js.late;
    duplicates_counted_ = js.duplicates;
  }

  void submit_decrypt(const rtp::RtpPacketView& packet) {
    if (packet.payload.size() > slot_bytes_) {
      ++stats_.e2ee_failures;
      metrics_.e2ee_failures.add();
      return;
    }
    const size_t slot = static_cast<size_t>(next_tag_ % kE2eeInFlight);
    if (cryptor_->in_flight() >= cryptor_->max_in_flight()) {
      metrics_.audio_counters.frames_dropped.add();  // saturated: the frame is lost, PLC covers it
      return;
    }
    const std::span<uint8_t> buffer =
        std::span<uint8_t>(encrypted_).subspan(slot * slot_bytes_, packet.payload.size());
    std::copy(packet.payload.begin(), packet.payload.end(), buffer.begin());
    pending_[slot] = {packet.sequence_number, packet.timestamp, packet.marker, platform_.clock.now_ns()};
    if (!cryptor_->decrypt(buffer, next_tag_).ok()) {
      ++stats_.e2ee_failures;  // not an encrypted frame, or no key: it cannot be played
      metrics_.e2ee_failures.add();
      return;
    }
    ++next_tag_;
  }

  // e2ee::FrameSink: decrypted packets come back in arrival order, from a later runtime task.
  void on_frame(const e2ee::CryptedFrame& frame) override {
    const uint64_t now = platform_.clock.now_ns();
    const Pending& p = pending_[static_cast<size_t>(frame.user_tag % kE2eeInFlight)];
    metrics_.e2ee_decrypt.record(now > p.submitted_ns ? now - p.submitted_ns : 0);
    if (frame.error != Errc::ok) {
      ++stats_.e2ee_failures;
      metrics_.e2ee_failures.add();
      return;
    }
    const std::optional<uint64_t> before = next_timeout();
    // The buffer sees the packet when it became usable, so its delay estimate includes decryption.
    insert(p.seq, p.timestamp, p.marker, frame.frame, now);
    const std::optional<uint64_t> after = next_timeout();
    if (config_.wakeup != nullptr && after && (!before || *after < *before)) config_.wakeup->wake();
  }

  // Decodes (or conceals) one frame slot and hands it to the sink.
  void play(const AudioOutput& out, uint64_t now_ns) {
    metrics::ScopedTimer forward(platform_.clock, metrics_.forward_audio_frame);
    AudioFrameOrigin origin = AudioFrameOrigin::decoded;
    size_t samples = 0;
    {
      metrics::ScopedTimer timer(platform_.clock, metrics_.audio.decode);
      if (out.kind == AudioPop::frame) {
        record_jitter_wait(out.seq, now_ns);
        Result<size_t> decoded = decode(out.payload);
        if (decoded.ok()) {
          samples = *decoded;
          ++stats_.frames_decoded;
        } else {
          ++stats_.decode_errors;
          metrics_.audio_counters.frames_dropped.add();
        }
      }
      if (samples == 0) samples = conceal(origin);
    }
    AudioFrame frame;
    frame.pcm = std::span<const int16_t>(pcm_).first(samples * static_cast<size_t>(config_.channels));
    frame.channels = config_.channels;
    frame.sample_rate = kPcmRate;
    frame.samples_per_channel = static_cast<uint32_t>(samples);
    frame.rtp_timestamp = out.rtp_timestamp;
    frame.playout_ns = static_cast<uint64_t>(std::max<int64_t>(out.playout_ns, 0));
    frame.origin = origin;
    metrics_.audio_counters.frames_received.add();
    sink_.on_audio_frame(frame);
  }

  void record_jitter_wait(uint16_t seq, uint64_t now_ns) {
    const Arrival& a = arrivals_[seq % arrivals_.size()];
    if (a.valid && a.seq == seq && now_ns >= a.ns) metrics_.audio.jitter_wait.record(now_ns - a.ns);
  }

  // Samples per channel at 48 kHz in pcm_, or an error (pcm_ untouched).
  Result<size_t> decode(std::span<const uint8_t> payload) {
    if (opus_) return opus_->decode(payload, pcm_);
    if (payload.empty() || payload.size() > kMaxG711Samples)
      return Error{Errc::malformed_packet, "G.711 payload size out of range"};
    Result<size_t> n =
        config_.codec == AudioCodec::pcmu ? pcmu_decode(payload, narrow_) : pcma_decode(payload, narrow_);
    if (!n.ok()) return n;
    std::copy_n(narrow_.begin(), *n, last_narrow_.begin());
    last_narrow_size_ = *n;
    conceal_gain_ = 1.0f;
    return widen(*n);
  }

  // Fills pcm_ for a lost frame: Opus from the next packet's FEC if it is buffered, else PLC; G.711 repeats
  // the last frame, fading. Returns samples per channel (a whole frame; silence if all else fails).
  size_t conceal(AudioFrameOrigin& origin) {
    origin = AudioFrameOrigin::concealed;
    const size_t frame = static_cast<size_t>(config_.frame_ms) * (kPcmRate / 1000);
    if (opus_) {
      const AudioOutput next = jitter_.peek();
      if (next.kind == AudioPop::frame) {
        Result<bool> has_fec = opus_packet_has_fec(next.payload);
        if (has_fec.ok() && *has_fec) {
          Result<size_t> n = opus_->decode_fec(next.payload, static_cast<uint32_t>(frame), pcm_);
          if (n.ok()) {
            origin = AudioFrameOrigin::fec;
            ++stats_.frames_fec;
            metrics_.audio_fec_recovered.add();
            return *n;
          }
        }
      }
      ++stats_.frames_concealed;
      metrics_.audio_concealed.add();
      if (Result<size_t> n = opus_->decode_lost(static_cast<uint32_t>(frame), pcm_); n.ok()) return *n;
      std::fill_n(pcm_.begin(), frame * static_cast<size_t>(config_.channels), int16_t{0});
      return frame;
    }
    ++stats_.frames_concealed;
    metrics_.audio_concealed.add();
    // Repeat the last frame with the gain ramping down across it, so the fade has no steps.
    const size_t n = frame / kResampleFactor;
    const float from = conceal_gain_, to = conceal_gain_ * kConcealFade;
    for (size_t i = 0; i < n; ++i) {
      const float gain = from + (to - from) * static_cast<float>(i) / static_cast<float>(n);
      const int16_t last = i < last_narrow_size_ ? last_narrow_[i] : int16_t{0};
      narrow_[i] = static_cast<int16_t>(static_cast<float>(last) * gain);
    }
    conceal_gain_ = to;
    return widen(n);
  }

  // narrow_[0, n) at 8 kHz mono -> pcm_ at 48 kHz in the sink's channel count.
  size_t widen(size_t n) {
    const std::span<const int16_t> in = std::span<const int16_t>(narrow_).first(n);
    if (config_.channels == 1) return upsampler_.process(in, pcm_);
    const size_t wide = upsampler_.process(in, wide_);
    for (size_t i = 0; i < wide; ++i) pcm_[2 * i] = pcm_[2 * i + 1] = wide_[i];
    return wide;
  }

  const AudioReceiverConfig config_;
  platform::Platform& platform_;
  MediaMetrics& metrics_;
  AudioFrameSink& sink_;
  AudioJitterBuffer jitter_;
  std::optional<NackTracker> nack_;
  rtp::ReceiverStats rx_stats_;
  AudioReceiverStats stats_;
  int64_t lost_counted_ = 0;
  uint64_t late_counted_ = 0;
  uint64_t duplicates_counted_ = 0;
  std::vector<Arrival> arrivals_;  // network arrival per sequence number (mod capacity), for jitter_wait

  std::optional<OpusAudioDecoder> opus_;
  Upsampler8To48 upsampler_;
  std::vector<int16_t> pcm_;          // the frame handed to the sink: 48 kHz, interleaved
  std::vector<int16_t> narrow_;       // G.711: 8 kHz mono
  std::vector<int16_t> last_narrow_;  // G.711: the last decoded frame, repeated to conceal a loss
  size_t last_narrow_size_ = 0;
  float conceal_gain_ = 1.0f;
  std::vector<int16_t> wide_;  // G.711 stereo: 48 kHz mono before duplication

  size_t slot_bytes_ = 0;
  std::vector<uint8_t> encrypted_;  // E2EE: payloads lent to the cryptor
  std::vector<Pending> pending_;
  uint64_t next_tag_ = 0;
  std::unique_ptr<e2ee::FrameCryptor> cryptor_;  // last: destroyed first, while the buffers still exist
};

Result<std::unique_ptr<AudioReceiver>> AudioReceiver::create(const AudioReceiverConfig& config,
                                                             platform::Platform& platform, MediaMetrics& metrics,
                                                             AudioFrameSink& sink) {
  if (config.codec != AudioCodec::opus && config.codec != AudioCodec::pcmu && config.codec != AudioCodec::pcma)
    return Error{Errc::invalid_argument, "audio receiver: unknown codec"};
  if (config.channels != 1 && config.channels != 2)
    return Error{Errc::invalid_argument, "audio receiver: channels must be 1 or 2"};
  if (config.frame_ms != 10 && config.frame_ms != 20)
    return Error{Errc::invalid_argument, "audio receiver: frame_ms must be 10 or 20"};
  if (config.payload_type > 127) return Error{Errc::invalid_argument, "audio receiver: payload type must be 0..127"};

  AudioReceiverConfig c = config;
  c.jitter.clock_rate = rtp_clock_rate(config.codec);
  c.jitter.frame_samples = config.frame_ms * (c.jitter.clock_rate / 1000);
  auto jitter = AudioJitterBuffer::create(c.jitter);
  if (!jitter.ok()) return jitter.error();
  std::optional<NackTracker> nack;
  if (config.nack) {
    // Wait half a packet before NACKing a gap: a reordered packet usually arrives within that, and each
    // NACK it saves is a retransmission the path does not carry (measured: 187 resends for 67 losses at 5%
    // loss + 5% reordering without the wait).
    NackConfig nack_config;
    nack_config.reorder_wait_ns = uint64_t{config.frame_ms} * 500'000;
    auto tracker = NackTracker::create(nack_config);
    if (!tracker.ok()) return tracker.error();
    nack.emplace(std::move(tracker).value());
  }
  auto impl = std::make_unique<Impl>(c, platform, metrics, sink, std::move(jitter).value(), std::move(nack));
  if (Result<void> ok = impl->init(); !ok.ok()) return ok.error();
  return std::unique_ptr<AudioReceiver>(new AudioReceiver(std::move(impl)));
}

AudioReceiver::AudioReceiver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AudioReceiver::~AudioReceiver() = default;

AudioReceiverStats AudioReceiver::stats() const { return impl_->stats(); }
uint32_t AudioReceiver::remote_ssrc() const { return impl_->remote_ssrc(); }
uint8_t AudioReceiver::payload_type() const { return impl_->payload_type(); }
void AudioReceiver::on_rtp(const rtp::RtpPacketView& packet, uint64_t now_ns) { impl_->on_rtp(packet, now_ns); }
void AudioReceiver::on_sender_report(const rtp::SenderInfo& info, uint64_t now_ns) {
  impl_->on_sender_report(info, now_ns);
}
void AudioReceiver::set_rtt(uint64_t rtt_ns) { impl_->set_rtt(rtt_ns); }
std::optional<rtp::ReportBlock> AudioReceiver::report_block(uint64_t now_ns) { return impl_->report_block(now_ns); }
size_t AudioReceiver::take_nacks(uint64_t now_ns, std::span<uint16_t> out) { return impl_->take_nacks(now_ns, out); }
void AudioReceiver::poll(uint64_t now_ns) { impl_->poll(now_ns); }
std::optional<uint64_t> AudioReceiver::next_timeout() const { return impl_->next_timeout(); }

}  // namespace tandem::media
