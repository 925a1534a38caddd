#include "core/media/e2ee/frame_format.h"

#include <catch2/catch.hpp>
#include <vector>

#include "e2ee_test_support.h"

using namespace tandem;
using namespace tandem::media::e2ee;
using test::e2ee::sample_frame;

TEST_CASE("e2ee format: clear prefix per codec", "[e2ee]") {
  CHECK(clear_prefix_size(CodecKind::vp8, sample_frame(CodecKind::vp8, 100, 0, true)) == 10);
  CHECK(clear_prefix_size(CodecKind::vp8, sample_frame(CodecKind::vp8, 100, 0, false)) == 3);
  CHECK(clear_prefix_size(CodecKind::vp8, sample_frame(CodecKind::vp8, 6, 0, true)) == 6);
  CHECK(clear_prefix_size(CodecKind::vp8, std::vector<uint8_t>{}) == 0);
  CHECK(clear_prefix_size(CodecKind::opus, sample_frame(CodecKind::opus, 100)) == 1);
  CHECK(clear_prefix_size(CodecKind::opus, std::vector<uint8_t>{}) == 0);
  CHECK(clear_prefix_size(CodecKind::pcmu, sample_frame(CodecKind::pcmu, 160)) == 0);
  CHECK(clear_prefix_size(CodecKind::pcma, sample_frame(CodecKind::pcma, 160)) == 0);
  CHECK(clear_prefix_size(CodecKind::opaque, sample_frame(CodecKind::opaque, 160)) == 0);
}

TEST_CASE("e2ee format: trailer write and parse", "[e2ee]") {
  std::vector<uint8_t> frame(3 + 20 + kFrameOverhead, 0x55);
  std::array<uint8_t, kIvBytes> iv{};
  for (size_t i = 0; i < iv.size(); ++i) iv[i] = static_cast<uint8_t>(0xA0 + i);
  write_trailer(std::span(frame).last<kTrailerBytes>(), iv, 3, 7);
  auto view = parse_encrypted_frame(frame);
  REQUIRE(view.ok());
  CHECK(view->clear.size() == 3);
  CHECK(view->clear.data() == frame.data());
  CHECK(view->ciphertext_and_tag.size() == 20 + kTagBytes);
  CHECK(test::e2ee::same_bytes(view->iv, iv));
  CHECK(view->key_index == 7);

  auto clear_too_big = frame;
  clear_too_big[clear_too_big.size() - 3] = 24;  // P + tag no longer fit in front of the trailer
  CHECK(parse_encrypted_frame(clear_too_big).code() == Errc::malformed_packet);
  clear_too_big[clear_too_big.size() - 3] = 23;  // exactly fits: empty ciphertext
  CHECK(parse_encrypted_frame(clear_too_big).ok());

  CHECK(parse_encrypted_frame(std::span(frame).last(kFrameOverhead - 1)).code() == Errc::malformed_packet);
  frame.back() = 0;
  CHECK(parse_encrypted_frame(frame).code() == Errc::malformed_packet);
}
