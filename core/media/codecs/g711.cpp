#include "core/media/codecs/g711.h"

#include <array>

namespace tandem::media {
namespace {

// Number of significant bits of a 7-bit value (0 for 0). Both laws find their segment (exponent) this way:
// the segment of a magnitude is how far its leading one sits above the first segment's range.
constexpr std::array<uint8_t, 128> kBitLength = [] {
  std::array<uint8_t, 128> t{};
  for (unsigned i = 1; i < t.size(); ++i) t[i] = static_cast<uint8_t>(t[i / 2] + 1);
  return t;
}();

// Magnitude used for quantisation: negative samples by their one's complement (~x == -x - 1), as G.191
// does, which keeps the decision levels symmetric about -0.5 and avoids overflow at -32768.
constexpr unsigned magnitude(int16_t sample) {
  return static_cast<unsigned>(sample < 0 ? ~sample : sample);
}

// Mu-law: code bits are inverted on the line (so silence is 0xFF, rich in ones, for old T1 links).
constexpr int16_t pcmu_expand(uint8_t code) {
  const unsigned inverted = static_cast<uint8_t>(~code);
  const unsigned exponent = (inverted >> 4) & 7;
  const unsigned mantissa = inverted & 15;
  // Interval midpoint in the biased domain, minus the bias of 33 (in 14-bit units, i.e. 132 in 16-bit).
  const int value = static_cast<int>(((2 * mantissa + 33) << (exponent + 2)) - 132);
  return static_cast<int16_t>((code & 0x80) ? value : -value);
}

// A-law: even bits are toggled on the line (0x55). Segments 0 and 1 share one step size.
constexpr int16_t pcma_expand(uint8_t code) {
  const unsigned plain = code ^ 0x55u;
  const unsigned exponent = (plain >> 4) & 7;
  unsigned mantissa = plain & 15;
  if (exponent > 0) mantissa += 16;  // the implicit leading one
  unsigned value = (mantissa << 4) + 8;  // +8: half a step, the interval midpoint
  if (exponent > 1) value <<= exponent - 1;
  return static_cast<int16_t>((plain & 0x80) ? static_cast<int>(value) : -static_cast<int>(value));
}

template <int16_t (*Expand)(uint8_t)>
constexpr std::array<int16_t, 256> make_expand_table() {
  std::array<int16_t, 256> t{};
  for (unsigned c = 0; c < 256; ++c) t[c] = Expand(static_cast<uint8_t>(c));
  return t;
}
constexpr auto kPcmuTable = make_expand_table<pcmu_expand>();
constexpr auto kPcmaTable = make_expand_table<pcma_expand>();

template <class In, class Out, class Convert>
Result<size_t> convert_all(std::span<const In> in, std::span<Out> out, Convert convert) {
  if (out.size() < in.size()) return Error{Errc::invalid_argument, "G.711 output buffer too small"};
  for (size_t i = 0; i < in.size(); ++i) out[i] = convert(in[i]);
  return in.size();
}

}  // namespace

uint8_t pcmu_encode_sample(int16_t sample) {
  // 14-bit magnitude plus the bias of 33, clipped to 13 bits: the bias puts every segment boundary on a
  // power of two, so the segment is the bit length of (biased >> 6) and the mantissa the next four bits.
  unsigned biased = (magnitude(sample) >> 2) + 33;
  if (biased > 0x1FFF) biased = 0x1FFF;
  const unsigned exponent = kBitLength[biased >> 6];
  const unsigned mantissa = (biased >> (exponent + 1)) & 15;
  const unsigned code = 0x7F ^ ((exponent << 4) | mantissa);
  return static_cast<uint8_t>(sample >= 0 ? code | 0x80 : code);
}

int16_t pcmu_decode_sample(uint8_t code) { return kPcmuTable[code]; }

uint8_t pcma_encode_sample(int16_t sample) {
  // 11-bit magnitude (A-law's 12-bit magnitude counted in its first segment's step of two).
  const unsigned level = magnitude(sample) >> 4;
  const unsigned exponent = kBitLength[level >> 4];
  const unsigned mantissa = exponent == 0 ? level : (level >> (exponent - 1)) & 15;
  const unsigned code = (exponent << 4) | mantissa;
  return static_cast<uint8_t>((sample >= 0 ? code | 0x80 : code) ^ 0x55);
}

int16_t pcma_decode_sample(uint8_t code) { return kPcmaTable[code]; }

Result<size_t> pcmu_encode(std::span<const int16_t> pcm, std::span<uint8_t> out) {
  return convert_all(pcm, out, pcmu_encode_sample);
}
Result<size_t> pcmu_decode(std::span<const uint8_t> payload, std::span<int16_t> out) {
  return convert_all(payload, out, pcmu_decode_sample);
}
Result<size_t> pcma_encode(std::span<const int16_t> pcm, std::span<uint8_t> out) {
  return convert_all(pcm, out, pcma_encode_sample);
}
Result<size_t> pcma_decode(std::span<const uint8_t> payload, std::span<int16_t> out) {
  return convert_all(payload, out, pcma_decode_sample);
}

}  // namespace tandem::media
