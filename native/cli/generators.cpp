#include "generators.h"

#include <cmath>
#include <cstring>
#include <numbers>

namespace tandem::cli {
namespace {

uint32_t fnv1a(std::span<const uint8_t> bytes) {
  uint32_t h = 0x811c9dc5u;
  for (const uint8_t b : bytes) {
    h ^= b;
    h *= 0x01000193u;
  }
  return h;
}

void put_u32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

uint32_t get_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 |
         p[3];
}

constexpr uint8_t kMagic[4] = {'T', 'D', 'M', '1'};

}  // namespace

void make_message(uint32_t seq, size_t size, std::string& out) {
  out.assign(size, '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  std::memcpy(p, kMagic, 4);
  put_u32(p + 4, seq);
  uint32_t x = seq + 1;
  for (size_t i = kMessageHeader; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p[i] = static_cast<uint8_t>(x);
  }
  put_u32(p + 8, fnv1a({p + kMessageHeader, size - kMessageHeader}));
}

std::optional<uint32_t> check_message(std::span<const uint8_t> bytes) {
  if (bytes.size() < kMessageHeader || std::memcmp(bytes.data(), kMagic, 4) != 0) return std::nullopt;
  if (get_u32(bytes.data() + 8) != fnv1a(bytes.subspan(kMessageHeader))) return std::nullopt;
  return get_u32(bytes.data() + 4);
}

size_t message_size(uint32_t seq, uint32_t count, size_t min, size_t max) {
  if (max <= min || seq == 0) return min;
  if (seq + 1 >= count) return max;
  uint32_t h = seq * 0x9E3779B1u;  // Fibonacci hashing spreads consecutive numbers over the range
  h ^= h >> 15;
  return min + static_cast<size_t>(h % static_cast<uint32_t>(max - min + 1));
}

const std::string& ToneGenerator::next_frame() {
  pcm_.resize(kSamples * 2);
  auto* p = reinterpret_cast<uint8_t*>(pcm_.data());
  for (size_t i = 0; i < kSamples; ++i, ++sample_) {
    const double t = static_cast<double>(sample_) / 48000.0;
    const auto s = static_cast<int16_t>(std::lround(amplitude_ * 32767.0 * std::sin(2 * std::numbers::pi * hz_ * t)));
    const auto u = static_cast<uint16_t>(s);
    p[2 * i] = static_cast<uint8_t>(u);
    p[2 * i + 1] = static_cast<uint8_t>(u >> 8);
  }
  return pcm_;
}

const std::string& PatternGenerator::next_frame() {
  const uint32_t cw = (width_ + 1) / 2, ch = (height_ + 1) / 2;
  i420_.resize(static_cast<size_t>(width_) * height_ + 2u * cw * ch);
  auto* y = reinterpret_cast<uint8_t*>(i420_.data());
  uint8_t* u = y + static_cast<size_t>(width_) * height_;
  uint8_t* v = u + static_cast<size_t>(cw) * ch;
  // Eight bars of (Y, U, V), scrolling 4 pixels a frame; the bottom eighth is a band whose brightness counts.
  static constexpr uint8_t kBars[8][3] = {{235, 128, 128}, {210, 16, 146}, {170, 166, 16}, {145, 54, 34},
                                          {106, 202, 222}, {81, 90, 240},  {41, 240, 110}, {16, 128, 128}};
  const uint32_t bar = width_ / 8 == 0 ? 1 : width_ / 8;
  const uint32_t shift = frame_ * 4;
  for (uint32_t row = 0; row < height_; ++row) {
    const bool band = row >= height_ - height_ / 8;
    for (uint32_t col = 0; col < width_; ++col) {
      y[static_cast<size_t>(row) * width_ + col] =
          band ? static_cast<uint8_t>(16 + (frame_ * 8) % 220) : kBars[((col + shift) / bar) % 8][0];
    }
  }
  for (uint32_t row = 0; row < ch; ++row) {
    for (uint32_t col = 0; col < cw; ++col) {
      const auto& c = kBars[((2 * col + shift) / bar) % 8];
      u[static_cast<size_t>(row) * cw + col] = c[1];
      v[static_cast<size_t>(row) * cw + col] = c[2];
    }
  }
  ++frame_;
  return i420_;
}

double rms(std::span<const uint8_t> pcm) {
  const size_t n = pcm.size() / 2;
  if (n == 0) return 0;
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const auto s = static_cast<int16_t>(static_cast<uint16_t>(pcm[2 * i] | pcm[2 * i + 1] << 8));
    sum += static_cast<double>(s) * s;
  }
  return std::sqrt(sum / static_cast<double>(n)) / 32768.0;
}

}  // namespace tandem::cli
