#include "core/media/jitter/audio_jitter_buffer.h"

#include <array>
#include <catch2/catch.hpp>
#include <set>
#include <vector>

#include "core/sim/network.h"
#include "support/alloc_counter.h"
#include "media_wire.h"

using namespace tandem;
using namespace tandem::media;

namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kFrameNs = 20 * kMs;
constexpr uint32_t kFrameTicks = 960;

AudioJitterBuffer make_buffer(AudioJitterConfig config = {}) {
  auto b = AudioJitterBuffer::create(config);
  REQUIRE(b.ok());
  return std::move(b).value();
}

std::array<uint8_t, 160> g_payload;

MediaPacket packet(uint16_t seq, uint32_t ts, uint64_t arrival_ns, bool marker = false) {
  test::fill_payload(g_payload, seq, ts);
  MediaPacket p;
  p.seq = seq;
  p.rtp_timestamp = ts;
  p.marker = marker;
  p.payload = g_payload;
  p.arrival_ns = arrival_ns;
  return p;
}

struct Output {
  AudioPop kind;
  uint16_t seq;
  uint32_t ts;
  int64_t playout_ns;
  uint64_t popped_ns;
};

// Pops everything due at `now`, checking played payloads against their sequence number.
void drain(AudioJitterBuffer& b, uint64_t now, std::vector<Output>& out) {
  for (auto o = b.pop(now); o.kind != AudioPop::none; o = b.pop(now)) {
    if (o.kind == AudioPop::frame) CHECK(test::payload_matches(o.payload, o.seq, o.rtp_timestamp));
    CHECK(o.playout_ns <= static_cast<int64_t>(now));
    out.push_back({o.kind, o.seq, o.rtp_timestamp, o.playout_ns, now});
  }
}

// A sender producing one 20 ms frame per 20 ms over a simulated link into a jitter buffer, stepped by 1 ms.
struct AudioSession {
  explicit AudioSession(const sim::Impairments& m, uint16_t first_seq = 0, uint32_t first_ts = 0,
                        AudioJitterConfig config = {})
      : link(make_link(m)), buffer(make_buffer(config)), seq(first_seq), ts(first_ts) {}

  static sim::NetworkLink make_link(const sim::Impairments& m) {
    sim::LinkConfig c;
    c.seed = 2024;
    c.impairments = m;
    auto l = sim::NetworkLink::create(c);
    REQUIRE(l.ok());
    return std::move(l).value();
  }

  // Runs until `until_ns`, sending while `sending`; outputs are appended to `out` when given.
  void run(uint64_t until_ns, bool sending, std::vector<Output>* out) {
    for (; now <= until_ns; now += kMs) {
      if (sending && now >= next_send) {
        test::fill_payload(payload, seq, ts);
        MediaPacket p{seq, ts, false, false, false, payload, now};
        const size_t n = test::encode_packet(p, wire);
        if (!link.send(std::span<const uint8_t>(wire.data(), n), now).ok()) FAIL("send");
        ++seq;
        ts += kFrameTicks;
        ++frames_sent;
        next_send += kFrameNs;
      }
      while (auto d = link.poll_receive(now)) {
        const auto p = test::decode_packet(d->bytes, now);
        if (!p || !buffer.insert(*p).ok()) FAIL("insert");
      }
      if (out != nullptr) {
        drain(buffer, now, *out);
      } else {
        while (buffer.pop(now).kind != AudioPop::none) {
        }
      }
    }
  }

  sim::NetworkLink link;
  AudioJitterBuffer buffer;
  uint16_t seq;
  uint32_t ts;
  uint64_t now = 0;
  uint64_t next_send = 0;
  uint64_t frames_sent = 0;
  std::array<uint8_t, 160> payload{};
  std::array<uint8_t, 256> wire{};
};

}  // namespace

TEST_CASE("Audio jitter buffer rejects invalid settings and oversized payloads", "[jitter]") {
  AudioJitterConfig c;
  c.clock_rate = 0;
  CHECK(AudioJitterBuffer::create(c).code() == Errc::invalid_argument);
  c = {};
  c.min_delay_ns = 2 * c.max_delay_ns;
  CHECK(AudioJitterBuffer::create(c).code() == Errc::invalid_argument);
  c = {};
  c.capacity = 4;  // 80 ms cannot hold a 500 ms delay
  CHECK(AudioJitterBuffer::create(c).code() == Errc::invalid_argument);
  c = {};
  c.delay_quantile = 0.0;
  CHECK(AudioJitterBuffer::create(c).code() == Errc::invalid_argument);

  c = {};
  c.max_payload = 100;
  auto b = make_buffer(c);
  CHECK(b.insert(packet(1, 0, 0)).code() == Errc::malformed_packet);  // 160 bytes
  CHECK(b.stats().rejected == 1);
  CHECK(b.stats().packets_received == 0);
  CHECK(b.pop(UINT64_MAX).kind == AudioPop::none);
}

TEST_CASE("Audio jitter buffer plays a steady stream at arrival plus the minimum delay", "[jitter]") {
  auto b = make_buffer();
  std::vector<Output> out;
  for (uint64_t now = 0; now < 2000 * kMs; now += kMs) {
    if (now % kFrameNs == 0) {
      const auto n = static_cast<uint32_t>(now / kFrameNs);
      REQUIRE(b.insert(packet(static_cast<uint16_t>(n), n * kFrameTicks, now + 30 * kMs)).ok());
    }
    drain(b, now + 30 * kMs, out);
  }
  REQUIRE(out.size() >= 98);
  for (size_t i = 0; i < out.size(); ++i) {
    CHECK(out[i].kind == AudioPop::frame);
    CHECK(out[i].seq == i);
    CHECK(out[i].playout_ns == static_cast<int64_t>(i * kFrameNs + 50 * kMs));  // 30 transit + 20 buffered
    CHECK(out[i].popped_ns == static_cast<uint64_t>(out[i].playout_ns));
  }
  const auto s = b.stats();
  CHECK(s.current_delay_ns == 20 * kMs);
  CHECK(s.target_delay_ns == 20 * kMs);
  CHECK(s.jitter_ns == 0);
  CHECK(s.lost == 0);
  CHECK(s.concealed == 0);
}

TEST_CASE("Audio jitter buffer reorders, conceals gaps, and counts late packets and duplicates", "[jitter]") {
  auto b = make_buffer();
  std::vector<Output> out;
  // 11 arrives first, on time; 10 arrives with it, 20 ms later than its own schedule. The smallest transit is
  // 11's; 10's is 20 ms more, which makes the target delay 20 ms: 10 plays at 40 ms, 11 at 60 ms, and so on.
  REQUIRE(b.insert(packet(11, 11 * kFrameTicks, 40 * kMs)).ok());
  REQUIRE(b.insert(packet(10, 10 * kFrameTicks, 40 * kMs)).ok());  // before anything played: the new start
  drain(b, 39 * kMs, out);
  CHECK(out.empty());
  drain(b, 40 * kMs, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].seq == 10);
  REQUIRE(b.insert(packet(13, 13 * kFrameTicks, 80 * kMs)).ok());  // 12 is missing
  REQUIRE(b.insert(packet(14, 14 * kFrameTicks, 100 * kMs)).ok());
  drain(b, 119 * kMs, out);
  CHECK(out.size() == 4);
  drain(b, 120 * kMs, out);
  REQUIRE(out.size() == 5);
  CHECK(out[1].kind == AudioPop::frame);
  CHECK(out[1].seq == 11);
  CHECK(out[1].playout_ns == 60 * kMs);
  CHECK(out[2].kind == AudioPop::lost);
  CHECK(out[2].seq == 12);
  CHECK(out[2].ts == 12 * kFrameTicks);
  CHECK(out[2].playout_ns == 80 * kMs);
  CHECK(out[3].seq == 13);
  CHECK(out[4].seq == 14);
  CHECK(out[4].playout_ns == 120 * kMs);

  REQUIRE(b.insert(packet(12, 12 * kFrameTicks, 121 * kMs)).ok());  // after it was concealed
  REQUIRE(b.insert(packet(12, 12 * kFrameTicks, 122 * kMs)).ok());  // and again
  REQUIRE(b.insert(packet(13, 13 * kFrameTicks, 123 * kMs)).ok());  // already played
  REQUIRE(b.insert(packet(16, 16 * kFrameTicks, 140 * kMs)).ok());
  REQUIRE(b.insert(packet(16, 16 * kFrameTicks, 141 * kMs)).ok());  // still buffered
  const auto s = b.stats();
  CHECK(s.late == 1);
  CHECK(s.duplicates == 3);
  CHECK(s.played == 4);
  CHECK(s.concealed == 1);
  CHECK(s.lost == 1);  // 10..16 expected, 15 never came (12 came late: received, RFC 3550)
  CHECK(s.packets_received == 6);
  CHECK(s.buffered == 1);
}

TEST_CASE("Audio jitter buffer under loss, reordering, duplication and jitter plays or conceals every frame "
          "exactly once, in order", "[jitter][sim]") {
  sim::Impairments m;
  m.delay_ns = 40 * kMs;
  m.jitter_ns = 30 * kMs;
  m.jitter_reorders = true;
  m.loss = 0.05;
  m.reorder = 0.02;
  m.reorder_delay_ns = 50 * kMs;
  m.duplicate = 0.02;
  AudioSession session({}, 65000, 0xFFFF0000u);  // wraps both counters
  std::vector<Output> out;
  out.reserve(4000);
  session.run(200 * kMs, true, &out);  // a clean start
  REQUIRE(session.link.set_impairments(m).ok());
  session.run(60'000 * kMs, true, &out);
  const uint64_t sent = session.frames_sent;
  session.run(61'000 * kMs, false, &out);

  // Exactly once and in order: consecutive sequence numbers from the first frame sent (the start was clean).
  REQUIRE(out.size() >= sent);
  std::vector<bool> reported(sent, false);
  int64_t last_playout = INT64_MIN;
  size_t played = 0, lost = 0;
  for (size_t i = 0; i < sent; ++i) {
    const Output& o = out[i];
    CHECK(o.seq == static_cast<uint16_t>(65000 + i));
    CHECK(o.ts == static_cast<uint32_t>(0xFFFF0000u + i * kFrameTicks));
    CHECK(o.playout_ns > last_playout);
    last_playout = o.playout_ns;
    (o.kind == AudioPop::frame ? played : lost)++;
  }
  const auto s = session.buffer.stats();
  const auto& net = session.link.stats();
  INFO("played " << played << " lost " << lost << " late " << s.late << " dup " << s.duplicates << " jitter "
                 << s.jitter_ns / kMs << " ms delay " << s.current_delay_ns / kMs << " ms");
  CHECK(played + lost == sent);
  CHECK(s.played == played);
  // Network loss is ~5% of packets; late packets add a little concealment on top.
  CHECK(static_cast<double>(net.dropped_loss) / sent == Approx(0.05).margin(0.01));
  CHECK(lost >= net.dropped_loss);
  CHECK(lost <= net.dropped_loss + s.late);
  CHECK(s.lost == net.dropped_loss);  // every packet the network kept arrived (some late)
  CHECK(s.late > 0);
  CHECK(s.late < sent / 25);  // the delay covers most of the jitter (reordered packets come 50 ms later)
  CHECK(s.duplicates == net.duplicated);
  CHECK(s.packets_received + s.duplicates == net.delivered);
  CHECK(s.jitter_ns > 5 * kMs);
  CHECK(s.current_delay_ns > 25 * kMs);
}

TEST_CASE("Audio jitter buffer delay grows under jitter and shrinks when it stops", "[jitter][sim]") {
  sim::Impairments calm;
  calm.delay_ns = 40 * kMs;
  AudioSession session(calm);
  session.run(10'000 * kMs, true, nullptr);
  CHECK(session.buffer.stats().current_delay_ns == 20 * kMs);

  sim::Impairments jittery = calm;
  jittery.jitter_ns = 80 * kMs;
  jittery.jitter_reorders = true;
  REQUIRE(session.link.set_impairments(jittery).ok());
  session.run(30'000 * kMs, true, nullptr);
  const auto busy = session.buffer.stats();
  CHECK(busy.target_delay_ns >= 60 * kMs);
  CHECK(busy.target_delay_ns <= 90 * kMs);
  CHECK(busy.current_delay_ns >= 60 * kMs);
  CHECK(busy.jitter_ns > 15 * kMs);
  const uint64_t late_before = busy.late;

  REQUIRE(session.link.set_impairments(calm).ok());
  session.run(40'000 * kMs, true, nullptr);
  const auto after = session.buffer.stats();
  CHECK(after.target_delay_ns == 20 * kMs);
  CHECK(after.current_delay_ns <= 25 * kMs);
  CHECK(after.jitter_ns < 2 * kMs);
  CHECK(after.late == late_before);  // calm again: nothing more arrives late
  CHECK(after.lost == 0);
}

TEST_CASE("Audio jitter buffer resumes a talk spurt after silence on time", "[jitter]") {
  auto b = make_buffer();
  std::vector<Output> out;
  uint64_t now = 0;
  auto send = [&](uint16_t seq, uint32_t ts, bool marker) {
    REQUIRE(b.insert(packet(seq, ts, now, marker)).ok());
  };
  for (uint16_t i = 0; i < 50; ++i, now += kFrameNs) {
    send(i, i * kFrameTicks, i == 0);
    drain(b, now, out);
  }
  // 400 ms of DTX silence: no packets, the buffer guesses frames lost for a while.
  for (uint64_t end = now + 400 * kMs; now < end; now += kMs) drain(b, now, out);
  const size_t played_before = b.stats().played;
  CHECK(b.stats().concealed > 0);
  for (uint16_t i = 50; i < 60; ++i, now += kFrameNs) {
    send(i, (i + 20) * kFrameTicks, i == 50);  // timestamps jumped by the silence
    drain(b, now, out);
  }
  for (uint64_t end = now + 100 * kMs; now < end; now += kMs) drain(b, now, out);
  const auto s = b.stats();
  CHECK(s.late == 0);
  CHECK(s.played == played_before + 10);
  CHECK(out.back().kind == AudioPop::lost);  // nothing after 59: concealing again
  bool resumed = false;
  for (const auto& o : out) {
    if (o.kind == AudioPop::frame && o.seq == 50) {
      resumed = true;
      CHECK(o.playout_ns == static_cast<int64_t>(70 * kFrameNs + 20 * kMs));  // its own media time + delay
    }
  }
  CHECK(resumed);
}

TEST_CASE("Audio jitter buffer goes idle after a long underrun and restarts on the next packet", "[jitter]") {
  AudioJitterConfig c;
  c.max_underrun_frames = 5;
  auto b = make_buffer(c);
  std::vector<Output> out;
  REQUIRE(b.insert(packet(0, 0, 0)).ok());
  drain(b, 1000 * kMs, out);
  REQUIRE(out.size() == 6);  // the frame, then 5 guesses
  CHECK(out[5].kind == AudioPop::lost);
  CHECK(b.pop(2000 * kMs).kind == AudioPop::none);
  REQUIRE(b.insert(packet(1, 100 * kFrameTicks, 2000 * kMs)).ok());  // late by the old schedule
  drain(b, 3000 * kMs, out);
  REQUIRE(out.size() >= 7);
  CHECK(out[6].kind == AudioPop::frame);
  CHECK(out[6].seq == 1);
  CHECK(b.stats().late == 0);
}

TEST_CASE("Audio jitter buffer resets when the sequence number jumps beyond its capacity", "[jitter]") {
  auto b = make_buffer();
  std::vector<Output> out;
  REQUIRE(b.insert(packet(100, 0, 0)).ok());
  REQUIRE(b.insert(packet(101, kFrameTicks, 20 * kMs)).ok());
  drain(b, 20 * kMs, out);
  REQUIRE(b.insert(packet(30000, 5'000'000, 40 * kMs)).ok());  // a restarted sender
  CHECK(b.stats().resets == 1);
  drain(b, 1000 * kMs, out);
  REQUIRE(out.size() >= 2);
  CHECK(out[0].seq == 100);
  CHECK(out[1].seq == 30000);
  CHECK(out[1].kind == AudioPop::frame);
}

TEST_CASE("Audio jitter buffer does not allocate per packet", "[jitter][sim]") {
  sim::Impairments m;
  m.delay_ns = 40 * kMs;
  m.jitter_ns = 40 * kMs;
  m.jitter_reorders = true;
  m.loss = 0.05;
  m.duplicate = 0.02;
  AudioSession session(m, 65500);
  session.run(3'000 * kMs, true, nullptr);  // warm up
  test::AllocationScope scope;
  session.run(30'000 * kMs, true, nullptr);
  CHECK(scope.count() == 0);
  CHECK(session.buffer.stats().played > 1300);
}

TEST_CASE("Audio jitter buffer: peek shows the next frame, next_due_ns when pop has work", "[jitter]") {
  auto b = make_buffer();
  CHECK(b.peek().kind == AudioPop::none);
  CHECK_FALSE(b.next_due_ns().has_value());  // idle
  REQUIRE(b.insert(packet(10, 0, 0)).ok());
  REQUIRE(b.insert(packet(12, 2 * kFrameTicks, 40 * kMs)).ok());  // 11 is missing
  const auto due = b.next_due_ns();
  REQUIRE(due.has_value());
  CHECK(*due == 20 * kMs);  // the minimum delay after the first packet's arrival
  AudioOutput next = b.peek();
  CHECK(next.kind == AudioPop::frame);
  CHECK(next.seq == 10);
  CHECK(test::payload_matches(next.payload, 10, 0));
  CHECK(b.pop(*due - 1).kind == AudioPop::none);
  CHECK(b.pop(*due).seq == 10);
  CHECK(b.peek().kind == AudioPop::none);  // 11 is not buffered
  CHECK(b.next_due_ns() == std::optional<uint64_t>(40 * kMs));  // its loss falls due
  CHECK(b.pop(40 * kMs).kind == AudioPop::lost);
  next = b.peek();  // after a loss: the packet whose FEC can rebuild it
  CHECK(next.kind == AudioPop::frame);
  CHECK(next.seq == 12);
  CHECK(test::payload_matches(next.payload, 12, 2 * kFrameTicks));
  CHECK(b.pop(60 * kMs).seq == 12);
}
