// A whole call over the simulated network: real audio and video senders and receivers on two media sessions,
// SRTP both ways, the RTCP loop running, 5% loss with reordering and duplication on both paths.
#include <catch2/catch.hpp>

#include <cmath>

#include "core/media/pipeline/audio_receiver.h"
#include "core/media/pipeline/audio_sender.h"
#include "core/media/pipeline/video_receiver.h"
#include "core/media/pipeline/video_sender.h"
#include "support/alloc_counter.h"
#include "tests/core/media/pipeline/session_pair_support.h"

namespace tandem::media {
namespace {

constexpr uint64_t kMs = 1'000'000;

struct AudioCollector final : AudioFrameSink {
  void on_audio_frame(const AudioFrame& f) override {
    ++frames;
    if (f.origin == AudioFrameOrigin::concealed) ++concealed;
    if (f.origin == AudioFrameOrigin::fec) ++fec;
    if (f.rtp_timestamp != 0 && last_ts != 0 && f.rtp_timestamp != last_ts + 960) ++out_of_order;
    last_ts = f.rtp_timestamp;
  }
  uint64_t frames = 0, concealed = 0, fec = 0, out_of_order = 0;
  uint32_t last_ts = 0;
};

struct VideoCollector final : VideoFrameSink {
  void on_video_frame(const VideoFrame& f) override {
    ++frames;
    keyframes += f.keyframe;
    width = f.picture.width;
  }
  uint64_t frames = 0, keyframes = 0;
  uint32_t width = 0;
};

struct Call {
  explicit Call(const sim::Impairments& path) : pair(path) {
    auto& fp = pair.fake.platform;
    AudioSenderConfig ac;
    audio_tx = std::move(AudioSender::create(ac, fp, pair.a().metrics, *pair.a().session).value());
    VideoSenderConfig vc;
    vc.encoder.width = 160;
    vc.encoder.height = 120;
    vc.encoder.bitrate_kbps = 300;
    video_tx = std::move(VideoSender::create(vc, fp, pair.a().metrics, *pair.a().session).value());
    AudioSenderConfig back;
    back_tx = std::move(AudioSender::create(back, fp, pair.b().metrics, *pair.b().session).value());
    AudioReceiverConfig ar;
    ar.remote_ssrc = audio_tx->ssrc();
    audio_rx = std::move(AudioReceiver::create(ar, fp, pair.b().metrics, audio_sink).value());
    ar.remote_ssrc = back_tx->ssrc();
    back_rx = std::move(AudioReceiver::create(ar, fp, pair.a().metrics, back_sink).value());
    VideoReceiverConfig vr;
    vr.remote_ssrc = video_tx->ssrc();
    video_rx = std::move(VideoReceiver::create(vr, fp, pair.b().metrics, video_sink).value());
    REQUIRE(pair.a().session->add_sender(*audio_tx).ok());
    REQUIRE(pair.a().session->add_sender(*video_tx).ok());
    REQUIRE(pair.b().session->add_sender(*back_tx).ok());
    REQUIRE(pair.b().session->add_receiver(*audio_rx).ok());
    REQUIRE(pair.b().session->add_receiver(*video_rx).ok());
    REQUIRE(pair.a().session->add_receiver(*back_rx).ok());
    picture.resize(i420_size(160, 120));
  }

  // Runs for `ms` milliseconds of media: audio every 20 ms both ways, video every 40 ms (25 fps).
  void talk(int ms) {
    for (int t = 0; t < ms; t += 20) {
      const uint64_t now = pair.now();
      for (int i = 0; i < 960; ++i, ++phase)
        pcm[i] = static_cast<int16_t>(6000 * std::sin(2 * M_PI * 440.0 * phase / 48000.0));
      REQUIRE(audio_tx->capture(pcm, now).ok());
      REQUIRE(back_tx->capture(pcm, now).ok());
      if ((t / 20) % 2 == 0) {
        for (size_t i = 0; i < 160 * 120; ++i) picture[i] = static_cast<uint8_t>((i % 160) + frame * 3);
        std::fill(picture.begin() + 160 * 120, picture.end(), uint8_t{128});
        ++frame;
        REQUIRE(video_tx->capture(i420_packed(picture, 160, 120), now).ok());
      }
      pair.run_until(now + 20 * kMs);
    }
  }

  test::SessionPair pair;
  AudioCollector audio_sink, back_sink;
  VideoCollector video_sink;
  std::unique_ptr<AudioSender> audio_tx, back_tx;
  std::unique_ptr<VideoSender> video_tx;
  std::unique_ptr<AudioReceiver> audio_rx, back_rx;
  std::unique_ptr<VideoReceiver> video_rx;
  std::array<int16_t, 960> pcm{};
  std::vector<uint8_t> picture;
  uint32_t phase = 0, frame = 0;
};

}  // namespace

TEST_CASE("media call: audio keeps flowing and video recovers with 5% loss, reordering and duplicates",
          "[media-call]") {
  sim::Impairments path;
  path.loss = 0.05;
  path.reorder = 0.05;
  path.duplicate = 0.01;
  path.delay_ns = 25 * kMs;
  path.jitter_ns = 10 * kMs;
  Call call(path);
  call.talk(10'000);  // 10 s
  call.pair.run_for(1000 * kMs);

  // Audio: one frame out per 20 ms slot (500 in 10 s, minus the playout delay), in order; losses concealed
  // or rebuilt from FEC, some repaired by NACK before their playout time.
  const auto audio = call.audio_rx->stats();
  CHECK(call.audio_sink.frames >= 480);
  CHECK(call.audio_sink.out_of_order == 0);
  CHECK(audio.jitter.lost < 15);  // NACK repairs most of the ~25 lost packets before RFC 3550 counts them
  CHECK(call.audio_sink.concealed + call.audio_sink.fec > 0);
  CHECK(call.pair.a().metrics.audio_counters.retransmissions.value() > 0);

  // Video: NACK repairs; frames keep being decoded to the end.
  const auto video = call.video_rx->stats();
  CHECK(call.video_sink.frames >= 200);  // of 250
  CHECK(call.video_sink.width == 160);
  CHECK(video.nack.nacks_sent > 0);
  CHECK(call.video_tx->stats().retransmissions > 0);

  CHECK(call.back_sink.frames >= 480);  // and the other way

  // RTCP: both sides send, so both measured the round trip (2 x 25 ms + up to 2 x 10 ms jitter).
  REQUIRE(call.pair.a().session->stats().rtt_ns);
  CHECK(*call.pair.a().session->stats().rtt_ns >= 45 * kMs);
  CHECK(*call.pair.a().session->stats().rtt_ns <= 90 * kMs);
  CHECK(call.pair.b().session->stats().rtt_ns.has_value());
  CHECK(call.pair.b().session->stats().srtp_auth_failures == 0);
  CHECK(call.pair.b().session->stats().srtp_replays > 0);  // the link's duplicates, caught by SRTP replay protection
}

TEST_CASE("media call: a burst that NACK cannot repair is recovered by PLI and a keyframe", "[media-call]") {
  Call call({});
  call.talk(2000);
  const uint64_t frames_before = call.video_sink.frames;
  const uint64_t keyframes_before = call.video_tx->stats().keyframes_sent;
  // 400 ms of total loss from a to b, and b's feedback cut for a second: by the time a NACK could get
  // through, the frames' deadlines have passed, so b drops them and asks for a keyframe.
  sim::Impairments dead;
  dead.loss = 1.0;
  REQUIRE(call.pair.link_ab().set_impairments(dead).ok());
  REQUIRE(call.pair.link_ba().set_impairments(dead).ok());
  call.talk(400);
  REQUIRE(call.pair.link_ab().set_impairments({}).ok());
  call.talk(600);
  REQUIRE(call.pair.link_ba().set_impairments({}).ok());
  call.talk(3000);
  CHECK(call.video_rx->stats().plis_requested > 0);
  CHECK(call.video_tx->stats().keyframes_sent > keyframes_before);
  CHECK(call.video_sink.frames > frames_before + 50);  // 3 s at 25 fps after the outage, minus recovery
  CHECK(call.pair.a().metrics.plis_received.value() > 0);
}

TEST_CASE("media call: steady state allocates nothing per frame on either side", "[media-call]") {
  Call call({});
  call.talk(3000);  // warm up: pools, codecs, history
  test::AllocationScope scope;
  call.talk(1000);
  // Video encode/decode inside libvpx is the one place that could allocate; the counted scope includes it,
  // so this also shows libvpx does not allocate per frame once running.
  CHECK(scope.count() == 0);
}

}  // namespace tandem::media
