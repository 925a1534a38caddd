// Deterministic test material for the codec tests: synthetic audio and video, and the measures that say
// whether a codec kept them (SNR, PSNR, a checksum). Integer-seeded and libm-only so both targets generate
// the same samples.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "core/media/codecs/i420.h"

namespace tandem::test {

// A mono melody at 48 kHz: notes of 110 ms (a fundamental and its octave) that change pitch and start with a
// 10 ms attack. Unlike a steady tone it cannot be extrapolated across a note change, which is what makes FEC
// measurably better than concealment.
inline std::vector<int16_t> melody(size_t samples, double level = 8000.0) {
  constexpr double kNotes[] = {220, 330, 262, 392, 294, 440, 349};
  std::vector<int16_t> out(samples);
  double phase = 0.0;
  for (size_t i = 0; i < samples; ++i) {
    const size_t note = i / 5280, at = i % 5280;
    phase += 2 * M_PI * kNotes[note % 7] / 48000.0;
    const double envelope = std::min(1.0, at / 480.0) * (1.0 - 0.5 * at / 5280.0);
    out[i] = static_cast<int16_t>(std::lround(level * envelope * (std::sin(phase) + 0.3 * std::sin(2 * phase))));
  }
  return out;
}

inline std::vector<int16_t> tone(size_t samples, double hz, double amplitude, int channels = 1) {
  std::vector<int16_t> out(samples * static_cast<size_t>(channels));
  for (size_t i = 0; i < samples; ++i)
    for (int c = 0; c < channels; ++c)  // the second channel a fifth above, so the channels differ
      out[i * channels + c] =
          static_cast<int16_t>(std::lround(amplitude * std::sin(2 * M_PI * hz * (c ? 1.5 : 1.0) * i / 48000.0)));
  return out;
}

inline double energy(std::span<const int16_t> x) {
  double e = 0;
  for (int16_t s : x) e += double(s) * s;
  return e;
}

inline double squared_error(std::span<const int16_t> a, std::span<const int16_t> b) {
  double e = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) e += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return e;
}

inline double snr_db(std::span<const int16_t> reference, std::span<const int16_t> decoded) {
  return 10.0 * std::log10(energy(reference) / std::max(1.0, squared_error(reference, decoded)));
}

// The delay (min_lag..max_lag) at which `decoded` best matches `reference` (normalised cross-correlation
// over the reference's length; `decoded` must be max_lag samples longer).
inline size_t best_lag(std::span<const int16_t> reference, std::span<const int16_t> decoded, size_t min_lag,
                       size_t max_lag) {
  size_t best = min_lag;
  double best_score = -2.0;
  const size_t n = reference.size();
  for (size_t lag = min_lag; lag <= max_lag; ++lag) {
    double xy = 0, yy = 0;
    for (size_t i = 0; i < n; ++i) {
      xy += double(reference[i]) * decoded[i + lag];
      yy += double(decoded[i + lag]) * decoded[i + lag];
    }
    const double score = xy / std::sqrt(std::max(1.0, yy));
    if (score > best_score) best_score = score, best = lag;
  }
  return best;
}

// A tightly packed I420 picture that owns its bytes.
struct I420Buffer {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> bytes;
  I420Buffer(uint32_t w, uint32_t h) : width(w), height(h), bytes(media::i420_size(w, h)) {}
  media::I420View view() const { return media::i420_packed(bytes, width, height); }
  uint8_t* y() { return bytes.data(); }
  uint8_t* u() { return bytes.data() + size_t{width} * height; }
  uint8_t* v() { return u() + size_t{(width + 1) / 2} * ((height + 1) / 2); }
};

// Frame `t` of a moving scene: a diagonal gradient that scrolls, a bright square that travels across it, and
// slowly shifting chroma. Smooth enough to code well, moving enough to need motion vectors.
inline I420Buffer moving_pattern(uint32_t width, uint32_t height, uint32_t t) {
  I420Buffer p(width, height);
  for (uint32_t r = 0; r < height; ++r)
    for (uint32_t c = 0; c < width; ++c) {
      uint32_t value = ((c + r + 3 * t) * 255 / (width + height)) % 256;
      const uint32_t box_x = (40 + 7 * t) % width, box_y = (30 + 4 * t) % height;
      if (c >= box_x && c < box_x + width / 8 && r >= box_y && r < box_y + height / 8) value = 235;
      p.y()[size_t{r} * width + c] = static_cast<uint8_t>(value);
    }
  const uint32_t cw = (width + 1) / 2, ch = (height + 1) / 2;
  for (uint32_t r = 0; r < ch; ++r)
    for (uint32_t c = 0; c < cw; ++c) {
      p.u()[size_t{r} * cw + c] = static_cast<uint8_t>(96 + (c + t) % 64);
      p.v()[size_t{r} * cw + c] = static_cast<uint8_t>(160 - (r + 2 * t) % 64);
    }
  return p;
}

// PSNR of the luma plane of `decoded` against `reference` (same size), in dB.
inline double luma_psnr(const media::I420View& reference, const media::I420View& decoded) {
  double se = 0;
  for (uint32_t r = 0; r < reference.height; ++r)
    for (uint32_t c = 0; c < reference.width; ++c) {
      const double d = double(reference.y[size_t{r} * reference.stride_y + c]) - decoded.y[size_t{r} * decoded.stride_y + c];
      se += d * d;
    }
  const double mse = se / (double(reference.width) * reference.height);
  return mse == 0 ? 99.0 : 10.0 * std::log10(255.0 * 255.0 / mse);
}

// FNV-1a, 64-bit: a checksum that is the same on every platform.
struct Fnv1a {
  uint64_t value = 0xcbf29ce484222325ull;
  void add(std::span<const uint8_t> bytes) {
    for (uint8_t b : bytes) value = (value ^ b) * 0x100000001b3ull;
  }
  void add_plane(const uint8_t* data, uint32_t stride, uint32_t width, uint32_t height) {
    for (uint32_t r = 0; r < height; ++r) add({data + size_t{r} * stride, width});
  }
};

}  // namespace tandem::test
