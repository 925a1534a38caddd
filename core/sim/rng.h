// A small seeded pseudo-random generator for simulations and tests (xorshift64*, seeded through splitmix64).
//
// Not for cryptography. The point is reproducibility: the same seed gives the same sequence on every target
// (only 64-bit integer arithmetic, no platform entropy), so a failing simulated run can be replayed exactly.
#pragma once

#include <cstdint>

namespace tandem::sim {

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    // splitmix64 spreads nearby seeds (1, 2, 3...) into unrelated states and never yields the all-zero
    // state xorshift cannot leave.
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    state_ = (z ^ (z >> 31)) | 1;
  }

  uint64_t next_u64() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }
  // Uniform in [0, 1), 53 bits of precision.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  // True with probability p (p <= 0: never, p >= 1: always).
  bool chance(double p) { return uniform() < p; }
  // Uniform in [0, bound] inclusive; the modulo bias is negligible for the bounds a simulation uses.
  uint64_t up_to(uint64_t bound) { return bound == UINT64_MAX ? next_u64() : next_u64() % (bound + 1); }

 private:
  uint64_t state_;
};

}  // namespace tandem::sim
