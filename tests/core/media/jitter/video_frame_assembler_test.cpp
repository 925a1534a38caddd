#include "core/media/jitter/video_frame_assembler.h"

#include <array>
#include <catch2/catch.hpp>
#include <vector>

#include "media_wire.h"

using namespace tandem;
using namespace tandem::media;

namespace {

constexpr uint64_t kMs = 1'000'000;

VideoFrameAssembler make_assembler(VideoAssemblerConfig config = {}) {
  auto a = VideoFrameAssembler::create(config);
  REQUIRE(a.ok());
  return std::move(a).value();
}

// Packets of a test stream: payload sizes and bytes follow from the sequence number, so a frame's expected
// contents can be rebuilt from its first and last numbers.
size_t payload_size(uint16_t seq) { return 20 + seq % 50; }

struct Packetizer {
  std::array<uint8_t, 128> payload{};

  MediaPacket make(uint16_t seq, uint32_t ts, bool start, bool marker, bool key, uint64_t arrival) {
    const size_t n = payload_size(seq);
    test::fill_payload(std::span<uint8_t>(payload.data(), n), seq, ts);
    return MediaPacket{seq, ts, marker, start, key, std::span<const uint8_t>(payload.data(), n), arrival};
  }
};

// A frame of `count` packets starting at `first`.
struct FrameSpec {
  uint16_t first;
  uint32_t ts;
  uint16_t count;
  bool key;
};

void insert_packet(VideoFrameAssembler& a, const FrameSpec& f, uint16_t i, uint64_t now) {
  Packetizer p;
  const auto seq = static_cast<uint16_t>(f.first + i);
  REQUIRE(a.insert(p.make(seq, f.ts, i == 0, i + 1 == f.count, f.key, now), now).ok());
}
void insert_frame(VideoFrameAssembler& a, const FrameSpec& f, uint64_t now, int skip = -1) {
  for (uint16_t i = 0; i < f.count; ++i) {
    if (i != skip) insert_packet(a, f, i, now);
  }
}

bool frame_matches(const AssembledFrame& frame, const FrameSpec& f) {
  if (frame.first_seq != f.first || frame.last_seq != static_cast<uint16_t>(f.first + f.count - 1) ||
      frame.rtp_timestamp != f.ts || frame.packets != f.count || frame.keyframe != f.key) {
    return false;
  }
  size_t offset = 0;
  for (uint16_t i = 0; i < f.count; ++i) {
    const auto seq = static_cast<uint16_t>(f.first + i);
    const size_t n = payload_size(seq);
    if (offset + n > frame.data.size() || !test::payload_matches(frame.data.subspan(offset, n), seq, f.ts)) {
      return false;
    }
    offset += n;
  }
  return offset == frame.data.size();
}

}  // namespace

TEST_CASE("Video assembler rejects invalid settings and oversized payloads", "[jitter]") {
  VideoAssemblerConfig c;
  c.capacity = 0;
  CHECK(VideoFrameAssembler::create(c).code() == Errc::invalid_argument);
  c = {};
  c.max_payload = 30;
  auto a = make_assembler(c);
  Packetizer p;
  CHECK(a.insert(p.make(49, 0, true, true, true, 0), 0).code() == Errc::malformed_packet);  // 69 bytes
  CHECK(a.stats().rejected == 1);
  CHECK_FALSE(a.poll_frame(0));
}

TEST_CASE("Video assembler releases complete frames in order with their payloads joined", "[jitter]") {
  auto a = make_assembler();
  const FrameSpec k{100, 9000, 3, true}, d1{103, 12000, 2, false}, d2{105, 15000, 1, false};
  insert_packet(a, k, 0, 1 * kMs);
  insert_packet(a, k, 1, 2 * kMs);
  CHECK_FALSE(a.poll_frame(2 * kMs));  // still in progress: no deadline either
  CHECK_FALSE(a.next_timeout());
  insert_packet(a, k, 2, 3 * kMs);
  auto f = a.poll_frame(3 * kMs);
  REQUIRE(f);
  CHECK(frame_matches(*f, k));
  CHECK(f->first_arrival_ns == 1 * kMs);
  CHECK(f->complete_ns == 3 * kMs);
  CHECK_FALSE(a.poll_frame(3 * kMs));

  // d2 completes before d1: it waits, so the decoder sees d1 first.
  insert_packet(a, d1, 1, 4 * kMs);
  insert_frame(a, d2, 4 * kMs);
  CHECK_FALSE(a.poll_frame(4 * kMs));
  insert_packet(a, d1, 0, 5 * kMs);
  f = a.poll_frame(5 * kMs);
  REQUIRE(f);
  CHECK(frame_matches(*f, d1));
  f = a.poll_frame(5 * kMs);
  REQUIRE(f);
  CHECK(frame_matches(*f, d2));
  CHECK(a.stats().frames_complete == 3);
  CHECK(a.stats().frames_dropped() == 0);
  CHECK(a.stats().keyframe_requests == 0);
  CHECK_FALSE(a.take_keyframe_request());
}

TEST_CASE("Video assembler drops a frame it cannot complete and waits for a keyframe", "[jitter]") {
  VideoAssemblerConfig c;
  c.max_wait_ns = 100 * kMs;
  c.keyframe_retry_ns = 300 * kMs;
  auto a = make_assembler(c);
  insert_frame(a, {0, 0, 2, true}, 0);
  REQUIRE(a.poll_frame(0));
  insert_frame(a, {2, 3000, 3, false}, 10 * kMs, 1);  // seq 3 lost
  insert_frame(a, {5, 6000, 2, false}, 40 * kMs);
  CHECK_FALSE(a.poll_frame(40 * kMs));
  CHECK(a.next_timeout() == 110 * kMs);  // the gap became known when seq 4 arrived at 10 ms
  CHECK_FALSE(a.poll_frame(109 * kMs));
  CHECK_FALSE(a.take_keyframe_request());
  CHECK(a.oldest_wanted_seq() == 2);

  // Deadline: the broken frame goes, and the complete delta frame after it is useless without it.
  CHECK_FALSE(a.poll_frame(110 * kMs));
  CHECK(a.stats().frames_incomplete == 1);
  CHECK(a.stats().frames_undecodable == 1);
  CHECK(a.waiting_for_keyframe());
  CHECK(a.take_keyframe_request());
  CHECK_FALSE(a.take_keyframe_request());  // once per request
  CHECK(a.stats().keyframe_requests == 1);
  CHECK(a.next_timeout() == 410 * kMs);  // the request repeats if no keyframe comes

  insert_frame(a, {7, 9000, 1, false}, 120 * kMs);
  CHECK_FALSE(a.poll_frame(120 * kMs));
  CHECK(a.stats().frames_undecodable == 2);
  CHECK(a.poll_frame(410 * kMs) == std::nullopt);
  CHECK(a.take_keyframe_request());
  CHECK(a.stats().keyframe_requests == 2);

  insert_packet(a, {2, 3000, 3, false}, 1, 420 * kMs);  // the lost seq 3, far too late
  CHECK(a.stats().late == 1);
  const FrameSpec key{8, 12000, 4, true};
  insert_frame(a, key, 430 * kMs);
  auto f = a.poll_frame(430 * kMs);
  REQUIRE(f);
  CHECK(frame_matches(*f, key));
  CHECK_FALSE(a.waiting_for_keyframe());
  CHECK_FALSE(a.next_timeout());
  insert_frame(a, {12, 15000, 2, false}, 440 * kMs);
  CHECK(a.poll_frame(440 * kMs));
  CHECK(a.stats().frames_complete == 3);
}

TEST_CASE("Video assembler skips to a complete keyframe when the stream is already broken", "[jitter]") {
  VideoAssemblerConfig c;
  c.max_wait_ns = 100 * kMs;
  auto a = make_assembler(c);
  insert_frame(a, {0, 0, 2, true}, 0);
  REQUIRE(a.poll_frame(0));
  insert_frame(a, {2, 3000, 2, false}, 10 * kMs, 0);
  CHECK_FALSE(a.poll_frame(200 * kMs));  // dropped at its deadline
  CHECK(a.take_keyframe_request());
  // Another broken delta frame, then the keyframe: no need to wait out the new gap.
  insert_frame(a, {4, 6000, 3, false}, 210 * kMs, 1);
  const FrameSpec key{7, 9000, 2, true};
  insert_frame(a, key, 220 * kMs);
  auto f = a.poll_frame(220 * kMs);
  REQUIRE(f);
  CHECK(frame_matches(*f, key));
  CHECK(a.stats().frames_incomplete == 1);
  CHECK(a.stats().frames_undecodable == 1);
  CHECK(a.stats().keyframe_requests == 1);
}

TEST_CASE("Video assembler asks for a keyframe when the stream starts without one", "[jitter]") {
  auto a = make_assembler();
  insert_frame(a, {10, 0, 2, false}, 0);
  CHECK_FALSE(a.poll_frame(0));
  CHECK(a.stats().frames_undecodable == 1);
  CHECK(a.take_keyframe_request());
  insert_frame(a, {12, 3000, 1, true}, 5 * kMs);
  CHECK(a.poll_frame(5 * kMs));
}

TEST_CASE("Video assembler accepts packets of the first frame in any order", "[jitter]") {
  auto a = make_assembler();
  const FrameSpec k{500, 0, 3, true};
  insert_packet(a, k, 2, 0);
  CHECK_FALSE(a.poll_frame(0));  // not a frame start: its start may still come
  insert_packet(a, k, 0, 1 * kMs);
  insert_packet(a, k, 1, 2 * kMs);
  auto f = a.poll_frame(2 * kMs);
  REQUIRE(f);
  CHECK(frame_matches(*f, k));
  CHECK(a.stats().frames_dropped() == 0);
}

TEST_CASE("Video assembler counts duplicates and late packets", "[jitter]") {
  auto a = make_assembler();
  const FrameSpec k{1, 0, 2, true};
  insert_packet(a, k, 0, 0);
  insert_packet(a, k, 0, 0);  // buffered
  REQUIRE(a.poll_frame(0) == std::nullopt);
  insert_packet(a, k, 1, 0);
  REQUIRE(a.poll_frame(0));
  insert_packet(a, k, 1, 0);  // released
  CHECK(a.stats().duplicates == 2);
  CHECK(a.stats().packets_received == 2);
}

TEST_CASE("Video assembler follows sequence numbers and timestamps across their wrap", "[jitter]") {
  auto a = make_assembler();
  uint16_t seq = 65530;
  uint32_t ts = 0xFFFFFFFFu - 6000;
  for (int i = 0; i < 6; ++i) {
    const FrameSpec f{seq, ts, 3, i == 0};
    insert_frame(a, f, i * 33 * kMs);
    auto out = a.poll_frame(i * 33 * kMs);
    REQUIRE(out);
    CHECK(frame_matches(*out, f));
    seq = static_cast<uint16_t>(seq + 3);
    ts += 3000;
  }
  CHECK(a.stats().frames_complete == 6);
}

TEST_CASE("Video assembler ends a frame at a timestamp change when the marker is missing", "[jitter]") {
  auto a = make_assembler();
  Packetizer p;
  REQUIRE(a.insert(p.make(1, 0, true, false, true, 0), 0).ok());
  REQUIRE(a.insert(p.make(2, 0, false, false, true, 0), 0).ok());  // the sender never set the marker
  CHECK_FALSE(a.poll_frame(0));
  REQUIRE(a.insert(p.make(3, 3000, true, true, false, 0), 0).ok());
  auto f = a.poll_frame(0);
  REQUIRE(f);
  CHECK(f->packets == 2);
  CHECK(a.poll_frame(0));
}

TEST_CASE("Video assembler drops frames larger than its frame buffer", "[jitter]") {
  VideoAssemblerConfig c;
  c.max_frame_bytes = 100;
  auto a = make_assembler(c);
  insert_frame(a, {0, 0, 5, true}, 0);  // 20+21+22+23+24 bytes
  CHECK_FALSE(a.poll_frame(0));
  CHECK(a.stats().frames_incomplete == 1);
  CHECK(a.take_keyframe_request());
  insert_frame(a, {5, 3000, 2, true}, 0);
  CHECK(a.poll_frame(0));
}

TEST_CASE("Video assembler forces old frames out when its capacity is reached", "[jitter]") {
  VideoAssemblerConfig c;
  c.capacity = 16;
  c.max_wait_ns = 10'000 * kMs;
  auto a = make_assembler(c);
  insert_frame(a, {0, 0, 4, true}, 0, 2);  // seq 2 never comes; the deadline is far away
  uint16_t seq = 4;
  for (uint32_t ts = 3000; seq < 16; ts += 3000, seq += 2) insert_frame(a, {seq, ts, 2, false}, 0);
  CHECK_FALSE(a.poll_frame(0));
  CHECK(a.stats().frames_incomplete == 0);
  insert_frame(a, {16, 30000, 2, true}, 0);  // 16 and 17 do not fit beside 0..15
  CHECK(a.stats().frames_incomplete == 1);
  auto f = a.poll_frame(0);
  REQUIRE(f);
  CHECK(f->first_seq == 16);  // the deltas after the broken frame were undecodable
  CHECK(a.stats().frames_undecodable == 6);
}
