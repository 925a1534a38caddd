#include "core/media/pipeline/video_sender.h"

#include <algorithm>
#include <array>
#include <vector>

#include "core/media/codecs/vp8_payload.h"
#include "core/media/e2ee/frame_cryptor.h"
#include "core/media/pipeline/lent_frames.h"
#include "core/media/rtp/receiver_stats.h"
#include "core/media/rtp/send_history.h"
#include "core/metrics/timer.h"

namespace tandem::media {
namespace {

// Room for the encoded frames that wait for encryption: a few keyframes' worth at the largest size.
constexpr size_t kE2eeBufferBytes = 1 << 20;
constexpr size_t kE2eeMaxInFlight = 16;

// Nanoseconds on the 90 kHz clock, unwrapped (split at whole seconds so the product cannot overflow).
uint64_t ticks_90khz(uint64_t ns) {
  constexpr uint64_t kNsPerSecond = 1'000'000'000;
  return ns / kNsPerSecond * kVp8RtpClockRate + ns % kNsPerSecond * kVp8RtpClockRate / kNsPerSecond;
}

// What a frame waiting for encryption needs once it comes back.
struct PendingFrame {
  uint32_t rtp_timestamp = 0;
  bool keyframe = false;
  uint64_t submitted_ns = 0;  // platform clock, for e2ee_encrypt
};

}  // namespace

class VideoSender::Impl final : private e2ee::FrameSink {
 public:
  Impl(const VideoSenderConfig& config, platform::Platform& platform, MediaMetrics& metrics, RtpPacketOutput& output,
       Vp8Encoder encoder, Vp8Packetizer packetizer, uint32_t ssrc, uint16_t first_seq, uint32_t ts_offset)
      : config_(config),
        platform_(platform),
        metrics_(metrics),
        output_(output),
        encoder_(std::move(encoder)),
        packetizer_(std::move(packetizer)),
        history_({.capacity = config.history_packets, .max_packet_size = kMaxDatagramSize + kSrtpTrailerRoom}),
        sender_stats_(ssrc, kVp8RtpClockRate),
        packet_(kMaxDatagramSize + kSrtpTrailerRoom),
        ssrc_(ssrc),
        next_seq_(first_seq),
        ts_offset_(ts_offset) {}

  Result<void> init_e2ee() {
    if (!config_.e2ee_keys) return {};
    lent_ = LentFrames<PendingFrame>(kE2eeBufferBytes, kE2eeMaxInFlight);
    e2ee::FrameCryptorOptions options;
    options.role = e2ee::CryptorRole::sender;
    options.max_in_flight = kE2eeMaxInFlight;
    auto cryptor = e2ee::FrameCryptor::create(platform_, *config_.e2ee_keys, *this, options);
    if (!cryptor.ok()) return cryptor.error();
    cryptor_ = std::move(cryptor).value();
    return {};
  }

  Result<void> capture(const I420View& picture, uint64_t now_ns);
  void on_nack(const rtp::NackView& nack, uint64_t now_ns);
  void on_pli() {
    ++stats_.plis_received;
    metrics_.plis_received.add();
    encoder_.request_keyframe();  // the encoder's one flag makes PLIs that arrive meanwhile collapse
  }

  rtp::SenderInfo sender_info(uint64_t now_ns, uint64_t ntp_offset_ns) const {
    rtp::SenderInfo info = sender_stats_.sender_info(now_ns, ntp_offset_ns);
    // Our timestamps are the capture clock itself, so the SR can state the exact instant (the stats would
    // extrapolate from the last packet, which E2EE sends a little after its capture).
    info.rtp_timestamp = ts_offset_ + rtp::ns_to_rtp_ticks(now_ns, kVp8RtpClockRate);
    return info;
  }

  uint32_t ssrc() const { return ssrc_; }
  bool has_sent() const { return stats_.packets_sent > 0; }
  const VideoSenderStats& stats() const { return stats_; }

 private:
  void on_frame(const e2ee::CryptedFrame& frame) override;
  void send_frame(std::span<const uint8_t> frame, uint32_t rtp_timestamp, bool keyframe, uint64_t now_ns);
  void count_dropped() {
    ++stats_.frames_dropped;
    metrics_.video_counters.frames_dropped.add();
  }
  // A frame that will never reach the receiver breaks its reference chain: the next one must be a keyframe.
  // `in_flight`: later frames were already encoded against it (E2EE failed in flight) and must go too.
  void drop_frame(bool in_flight = false) {
    count_dropped();
    encoder_.request_keyframe();
    if (in_flight) chain_broken_ = true;
  }

  VideoSenderConfig config_;
  platform::Platform& platform_;
  MediaMetrics& metrics_;
  RtpPacketOutput& output_;
  Vp8Encoder encoder_;
  Vp8Packetizer packetizer_;
  rtp::SendHistory history_;
  rtp::SenderStats sender_stats_;
  std::vector<uint8_t> packet_;  // one RTP packet plus the SRTP trailer
  uint32_t ssrc_;
  uint16_t next_seq_;
  uint32_t ts_offset_;
  uint64_t last_ticks_ = 0;
  bool captured_any_ = false;
  // A frame was dropped after later ones were already encoded against it (E2EE failed in flight): those are
  // dropped too until a keyframe goes out.
  bool chain_broken_ = false;
  VideoSenderStats stats_;
  LentFrames<PendingFrame> lent_;
  std::unique_ptr<e2ee::FrameCryptor> cryptor_;  // last: destroyed first, it calls back into this
};

Result<void> VideoSender::Impl::capture(const I420View& picture, uint64_t now_ns) {
  metrics::ScopedTimer whole(platform_.clock, metrics_.capture_video_frame);
  if (!picture.valid()) return Error{Errc::invalid_argument, "video sender: invalid picture"};
  if (picture.width > config_.encoder.max_width || picture.height > config_.encoder.max_height)
    return Error{Errc::invalid_argument, "video sender: picture larger than the encoder's maximum"};
  ++stats_.frames_captured;

  // The encoder needs increasing timestamps; two captures in one 90 kHz tick still get distinct ones.
  uint64_t ticks = ticks_90khz(now_ns);
  if (captured_any_ && ticks <= last_ticks_) ticks = last_ticks_ + 1;
  last_ticks_ = ticks;
  captured_any_ = true;
  const uint32_t rtp_timestamp = ts_offset_ + static_cast<uint32_t>(ticks);

  Vp8EncodedFrame encoded;
  {
    metrics::ScopedTimer timer(platform_.clock, metrics_.video.encode);
    auto result = encoder_.encode(picture, ticks);
    if (!result.ok()) {
      drop_frame();
      return result.error();
    }
    encoded = result.value();
  }
  if (encoded.data.empty()) {  // rate control skipped it; the encoder keeps its references consistent
    count_dropped();
    return {};
  }
  if (!cryptor_) {
    send_frame(encoded.data, rtp_timestamp, encoded.keyframe, now_ns);
    return {};
  }

  const size_t size = encoded.data.size();
  const std::span<uint8_t> buffer =
      lent_.push(size + e2ee::kFrameOverhead, {rtp_timestamp, encoded.keyframe, platform_.clock.now_ns()});
  if (buffer.empty()) {
    drop_frame();
    return Error{Errc::resource_exhausted, "video sender: E2EE frame buffers are full"};
  }
  std::copy(encoded.data.begin(), encoded.data.end(), buffer.begin());
  if (auto submitted = cryptor_->encrypt(buffer, size, e2ee::CodecKind::vp8, 0); !submitted.ok()) {
    lent_.pop_newest();
    drop_frame();
    return submitted.error();
  }
  return {};
}

void VideoSender::Impl::on_frame(const e2ee::CryptedFrame& frame) {
  const PendingFrame pending = lent_.front_meta();
  const uint64_t now_ns = platform_.clock.now_ns();
  metrics_.e2ee_encrypt.record(now_ns > pending.submitted_ns ? now_ns - pending.submitted_ns : 0);
  if (frame.error != Errc::ok) {
    drop_frame(/*in_flight=*/true);
  } else if (chain_broken_ && !pending.keyframe) {
    count_dropped();
  } else {
    send_frame(frame.frame, pending.rtp_timestamp, pending.keyframe, now_ns);
  }
  lent_.pop();
}

void VideoSender::Impl::send_frame(std::span<const uint8_t> frame, uint32_t rtp_timestamp, bool keyframe,
                                   uint64_t now_ns) {
  // One record per frame: packetizing, handing each packet to the output (which includes its SRTP protect,
  // also recorded as srtp_protect) and storing it for NACKs.
  metrics::ScopedTimer timer(platform_.clock, metrics_.video.packetize);
  if (!packetizer_.begin_frame(frame).ok()) {
    drop_frame();
    return;
  }
  rtp::RtpHeader header;
  header.payload_type = config_.payload_type;
  header.timestamp = rtp_timestamp;
  header.ssrc = ssrc_;
  const size_t header_size = rtp::rtp_header_size(header);
  const std::span<uint8_t> buffer(packet_);
  while (!packetizer_.done()) {
    // The payload goes straight behind the header, so write_rtp() does not copy it.
    auto payload = packetizer_.next(buffer.subspan(header_size, config_.max_payload));
    if (!payload.ok()) break;  // cannot happen with the buffer sized at create()
    header.marker = payload->marker;
    header.sequence_number = next_seq_++;
    auto size = rtp::write_rtp(header, buffer.subspan(header_size, payload->size), buffer);
    if (!size.ok()) break;
    auto sent = output_.send_rtp(buffer, size.value(), now_ns);
    if (!sent.ok()) continue;  // the session counted it; the receiver will NACK the hole
    (void)history_.store(buffer.first(sent.value()), now_ns);
    sender_stats_.on_packet_sent(payload->size, rtp_timestamp, now_ns);
    ++stats_.packets_sent;
    stats_.bytes_sent += payload->size;
    metrics_.video_counters.packets_sent.add();
  }
  ++stats_.frames_sent;
  metrics_.video_counters.frames_sent.add();
  if (keyframe) {
    ++stats_.keyframes_sent;
    metrics_.keyframes_sent.add();
    chain_broken_ = false;
  }
}

void VideoSender::Impl::on_nack(const rtp::NackView& nack, uint64_t now_ns) {
  for (uint16_t seq : nack.lost_sequence_numbers()) {
    ++stats_.nacks_received;
    metrics_.video_counters.nacks_received.add();
    // The history holds the protected bytes: a retransmission costs no second encryption.
    const std::span<const uint8_t> packet = history_.retransmit(seq, now_ns);
    if (packet.empty()) {
      ++stats_.nacks_missed;
      continue;
    }
    output_.resend_rtp(packet, now_ns);
    ++stats_.retransmissions;
    metrics_.video_counters.retransmissions.add();
  }
}

// ---- VideoSender ----

Result<std::unique_ptr<VideoSender>> VideoSender::create(const VideoSenderConfig& config,
                                                         platform::Platform& platform, MediaMetrics& metrics,
                                                         RtpPacketOutput& output) {
  if (config.payload_type > 127) return Error{Errc::invalid_argument, "video sender: payload type above 127"};
  if (config.max_payload > kMaxDatagramSize - rtp::kRtpFixedHeaderSize)
    return Error{Errc::invalid_argument, "video sender: max_payload does not fit a datagram"};
  if (config.history_packets == 0) return Error{Errc::invalid_argument, "video sender: history_packets is 0"};

  // RFC 3550 section 5.1 and RFC 7741 section 4.2: random starting points.
  std::array<uint8_t, 12> random{};
  if (!platform.entropy.fill(random)) return Error{Errc::internal, "video sender: entropy failed"};
  const uint32_t random_ssrc = rtp::load_be32(random.data());
  const uint16_t first_seq = rtp::load_be16(random.data() + 4);
  const uint32_t ts_offset = rtp::load_be32(random.data() + 6);
  const auto picture_id = static_cast<uint16_t>(rtp::load_be16(random.data() + 10) & 0x7FFF);
  const uint32_t ssrc = config.ssrc != 0 ? config.ssrc : (random_ssrc != 0 ? random_ssrc : 1);

  auto encoder = Vp8Encoder::create(config.encoder);
  if (!encoder.ok()) return encoder.error();
  auto packetizer = Vp8Packetizer::create(
      {.max_payload_size = config.max_payload, .picture_id_size = Vp8PictureIdSize::bits15,
       .first_picture_id = picture_id});
  if (!packetizer.ok()) return packetizer.error();

  auto impl = std::make_unique<Impl>(config, platform, metrics, output, std::move(encoder).value(),
                                     std::move(packetizer).value(), ssrc, first_seq, ts_offset);
  if (auto e2ee = impl->init_e2ee(); !e2ee.ok()) return e2ee.error();
  return std::unique_ptr<VideoSender>(new VideoSender(std::move(impl)));
}

VideoSender::VideoSender(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VideoSender::~VideoSender() = default;

Result<void> VideoSender::capture(const I420View& picture, uint64_t now_ns) { return impl_->capture(picture, now_ns); }
VideoSenderStats VideoSender::stats() const { return impl_->stats(); }
uint32_t VideoSender::ssrc() const { return impl_->ssrc(); }
bool VideoSender::has_sent() const { return impl_->has_sent(); }
rtp::SenderInfo VideoSender::sender_info(uint64_t now_ns, uint64_t ntp_offset_ns) const {
  return impl_->sender_info(now_ns, ntp_offset_ns);
}
void VideoSender::on_nack(const rtp::NackView& nack, uint64_t now_ns) { impl_->on_nack(nack, now_ns); }
void VideoSender::on_pli(uint64_t) { impl_->on_pli(); }
void VideoSender::on_report_block(const rtp::ReportBlock&, std::optional<uint64_t>, uint64_t) {
  // No rate adaptation yet: the encoder's bitrate is the configured one.
}

}  // namespace tandem::media
