#include "core/media/pipeline/video_receiver.h"

#include <algorithm>

#include "core/media/codecs/vp8_codec.h"
#include "core/media/codecs/vp8_payload.h"
#include "core/media/e2ee/frame_cryptor.h"
#include "core/media/pipeline/lent_frames.h"
#include "core/media/rtp/receiver_stats.h"

namespace tandem::media {
namespace {

constexpr size_t kE2eeMaxInFlight = 16;

// What a frame needs on its way from the assembler to the sink (kept while it is being decrypted).
struct FrameInfo {
  uint32_t rtp_timestamp = 0;
  bool keyframe = false;
  uint64_t first_packet_ns = 0;
  uint64_t submitted_ns = 0;  // platform clock, for e2ee_decrypt
};

uint64_t elapsed(uint64_t from, uint64_t to) { return to > from ? to - from : 0; }

}  // namespace

class VideoReceiver::Impl final : private e2ee::FrameSink {
 public:
  Impl(const VideoReceiverConfig& config, platform::Platform& platform, MediaMetrics& metrics, VideoFrameSink& sink,
       VideoFrameAssembler assembler, NackTracker tracker, Vp8Decoder decoder)
      : config_(config),
        platform_(platform),
        metrics_(metrics),
        sink_(sink),
        assembler_(std::move(assembler)),
        tracker_(std::move(tracker)),
        decoder_(std::move(decoder)),
        rtp_stats_(config.remote_ssrc, kVp8RtpClockRate),
        seen_(assembler_.stats()) {}

  Result<void> init_e2ee() {
    if (!config_.e2ee_keys) return {};
    // Two of the largest frames the assembler releases, so one always fits behind another in flight.
    lent_ = LentFrames<FrameInfo>(2 * config_.assembler.max_frame_bytes, kE2eeMaxInFlight);
    e2ee::FrameCryptorOptions options;
    options.role = e2ee::CryptorRole::receiver;
    options.max_in_flight = kE2eeMaxInFlight;
    auto cryptor = e2ee::FrameCryptor::create(platform_, *config_.e2ee_keys, *this, options);
    if (!cryptor.ok()) return cryptor.error();
    cryptor_ = std::move(cryptor).value();
    return {};
  }

  void on_rtp(const rtp::RtpPacketView& packet, uint64_t now_ns);
  void poll(uint64_t now_ns);
  std::optional<uint64_t> next_timeout() const;
  bool take_keyframe_request();
  std::optional<rtp::ReportBlock> report_block(uint64_t now_ns);

  size_t take_nacks(uint64_t now_ns, std::span<uint16_t> out) {
    if (!config_.nack_enabled) return 0;
    const size_t n = tracker_.collect_nacks(now_ns, out);
    metrics_.video_counters.nacks_sent.add(n);
    return n;
  }
  void on_sender_report(const rtp::SenderInfo& info, uint64_t now_ns) {
    rtp_stats_.on_sender_report(info.ntp_timestamp, now_ns);
  }
  void set_rtt(uint64_t rtt_ns) { tracker_.set_rtt(rtt_ns); }

  VideoReceiverStats stats() const {
    VideoReceiverStats s = stats_;
    s.assembler = assembler_.stats();
    s.nack = tracker_.stats();
    return s;
  }
  const VideoReceiverConfig& config() const { return config_; }

 private:
  void handle_frame(const AssembledFrame& frame, uint64_t now_ns);
  void decode(std::span<const uint8_t> data, const FrameInfo& info, uint64_t now_ns);
  void on_frame(const e2ee::CryptedFrame& frame) override;
  void drop_frame() {
    ++stats_.frames_dropped;
    metrics_.video_counters.frames_dropped.add();
  }
  // The decoder's reference chain is broken: drop delta frames until a keyframe decodes, and ask for one
  // (again only after keyframe_retry_ns: a run of failures asks once).
  void request_keyframe(uint64_t now_ns) {
    if (need_keyframe_ && elapsed(last_request_ns_, now_ns) < config_.assembler.keyframe_retry_ns) return;
    need_keyframe_ = true;
    request_pending_ = true;
    last_request_ns_ = now_ns;
  }
  // Moves what the assembler counted since the last call into the shared counters.
  void count_assembler() {
    const VideoAssemblerStats& s = assembler_.stats();
    metrics_.video_counters.late_packets.add(s.late - seen_.late);
    metrics_.video_counters.duplicate_packets.add(s.duplicates - seen_.duplicates);
    metrics_.video_counters.frames_dropped.add(s.frames_dropped() - seen_.frames_dropped());
    seen_ = s;
  }

  VideoReceiverConfig config_;
  platform::Platform& platform_;
  MediaMetrics& metrics_;
  VideoFrameSink& sink_;
  VideoFrameAssembler assembler_;
  NackTracker tracker_;
  Vp8Decoder decoder_;
  rtp::ReceiverStats rtp_stats_;
  VideoAssemblerStats seen_;
  VideoReceiverStats stats_;
  int64_t lost_counted_ = 0;  // cumulative loss already added to packets_lost
  uint16_t forgotten_before_ = 0;
  bool need_keyframe_ = false;
  bool request_pending_ = false;
  uint64_t last_request_ns_ = 0;
  LentFrames<FrameInfo> lent_;
  std::unique_ptr<e2ee::FrameCryptor> cryptor_;  // last: destroyed first, it calls back into this
};

void VideoReceiver::Impl::on_rtp(const rtp::RtpPacketView& packet, uint64_t now_ns) {
  if (packet.payload_type != config_.payload_type) {
    ++stats_.wrong_payload_type;
    return;
  }
  rtp_stats_.on_packet(packet, now_ns);
  // Told before the payload is checked: a packet that arrived broken would arrive broken again, so it is
  // not worth a NACK (its frame times out and a keyframe repairs the stream).
  if (config_.nack_enabled) tracker_.on_packet(packet.sequence_number, now_ns);
  auto vp8 = parse_vp8_payload(packet.payload);
  if (!vp8.ok()) {
    ++stats_.malformed_payloads;
    return;
  }
  metrics_.video_counters.packets_received.add();
  const MediaPacket media{packet.sequence_number, packet.timestamp, packet.marker, vp8->frame_start, vp8->keyframe,
                          vp8->data, now_ns};
  (void)assembler_.insert(media, now_ns);  // oversized payloads are counted by the assembler as rejected
  count_assembler();
}

void VideoReceiver::Impl::poll(uint64_t now_ns) {
  while (auto frame = assembler_.poll_frame(now_ns)) handle_frame(*frame, now_ns);
  count_assembler();
  // Packets older than the oldest one still wanted belong to frames released or given up: stop NACKing them.
  const uint16_t oldest = assembler_.oldest_wanted_seq();
  if (config_.nack_enabled && oldest != forgotten_before_) {
    tracker_.forget_before(oldest);
    forgotten_before_ = oldest;
  }
  if (need_keyframe_ && !request_pending_ &&
      elapsed(last_request_ns_, now_ns) >= config_.assembler.keyframe_retry_ns) {
    request_pending_ = true;
    last_request_ns_ = now_ns;
  }
}

void VideoReceiver::Impl::handle_frame(const AssembledFrame& frame, uint64_t now_ns) {
  metrics_.video.jitter_wait.record(elapsed(frame.first_arrival_ns, now_ns));
  if (need_keyframe_ && !frame.keyframe) {
    drop_frame();
    return;
  }
  FrameInfo info{frame.rtp_timestamp, frame.keyframe, frame.first_arrival_ns, 0};
  if (!cryptor_) {
    decode(frame.data, info, now_ns);
    return;
  }
  // The assembler's buffer is reused by its next frame; decryption needs the bytes until it completes.
  info.submitted_ns = platform_.clock.now_ns();
  const std::span<uint8_t> buffer = lent_.push(frame.data.size(), info);
  if (buffer.empty()) {
    drop_frame();
    request_keyframe(now_ns);
    return;
  }
  std::copy(frame.data.begin(), frame.data.end(), buffer.begin());
  if (auto submitted = cryptor_->decrypt(buffer, 0); !submitted.ok()) {
    lent_.pop_newest();
    if (submitted.code() == Errc::malformed_packet) {  // not an encrypted frame
      ++stats_.e2ee_failures;
      metrics_.e2ee_failures.add();
    }
    drop_frame();
    request_keyframe(now_ns);
  }
}

void VideoReceiver::Impl::on_frame(const e2ee::CryptedFrame& frame) {
  const FrameInfo info = lent_.front_meta();
  const uint64_t now_ns = platform_.clock.now_ns();
  metrics_.e2ee_decrypt.record(elapsed(info.submitted_ns, now_ns));
  if (frame.error != Errc::ok) {
    ++stats_.e2ee_failures;
    metrics_.e2ee_failures.add();
    drop_frame();
    request_keyframe(now_ns);
  } else if (need_keyframe_ && !info.keyframe) {  // an earlier frame failed while this one was in flight
    drop_frame();
  } else {
    decode(frame.frame, info, now_ns);
  }
  lent_.pop();
  if (request_pending_ && config_.wakeup) config_.wakeup->wake();
}

void VideoReceiver::Impl::decode(std::span<const uint8_t> data, const FrameInfo& info, uint64_t now_ns) {
  const uint64_t start = platform_.clock.now_ns();
  auto decoded = decoder_.decode(data);
  const uint64_t decoded_at = platform_.clock.now_ns();
  metrics_.video.decode.record(elapsed(start, decoded_at));
  if (!decoded.ok() || decoded->corrupted) {
    // libvpx refuses (or would smear) every delta frame after this one: wait for a keyframe.
    ++stats_.decode_errors;
    drop_frame();
    request_keyframe(now_ns);
    return;
  }
  if (!decoded->picture.valid()) return;  // show_frame = 0: a reference update with nothing to show
  ++stats_.frames_decoded;
  if (decoded->keyframe) {
    ++stats_.keyframes_decoded;
    need_keyframe_ = false;
  }
  stats_.width = decoded->picture.width;
  stats_.height = decoded->picture.height;
  VideoFrame out;
  out.picture = decoded->picture;
  out.rtp_timestamp = info.rtp_timestamp;
  out.keyframe = decoded->keyframe;
  out.first_packet_ns = info.first_packet_ns;
  out.decoded_ns = now_ns;
  sink_.on_video_frame(out);
  metrics_.video_counters.frames_received.add();
  metrics_.forward_video_frame.record(elapsed(start, platform_.clock.now_ns()));
}

std::optional<uint64_t> VideoReceiver::Impl::next_timeout() const {
  std::optional<uint64_t> next = assembler_.next_timeout();
  auto earliest = [&](std::optional<uint64_t> t) {
    if (t && (!next || *t < *next)) next = t;
  };
  if (config_.nack_enabled) earliest(tracker_.next_timeout());
  if (request_pending_) {
    earliest(last_request_ns_);  // feedback to take now
  } else if (need_keyframe_) {
    earliest(last_request_ns_ + config_.assembler.keyframe_retry_ns);
  }
  return next;
}

bool VideoReceiver::Impl::take_keyframe_request() {
  const bool assembler = assembler_.take_keyframe_request();
  const bool own = request_pending_;
  request_pending_ = false;
  if (!assembler && !own) return false;
  ++stats_.plis_requested;
  metrics_.plis_sent.add();
  return true;
}

std::optional<rtp::ReportBlock> VideoReceiver::Impl::report_block(uint64_t now_ns) {
  if (!rtp_stats_.has_packets()) return std::nullopt;
  const rtp::ReportBlock block = rtp_stats_.make_report_block(now_ns);
  // The counter only grows: losses that retransmissions or duplicates made up for stay counted.
  const int64_t lost = rtp_stats_.cumulative_lost();
  if (lost > lost_counted_) {
    metrics_.video_counters.packets_lost.add(static_cast<uint64_t>(lost - lost_counted_));
    lost_counted_ = lost;
  }
  return block;
}

// ---- VideoReceiver ----

Result<std::unique_ptr<VideoReceiver>> VideoReceiver::create(const VideoReceiverConfig& config,
                                                             platform::Platform& platform, MediaMetrics& metrics,
                                                             VideoFrameSink& sink) {
  if (config.payload_type > 127) return Error{Errc::invalid_argument, "video receiver: payload type above 127"};
  auto assembler = VideoFrameAssembler::create(config.assembler);
  if (!assembler.ok()) return assembler.error();
  auto tracker = NackTracker::create(config.nack);
  if (!tracker.ok()) return tracker.error();
  auto decoder = Vp8Decoder::create({.max_width = config.max_width, .max_height = config.max_height});
  if (!decoder.ok()) return decoder.error();
  auto impl = std::make_unique<Impl>(config, platform, metrics, sink, std::move(assembler).value(),
                                     std::move(tracker).value(), std::move(decoder).value());
  if (auto e2ee = impl->init_e2ee(); !e2ee.ok()) return e2ee.error();
  return std::unique_ptr<VideoReceiver>(new VideoReceiver(std::move(impl)));
}

VideoReceiver::VideoReceiver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VideoReceiver::~VideoReceiver() = default;

VideoReceiverStats VideoReceiver::stats() const { return impl_->stats(); }
uint32_t VideoReceiver::remote_ssrc() const { return impl_->config().remote_ssrc; }
uint8_t VideoReceiver::payload_type() const { return impl_->config().payload_type; }
void VideoReceiver::on_rtp(const rtp::RtpPacketView& packet, uint64_t now_ns) { impl_->on_rtp(packet, now_ns); }
void VideoReceiver::on_sender_report(const rtp::SenderInfo& info, uint64_t now_ns) {
  impl_->on_sender_report(info, now_ns);
}
void VideoReceiver::set_rtt(uint64_t rtt_ns) { impl_->set_rtt(rtt_ns); }
std::optional<rtp::ReportBlock> VideoReceiver::report_block(uint64_t now_ns) { return impl_->report_block(now_ns); }
size_t VideoReceiver::take_nacks(uint64_t now_ns, std::span<uint16_t> out) { return impl_->take_nacks(now_ns, out); }
bool VideoReceiver::take_keyframe_request() { return impl_->take_keyframe_request(); }
void VideoReceiver::poll(uint64_t now_ns) { impl_->poll(now_ns); }
std::optional<uint64_t> VideoReceiver::next_timeout() const { return impl_->next_timeout(); }

}  // namespace tandem::media
