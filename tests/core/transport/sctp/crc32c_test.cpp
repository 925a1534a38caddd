// The SCTP checksum we compute for usrsctp: known CRC32c values, and the same result as usrsctp's own
// usrsctp_crc32c() for packets of every size. Natively (x86-64 with SSE4.2) this checks the crc32-instruction
// path, in wasm the slicing-by-8 path: CI runs both.
#include "core/transport/sctp/crc32c.h"

#include <usrsctp.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/sim/rng.h"

using namespace tandem;
using transport::detail::crc32c;
using transport::detail::sctp_checksum;

namespace {
std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
}  // namespace

TEST_CASE("crc32c: known values (RFC 3720 appendix B.4 and the usual check value)", "[sctp][crc32c]") {
  CHECK(crc32c(bytes_of("123456789")) == 0xE3069283u);
  std::vector<uint8_t> v(32, 0x00);
  CHECK(crc32c(v) == 0x8A9136AAu);
  std::fill(v.begin(), v.end(), 0xFF);
  CHECK(crc32c(v) == 0x62A8AB43u);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i);
  CHECK(crc32c(v) == 0x46DD794Eu);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(31 - i);
  CHECK(crc32c(v) == 0x113FDB5Cu);
  CHECK(crc32c({}) == 0u);
}

TEST_CASE("crc32c: the SCTP checksum matches usrsctp's for every packet size", "[sctp][crc32c]") {
  sim::Rng rng(0x5C7Cu);
  for (size_t size = 12; size <= 2100; size += (size < 80 ? 1 : 37)) {
    INFO("size " << size);
    std::vector<uint8_t> packet(size);
    for (auto& b : packet) b = static_cast<uint8_t>(rng.next_u64());
    // Ours counts the checksum field as zero whatever it holds; usrsctp's needs it zeroed.
    const uint32_t ours = sctp_checksum(packet);
    std::vector<uint8_t> zeroed = packet;
    std::memset(zeroed.data() + 8, 0, 4);
    CHECK(ours == usrsctp_crc32c(zeroed.data(), zeroed.size()));
    CHECK(sctp_checksum(zeroed) == ours);
    // Any single flipped bit outside the field changes it.
    const size_t at = rng.next_u64() % size;
    if (at < 8 || at >= 12) {
      packet[at] ^= 0x10;
      CHECK(sctp_checksum(packet) != ours);
    }
  }
  const std::vector<uint8_t> shorter(11, 0xAB);
  CHECK(sctp_checksum(shorter) == 0u);  // no common header, no checksum
}
