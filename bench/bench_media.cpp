// The media pipeline as a whole, sans-IO, on a fake platform (its clock moves only between operations, so these
// are wall-clock figures of the work itself; the pipeline's own histograms read 0 here):
//   media_audio/opus_20ms   one 20 ms mono frame: capture (Opus encode, RTP, SRTP protect) -> the peer session
//                           (SRTP unprotect, RTP parse, jitter buffer) -> playout (decode) -> the frame sink
//   media_audio/pcmu_20ms   the same with G.711 mu-law (48 -> 8 kHz resampling each way)
//   media_rtp/srtp_1200     one 1200-byte RTP packet through MediaSession::send_rtp (protect, AES-CM-80) and
//                           the peer's receive (unprotect, parse, hand to the stream): the per-packet path
// Allocations per op count operator new on this thread (see harness.h); a line after each case says how many
// frames came out per op, to show the steady state is real.
#include <array>
#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include "core/media/pipeline/audio_receiver.h"
#include "core/media/pipeline/audio_sender.h"
#include "core/media/pipeline/media_session.h"
#include "core/media/rtp/rtp_packet.h"
#include "harness.h"
#include "support/fake_platform.h"

namespace tandem::bench {
namespace {

constexpr uint64_t kMs = 1'000'000;

// Two sessions wired back to back: what one sends, the other receives at once.
struct Wire final : media::DatagramSink {
  media::MediaSession* peer = nullptr;
  test::FakeClock* clock = nullptr;
  std::array<uint8_t, 2048> buffer{};
  uint64_t datagrams = 0;
  void send_datagram(std::span<const uint8_t> d) override {
    std::copy(d.begin(), d.end(), buffer.begin());
    ++datagrams;
    (void)peer->receive(std::span<uint8_t>(buffer.data(), d.size()), clock->now_ns());
  }
};

struct Pair {
  test::FakePlatform fake;
  metrics::Registry registry;
  media::MediaMetrics metrics = media::MediaMetrics::in(registry);
  Wire to_b, to_a;
  std::unique_ptr<media::MediaSession> a, b;
  Pair() {
    const std::vector<uint8_t> key_a(16, 1), salt_a(14, 2), key_b(16, 3), salt_b(14, 4);
    media::MediaSessionConfig ca;
    ca.local_key = key_a, ca.local_salt = salt_a, ca.remote_key = key_b, ca.remote_salt = salt_b;
    media::MediaSessionConfig cb = ca;
    cb.local_key = key_b, cb.local_salt = salt_b, cb.remote_key = key_a, cb.remote_salt = salt_a;
    a = std::move(media::MediaSession::create(ca, fake.platform, metrics, to_b).value());
    b = std::move(media::MediaSession::create(cb, fake.platform, metrics, to_a).value());
    to_b.peer = b.get(), to_b.clock = &fake.clock;
    to_a.peer = a.get(), to_a.clock = &fake.clock;
  }
};

struct CountingSink final : media::AudioFrameSink {
  uint64_t frames = 0, concealed = 0;
  void on_audio_frame(const media::AudioFrame& f) override {
    ++frames;
    concealed += f.origin != media::AudioFrameOrigin::decoded;
    keep(f.pcm.data());
  }
};

void run_audio(Harness& h, media::AudioCodec codec, const char* variant) {
  if (!h.selected("media_audio", variant)) return;
  Pair pair;
  auto& platform = pair.fake.platform;
  media::AudioSenderConfig sc;
  sc.codec = codec;
  sc.payload_type = codec == media::AudioCodec::opus ? 111 : 0;
  auto sender = media::AudioSender::create(sc, platform, pair.metrics, *pair.a);
  if (!sender.ok()) return;
  CountingSink sink;
  media::AudioReceiverConfig rc;
  rc.codec = codec;
  rc.payload_type = sc.payload_type;
  rc.remote_ssrc = sender.value()->ssrc();
  auto receiver = media::AudioReceiver::create(rc, platform, pair.metrics, sink);
  if (!receiver.ok()) return;
  if (!pair.a->add_sender(*sender.value()).ok() || !pair.b->add_receiver(*receiver.value()).ok()) return;
  std::array<int16_t, 960> pcm{};
  uint64_t phase = 0, ops = 0;
  h.run({"media_audio", variant, [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) {
             for (auto& s : pcm) s = static_cast<int16_t>(6000 * std::sin(0.0575958 * static_cast<double>(phase++)));
             const uint64_t now = pair.fake.clock.now_ns();
             (void)sender.value()->capture(pcm, now);
             pair.b->poll(now);  // plays out what is due: one frame per 20 ms once the playout delay has passed
             pair.fake.clock.advance(20 * kMs);
           }
           ops += n;
         }});
  std::printf("  (media_audio/%s: %.4f frames out per frame in, %llu concealed, %llu datagrams)\n", variant,
              double(sink.frames) / double(ops), static_cast<unsigned long long>(sink.concealed),
              static_cast<unsigned long long>(pair.to_b.datagrams));
  pair.a->remove_sender(*sender.value());
  pair.b->remove_receiver(*receiver.value());
}

struct CountingReceiver final : media::RtpReceiveStream {
  uint64_t packets = 0;
  uint32_t ssrc = 0x1234;
  media::MediaKind kind() const override { return media::MediaKind::video; }
  uint32_t remote_ssrc() const override { return ssrc; }
  uint8_t payload_type() const override { return 96; }
  void on_rtp(const media::rtp::RtpPacketView& p, uint64_t) override {
    ++packets;
    keep(p.payload.data());
  }
  void on_sender_report(const media::rtp::SenderInfo&, uint64_t) override {}
  void set_rtt(uint64_t) override {}
  std::optional<media::rtp::ReportBlock> report_block(uint64_t) override { return std::nullopt; }
  size_t take_nacks(uint64_t, std::span<uint16_t>) override { return 0; }
  bool take_keyframe_request() override { return false; }
  void poll(uint64_t) override {}
  std::optional<uint64_t> next_timeout() const override { return std::nullopt; }
};

void run_rtp(Harness& h) {
  if (!h.selected("media_rtp", "srtp_1200")) return;
  Pair pair;
  CountingReceiver receiver;
  if (!pair.b->add_receiver(receiver).ok()) return;
  std::vector<uint8_t> payload(1200, 0x42);
  std::array<uint8_t, media::kMaxDatagramSize + media::kSrtpTrailerRoom> buffer{};
  media::rtp::RtpHeader header;
  header.payload_type = 96;
  header.ssrc = receiver.ssrc;
  uint64_t ops = 0;
  h.run({"media_rtp", "srtp_1200", [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) {
             header.sequence_number++;
             header.timestamp += 3000;
             const auto size = media::rtp::write_rtp(header, payload, buffer);
             (void)pair.a->send_rtp(buffer, size.value(), 0);
           }
           ops += n;
         }});
  std::printf("  (media_rtp/srtp_1200: %.4f packets received per packet sent)\n",
              double(receiver.packets) / double(ops));
  pair.b->remove_receiver(receiver);
}

void run_media_suite(Harness& h) {
  run_audio(h, media::AudioCodec::opus, "opus_20ms");
  run_audio(h, media::AudioCodec::pcmu, "pcmu_20ms");
  run_rtp(h);
}

const Suite kSuite(80, "media", run_media_suite);

}  // namespace
}  // namespace tandem::bench
