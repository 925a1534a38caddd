// 48 kHz <-> 8 kHz for G.711: the pipeline's PCM is always 48 kHz, the codec's is 8 kHz.
//
// Both directions use one linear-phase low-pass FIR (a Kaiser-windowed sinc, 144 taps at 48 kHz, cutoff
// 3.5 kHz, about 60 dB stopband from ~4.1 kHz): before dropping 5 of every 6 samples it removes what would
// fold back below 4 kHz (aliasing), and after inserting 5 zeros between samples it removes the images of the
// 8 kHz spectrum at 8, 16, 24 kHz. Each is computed polyphase (only the outputs kept, only the non-zero
// inputs), about 24 multiply-adds per 48 kHz sample. Each adds (144 - 1) / 2 samples, ~1.5 ms, of delay.
//
// State (the filter's delay line) carries across calls, so consecutive frames join without clicks; a new
// stream calls reset(). Any input length works (the 1-in-6 phase carries over too). No allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace tandem::media {

inline constexpr uint32_t kResampleFactor = 6;  // 48000 / 8000
inline constexpr size_t kResampleTaps = 144;    // a multiple of kResampleFactor

// The shared low-pass (DC gain 1), computed once.
const std::array<float, kResampleTaps>& resample_lowpass();

class Downsampler48To8 {
 public:
  Downsampler48To8() { reset(); }
  void reset();
  // How many samples process() writes for `input` samples given the phase carried over.
  size_t output_size(size_t input) const { return (phase_ + input) / kResampleFactor; }
  // Filters and decimates `in`; `out` must hold output_size(in.size()) samples. Returns how many it wrote
  // (0, without touching the state, if `out` is too small).
  size_t process(std::span<const int16_t> in, std::span<int16_t> out);

 private:
  // Newest sample at line_[pos_]; every sample is written twice (pos_ and pos_ + taps) so the
  // kResampleTaps samples from pos_ on are always contiguous.
  std::array<float, 2 * kResampleTaps> line_{};
  size_t pos_ = 0;
  size_t phase_ = 0;  // input samples since the last output
};

class Upsampler8To48 {
 public:
  Upsampler8To48();
  void reset();
  // Interpolates `in`; `out` must hold kResampleFactor * in.size() samples. Returns how many it wrote (0 if
  // `out` is too small).
  size_t process(std::span<const int16_t> in, std::span<int16_t> out);

 private:
  static constexpr size_t kPhaseTaps = kResampleTaps / kResampleFactor;
  // phases_[k][j] = kResampleFactor * h[j * kResampleFactor + k]: the taps that meet a non-zero input for
  // output phase k (the factor restores the gain the zero-stuffing took away).
  std::array<std::array<float, kPhaseTaps>, kResampleFactor> phases_{};
  std::array<float, 2 * kPhaseTaps> line_{};
  size_t pos_ = 0;
};

}  // namespace tandem::media
