// G.711 (ITU-T, 1988): PCMU (mu-law, RTP payload type 0) and PCMA (A-law, payload type 8) at 8 kHz.
//
// Exact to the Recommendation as ITU-T's own reference implementation (G.191 STL) realises it: samples are
// 16-bit linear PCM; mu-law uses the top 14 bits and A-law the top 13, and negative inputs are quantised by
// their one's complement (so -1 and 0 land in the two innermost intervals either side of zero). Decoding
// gives the middle of each interval in the same 16-bit scale (mu-law +-32124 max, A-law +-32256).
//
// Table-driven: decoding is one lookup; encoding looks the segment up in a 128-entry table instead of
// searching for it. No state, no allocation: safe on any hot path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/common/error.h"

namespace tandem::media {

inline constexpr uint32_t kG711ClockRate = 8000;  // RTP clock = sample rate, one byte per sample
inline constexpr uint8_t kPcmuPayloadType = 0;
inline constexpr uint8_t kPcmaPayloadType = 8;

uint8_t pcmu_encode_sample(int16_t sample);
int16_t pcmu_decode_sample(uint8_t code);
uint8_t pcma_encode_sample(int16_t sample);
int16_t pcma_decode_sample(uint8_t code);

// Whole frames. `out` must be at least as long as the input (Errc::invalid_argument otherwise, nothing
// written). Returns the number of samples converted, which is the input's length.
Result<size_t> pcmu_encode(std::span<const int16_t> pcm, std::span<uint8_t> out);
Result<size_t> pcmu_decode(std::span<const uint8_t> payload, std::span<int16_t> out);
Result<size_t> pcma_encode(std::span<const int16_t> pcm, std::span<uint8_t> out);
Result<size_t> pcma_decode(std::span<const uint8_t> payload, std::span<int16_t> out);

}  // namespace tandem::media
