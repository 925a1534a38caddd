// The audio pipeline end to end without a session: AudioSender -> simulated link -> AudioReceiver -> sink,
// with RTCP feedback (NACK, receiver reports) on a link of its own. Deterministic: fake clock, seeded links.
#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <optional>
#include <vector>

#include "core/media/codecs/codec_signals.h"
#include "core/media/codecs/opus_payload.h"
#include "core/media/e2ee/frame_format.h"
#include "core/media/e2ee/key_ring.h"
#include "core/media/pipeline/audio_receiver.h"
#include "core/media/pipeline/audio_sender.h"
#include "pipeline_test_support.h"
#include "support/alloc_counter.h"
#include "support/fake_platform.h"

using namespace tandem;
using namespace tandem::media;

namespace {

constexpr uint64_t kMs = 1'000'000;

// Keeps every frame's facts and (optionally) its PCM. Reserve before an allocation test.
struct RecordingSink final : AudioFrameSink {
  struct Frame {
    uint32_t rtp_timestamp;
    AudioFrameOrigin origin;
    uint32_t samples;
    int channels;
    uint64_t playout_ns;
    uint64_t handed_ns;  // when the sink got it
  };
  void on_audio_frame(const AudioFrame& frame) override {
    frames.push_back({frame.rtp_timestamp, frame.origin, frame.samples_per_channel, frame.channels, frame.playout_ns,
                      clock != nullptr ? clock->now_ns() : 0});
    if (keep_pcm) pcm.insert(pcm.end(), frame.pcm.begin(), frame.pcm.end());
  }
  size_t count(AudioFrameOrigin origin) const {
    return static_cast<size_t>(
        std::count_if(frames.begin(), frames.end(), [&](const Frame& f) { return f.origin == origin; }));
  }
  std::vector<Frame> frames;
  std::vector<int16_t> pcm;
  bool keep_pcm = true;
  platform::Clock* clock = nullptr;
};

// A continuous signal cut into capture frames: a tone per channel (the second a fifth above the first), or
// the codec tests' melody (which makes Opus use SILK, whose in-band FEC the loss tests need).
struct Signal {
  double hz = 440.0;
  double amplitude = 8000.0;
  bool melody = false;
  std::vector<int16_t> melody_samples = test::melody(48000 * 4);
  uint64_t position = 0;  // samples per channel so far

  void next(std::span<int16_t> out, int channels) {
    const size_t n = out.size() / static_cast<size_t>(channels);
    for (size_t i = 0; i < n; ++i, ++position) {
      for (int c = 0; c < channels; ++c) {
        const double f = hz * (c ? 1.5 : 1.0);
        out[i * channels + c] =
            melody ? melody_samples[position % melody_samples.size()]
                   : static_cast<int16_t>(std::lround(amplitude * std::sin(2 * M_PI * f * position / 48000.0)));
      }
    }
  }
};

struct Call {
  Call(const AudioSenderConfig& sc, const AudioReceiverConfig& rc, const sim::Impairments& forward = {},
       const sim::Impairments& backward = {})
      : Call(forward) {
    open(sc, rc, backward);
  }
  // Streams come later, through open(): E2EE key rings must exist (on this platform's crypto) first.
  explicit Call(const sim::Impairments& forward) : out(forward, 7) { sink.clock = &fake.clock; }

  void open(AudioSenderConfig sc, AudioReceiverConfig rc, const sim::Impairments& backward = {}) {
    auto s = AudioSender::create(sc, fake.platform, metrics, out);
    REQUIRE(s.ok());
    tx = std::move(s).value();
    rc.remote_ssrc = tx->ssrc();
    auto r = AudioReceiver::create(rc, fake.platform, metrics, sink);
    REQUIRE(r.ok());
    rx = std::move(r).value();
    out.connect(rx.get());
    feedback = std::make_unique<test::FeedbackLoop>(*rx, *tx, backward, 11);
    channels = sc.channels;
    pcm.resize(tx->samples_per_frame() * static_cast<size_t>(channels));
    frame_ns = sc.frame_ms * kMs;
    next_capture = fake.clock.now_ns();
  }

  // One millisecond: crypto completions, capture when a frame is due, the link, playout, feedback. The
  // receiver is polled after packets arrive and when its next_timeout() has come, as a session would.
  void step() {
    fake.runner.advance(kMs);
    const uint64_t now = fake.clock.now_ns();
    if (now >= next_capture) {
      signal.next(pcm, channels);
      if (!tx->capture(pcm, now).ok()) ++capture_failures;
      next_capture += frame_ns;
    }
    const size_t arrived = out.deliver(now);
    fake.runner.run_ready();
    const std::optional<uint64_t> due = rx->next_timeout();
    if (arrived > 0 || (due && *due <= now)) rx->poll(now);
    feedback->pump(now);
  }
  void run(uint64_t ns) {
    for (uint64_t t = 0; t < ns; t += kMs) step();
  }

  test::FakePlatform fake;
  metrics::Registry registry;
  MediaMetrics metrics = MediaMetrics::in(registry);
  test::LoopbackOutput out;
  RecordingSink sink;
  std::optional<e2ee::KeyRing> send_ring, recv_ring;  // before the streams, which must go first
  std::unique_ptr<AudioSender> tx;
  std::unique_ptr<AudioReceiver> rx;
  std::unique_ptr<test::FeedbackLoop> feedback;
  Signal signal;
  std::vector<int16_t> pcm;
  int channels = 1;
  uint64_t frame_ns = 20 * kMs;
  uint64_t next_capture = 0;
  uint64_t capture_failures = 0;
};

// One channel of interleaved PCM.
std::vector<int16_t> channel(const std::vector<int16_t>& pcm, int channels, int c, size_t skip_samples) {
  std::vector<int16_t> out;
  for (size_t i = skip_samples * channels + c; i < pcm.size(); i += channels) out.push_back(pcm[i]);
  return out;
}

double rms(std::span<const int16_t> x) { return x.empty() ? 0.0 : std::sqrt(test::energy(x) / x.size()); }

// Frequency from zero crossings with hysteresis (so codec noise near zero does not count).
double frequency_hz(std::span<const int16_t> x, int16_t hysteresis = 500) {
  int state = 0, crossings = 0;
  for (int16_t s : x) {
    const int now = s > hysteresis ? 1 : s < -hysteresis ? -1 : state;
    if (state != 0 && now != state) ++crossings;
    state = now;
  }
  return crossings / 2.0 / (x.size() / 48000.0);
}

// Every frame slot once, in order: timestamps step by exactly one frame.
void check_slots_in_order(const RecordingSink& sink, uint32_t ticks) {
  REQUIRE(!sink.frames.empty());
  size_t bad = 0;
  for (size_t i = 1; i < sink.frames.size(); ++i)
    if (sink.frames[i].rtp_timestamp - sink.frames[i - 1].rtp_timestamp != ticks) ++bad;
  CHECK(bad == 0);
}

uint64_t count(const metrics::Histogram& h) { return h.snapshot().count; }

AudioSenderConfig sender_config(AudioCodec codec, int channels = 1) {
  AudioSenderConfig c;
  c.codec = codec;
  c.channels = channels;
  c.payload_type = codec == AudioCodec::pcmu ? 0 : codec == AudioCodec::pcma ? 8 : 111;
  if (channels == 2) c.bitrate_bps = 64000;
  return c;
}

AudioReceiverConfig receiver_config(AudioCodec codec, int channels = 1) {
  AudioReceiverConfig c;
  c.codec = codec;
  c.channels = channels;
  c.payload_type = codec == AudioCodec::pcmu ? 0 : codec == AudioCodec::pcma ? 8 : 111;
  return c;
}

}  // namespace

TEST_CASE("audio pipeline: a tone goes through clean, every codec", "[audio-pipeline]") {
  struct Case {
    AudioCodec codec;
    int channels;
    double hz;
  };
  const Case c = GENERATE(Case{AudioCodec::opus, 1, 440.0}, Case{AudioCodec::opus, 2, 440.0},
                          Case{AudioCodec::pcmu, 1, 1000.0}, Case{AudioCodec::pcma, 1, 1000.0},
                          Case{AudioCodec::pcmu, 2, 700.0});
  CAPTURE(static_cast<int>(c.codec), c.channels, c.hz);
  sim::Impairments path;  // no loss; delay and jitter so arrivals do not line up with playout times
  path.delay_ns = 15 * kMs;
  path.jitter_ns = 4 * kMs;
  Call call(sender_config(c.codec, c.channels), receiver_config(c.codec, c.channels), path);
  call.signal.hz = c.hz;
  call.run(2990 * kMs);  // captures at 0, 20, ..., 2980 ms

  const uint32_t ticks = c.codec == AudioCodec::opus ? 960 : 160;
  check_slots_in_order(call.sink, ticks);
  CHECK(call.sink.frames.size() >= 140);  // 150 captured, minus the playout delay
  CHECK(call.sink.count(AudioFrameOrigin::decoded) == call.sink.frames.size());
  CHECK(call.sink.frames.front().channels == c.channels);
  CHECK(call.sink.frames.front().samples == 960);
  CHECK(call.capture_failures == 0);
  // Played on time: the receiver's next_timeout() led the loop to poll when each frame fell due.
  size_t late = 0;
  for (const auto& f : call.sink.frames) late += f.handed_ns > f.playout_ns + kMs || f.handed_ns < f.playout_ns;
  CHECK(late == 0);

  // After half a second of settling, each channel is the tone it was given, at about its level.
  const double input_rms = 8000.0 / std::sqrt(2.0);
  for (int ch = 0; ch < c.channels; ++ch) {
    const std::vector<int16_t> x = channel(call.sink.pcm, c.channels, ch, 24000);
    // G.711 stereo is downmixed: both channels carry the mix of the two tones, so only check mono ones.
    const bool downmixed = c.codec != AudioCodec::opus && c.channels == 2;
    CAPTURE(ch, rms(x), frequency_hz(x));
    if (downmixed) {
      CHECK(rms(x) > 0.5 * input_rms);
      continue;
    }
    CHECK(rms(x) > 0.8 * input_rms);
    CHECK(rms(x) < 1.2 * input_rms);
    const double expected = c.hz * (ch ? 1.5 : 1.0);
    CHECK(std::abs(frequency_hz(x) - expected) < 0.02 * expected);
  }

  const AudioSenderStats ts = call.tx->stats();
  const AudioReceiverStats rs = call.rx->stats();
  CHECK(ts.frames_captured == 150);
  CHECK(ts.packets_sent == 150);
  CHECK(rs.frames_decoded == call.sink.frames.size());
  CHECK(rs.frames_concealed + rs.frames_fec + rs.decode_errors == 0);
  CHECK(call.metrics.audio_counters.packets_sent.value() == 150);
  CHECK(call.metrics.audio_counters.packets_received.value() == 150 - call.out.link().in_flight());
  CHECK(call.metrics.audio_counters.frames_received.value() == call.sink.frames.size());
  CHECK(call.metrics.audio_counters.packets_lost.value() == 0);
  CHECK(count(call.metrics.capture_audio_frame) == 150);
  CHECK(count(call.metrics.audio.encode) == 150);
  CHECK(count(call.metrics.audio.packetize) == 150);
  CHECK(count(call.metrics.audio.decode) == call.sink.frames.size());
  CHECK(count(call.metrics.forward_audio_frame) == call.sink.frames.size());
  CHECK(count(call.metrics.audio.jitter_wait) == call.sink.frames.size());
  // Packets waited in the buffer at least its minimum delay (20 ms) and not absurdly long.
  CHECK(call.metrics.audio.jitter_wait.quantile(0.5) >= 19 * kMs);
  CHECK(call.metrics.audio.jitter_wait.quantile(0.5) <= 60 * kMs);
}

TEST_CASE("audio pipeline: sender basics (random start, marker, SR info)", "[audio-pipeline]") {
  Call call(sender_config(AudioCodec::opus), receiver_config(AudioCodec::opus));
  CHECK_FALSE(call.tx->has_sent());
  call.step();
  REQUIRE(call.tx->has_sent());
  auto first = rtp::parse_rtp(call.out.last_sent());
  REQUIRE(first.ok());
  CHECK(first->marker);
  CHECK(first->ssrc == call.tx->ssrc());
  CHECK(first->payload_type == 111);
  const uint16_t seq0 = first->sequence_number;
  const uint32_t ts0 = first->timestamp;
  call.run(20 * kMs);
  auto second = rtp::parse_rtp(call.out.last_sent());
  REQUIRE(second.ok());
  CHECK_FALSE(second->marker);
  CHECK(second->sequence_number == static_cast<uint16_t>(seq0 + 1));
  CHECK(second->timestamp == ts0 + 960);

  // Another sender on the same platform draws another SSRC, sequence and timestamp.
  test::LoopbackOutput other_out;
  auto other = AudioSender::create(sender_config(AudioCodec::opus), call.fake.platform, call.metrics, other_out);
  REQUIRE(other.ok());
  CHECK(other.value()->ssrc() != call.tx->ssrc());
  std::vector<int16_t> pcm(960);
  REQUIRE(other.value()->capture(pcm, call.fake.clock.now_ns()).ok());
  auto p = rtp::parse_rtp(other_out.last_sent());
  REQUIRE(p.ok());
  CHECK((p->sequence_number != seq0 || p->timestamp != ts0));

  const rtp::SenderInfo info = call.tx->sender_info(call.fake.clock.now_ns(), 0);
  CHECK(info.packet_count == 2);
  CHECK(info.octet_count == call.tx->stats().bytes_sent);
}

TEST_CASE("audio pipeline: 5% loss with reordering, NACK and FEC", "[audio-pipeline]") {
  sim::Impairments forward;
  forward.loss = 0.05;
  forward.delay_ns = 30 * kMs;
  forward.jitter_ns = 5 * kMs;
  forward.reorder = 0.05;
  forward.reorder_delay_ns = 25 * kMs;
  sim::Impairments backward;
  backward.loss = 0.05;
  backward.delay_ns = 30 * kMs;

  AudioReceiverConfig rc = receiver_config(AudioCodec::opus);
  rc.jitter.min_delay_ns = 100 * kMs;  // room for one NACK round trip (60 ms) before playout
  Call call(sender_config(AudioCodec::opus), rc, forward, backward);
  call.rx->set_rtt(60 * kMs);
  call.signal.melody = true;
  call.run(30'000 * kMs);

  check_slots_in_order(call.sink, 960);
  const AudioReceiverStats rs = call.rx->stats();
  const size_t decoded = call.sink.count(AudioFrameOrigin::decoded);
  const size_t fec = call.sink.count(AudioFrameOrigin::fec);
  const size_t concealed = call.sink.count(AudioFrameOrigin::concealed);
  // Originals that made it across; any decoded frame beyond them came from a retransmission.
  const uint64_t originals_arrived = call.out.originals() - call.out.originals_lost();
  CAPTURE(decoded, fec, concealed, call.out.originals(), call.out.originals_lost(), call.out.resends(),
          rs.nacks_sent, rs.jitter.late, rs.jitter.duplicates);
  CHECK(call.out.originals_lost() > 40);
  CHECK(fec + concealed > 0);
  CHECK(rs.frames_fec == fec);
  CHECK(rs.frames_concealed == concealed);
  CHECK(call.metrics.audio_fec_recovered.value() == fec);
  CHECK(call.metrics.audio_concealed.value() == concealed);
  CHECK(call.out.resends() > 0);
  CHECK(call.metrics.audio_counters.retransmissions.value() == call.out.resends());
  CHECK(call.metrics.audio_counters.nacks_sent.value() == rs.nacks_sent);
  CHECK(call.metrics.audio_counters.nacks_received.value() > 0);
  CHECK(call.metrics.audio_counters.packets_lost.value() > 0);
  CHECK(decoded > originals_arrived);  // NACK recovered some
  CHECK(rs.jitter.duplicates == call.metrics.audio_counters.duplicate_packets.value());
  CHECK(rs.jitter.late == call.metrics.audio_counters.late_packets.value());
  CHECK(call.feedback->reports() >= 25);
  // (RFC 3550 counts retransmissions and duplicates as received, so with NACK repairing nearly everything
  // the reports say ~0% loss and the sender turns FEC down: the FEC checks are in the test without NACK.)
}

TEST_CASE("audio pipeline: without NACK, bursts are covered by FEC and PLC", "[audio-pipeline]") {
  sim::Impairments forward;
  forward.loss = 0.03;
  forward.burst_enter = 0.01;
  forward.burst_exit = 0.5;
  forward.delay_ns = 20 * kMs;
  forward.jitter_ns = 10 * kMs;
  forward.reorder = 0.05;
  AudioReceiverConfig rc = receiver_config(AudioCodec::opus);
  rc.nack = false;
  Call call(sender_config(AudioCodec::opus), rc, forward);
  call.signal.melody = true;
  call.run(20'000 * kMs);

  check_slots_in_order(call.sink, 960);
  const size_t fec = call.sink.count(AudioFrameOrigin::fec);
  const size_t concealed = call.sink.count(AudioFrameOrigin::concealed);
  CAPTURE(fec, concealed, call.out.originals_lost());
  CHECK(fec > 0);
  CHECK(concealed > 0);
  CHECK(call.out.resends() == 0);
  CHECK(call.rx->stats().nacks_sent == 0);
  // Receiver reports came back and told the sender about the loss (which keeps its FEC on).
  CHECK(call.feedback->reports() >= 15);
  CHECK(call.tx->stats().last_fraction_lost > 0);
  // Every lost original became an FEC or concealed frame (late ones too); nothing else was invented.
  CHECK(fec + concealed >= call.out.originals_lost());
}

TEST_CASE("audio pipeline: G.711 conceals by repeating the last frame, fading", "[audio-pipeline]") {
  sim::Impairments forward;
  forward.loss = 0.1;
  AudioReceiverConfig rc = receiver_config(AudioCodec::pcmu);
  rc.nack = false;
  Call call(sender_config(AudioCodec::pcmu), rc, forward);
  call.signal.hz = 1000.0;
  call.run(5000 * kMs);

  check_slots_in_order(call.sink, 160);
  const size_t concealed = call.sink.count(AudioFrameOrigin::concealed);
  CHECK(concealed > 5);
  CHECK(call.sink.count(AudioFrameOrigin::fec) == 0);
  // A concealed frame right after a decoded one is the tone again, a little quieter (faded, not silence).
  size_t checked = 0;
  size_t offset = 0;
  for (size_t i = 0; i + 1 < call.sink.frames.size(); ++i) {
    offset += 960;
    const auto& f = call.sink.frames;
    if (i > 25 && f[i].origin == AudioFrameOrigin::decoded && f[i + 1].origin == AudioFrameOrigin::concealed) {
      const std::span<const int16_t> prev(call.sink.pcm.data() + offset - 960, 960);
      const std::span<const int16_t> lost(call.sink.pcm.data() + offset, 960);
      CAPTURE(i, rms(prev), rms(lost));
      CHECK(rms(lost) > 0.4 * rms(prev));
      CHECK(rms(lost) < 0.95 * rms(prev));
      ++checked;
    }
  }
  CHECK(checked > 3);
}

TEST_CASE("audio pipeline: E2EE frames decrypt and play; a wrong key is counted", "[audio-pipeline]") {
  const bool wrong_key = GENERATE(false, true);
  CAPTURE(wrong_key);
  Call call(sim::Impairments{});
  call.send_ring.emplace(call.fake.crypto);
  call.recv_ring.emplace(call.fake.crypto);
  std::vector<uint8_t> key(16, 0x5A);
  REQUIRE(call.send_ring->set_key(0, key).ok());
  if (wrong_key) key[0] ^= 1;
  REQUIRE(call.recv_ring->set_key(0, key).ok());

  struct Wakeups final : StreamWakeup {
    void wake() override { ++count; }
    int count = 0;
  } wakeups;
  AudioSenderConfig sc = sender_config(AudioCodec::opus);
  sc.e2ee_keys = &*call.send_ring;
  AudioReceiverConfig rc = receiver_config(AudioCodec::opus);
  rc.e2ee_keys = &*call.recv_ring;
  rc.wakeup = &wakeups;
  call.open(sc, rc);
  call.run(2000 * kMs);

  CHECK(call.tx->stats().packets_sent >= 99);
  CHECK(call.tx->stats().frames_dropped == 0);
  CHECK(count(call.metrics.e2ee_encrypt) >= 99);
  CHECK(count(call.metrics.e2ee_decrypt) >= 98);
  // What went over the wire is not the Opus frame: it carries the E2EE trailer.
  auto last = rtp::parse_rtp(call.out.last_sent());
  REQUIRE(last.ok());
  CHECK(e2ee::parse_encrypted_frame(last->payload).ok());

  if (!wrong_key) {
    CHECK(call.metrics.e2ee_failures.value() == 0);
    CHECK(call.rx->stats().e2ee_failures == 0);
    check_slots_in_order(call.sink, 960);
    CHECK(call.sink.count(AudioFrameOrigin::decoded) >= 90);
    CHECK(wakeups.count > 0);
    const std::vector<int16_t> x = channel(call.sink.pcm, 1, 0, 24000);
    CAPTURE(rms(x), frequency_hz(x));
    CHECK(std::abs(frequency_hz(x) - 440.0) < 10.0);
    CHECK(rms(x) > 0.8 * 8000.0 / std::sqrt(2.0));
  } else {
    CHECK(call.metrics.e2ee_failures.value() >= 98);
    CHECK(call.rx->stats().e2ee_failures == call.metrics.e2ee_failures.value());
    CHECK(call.sink.frames.empty());  // nothing decrypted, so nothing was scheduled
  }
}

TEST_CASE("audio pipeline: bad input is refused, not crashed on", "[audio-pipeline]") {
  Call call(sender_config(AudioCodec::opus, 2), receiver_config(AudioCodec::opus));
  const uint64_t now = call.fake.clock.now_ns();
  std::vector<int16_t> pcm(960 * 2 + 1);
  for (size_t n : {size_t{0}, size_t{960}, size_t{959 * 2}, size_t{961 * 2}, size_t{480 * 2}})
    CHECK(call.tx->capture(std::span<const int16_t>(pcm).first(n), now).code() == Errc::invalid_argument);
  CHECK(call.tx->stats().packets_sent == 0);
  CHECK(call.tx->capture(std::span<const int16_t>(pcm).first(960 * 2), now).ok());

  for (AudioCodec codec : {AudioCodec::opus, AudioCodec::pcmu}) {
    AudioSenderConfig bad = sender_config(codec);
    bad.channels = 3;
    CHECK(AudioSender::create(bad, call.fake.platform, call.metrics, call.out).code() == Errc::invalid_argument);
    bad = sender_config(codec);
    bad.frame_ms = 30;
    CHECK(AudioSender::create(bad, call.fake.platform, call.metrics, call.out).code() == Errc::invalid_argument);
    bad = sender_config(codec);
    bad.history_packets = 0;
    CHECK(AudioSender::create(bad, call.fake.platform, call.metrics, call.out).code() == Errc::invalid_argument);
    AudioReceiverConfig rbad = receiver_config(codec);
    rbad.frame_ms = 5;
    CHECK(AudioReceiver::create(rbad, call.fake.platform, call.metrics, call.sink).code() == Errc::invalid_argument);
    rbad = receiver_config(codec);
    rbad.jitter.max_delay_ns = 10'000'000'000;  // more than the buffer's capacity holds
    CHECK(AudioReceiver::create(rbad, call.fake.platform, call.metrics, call.sink).code() == Errc::invalid_argument);
  }

  // A packet of another payload type for this SSRC is dropped and counted.
  std::array<uint8_t, 64> wire{};
  const std::array<uint8_t, 20> payload{0x78, 1, 2, 3};
  rtp::RtpHeader header;
  header.payload_type = 96;
  header.sequence_number = 1;
  header.ssrc = call.tx->ssrc();
  auto size = rtp::write_rtp(header, payload, wire);
  REQUIRE(size.ok());
  auto packet = rtp::parse_rtp(std::span<const uint8_t>(wire).first(*size));
  REQUIRE(packet.ok());
  call.rx->on_rtp(*packet, now);
  call.rx->poll(now + 100 * kMs);
  CHECK(call.rx->stats().wrong_payload_type == 1);
  CHECK(call.rx->stats().jitter.packets_received == 0);
  CHECK(call.metrics.audio_counters.packets_received.value() == 0);
  CHECK_FALSE(call.rx->report_block(now).has_value());

  // Garbage of the right type is a decode error: the slot is concealed instead, still exactly once.
  header.payload_type = 111;
  header.marker = true;
  size = rtp::write_rtp(header, std::span<const uint8_t>(), wire);  // an empty Opus payload
  REQUIRE(size.ok());
  packet = rtp::parse_rtp(std::span<const uint8_t>(wire).first(*size));
  REQUIRE(packet.ok());
  call.rx->on_rtp(*packet, now);
  REQUIRE(call.rx->next_timeout().has_value());
  call.rx->poll(*call.rx->next_timeout());
  CHECK(call.rx->stats().decode_errors == 1);
  CHECK(call.metrics.audio_counters.frames_dropped.value() == 1);
  REQUIRE(call.sink.frames.size() == 1);
  CHECK(call.sink.frames[0].origin == AudioFrameOrigin::concealed);
  CHECK(call.sink.frames[0].samples == 960);
}

TEST_CASE("audio pipeline: no allocation per frame in steady state", "[audio-pipeline]") {
  const AudioCodec codec = GENERATE(AudioCodec::opus, AudioCodec::pcma);
  CAPTURE(static_cast<int>(codec));
  sim::Impairments lossy;  // loss exercises concealment, FEC and NACK too
  lossy.loss = 0.05;
  lossy.delay_ns = 10 * kMs;
  lossy.jitter_ns = 5 * kMs;
  AudioReceiverConfig rc = receiver_config(codec);
  rc.jitter.min_delay_ns = 60 * kMs;
  Call call(sender_config(codec), rc, lossy, lossy);
  call.sink.keep_pcm = false;
  call.sink.frames.reserve(1000);
  call.signal.melody = true;
  call.run(2000 * kMs);  // warm up: the delay window fills, libopus settles

  const size_t frames_before = call.sink.frames.size();
  const uint64_t nacks_before = call.rx->stats().nacks_sent;
  const uint64_t lost_before = call.out.originals_lost();
  test::AllocationScope scope;
  call.run(5000 * kMs);
  const uint64_t allocations = scope.count();
  CAPTURE(call.sink.frames.size() - frames_before, call.rx->stats().nacks_sent - nacks_before);
  CHECK(call.sink.frames.size() - frames_before >= 245);
  CHECK(call.out.originals_lost() > lost_before);
  CHECK(allocations == 0);
}

TEST_CASE("audio pipeline: Opus DTX sends little during silence, marks the talk spurt after it", "[audio-pipeline]") {
  test::FakePlatform fake;
  metrics::Registry registry;
  MediaMetrics metrics = MediaMetrics::in(registry);
  test::LoopbackOutput out;
  AudioSenderConfig sc = sender_config(AudioCodec::opus);
  sc.dtx = true;
  auto tx = AudioSender::create(sc, fake.platform, metrics, out);
  REQUIRE(tx.ok());
  Signal signal;
  std::vector<int16_t> pcm(960);
  auto capture = [&](bool silent) {
    if (silent) {
      std::fill(pcm.begin(), pcm.end(), int16_t{0});
    } else {
      signal.next(pcm, 1);
    }
    fake.clock.advance(20 * kMs);
    REQUIRE(tx.value()->capture(pcm, fake.clock.now_ns()).ok());
  };
  for (int i = 0; i < 25; ++i) capture(false);
  const uint64_t talking = tx.value()->stats().packets_sent;
  CHECK(talking == 25);
  for (int i = 0; i < 100; ++i) capture(true);
  const uint64_t during_silence = tx.value()->stats().packets_sent - talking;
  CAPTURE(during_silence);
  CHECK(during_silence < 20);  // comfort noise updates only
  CHECK(tx.value()->stats().frames_captured == 125);
  CHECK(tx.value()->stats().frames_dropped == 0);

  auto last = rtp::parse_rtp(out.last_sent());
  REQUIRE(last.ok());
  const uint32_t silence_ts = last->timestamp;
  const uint64_t before = tx.value()->stats().packets_sent;
  while (tx.value()->stats().packets_sent == before) capture(false);
  last = rtp::parse_rtp(out.last_sent());
  REQUIRE(last.ok());
  CHECK(last->marker);
  // The timestamp kept running through the silence (it counts captured frames, sent or not).
  CHECK(last->timestamp - silence_ts >= 960u);
  CHECK((last->timestamp - silence_ts) % 960 == 0);
  capture(false);
  last = rtp::parse_rtp(out.last_sent());
  REQUIRE(last.ok());
  CHECK_FALSE(last->marker);
}
