// The 48 <-> 8 kHz resamplers G.711 uses: passband kept, aliasing and images removed, state carried across
// frames, no allocation.
#include "core/media/pipeline/audio_resample.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "support/alloc_counter.h"

using namespace tandem::media;

namespace {

std::vector<int16_t> sine(size_t samples, double hz, double rate, double amplitude = 10000.0) {
  std::vector<int16_t> out(samples);
  for (size_t i = 0; i < samples; ++i)
    out[i] = static_cast<int16_t>(std::lround(amplitude * std::sin(2 * M_PI * hz * static_cast<double>(i) / rate)));
  return out;
}

// Amplitude of the `hz` component of x (Goertzel), skipping the first `skip` samples (the filter's start-up).
double amplitude_at(const std::vector<int16_t>& x, double hz, double rate, size_t skip) {
  const double w = 2 * M_PI * hz / rate;
  double s1 = 0, s2 = 0;
  for (size_t i = skip; i < x.size(); ++i) {
    const double s0 = x[i] + 2 * std::cos(w) * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const double power = s1 * s1 + s2 * s2 - 2 * std::cos(w) * s1 * s2;
  return 2 * std::sqrt(std::max(0.0, power)) / static_cast<double>(x.size() - skip);
}

std::vector<int16_t> down(const std::vector<int16_t>& in, size_t chunk = 960) {
  Downsampler48To8 d;
  std::vector<int16_t> out(in.size() / 6);
  size_t written = 0;
  for (size_t i = 0; i < in.size(); i += chunk) {
    const size_t n = std::min(chunk, in.size() - i);
    written += d.process(std::span<const int16_t>(in).subspan(i, n), std::span<int16_t>(out).subspan(written));
  }
  out.resize(written);
  return out;
}

std::vector<int16_t> up(const std::vector<int16_t>& in, size_t chunk = 160) {
  Upsampler8To48 u;
  std::vector<int16_t> out(in.size() * 6);
  size_t written = 0;
  for (size_t i = 0; i < in.size(); i += chunk) {
    const size_t n = std::min(chunk, in.size() - i);
    written += u.process(std::span<const int16_t>(in).subspan(i, n), std::span<int16_t>(out).subspan(written));
  }
  out.resize(written);
  return out;
}

}  // namespace

TEST_CASE("Resampler low-pass: unit DC gain, linear phase", "[audio-pipeline]") {
  const auto& h = resample_lowpass();
  double sum = 0;
  for (float v : h) sum += v;
  CHECK(sum == Approx(1.0).epsilon(1e-5));
  for (size_t i = 0; i < h.size() / 2; ++i) CHECK(h[i] == Approx(h[h.size() - 1 - i]));
}

TEST_CASE("48 -> 8 kHz keeps the voice band and removes what would alias", "[audio-pipeline]") {
  constexpr double kIn = 10000.0;
  for (double hz : {300.0, 1000.0, 2500.0}) {
    const auto out = down(sine(48000, hz, 48000));
    REQUIRE(out.size() == 8000);
    CAPTURE(hz, amplitude_at(out, hz, 8000, 100));
    CHECK(amplitude_at(out, hz, 8000, 100) == Approx(kIn).epsilon(0.03));
  }
  // 3.4 kHz, the top of the telephone band, is still mostly there (the transition starts above 2.9 kHz).
  CHECK(amplitude_at(down(sine(48000, 3400, 48000)), 3400, 8000, 100) > 0.5 * kIn);
  // Without the filter, 4.5, 5, 6, 7 and 11 kHz would fold onto 3.5, 3, 2, 1 and 3 kHz at full level.
  for (double hz : {4500.0, 5000.0, 6000.0, 7000.0, 11000.0}) {
    const auto out = down(sine(48000, hz, 48000));
    const double alias = std::abs(8000.0 * std::round(hz / 8000.0) - hz);
    CAPTURE(hz, alias, amplitude_at(out, alias, 8000, 100));
    CHECK(amplitude_at(out, alias, 8000, 100) < 0.003 * kIn);  // below -50 dB
  }
}

TEST_CASE("8 -> 48 kHz interpolates without images", "[audio-pipeline]") {
  constexpr double kIn = 10000.0;
  const auto out = up(sine(8000, 1000, 8000));
  REQUIRE(out.size() == 48000);
  CHECK(amplitude_at(out, 1000, 48000, 600) == Approx(kIn).epsilon(0.03));
  // Zero-stuffing alone leaves copies of 1 kHz at 8k +- 1k, 16k +- 1k, ...
  for (double image : {7000.0, 9000.0, 15000.0, 17000.0}) {
    CAPTURE(image, amplitude_at(out, image, 48000, 600));
    CHECK(amplitude_at(out, image, 48000, 600) < 0.003 * kIn);
  }
}

TEST_CASE("Resamplers carry state across frames and do not allocate", "[audio-pipeline]") {
  const auto signal = sine(48000, 1234, 48000);
  // Any split gives the same samples as one call (odd chunks exercise the carried 1-in-6 phase).
  CHECK(down(signal, 960) == down(signal, 48000));
  CHECK(down(signal, 7) == down(signal, 48000));
  const auto narrow = sine(8000, 777, 8000);
  CHECK(up(narrow, 160) == up(narrow, 8000));
  CHECK(up(narrow, 3) == up(narrow, 8000));

  Downsampler48To8 d;
  Upsampler8To48 u;
  std::vector<int16_t> mid(160), wide(960);
  tandem::test::AllocationScope scope;
  for (size_t i = 0; i + 960 <= signal.size(); i += 960) {
    REQUIRE(d.process(std::span<const int16_t>(signal).subspan(i, 960), mid) == 160);
    REQUIRE(u.process(mid, wide) == 960);
  }
  CHECK(scope.count() == 0);
  // Too small an output: nothing written, nothing consumed.
  CHECK(d.process(std::span<const int16_t>(signal).first(960), std::span<int16_t>(mid).first(159)) == 0);
  CHECK(u.process(mid, std::span<int16_t>(wide).first(959)) == 0);
}
