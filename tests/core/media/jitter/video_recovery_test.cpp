// A video stream over simulated lossy links in both directions: the receiver's NackTracker asks for missing
// packets and the sender retransmits them from its own copy; the assembler's keyframe requests make the sender
// encode a keyframe. The "codec" is a test pattern whose bytes follow from (seq, ts), so every released frame
// can be checked byte for byte.
#include <array>
#include <catch2/catch.hpp>
#include <vector>

#include "core/media/jitter/nack_tracker.h"
#include "core/media/jitter/video_frame_assembler.h"
#include "core/sim/network.h"
#include "support/alloc_counter.h"
#include "media_wire.h"

using namespace tandem;
using namespace tandem::media;

namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kFrameNs = 33'333'333;  // 30 fps
constexpr uint32_t kFrameTicks = 3000;     // 90 kHz
constexpr size_t kHistory = 4096;          // sender's packet copies, by seq modulo

size_t payload_size(uint16_t seq) { return 200 + (seq * 37) % 900; }

sim::NetworkLink make_link(const sim::Impairments& m, uint64_t seed) {
  sim::LinkConfig c;
  c.seed = seed;
  c.impairments = m;
  auto l = sim::NetworkLink::create(c);
  REQUIRE(l.ok());
  return std::move(l).value();
}

struct Options {
  bool retransmit = true;
  uint32_t keyframe_interval = 150;  // frames; PLIs add more
  uint64_t max_wait_ns = 1000 * kMs;   // the assembler's gap deadline
};

struct Sender {
  uint16_t seq;
  uint32_t ts;
  uint64_t frames = 0;
  bool keyframe_next = true;
  std::vector<std::array<uint8_t, 1200>> history = std::vector<std::array<uint8_t, 1200>>(kHistory);
  std::vector<uint16_t> history_size = std::vector<uint16_t>(kHistory);
  uint64_t retransmissions = 0;
  uint64_t keyframes = 0;
};

struct Receiver {
  VideoFrameAssembler assembler;
  NackTracker tracker;
  uint64_t released = 0;
  uint64_t keyframes = 0;
  uint32_t last_ts = 0;
  bool out_of_order = false;   // a frame older than its predecessor came out
  bool resumed_on_delta = false;  // a frame came out after a dropped one without being a keyframe
  bool bad_bytes = false;
};

// One run of the stream; all state is allocated up front so the steady state can be checked for allocations.
struct VideoSession {
  // The links start clean and get their impairments after the first keyframe: a stream whose very first packets
  // are lost starts with a keyframe request instead (a separate unit test covers that).
  VideoSession(const sim::Impairments& forward_m, const sim::Impairments& back_m, Options options,
               uint16_t first_seq, uint32_t first_ts)
      : forward(make_link({}, 11)),
        back(make_link({}, 12)),
        forward_impairments(forward_m),
        back_impairments(back_m),
        opts(options),
        sender{first_seq, first_ts},
        receiver{make_assembler(options), make_tracker()} {
    receiver.tracker.set_rtt(2 * (forward_m.delay_ns + forward_m.jitter_ns));
  }

  static VideoFrameAssembler make_assembler(const Options& o) {
    VideoAssemblerConfig c;
    c.max_wait_ns = o.max_wait_ns;
    auto a = VideoFrameAssembler::create(c);
    REQUIRE(a.ok());
    return std::move(a).value();
  }
  static NackTracker make_tracker() {
    auto t = NackTracker::create();
    REQUIRE(t.ok());
    return std::move(t).value();
  }

  void send_frame(uint64_t now) {
    const bool key = sender.keyframe_next || sender.frames % opts.keyframe_interval == 0;
    sender.keyframe_next = false;
    sender.keyframes += key;
    const int packets = key ? 8 : 1 + static_cast<int>(sender.frames % 3);
    for (int i = 0; i < packets; ++i) {
      const uint16_t seq = sender.seq++;
      const size_t n = payload_size(seq);
      test::fill_payload(std::span<uint8_t>(payload.data(), n), seq, sender.ts);
      const MediaPacket p{seq, sender.ts, i + 1 == packets, i == 0, key, std::span<const uint8_t>(payload.data(), n),
                          now};
      auto& copy = sender.history[seq % kHistory];
      sender.history_size[seq % kHistory] = static_cast<uint16_t>(test::encode_packet(p, copy));
      if (!forward.send(std::span<const uint8_t>(copy.data(), sender.history_size[seq % kHistory]), now).ok()) {
        FAIL("send");
      }
    }
    sender.ts += kFrameTicks;
    ++sender.frames;
  }

  // Feedback messages: 'P' (keyframe request) or 'N' followed by 16-bit sequence numbers.
  void sender_feedback(uint64_t now) {
    while (auto d = back.poll_receive(now)) {
      if (d->bytes.empty()) continue;
      if (d->bytes[0] == 'P') sender.keyframe_next = true;
      if (d->bytes[0] != 'N' || !opts.retransmit) continue;
      for (size_t i = 1; i + 1 < d->bytes.size(); i += 2) {
        const auto seq = static_cast<uint16_t>(d->bytes[i] << 8 | d->bytes[i + 1]);
        const auto& copy = sender.history[seq % kHistory];
        if (!forward.send(std::span<const uint8_t>(copy.data(), sender.history_size[seq % kHistory]), now).ok()) {
          FAIL("resend");
        }
        ++sender.retransmissions;
      }
    }
  }

  void receive(uint64_t now) {
    while (auto d = forward.poll_receive(now)) {
      const auto p = test::decode_packet(d->bytes, now);
      if (!p) FAIL("decode");
      receiver.tracker.on_packet(p->seq, now);
      if (!receiver.assembler.insert(*p, now).ok()) FAIL("insert");
    }
    while (auto f = receiver.assembler.poll_frame(now)) check_frame(*f);
    if (receiver.assembler.take_keyframe_request()) {
      const uint8_t pli = 'P';
      (void)back.send(std::span<const uint8_t>(&pli, 1), now);
      // Packets older than the keyframe we asked for cannot help any more.
      receiver.tracker.forget_before(receiver.assembler.oldest_wanted_seq());
    }
    std::array<uint16_t, 64> nacks{};
    const size_t n = receiver.tracker.collect_nacks(now, nacks);
    if (n > 0) {
      std::array<uint8_t, 1 + 2 * 64> msg{'N'};
      for (size_t i = 0; i < n; ++i) {
        msg[1 + 2 * i] = static_cast<uint8_t>(nacks[i] >> 8);
        msg[2 + 2 * i] = static_cast<uint8_t>(nacks[i]);
      }
      (void)back.send(std::span<const uint8_t>(msg.data(), 1 + 2 * n), now);
    }
  }

  void check_frame(const AssembledFrame& f) {
    if (receiver.released > 0) {
      const auto step = static_cast<int32_t>(f.rtp_timestamp - receiver.last_ts);
      if (step <= 0) receiver.out_of_order = true;
      if (step != static_cast<int32_t>(kFrameTicks) && !f.keyframe) receiver.resumed_on_delta = true;
    }
    size_t offset = 0;
    for (uint16_t s = f.first_seq;; ++s) {
      const size_t n = payload_size(s);
      if (offset + n > f.data.size() || !test::payload_matches(f.data.subspan(offset, n), s, f.rtp_timestamp)) {
        receiver.bad_bytes = true;
        break;
      }
      offset += n;
      if (s == f.last_seq) break;
    }
    if (offset != f.data.size()) receiver.bad_bytes = true;
    receiver.last_ts = f.rtp_timestamp;
    ++receiver.released;
    receiver.keyframes += f.keyframe;
  }

  // Sends frames until `send_until`, then keeps the loop running until `until` so repairs can finish.
  void run(uint64_t until, uint64_t send_until) {
    for (; now <= until; now += kMs) {
      if (now < send_until && now >= next_frame) {
        send_frame(now);
        next_frame += kFrameNs;
        if (sender.frames == 1) {
          REQUIRE(forward.set_impairments(forward_impairments).ok());
          REQUIRE(back.set_impairments(back_impairments).ok());
        }
      }
      sender_feedback(now);
      receive(now);
    }
  }

  sim::NetworkLink forward, back;
  sim::Impairments forward_impairments, back_impairments;
  Options opts;
  Sender sender;
  Receiver receiver;
  std::array<uint8_t, 1200> payload{};
  uint64_t now = 0;
  uint64_t next_frame = 0;
};

sim::Impairments lossy(double loss) {
  sim::Impairments m;
  m.loss = loss;
  m.delay_ns = 30 * kMs;
  m.jitter_ns = 10 * kMs;
  m.jitter_reorders = true;
  m.duplicate = 0.01;
  return m;
}

}  // namespace

TEST_CASE("Video over a lossy link: NACK and retransmission complete every frame", "[jitter][sim]") {
  VideoSession s(lossy(0.05), lossy(0.05), {}, 65000, 0xFFFF0000u);  // both counters wrap during the run
  s.run(62'000 * kMs, 60'000 * kMs);
  const auto& a = s.receiver.assembler.stats();
  const auto& t = s.receiver.tracker.stats();
  INFO("frames " << s.sender.frames << " released " << s.receiver.released << " retransmissions "
                 << s.sender.retransmissions << " nacks " << t.nacks_sent << " recovered " << t.recovered);
  CHECK(s.forward.stats().dropped_loss > 150);
  CHECK(s.receiver.released == s.sender.frames);
  CHECK(a.frames_complete == s.sender.frames);
  CHECK(a.frames_dropped() == 0);
  CHECK(a.keyframe_requests == 0);
  CHECK(s.receiver.keyframes == s.sender.keyframes);
  CHECK_FALSE(s.receiver.out_of_order);
  CHECK_FALSE(s.receiver.resumed_on_delta);
  CHECK_FALSE(s.receiver.bad_bytes);
  CHECK(t.recovered > 400);
  CHECK(t.given_up == 0);
  CHECK(s.receiver.tracker.missing() == 0);
  CHECK(s.sender.retransmissions >= t.nacks_sent * 9 / 10);  // the feedback path loses 5%
}

TEST_CASE("Video over a lossy link without retransmission drops frames and resumes at keyframes",
          "[jitter][sim]") {
  Options o;
  o.retransmit = false;
  o.keyframe_interval = 100000;  // only keyframes the receiver asks for
  o.max_wait_ns = 100 * kMs;     // nothing will repair a gap: waiting long only costs frames
  VideoSession s(lossy(0.02), lossy(0.0), o, 100, 0);
  s.run(32'000 * kMs, 30'000 * kMs);
  const auto& a = s.receiver.assembler.stats();
  INFO("frames " << s.sender.frames << " released " << s.receiver.released << " incomplete "
                 << a.frames_incomplete << " undecodable " << a.frames_undecodable << " requests "
                 << a.keyframe_requests);
  CHECK(a.frames_incomplete > 10);
  CHECK(a.keyframe_requests > 10);
  CHECK(a.keyframe_requests <= a.frames_incomplete + 5);  // one per breakage, plus a few repeats
  CHECK(s.sender.keyframes > 10);
  CHECK(s.receiver.keyframes > 10);
  CHECK_FALSE(s.receiver.out_of_order);
  CHECK_FALSE(s.receiver.resumed_on_delta);  // after every drop, decoding restarts at a keyframe
  CHECK_FALSE(s.receiver.bad_bytes);
  CHECK(s.receiver.released + a.frames_dropped() <= s.sender.frames);
  CHECK(s.receiver.released > s.sender.frames / 2);  // each loss costs ~7 frames: wait, PLI, keyframe
}

TEST_CASE("Video receive path does not allocate per packet", "[jitter][sim]") {
  VideoSession s(lossy(0.05), lossy(0.05), {}, 0, 0);
  s.run(3'000 * kMs, 100'000 * kMs);  // warm up
  test::AllocationScope scope;
  s.run(20'000 * kMs, 100'000 * kMs);
  CHECK(scope.count() == 0);
  CHECK(s.receiver.released > 500);
}
