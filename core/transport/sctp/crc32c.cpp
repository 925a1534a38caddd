#include "core/transport/sctp/crc32c.h"

#include <array>
#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace tandem::transport::detail {
namespace {

constexpr size_t kChecksumOffset = 8;  // in the SCTP common header: ports (4), verification tag (4), checksum

// Slicing by 8 (eight 256-entry tables of the reflected Castagnoli polynomial, 8 KiB): eight bytes per step
// with table lookups, the same method as usrsctp's own code, which we cannot use here because it takes whole
// buffers only and the checksum field must count as zero without copying the packet.
using Tables = std::array<std::array<uint32_t, 256>, 8>;
constexpr Tables make_tables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1) != 0 ? 0x82F63B78u : 0);
    t[0][i] = c;
  }
  for (size_t k = 1; k < 8; ++k) {
    for (size_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
  }
  return t;
}
constexpr Tables kTables = make_tables();

uint32_t update_portable(uint32_t crc, const uint8_t* p, size_t n) {
  static_assert(std::endian::native == std::endian::little, "words are loaded little-endian");
  for (; n >= 8; n -= 8, p += 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= crc;
    crc = kTables[7][lo & 0xFF] ^ kTables[6][(lo >> 8) & 0xFF] ^ kTables[5][(lo >> 16) & 0xFF] ^
          kTables[4][lo >> 24] ^ kTables[3][hi & 0xFF] ^ kTables[2][(hi >> 8) & 0xFF] ^
          kTables[1][(hi >> 16) & 0xFF] ^ kTables[0][hi >> 24];
  }
  for (; n > 0; --n, ++p) crc = (crc >> 8) ^ kTables[0][(crc ^ *p) & 0xFF];
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t update_sse42(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));
    c = _mm_crc32_u64(c, word);
  }
  auto c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return c32;
}

const bool kHardware = __builtin_cpu_supports("sse4.2");
#else
constexpr bool kHardware = false;
#endif

uint32_t update(uint32_t crc, const uint8_t* p, size_t n) {
#if defined(__x86_64__)
  if (kHardware) return update_sse42(crc, p, n);
#endif
  return update_portable(crc, p, n);
}

}  // namespace

uint32_t sctp_checksum(std::span<const uint8_t> packet) {
  if (packet.size() < kChecksumOffset + 4) return 0;
  static constexpr uint8_t kZero[4] = {};
  uint32_t crc = update(0xFFFFFFFFu, packet.data(), kChecksumOffset);
  crc = update(crc, kZero, sizeof(kZero));
  crc = update(crc, packet.data() + kChecksumOffset + 4, packet.size() - kChecksumOffset - 4);
  return ~crc;
}

uint32_t crc32c(std::span<const uint8_t> bytes) { return ~update(0xFFFFFFFFu, bytes.data(), bytes.size()); }

bool crc32c_hardware() { return kHardware; }

}  // namespace tandem::transport::detail
