#include "core/media/pipeline/audio_resample.h"

#include <algorithm>
#include <cmath>

namespace tandem::media {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kInputRate = 48000.0;
constexpr double kCutoffHz = 3500.0;  // -6 dB point: passband to ~2.9 kHz, stopband from ~4.1 kHz
constexpr double kKaiserBeta = 5.65;  // ~60 dB stopband (Kaiser's formula: 0.1102 * (60 - 8.7))

// Modified Bessel function of the first kind, order 0 (its power series converges fast for beta ~ 6).
double bessel_i0(double x) {
  double sum = 1.0, term = 1.0;
  for (int k = 1; k < 40; ++k) {
    term *= (x / (2.0 * k)) * (x / (2.0 * k));
    sum += term;
  }
  return sum;
}

std::array<float, kResampleTaps> design_lowpass() {
  std::array<double, kResampleTaps> h{};
  const double center = (kResampleTaps - 1) / 2.0;
  const double fc = kCutoffHz / kInputRate;  // cycles per sample
  double sum = 0.0;
  for (size_t i = 0; i < kResampleTaps; ++i) {
    const double t = static_cast<double>(i) - center;
    const double sinc = t == 0.0 ? 2.0 * fc : std::sin(2.0 * kPi * fc * t) / (kPi * t);
    const double r = t / center;
    const double window = bessel_i0(kKaiserBeta * std::sqrt(std::max(0.0, 1.0 - r * r))) / bessel_i0(kKaiserBeta);
    h[i] = sinc * window;
    sum += h[i];
  }
  std::array<float, kResampleTaps> out{};
  for (size_t i = 0; i < kResampleTaps; ++i) out[i] = static_cast<float>(h[i] / sum);
  return out;
}

int16_t to_s16(float v) {
  const float r = std::nearbyint(v);
  return static_cast<int16_t>(std::clamp(r, -32768.0f, 32767.0f));
}

}  // namespace

const std::array<float, kResampleTaps>& resample_lowpass() {
  static const std::array<float, kResampleTaps> taps = design_lowpass();
  return taps;
}

void Downsampler48To8::reset() {
  line_.fill(0.0f);
  pos_ = 0;
  phase_ = 0;
}

size_t Downsampler48To8::process(std::span<const int16_t> in, std::span<int16_t> out) {
  if (out.size() < output_size(in.size())) return 0;
  const std::array<float, kResampleTaps>& h = resample_lowpass();
  size_t written = 0;
  for (const int16_t sample : in) {
    pos_ = pos_ == 0 ? kResampleTaps - 1 : pos_ - 1;
    line_[pos_] = line_[pos_ + kResampleTaps] = static_cast<float>(sample);
    if (++phase_ < kResampleFactor) continue;
    phase_ = 0;
    // line_[pos_ + i] is x[n - i]: y[n] = sum h[i] x[n - i], only for the outputs we keep.
    const float* x = &line_[pos_];
    float acc = 0.0f;
    for (size_t i = 0; i < kResampleTaps; ++i) acc += h[i] * x[i];
    out[written++] = to_s16(acc);
  }
  return written;
}

Upsampler8To48::Upsampler8To48() {
  const std::array<float, kResampleTaps>& h = resample_lowpass();
  for (size_t k = 0; k < kResampleFactor; ++k)
    for (size_t j = 0; j < kPhaseTaps; ++j)
      phases_[k][j] = static_cast<float>(kResampleFactor) * h[j * kResampleFactor + k];
  reset();
}

void Upsampler8To48::reset() {
  line_.fill(0.0f);
  pos_ = 0;
}

size_t Upsampler8To48::process(std::span<const int16_t> in, std::span<int16_t> out) {
  if (out.size() < in.size() * kResampleFactor) return 0;
  size_t written = 0;
  for (const int16_t sample : in) {
    pos_ = pos_ == 0 ? kPhaseTaps - 1 : pos_ - 1;
    line_[pos_] = line_[pos_ + kPhaseTaps] = static_cast<float>(sample);
    // Output 6n + k of the zero-stuffed signal: sum over j of x[n - j] h[6j + k].
    const float* x = &line_[pos_];
    for (size_t k = 0; k < kResampleFactor; ++k) {
      float acc = 0.0f;
      for (size_t j = 0; j < kPhaseTaps; ++j) acc += phases_[k][j] * x[j];
      out[written++] = to_s16(acc);
    }
  }
  return written;
}

}  // namespace tandem::media
