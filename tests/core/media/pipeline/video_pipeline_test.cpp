// The video pipeline end to end without a session: VideoSender -> simulated link -> VideoReceiver, with real
// RTCP NACK/PLI/RR packets on a simulated link back (pipeline_test_support.h). Pictures are a small moving test pattern so the suite stays
// fast under wasm; every decoded picture is compared with the one captured at its RTP timestamp.
#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <memory>
#include <vector>

#include "core/media/codecs/vp8_payload.h"
#include "core/media/e2ee/key_ring.h"
#include "core/media/pipeline/video_receiver.h"
#include "core/media/pipeline/video_sender.h"
#include "core/media/rtp/receiver_stats.h"
#include "core/metrics/registry.h"
#include "core/sim/network.h"
#include "support/alloc_counter.h"
#include "support/fake_platform.h"
#include "tests/core/media/codecs/codec_signals.h"
#include "tests/core/media/pipeline/pipeline_test_support.h"

namespace tandem::media {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kFrameNs = 33 * kMs;
constexpr uint32_t kWidth = 320, kHeight = 240;
constexpr size_t kPictures = 30;  // distinct captured pictures, cycled

sim::Impairments lossy(double loss) {
  sim::Impairments m;
  m.loss = loss;
  m.delay_ns = 20 * kMs;
  m.jitter_ns = 5 * kMs;
  m.reorder = 0.05;
  m.reorder_delay_ns = 15 * kMs;
  return m;
}

std::vector<uint8_t> key_bytes(uint8_t seed) {
  std::vector<uint8_t> k(16);
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(seed * 31 + i * 7 + 3);
  return k;
}

struct LoopOptions {
  sim::Impairments forward, back;
  VideoSenderConfig sender;
  VideoReceiverConfig receiver;
  bool e2ee = false;
  uint8_t receiver_key_seed = 1;  // != 1: the receiver holds the wrong key
  bool check_content = true;      // PSNR per picture (allocates; off for the allocation test)
};

// Sender, links and receiver on one fake platform, joined by the pipeline tests' LoopbackOutput (RTP, no SRTP)
// and FeedbackLoop (real RTCP NACK/PLI/RR packets back).
class VideoLoop final : public VideoFrameSink, public StreamWakeup {
 public:
  explicit VideoLoop(LoopOptions options)
      : options_(std::move(options)), send_keys_(fake.crypto), recv_keys_(fake.crypto), out(options_.forward, 21) {
    for (uint32_t t = 0; t < kPictures; ++t) pictures_.push_back(test::moving_pattern(kWidth, kHeight, t));
    VideoSenderConfig sc = options_.sender;
    sc.encoder.width = kWidth, sc.encoder.height = kHeight, sc.encoder.bitrate_kbps = 400;
    VideoReceiverConfig rc = options_.receiver;
    if (options_.e2ee) {
      REQUIRE(send_keys_.set_key(0, key_bytes(1)).ok());
      REQUIRE(recv_keys_.set_key(0, key_bytes(options_.receiver_key_seed)).ok());
      sc.e2ee_keys = &send_keys_;
      rc.e2ee_keys = &recv_keys_;
    }
    auto s = VideoSender::create(sc, fake.platform, metrics, out);
    REQUIRE(s.ok());
    sender = std::move(s).value();
    rc.remote_ssrc = sender->ssrc();
    rc.payload_type = sc.payload_type;
    rc.wakeup = this;
    auto r = VideoReceiver::create(rc, fake.platform, metrics, *this);
    REQUIRE(r.ok());
    receiver = std::move(r).value();
    receiver->set_rtt(2 * options_.forward.delay_ns + options_.forward.jitter_ns);
    out.connect(receiver.get());
    feedback = std::make_unique<test::FeedbackLoop>(*receiver, *sender, options_.back, 22);
    // The RTP timestamp of a capture at `now` is this offset plus `now` on the 90 kHz clock.
    const uint64_t now = fake.clock.now_ns();
    ts_offset_ = sender->sender_info(now, 0).rtp_timestamp - rtp::ns_to_rtp_ticks(now, kVp8RtpClockRate);
    next_capture_ = now;
  }

  // Runs for `duration_ns` in 1 ms steps, capturing a picture every kFrameNs until `capture_for_ns` has passed.
  void run(uint64_t duration_ns, uint64_t capture_for_ns = UINT64_MAX) {
    const uint64_t start = fake.clock.now_ns(), end = start + duration_ns;
    const uint64_t capture_end = capture_for_ns == UINT64_MAX ? end : start + capture_for_ns;
    while (fake.clock.now_ns() < end) {
      const uint64_t now = fake.clock.now_ns();
      if (now >= next_capture_ && now < capture_end) capture(now);
      {
        test::AllocationScope scope;
        const size_t arrived = out.deliver(now);
        const auto due = receiver->next_timeout();
        if (arrived > 0 || (due && *due <= now)) receiver->poll(now);
        receiver_allocations += scope.count();
        receiver_packets += arrived;
      }
      {
        test::AllocationScope scope;
        feedback->pump(now);  // NACKs, PLIs and reports out of the receiver, into the sender
        feedback_allocations += scope.count();
      }
      fake.runner.advance(kMs);  // E2EE completions run here, as runtime tasks
    }
  }

  void capture(uint64_t now) {
    const auto& picture = pictures_[static_cast<size_t>(captured_ % kPictures)];
    const uint32_t ts = ts_offset_ + rtp::ns_to_rtp_ticks(now, kVp8RtpClockRate);
    captured_ts_[captured_ % captured_ts_.size()] = {ts, static_cast<size_t>(captured_ % kPictures)};
    test::AllocationScope scope;
    const auto result = sender->capture(picture.view(), now);
    sender_allocations += scope.count();
    CHECK((result.ok() || result.code() == Errc::resource_exhausted));
    ++captured_;
    next_capture_ += kFrameNs;
  }

  // VideoFrameSink
  void on_video_frame(const VideoFrame& frame) override {
    ++frames;
    keyframes += frame.keyframe;
    last_frame_at = fake.clock.now_ns();
    if (frame.picture.width != kWidth || frame.picture.height != kHeight) ++wrong_size;
    if (!options_.check_content) return;
    const auto* captured = std::find_if(captured_ts_.begin(), captured_ts_.end(),
                                        [&](const Captured& c) { return c.ts == frame.rtp_timestamp; });
    if (captured == captured_ts_.end()) {
      ++unknown_timestamps;
      return;
    }
    worst_psnr = std::min(worst_psnr, test::luma_psnr(pictures_[captured->picture].view(), frame.picture));
  }

  // StreamWakeup
  void wake() override { ++wakeups; }

  void set_forward(const sim::Impairments& m) { REQUIRE(out.link().set_impairments(m).ok()); }
  const sim::LinkStats& forward_stats() { return out.link().stats(); }

  test::FakePlatform fake;
  metrics::Registry registry;
  MediaMetrics metrics = MediaMetrics::in(registry);

 private:
  LoopOptions options_;
  e2ee::KeyRing send_keys_, recv_keys_;  // outlive the streams' cryptors

 public:
  test::LoopbackOutput out;
  std::unique_ptr<VideoSender> sender;
  std::unique_ptr<VideoReceiver> receiver;
  std::unique_ptr<test::FeedbackLoop> feedback;
  uint64_t frames = 0, keyframes = 0, wrong_size = 0, unknown_timestamps = 0, wakeups = 0, last_frame_at = 0;
  double worst_psnr = 99.0;
  uint64_t sender_allocations = 0, receiver_allocations = 0, feedback_allocations = 0, receiver_packets = 0;

 private:
  struct Captured {
    uint32_t ts = 0;
    size_t picture = 0;
  };
  std::vector<test::I420Buffer> pictures_;
  std::array<Captured, 128> captured_ts_{};
  uint32_t ts_offset_ = 0;
  uint64_t captured_ = 0;
  uint64_t next_capture_ = 0;
};

uint64_t count(const metrics::Histogram& h) { return h.snapshot().count; }

}  // namespace

TEST_CASE("Video pipeline: clean path decodes every picture at the right size and content", "[video-pipeline]") {
  VideoLoop loop({});
  loop.run(3000 * kMs, 2000 * kMs);
  const auto s = loop.sender->stats();
  const auto r = loop.receiver->stats();
  const auto& c = loop.metrics.video_counters;
  INFO("captured " << s.frames_captured << " sent " << s.frames_sent << " packets " << s.packets_sent << " decoded "
                   << r.frames_decoded << " worst PSNR " << loop.worst_psnr);
  CHECK(s.frames_captured == 61);
  CHECK(s.frames_sent == s.frames_captured);
  CHECK(s.keyframes_sent == 1);
  CHECK(loop.frames == s.frames_sent);
  CHECK(r.frames_decoded == s.frames_sent);
  CHECK(r.keyframes_decoded == 1);
  CHECK(r.width == kWidth);
  CHECK(r.height == kHeight);
  CHECK(loop.wrong_size == 0);
  CHECK(loop.unknown_timestamps == 0);
  CHECK(loop.worst_psnr > 25.0);
  CHECK(s.packets_sent > s.frames_sent);  // the keyframe takes several packets
  CHECK(c.packets_sent.value() == s.packets_sent);
  CHECK(c.packets_received.value() == s.packets_sent);
  CHECK(c.frames_sent.value() == s.frames_sent);
  CHECK(c.frames_received.value() == loop.frames);
  CHECK(c.frames_dropped.value() == 0);
  CHECK(c.packets_lost.value() == 0);
  CHECK(c.nacks_sent.value() == 0);
  CHECK(loop.metrics.keyframes_sent.value() == 1);
  CHECK(loop.metrics.plis_sent.value() == 0);
  CHECK(count(loop.metrics.capture_video_frame) == s.frames_captured);
  CHECK(count(loop.metrics.video.encode) == s.frames_captured);
  CHECK(count(loop.metrics.video.packetize) == s.frames_sent);
  CHECK(count(loop.metrics.video.decode) == r.frames_decoded);
  CHECK(count(loop.metrics.forward_video_frame) == r.frames_decoded);
  CHECK(count(loop.metrics.video.jitter_wait) == r.frames_decoded);
  CHECK(count(loop.metrics.e2ee_encrypt) == 0);
  // RFC 3550 / 7741 starting points come from the platform's entropy.
  const auto info = loop.sender->sender_info(loop.fake.clock.now_ns(), 0);
  CHECK(info.packet_count == s.packets_sent);
  CHECK(info.octet_count == s.bytes_sent);
}

TEST_CASE("Video pipeline: 5% loss and reordering are repaired by NACK", "[video-pipeline]") {
  LoopOptions o;
  o.forward = lossy(0.05);
  o.back = lossy(0.05);
  VideoLoop loop(o);
  loop.run(10'000 * kMs, 9'000 * kMs);
  const auto s = loop.sender->stats();
  const auto r = loop.receiver->stats();
  const auto& c = loop.metrics.video_counters;
  INFO("sent " << s.frames_sent << " decoded " << r.frames_decoded << " retransmissions " << s.retransmissions
               << " nacks " << r.nack.nacks_sent << " recovered " << r.nack.recovered << " lost "
               << loop.forward_stats().dropped_loss << " plis " << r.plis_requested << " worst PSNR "
               << loop.worst_psnr);
  CHECK(loop.forward_stats().dropped_loss > 20);
  CHECK(s.retransmissions > 0);
  CHECK(c.retransmissions.value() == s.retransmissions);
  CHECK(c.nacks_sent.value() == r.nack.nacks_sent);
  CHECK(c.nacks_received.value() == s.nacks_received);
  CHECK(r.nack.recovered > 10);
  // RFC 3550 counts a retransmission that arrived as received: repaired losses do not stay lost.
  CHECK(c.packets_lost.value() < loop.forward_stats().dropped_loss);
  CHECK(r.frames_decoded >= s.frames_sent * 95 / 100);  // NACK repairs nearly everything in time
  CHECK(loop.frames == r.frames_decoded);
  CHECK(loop.worst_psnr > 25.0);
  CHECK(loop.unknown_timestamps == 0);
}

TEST_CASE("Video pipeline: a loss NACK cannot repair is recovered by PLI and a keyframe", "[video-pipeline]") {
  LoopOptions o;
  o.forward = lossy(0.0);
  o.back = lossy(0.0);
  o.receiver.assembler.max_wait_ns = 300 * kMs;
  o.sender.history_packets = 8;  // a quarter second of this stream: a longer outage cannot be resent
  VideoLoop loop(o);
  loop.run(2000 * kMs);
  const uint64_t before = loop.frames;
  REQUIRE(before > 50);
  CHECK(loop.sender->stats().keyframes_sent == 1);
  CHECK(loop.sender->stats().nacks_missed == 0);

  sim::Impairments outage = lossy(0.0);
  outage.loss = 1.0;
  loop.set_forward(outage);
  loop.run(500 * kMs);
  loop.set_forward(lossy(0.0));
  loop.run(3000 * kMs);

  const auto s = loop.sender->stats();
  const auto r = loop.receiver->stats();
  INFO("frames before " << before << " after " << loop.frames << " plis " << r.plis_requested << " keyframes sent "
                        << s.keyframes_sent << " incomplete " << r.assembler.frames_incomplete << " late "
                        << r.assembler.late << " given up " << r.nack.given_up);
  CHECK(r.assembler.frames_incomplete > 0);
  CHECK(loop.metrics.video_counters.packets_lost.value() > 0);  // never repaired
  CHECK(s.nacks_missed > 0);  // asked for, already gone from the history
  CHECK(r.plis_requested > 0);
  CHECK(loop.feedback->plis() == r.plis_requested);
  CHECK(loop.metrics.plis_sent.value() == r.plis_requested);
  CHECK(s.plis_received > 0);
  CHECK(loop.metrics.plis_received.value() == s.plis_received);
  CHECK(s.keyframes_sent >= 2);
  CHECK(loop.metrics.keyframes_sent.value() == s.keyframes_sent);
  CHECK(r.keyframes_decoded >= 2);
  CHECK(loop.metrics.video_counters.frames_dropped.value() > 0);
  CHECK(loop.frames > before + 50);  // pictures flow again after the keyframe
  CHECK(loop.last_frame_at + 100 * kMs > loop.fake.clock.now_ns());
  CHECK(loop.worst_psnr > 25.0);
}

TEST_CASE("Video pipeline: E2EE frames are encrypted, decrypted and decoded", "[video-pipeline][e2ee]") {
  LoopOptions o;
  o.e2ee = true;
  o.forward = lossy(0.02);
  o.back = lossy(0.02);
  VideoLoop loop(o);
  loop.run(3000 * kMs, 2000 * kMs);
  const auto s = loop.sender->stats();
  const auto r = loop.receiver->stats();
  INFO("sent " << s.frames_sent << " decoded " << r.frames_decoded << " worst PSNR " << loop.worst_psnr);
  CHECK(s.frames_sent == s.frames_captured);
  CHECK(r.e2ee_failures == 0);
  CHECK(loop.metrics.e2ee_failures.value() == 0);
  CHECK(r.frames_decoded >= s.frames_sent * 95 / 100);
  CHECK(loop.worst_psnr > 25.0);
  CHECK(loop.unknown_timestamps == 0);
  CHECK(count(loop.metrics.e2ee_encrypt) == s.frames_sent);
  CHECK(count(loop.metrics.e2ee_decrypt) == r.frames_decoded + r.frames_dropped);
}

TEST_CASE("Video pipeline: E2EE with the wrong key counts failures and asks for keyframes", "[video-pipeline][e2ee]") {
  LoopOptions o;
  o.e2ee = true;
  o.receiver_key_seed = 2;
  VideoLoop loop(o);
  loop.run(3000 * kMs);
  const auto s = loop.sender->stats();
  const auto r = loop.receiver->stats();
  INFO("sent " << s.frames_sent << " failures " << r.e2ee_failures << " plis " << r.plis_requested);
  CHECK(loop.frames == 0);
  CHECK(r.e2ee_failures > 0);
  CHECK(loop.metrics.e2ee_failures.value() == r.e2ee_failures);
  CHECK(r.plis_requested >= 2);  // repeated while no keyframe decrypts, at keyframe_retry_ns
  CHECK(r.plis_requested <= 5);  // ... but not once per failed frame
  CHECK(s.plis_received > 0);
  CHECK(s.keyframes_sent >= 2);
  CHECK(loop.wakeups > 0);  // a failure found in an async completion told the owner to take the PLI
}

TEST_CASE("Video pipeline: malformed payloads, wrong payload types and undecodable frames", "[video-pipeline]") {
  test::FakePlatform fake;
  metrics::Registry registry;
  MediaMetrics metrics = MediaMetrics::in(registry);
  struct Sink final : VideoFrameSink {
    void on_video_frame(const VideoFrame&) override { ++frames; }
    int frames = 0;
  } sink;
  VideoReceiverConfig config;
  config.remote_ssrc = 0x1234;
  auto created = VideoReceiver::create(config, fake.platform, metrics, sink);
  REQUIRE(created.ok());
  VideoReceiver& receiver = *created.value();

  uint16_t seq = 100;
  uint64_t now = fake.clock.now_ns();
  auto feed = [&](std::vector<uint8_t> payload, uint8_t pt = 96, bool marker = true) {
    rtp::RtpHeader h;
    h.payload_type = pt;
    h.marker = marker;
    h.sequence_number = seq++;
    h.timestamp = 3000u * seq;
    h.ssrc = 0x1234;
    std::array<uint8_t, 256> buffer{};
    auto n = rtp::write_rtp(h, payload, buffer);
    REQUIRE(n.ok());
    auto view = rtp::parse_rtp(std::span<const uint8_t>(buffer.data(), n.value()));
    REQUIRE(view.ok());
    receiver.on_rtp(view.value(), now);
    receiver.poll(now);
    now += 10 * kMs;
  };
  feed({0x90});                    // X set, extension byte missing
  feed({0x90, 0x80});              // I set, picture id missing
  feed({0x10});                    // a descriptor with no VP8 data
  feed({0x10, 0x50, 0x02, 0x00, 0x00, 0x00, 0x00, 0x40, 0x01, 0xf0, 0x00});  // keyframe without its start code
  auto stats = receiver.stats();
  CHECK(stats.malformed_payloads == 4);
  CHECK(metrics.video_counters.packets_received.value() == 0);

  feed({0x10, 0x00, 0x01, 0x02}, 97);  // right SSRC, wrong payload type
  stats = receiver.stats();
  CHECK(stats.wrong_payload_type == 1);
  CHECK(stats.malformed_payloads == 4);
  CHECK(metrics.video_counters.packets_received.value() == 0);

  // A well-formed keyframe header over garbage: the assembler releases it, the decoder refuses it.
  std::vector<uint8_t> key = {0x10, 0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00};
  key.resize(200, 0xAB);
  feed(key);
  stats = receiver.stats();
  CHECK(stats.assembler.frames_complete == 1);
  CHECK(stats.decode_errors == 1);
  CHECK(stats.frames_dropped == 1);
  CHECK(receiver.take_keyframe_request());
  CHECK(metrics.plis_sent.value() == 1);
  CHECK(sink.frames == 0);
  CHECK(count(metrics.video.decode) == 1);
  CHECK(count(metrics.forward_video_frame) == 0);
  // The request repeats while no keyframe comes, not before keyframe_retry_ns.
  receiver.poll(now);
  CHECK_FALSE(receiver.take_keyframe_request());
  const auto due = receiver.next_timeout();
  REQUIRE(due.has_value());
  receiver.poll(*due + config.assembler.keyframe_retry_ns);
  CHECK(receiver.take_keyframe_request());
}

TEST_CASE("Video pipeline: steady state makes no allocations per packet", "[video-pipeline]") {
  LoopOptions o;
  o.forward = lossy(0.05);  // NACKs, retransmissions, reordering and gaps are part of the steady state
  o.back = lossy(0.05);
  o.check_content = false;
  VideoLoop loop(o);
  loop.run(2000 * kMs);  // warm-up: first keyframe, buffers touched
  loop.sender_allocations = loop.receiver_allocations = loop.feedback_allocations = loop.receiver_packets = 0;
  const auto before = loop.sender->stats();
  loop.run(8000 * kMs);
  const auto s = loop.sender->stats();
  INFO("packets " << loop.receiver_packets << " sender allocations " << loop.sender_allocations
                  << " receiver allocations " << loop.receiver_allocations << " feedback allocations "
                  << loop.feedback_allocations);
  CHECK(loop.receiver_packets > 500);
  CHECK(s.retransmissions > before.retransmissions);
  CHECK(loop.receiver_allocations == 0);  // on_rtp and poll (assemble, decode, deliver), with the link double
  CHECK(loop.sender_allocations == 0);    // capture: encode, packetize, send, store in the history
  CHECK(loop.feedback_allocations == 0);  // take_nacks, report blocks, and the sender answering NACKs
}

}  // namespace tandem::media
