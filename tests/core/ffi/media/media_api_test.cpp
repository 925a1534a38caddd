// Media through the API, as a host uses it: two cores (the peers), sessions with mirrored SRTP keys, sources
// on one and streams on the other; the test is the "network" that moves MEDIA_PACKETS events from one core to
// the other's deliver_media_packets. Both cores share one fake platform, so time is the test's.
#include <catch2/catch.hpp>

#include <cmath>

#include "core/ffi/core.h"
#include "proto/tandem.pb.h"
#include "support/fake_platform.h"
#include "support/ffi_side.h"

using namespace tandem;

namespace {

constexpr uint64_t kMs = 1'000'000;

std::string key_bytes(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed * 13 + i * 7);
  return s;
}

using Peer = test::FfiSide;

struct TwoCores {
  test::FakePlatform p;
  Peer a, b;
  uint64_t session_a = 0, session_b = 0;

  explicit TwoCores(const api::NetworkImpairment& a_out = {}) {
    for (Peer* peer : {&a, &b}) peer->start(p.platform);
    session_a = create_session(a, 1, 2, a_out);
    session_b = create_session(b, 2, 1, {});
    a.subscribe({api::MEDIA_PACKETS}, session_a);
    b.subscribe({api::MEDIA_PACKETS}, session_b);
  }
  ~TwoCores() {
    a.core->shutdown();
    b.core->shutdown();
  }

  static uint64_t create_session(Peer& peer, char local, char remote, const api::NetworkImpairment& impairment) {
    api::FfiRequest req;
    auto* s = req.mutable_create_media_session();
    s->set_local_key(key_bytes(16, local));
    s->set_local_salt(key_bytes(14, local + 10));
    s->set_remote_key(key_bytes(16, remote));
    s->set_remote_salt(key_bytes(14, remote + 10));
    *s->mutable_outbound_impairment() = impairment;
    auto resp = peer.send(req);
    REQUIRE(resp.error() == api::OK);
    return resp.create_media_session().session();
  }

  // Moves every MEDIA_PACKETS event of one peer into the other's session.
  size_t forward(Peer& from, Peer& to, uint64_t to_session) {
    size_t n = 0;
    for (auto& ev : from.take(api::FfiEvent::kMediaPackets)) {
      api::FfiRequest req;
      auto* d = req.mutable_deliver_media_packets();
      d->set_session(to_session);
      for (const auto& packet : ev.media_packets().packets()) d->add_packets(packet);
      n += static_cast<size_t>(ev.media_packets().packets_size());
      CHECK(to.send(req).error() == api::OK);
    }
    return n;
  }

  void run_for(uint64_t ns) {
    const uint64_t end = p.clock.now_ns() + ns;
    while (p.clock.now_ns() < end) {
      p.runner.advance(std::min<uint64_t>(kMs, end - p.clock.now_ns()));
      forward(a, b, session_b);
      forward(b, a, session_a);
      p.runner.run_ready();
    }
  }
};

std::string tone(uint32_t samples, uint32_t& phase) {
  std::string pcm(samples * 2, '\0');
  for (uint32_t i = 0; i < samples; ++i, ++phase) {
    const auto v = static_cast<int16_t>(8000 * std::sin(2 * M_PI * 440.0 * phase / 48000.0));
    pcm[2 * i] = static_cast<char>(v & 0xFF);
    pcm[2 * i + 1] = static_cast<char>((v >> 8) & 0xFF);
  }
  return pcm;
}

std::string test_pattern(uint32_t w, uint32_t h, uint32_t frame) {
  std::string i420(w * h + 2 * ((w + 1) / 2) * ((h + 1) / 2), '\0');
  for (uint32_t y = 0; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x) i420[y * w + x] = static_cast<char>((x + y + 4 * frame) & 0xFF);
  std::fill(i420.begin() + w * h, i420.end(), static_cast<char>(128));
  return i420;
}

std::map<std::string, double> stats_of(Peer& peer, uint64_t handle) {
  api::FfiRequest req;
  req.mutable_get_media_stats()->set_handle(handle);
  auto resp = peer.send(req);
  REQUIRE(resp.error() == api::OK);
  std::map<std::string, double> out;
  for (const auto& s : resp.get_media_stats().stats()) out[s.name()] = s.value();
  return out;
}

uint64_t create_audio(TwoCores& t, api::AudioCodec codec, const std::string& e2ee_key, uint64_t& stream) {
  api::FfiRequest src;
  src.mutable_create_audio_source()->set_session(t.session_a);
  src.mutable_create_audio_source()->set_codec(codec);
  src.mutable_create_audio_source()->mutable_e2ee()->set_key(e2ee_key);
  auto created = t.a.send(src);
  REQUIRE(created.error() == api::OK);
  api::FfiRequest st;
  st.mutable_create_audio_stream()->set_session(t.session_b);
  st.mutable_create_audio_stream()->set_codec(codec);
  st.mutable_create_audio_stream()->set_remote_ssrc(created.create_audio_source().ssrc());
  st.mutable_create_audio_stream()->mutable_e2ee()->set_key(e2ee_key);
  auto stream_resp = t.b.send(st);
  REQUIRE(stream_resp.error() == api::OK);
  stream = stream_resp.create_audio_stream().stream();
  t.b.subscribe({api::AUDIO_FRAME}, stream);
  return created.create_audio_source().source();
}

}  // namespace

TEST_CASE("media api: audio goes from a source on one core to a stream on another", "[media-api]") {
  for (auto codec : {api::OPUS, api::PCMU}) {
    for (const std::string& e2ee : {std::string(), key_bytes(16, 9)}) {
      CAPTURE(codec, e2ee.size());
      TwoCores t;
      uint64_t stream = 0;
      const uint64_t source = create_audio(t, codec, e2ee, stream);
      uint32_t phase = 0;
      for (int i = 0; i < 100; ++i) {
        api::FfiRequest cap;
        cap.mutable_capture_audio_frame()->set_source(source);
        cap.mutable_capture_audio_frame()->set_pcm(tone(960, phase));
        REQUIRE(t.a.send(cap).error() == api::OK);
        t.run_for(20 * kMs);
      }
      t.run_for(300 * kMs);
      auto frames = t.b.take(api::FfiEvent::kAudioFrame);
      CHECK(frames.size() >= 90);
      size_t loud = 0;
      for (const auto& f : frames) {
        CHECK(f.key() == stream);
        CHECK(f.audio_frame().stream() == stream);
        CHECK(f.audio_frame().sample_rate() == 48000);
        CHECK(f.audio_frame().pcm().size() == 960 * 2);
        const auto* s = reinterpret_cast<const int16_t*>(f.audio_frame().pcm().data());
        double energy = 0;
        for (size_t i = 0; i < 960; ++i) energy += double(s[i]) * s[i];
        loud += std::sqrt(energy / 960) > 2000;
      }
      CHECK(loud >= 80);  // the tone (RMS ~5600) came through
      auto st = stats_of(t.b, stream);
      CHECK(st["frames_decoded"] >= 90);
      CHECK(st["packets_lost"] == 0);
      auto src_stats = stats_of(t.a, source);
      CHECK(src_stats["frames_sent"] == 100);
    }
  }
}

TEST_CASE("media api: video with loss on the path still arrives, NACKs and metrics show it", "[media-api]") {
  api::NetworkImpairment lossy;
  lossy.set_loss(0.05);
  lossy.set_reorder(0.05);
  lossy.set_delay_ms(20);
  lossy.set_seed(5);
  TwoCores t(lossy);
  api::FfiRequest src;
  src.mutable_create_video_source()->set_session(t.session_a);
  auto created = t.a.send(src);
  REQUIRE(created.error() == api::OK);
  api::FfiRequest st;
  st.mutable_create_video_stream()->set_session(t.session_b);
  st.mutable_create_video_stream()->set_remote_ssrc(created.create_video_source().ssrc());
  auto stream_resp = t.b.send(st);
  REQUIRE(stream_resp.error() == api::OK);
  const uint64_t stream = stream_resp.create_video_stream().stream();
  t.b.subscribe({api::VIDEO_FRAME}, stream);
  for (uint32_t i = 0; i < 90; ++i) {  // 3 s at 30 fps
    api::FfiRequest cap;
    cap.mutable_capture_video_frame()->set_source(created.create_video_source().source());
    cap.mutable_capture_video_frame()->set_width(320);
    cap.mutable_capture_video_frame()->set_height(240);
    cap.mutable_capture_video_frame()->set_i420(test_pattern(320, 240, i));
    REQUIRE(t.a.send(cap).error() == api::OK);
    t.run_for(33 * kMs);
  }
  t.run_for(1000 * kMs);
  auto frames = t.b.take(api::FfiEvent::kVideoFrame);
  CHECK(frames.size() >= 60);
  for (const auto& f : frames) {
    CHECK(f.video_frame().width() == 320);
    CHECK(f.video_frame().height() == 240);
    CHECK(f.video_frame().i420().size() == 320 * 240 * 3 / 2);
  }
  auto rx = stats_of(t.b, stream);
  CHECK(rx["nacks_sent"] > 0);
  auto tx = stats_of(t.a, created.create_video_source().source());
  CHECK(tx["retransmissions"] > 0);
  auto session = stats_of(t.a, t.session_a);
  CHECK(session["impairment_dropped"] > 0);

  // The pipeline's stages show up in the core's metrics.
  api::FfiRequest metrics;
  metrics.mutable_get_metrics();
  auto report = t.b.send(metrics).get_metrics().report();
  std::map<std::string, uint64_t> counts;
  for (const auto& h : report.histograms()) counts[h.name() + "/" + h.label()] = h.count();
  CHECK(counts["srtp_unprotect/"] > 0);
  CHECK(counts["rtp_parse/"] > 0);
  CHECK(counts["decode/video"] > 0);
  CHECK(counts["forward_video_frame/"] > 0);
  auto sent = t.a.send(metrics).get_metrics().report();
  std::map<std::string, uint64_t> sent_counts;
  for (const auto& h : sent.histograms()) sent_counts[h.name() + "/" + h.label()] = h.count();
  CHECK(sent_counts["capture_video_frame/"] == 90);
  CHECK(sent_counts["encode/video"] == 90);
  CHECK(sent_counts["srtp_protect/"] > 0);
}

TEST_CASE("media api: bad requests get clear errors", "[media-api]") {
  TwoCores t;
  uint64_t stream = 0;
  const uint64_t source = create_audio(t, api::OPUS, {}, stream);

  api::FfiRequest cap;
  cap.mutable_capture_audio_frame()->set_source(source);
  cap.mutable_capture_audio_frame()->set_pcm(std::string(100, '\0'));
  auto resp = t.a.send(cap);
  CHECK(resp.error() == api::INVALID_ARGUMENT);
  CHECK(resp.error_message().find("1920 bytes") != std::string::npos);

  cap.mutable_capture_audio_frame()->set_source(stream);  // a stream handle where a source is expected
  CHECK(t.b.send(cap).error() == api::WRONG_HANDLE_TYPE);

  api::FfiRequest bad_session;
  bad_session.mutable_create_media_session()->set_local_key("short");
  CHECK(t.a.send(bad_session).error() == api::INVALID_ARGUMENT);

  api::FfiRequest bad_key;
  bad_key.mutable_create_audio_source()->set_session(t.session_a);
  bad_key.mutable_create_audio_source()->mutable_e2ee()->set_key("0123456789");
  CHECK(t.a.send(bad_key).error() == api::INVALID_ARGUMENT);

  api::FfiRequest big;
  big.mutable_capture_video_frame()->set_source(source);
  big.mutable_capture_video_frame()->set_width(1920);
  big.mutable_capture_video_frame()->set_height(1080);
  CHECK(t.a.send(big).error() == api::WRONG_HANDLE_TYPE);

  api::FfiRequest imp;
  imp.mutable_set_impairment()->set_session(t.session_a);
  imp.mutable_set_impairment()->mutable_impairment()->set_loss(1.5);
  CHECK(t.a.send(imp).error() == api::INVALID_ARGUMENT);

  // Garbage delivered to a session is counted, not an error of the request.
  api::FfiRequest junk;
  junk.mutable_deliver_media_packets()->set_session(t.session_b);
  junk.mutable_deliver_media_packets()->add_packets("not a packet");
  junk.mutable_deliver_media_packets()->add_packets(std::string(200, '\x80'));
  auto delivered = t.b.send(junk);
  CHECK(delivered.error() == api::OK);
  CHECK(delivered.deliver_media_packets().rejected() == 2);

  // Dropped handles are stale at once; a session dropped before its stream keeps serving it.
  CHECK(t.a.core->drop_handle(source).ok());
  cap.mutable_capture_audio_frame()->set_source(source);
  cap.mutable_capture_audio_frame()->set_pcm(std::string(1920, '\0'));
  CHECK(t.a.send(cap).error() == api::STALE_HANDLE);
  CHECK(t.b.core->drop_handle(t.session_b).ok());
  t.run_for(10 * kMs);
  CHECK(stats_of(t.b, stream).count("frames_decoded") == 1);
  CHECK(t.b.core->drop_handle(stream).ok());
  t.run_for(10 * kMs);
}
