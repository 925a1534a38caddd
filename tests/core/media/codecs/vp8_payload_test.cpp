#include "core/media/codecs/vp8_payload.h"

#include <catch2/catch.hpp>
#include <vector>

#include "support/alloc_counter.h"

using namespace tandem;
using namespace tandem::media;

namespace {

// A fake keyframe of `size` bytes: a valid frame tag (P=0, show_frame, first partition = 10 bytes), the
// start code and the given dimensions, then counting bytes.
std::vector<uint8_t> fake_keyframe(size_t size, uint16_t width = 640, uint16_t height = 480) {
  std::vector<uint8_t> f(size);
  for (size_t i = 0; i < size; ++i) f[i] = static_cast<uint8_t>(i * 7 + 1);
  const uint32_t tag = 0 | (0 << 1) | (1 << 4) | (10u << 5);
  const uint8_t header[10] = {uint8_t(tag), uint8_t(tag >> 8), uint8_t(tag >> 16), 0x9d, 0x01, 0x2a,
                              uint8_t(width), uint8_t(width >> 8), uint8_t(height), uint8_t(height >> 8)};
  std::copy(header, header + std::min<size_t>(10, size), f.begin());
  return f;
}

std::vector<uint8_t> write(const Vp8Descriptor& d, std::span<const uint8_t> data = {}) {
  std::vector<uint8_t> out(kVp8MaxDescriptorSize + data.size());
  auto n = write_vp8_descriptor(d, out);
  REQUIRE(n.ok());
  CHECK(*n == vp8_descriptor_size(d));
  std::copy(data.begin(), data.end(), out.begin() + static_cast<long>(*n));
  out.resize(*n + data.size());
  return out;
}

}  // namespace

TEST_CASE("VP8 descriptors have the RFC 7741 layout", "[codec][vp8]") {
  const uint8_t data[] = {0x55};
  CHECK(write({.start_of_partition = true}, data) == std::vector<uint8_t>{0x10, 0x55});
  CHECK(write({.non_reference = true, .partition_index = 5}, data) == std::vector<uint8_t>{0x25, 0x55});
  // X, S; I with M: 15-bit PictureID 0x1234.
  CHECK(write({.start_of_partition = true, .picture_id_size = Vp8PictureIdSize::bits15, .picture_id = 0x1234},
              data) == std::vector<uint8_t>{0x90, 0x80, 0x92, 0x34, 0x55});
  CHECK(write({.picture_id_size = Vp8PictureIdSize::bits7, .picture_id = 0x55}, data) ==
        std::vector<uint8_t>{0x80, 0x80, 0x55, 0x55});
  // Every extension: I (7-bit), L, T (TID 2, Y), K (KEYIDX 17).
  CHECK(write({.picture_id_size = Vp8PictureIdSize::bits7,
               .picture_id = 3,
               .tl0_pic_idx = 200,
               .temporal_id = 2,
               .layer_sync = true,
               .key_idx = 17},
              data) == std::vector<uint8_t>{0x80, 0xF0, 0x03, 200, 0xB1, 0x55});
  // K without T: the T/K byte carries KEYIDX only.
  CHECK(write({.key_idx = 9}, data) == std::vector<uint8_t>{0x80, 0x10, 0x09, 0x55});
}

TEST_CASE("VP8 descriptors round-trip through write and parse", "[codec][vp8]") {
  const uint8_t data[] = {0x01, 0x02, 0x03};  // P=1: a delta frame
  for (int mask = 0; mask < 64; ++mask) {
    Vp8Descriptor d;
    d.non_reference = mask & 1;
    d.start_of_partition = mask & 2;
    d.partition_index = static_cast<uint8_t>(mask & 2 ? 0 : 3);
    d.picture_id_size = (mask & 4) ? Vp8PictureIdSize::bits15 : (mask & 8) ? Vp8PictureIdSize::bits7
                                                                            : Vp8PictureIdSize::none;
    d.picture_id = d.picture_id_size == Vp8PictureIdSize::bits15 ? 32767 : d.picture_id_size == Vp8PictureIdSize::bits7 ? 127 : 0;
    if (mask & 16) d.tl0_pic_idx = 77;
    if (mask & 32) d.temporal_id = 3, d.layer_sync = true, d.key_idx = 31;
    INFO("mask " << mask);
    const auto packet = write(d, data);
    auto parsed = parse_vp8_payload(packet);
    REQUIRE(parsed.ok());
    const Vp8Descriptor& p = parsed->descriptor;
    CHECK(p.non_reference == d.non_reference);
    CHECK(p.start_of_partition == d.start_of_partition);
    CHECK(p.partition_index == d.partition_index);
    CHECK(p.picture_id_size == d.picture_id_size);
    CHECK(p.picture_id == d.picture_id);
    CHECK(p.tl0_pic_idx == d.tl0_pic_idx);
    CHECK(p.temporal_id == d.temporal_id);
    CHECK(p.layer_sync == d.layer_sync);
    CHECK(p.key_idx == d.key_idx);
    CHECK(parsed->data.size() == 3);
    CHECK(parsed->frame_start == ((mask & 2) != 0));
    CHECK_FALSE(parsed->keyframe);
  }
  std::vector<uint8_t> out(6);
  CHECK(write_vp8_descriptor({.partition_index = 8}, out).code() == Errc::invalid_argument);
  CHECK(write_vp8_descriptor({.picture_id_size = Vp8PictureIdSize::bits7, .picture_id = 128}, out).code() ==
        Errc::invalid_argument);
  CHECK(write_vp8_descriptor({.temporal_id = 4}, out).code() == Errc::invalid_argument);
  CHECK(write_vp8_descriptor({.key_idx = 32}, out).code() == Errc::invalid_argument);
  CHECK(write_vp8_descriptor({.picture_id_size = Vp8PictureIdSize::bits15}, std::span(out).first(3)).code() ==
        Errc::invalid_argument);
}

TEST_CASE("VP8 depacketizer finds frame starts and keyframes", "[codec][vp8]") {
  const auto key = fake_keyframe(40, 1280, 720);
  auto start = parse_vp8_payload(write({.start_of_partition = true}, key));
  REQUIRE(start.ok());
  CHECK(start->frame_start);
  CHECK(start->keyframe);
  CHECK(start->width == 1280);
  CHECK(start->height == 720);

  // The same bytes in a continuation packet (S=0) or a later partition (PID=1) say nothing about the frame.
  auto middle = parse_vp8_payload(write({.start_of_partition = false}, key));
  REQUIRE(middle.ok());
  CHECK_FALSE(middle->frame_start);
  CHECK_FALSE(middle->keyframe);
  auto partition = parse_vp8_payload(write({.start_of_partition = true, .partition_index = 1}, key));
  REQUIRE(partition.ok());
  CHECK_FALSE(partition->frame_start);

  // P=1: a delta frame.
  auto delta_bytes = key;
  delta_bytes[0] |= 1;
  auto delta = parse_vp8_payload(write({.start_of_partition = true}, delta_bytes));
  REQUIRE(delta.ok());
  CHECK(delta->frame_start);
  CHECK_FALSE(delta->keyframe);
  CHECK(delta->width == 0);

  // A keyframe start whose start code is wrong is broken.
  auto broken = key;
  broken[4] = 0x00;
  CHECK(parse_vp8_payload(write({.start_of_partition = true}, broken)).code() == Errc::malformed_packet);

  auto header = parse_vp8_frame_header(key);
  REQUIRE(header.ok());
  CHECK(header->keyframe);
  CHECK(header->show_frame);
  CHECK(header->first_partition_size == 10);
  CHECK(header->width == 1280);
}

TEST_CASE("VP8 packetizer splits frames into even MTU-sized payloads that reassemble", "[codec][vp8]") {
  for (size_t mtu : {32u, 100u, 500u, 1200u}) {
    auto packetizer = Vp8Packetizer::create({.max_payload_size = mtu, .first_picture_id = 32766});
    REQUIRE(packetizer.ok());
    uint16_t expected_id = 32766;
    for (size_t size : {1u, 10u, 26u, 27u, 999u, 1000u, 5000u, 60000u}) {
      INFO("mtu " << mtu << ", frame " << size);
      const auto frame = fake_keyframe(size);
      auto count = packetizer->begin_frame(frame);
      REQUIRE(count.ok());
      CHECK(packetizer->picture_id() == expected_id);
      std::vector<uint8_t> reassembled, buffer(mtu);
      size_t packets = 0, smallest = mtu, largest = 0;
      while (!packetizer->done()) {
        auto packet = packetizer->next(buffer);
        REQUIRE(packet.ok());
        REQUIRE(packet->size <= mtu);
        auto parsed = parse_vp8_payload(std::span(buffer).first(packet->size));
        REQUIRE(parsed.ok());
        CHECK(parsed->descriptor.start_of_partition == (packets == 0));
        CHECK(parsed->descriptor.partition_index == 0);
        CHECK(parsed->descriptor.picture_id == expected_id);
        CHECK(packet->marker == packetizer->done());
        if (packets == 0 && size >= 10) {
          CHECK(parsed->keyframe);
          CHECK(parsed->width == 640);  // the whole keyframe header fits the first packet
        }
        smallest = std::min(smallest, parsed->data.size());
        largest = std::max(largest, parsed->data.size());
        reassembled.insert(reassembled.end(), parsed->data.begin(), parsed->data.end());
        ++packets;
      }
      CHECK(packets == *count);
      CHECK(packets == (size + mtu - 5) / (mtu - 4));  // 4 descriptor bytes with a 15-bit PictureID
      CHECK(largest - smallest <= 1);
      CHECK(reassembled == frame);
      CHECK(packetizer->next(buffer).code() == Errc::invalid_argument);
      expected_id = static_cast<uint16_t>((expected_id + 1) & 0x7FFF);  // wraps 32767 -> 0
    }
  }
  CHECK(Vp8Packetizer::create({.max_payload_size = 31}).code() == Errc::invalid_argument);
  CHECK(Vp8Packetizer::create({.picture_id_size = Vp8PictureIdSize::bits7, .first_picture_id = 128}).code() ==
        Errc::invalid_argument);
}

TEST_CASE("VP8 packetizer with 7-bit and no PictureID", "[codec][vp8]") {
  auto seven = Vp8Packetizer::create({.max_payload_size = 100, .picture_id_size = Vp8PictureIdSize::bits7,
                                      .first_picture_id = 127});
  REQUIRE(seven.ok());
  const auto frame = fake_keyframe(300);
  std::vector<uint8_t> buffer(100);
  REQUIRE(seven->begin_frame(frame).value() == 4);  // 97 data bytes per packet at most
  auto first = seven->next(buffer);
  REQUIRE(first.ok());
  CHECK(parse_vp8_payload(std::span(buffer).first(first->size))->descriptor.picture_id == 127);
  REQUIRE(seven->begin_frame(frame, /*non_reference=*/true).ok());
  auto second = seven->next(buffer);
  REQUIRE(second.ok());
  auto parsed = parse_vp8_payload(std::span(buffer).first(second->size));
  CHECK(parsed->descriptor.picture_id == 0);  // wrapped
  CHECK(parsed->descriptor.non_reference);

  auto bare = Vp8Packetizer::create({.max_payload_size = 100, .picture_id_size = Vp8PictureIdSize::none});
  REQUIRE(bare.ok());
  REQUIRE(bare->begin_frame(frame).value() == 4);  // 99 per packet
  auto p = bare->next(buffer);
  REQUIRE(p.ok());
  CHECK(buffer[0] == 0x10);  // just S: no X byte
  CHECK(bare->next(std::span(buffer).first(10)).code() == Errc::invalid_argument);  // too small for a payload
}

TEST_CASE("VP8 payload parsing rejects garbage without crashing", "[codec][vp8]") {
  // Every truncation of a full descriptor is malformed: the descriptor runs out, or no VP8 data follows.
  const auto full = write({.start_of_partition = true,
                           .picture_id_size = Vp8PictureIdSize::bits15,
                           .picture_id = 1000,
                           .tl0_pic_idx = 1,
                           .temporal_id = 1,
                           .key_idx = 1});
  REQUIRE(full.size() == 6);
  for (size_t n = 0; n <= full.size(); ++n) {
    const std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<long>(n));  // exact size: ASan sees overreads
    CHECK(parse_vp8_payload(cut).code() == Errc::malformed_packet);
  }

  uint32_t seed = 99;
  std::vector<uint8_t> junk(64);
  size_t ok = 0;
  for (int round = 0; round < 20000; ++round) {
    for (auto& b : junk) b = static_cast<uint8_t>((seed = seed * 1664525u + 1013904223u) >> 24);
    const size_t len = (seed >> 8) % (junk.size() + 1);
    // Exactly sized copies, so reading past the end would trip the sanitizers.
    const std::vector<uint8_t> packet(junk.begin(), junk.begin() + static_cast<long>(len));
    auto parsed = parse_vp8_payload(packet);
    if (parsed.ok()) {
      ++ok;
      CHECK(!parsed->data.empty());
    } else {
      CHECK(parsed.code() == Errc::malformed_packet);
    }
    auto header = parse_vp8_frame_header(packet);
    if (!header.ok()) CHECK(header.code() == Errc::malformed_packet);
  }
  CHECK(ok > 0);  // most random bytes are a plausible descriptor; the point is that none crashes
}

TEST_CASE("VP8 packetizing and parsing do not allocate", "[codec][vp8]") {
  auto packetizer = Vp8Packetizer::create({.max_payload_size = 1200});
  REQUIRE(packetizer.ok());
  const auto frame = fake_keyframe(20000);
  std::vector<uint8_t> buffer(1200);
  test::AllocationScope scope;
  size_t bytes = 0;
  for (int f = 0; f < 10; ++f) {
    REQUIRE(packetizer->begin_frame(frame).ok());
    while (!packetizer->done()) {
      auto packet = packetizer->next(buffer);
      REQUIRE(packet.ok());
      auto parsed = parse_vp8_payload(std::span(buffer).first(packet->size));
      REQUIRE(parsed.ok());
      bytes += parsed->data.size();
    }
  }
  CHECK(scope.count() == 0);
  CHECK(bytes == 10 * frame.size());
}
