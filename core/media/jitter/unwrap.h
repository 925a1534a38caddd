// Extends wrapping RTP counters (16-bit sequence numbers, 32-bit timestamps) to signed 64-bit values.
//
// A value is placed at the shortest distance from a reference the caller already extended (normally the
// newest value seen), forwards or backwards. That is right as long as the two are less than half the counter's
// range apart: 32768 packets, or 2^31 timestamp ticks (12 hours at 48 kHz, 6.6 hours at 90 kHz).
//
// Components start their extended numbers at kFirstExtended + value, so a predecessor that arrives late after
// the first packet still gets a non-negative number (usable as an array index modulo a capacity).
#pragma once

#include <cstdint>

namespace tandem::media {

inline constexpr int64_t kFirstExtended = int64_t{1} << 32;

inline int64_t extend_seq(int64_t reference, uint16_t seq) {
  // The difference in 16 bits is the short way round; read as signed it also gives the direction.
  return reference + static_cast<int16_t>(static_cast<uint16_t>(seq - static_cast<uint16_t>(reference)));
}

inline int64_t extend_timestamp(int64_t reference, uint32_t ts) {
  return reference + static_cast<int32_t>(static_cast<uint32_t>(ts - static_cast<uint32_t>(reference)));
}

}  // namespace tandem::media
