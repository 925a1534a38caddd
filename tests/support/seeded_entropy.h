// Deterministic "entropy" for tests and benchmarks of the transport: a seeded generator, so that equal seeds give
// equal runs (real peers use the platform's). Not secure and need not be: these keys protect nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>

#include "core/transport/dtls/entropy.h"

namespace tandem::test {

inline transport::EntropySource seeded_entropy(uint64_t seed) {
  auto rng = std::make_shared<std::mt19937_64>(seed);
  return [rng](std::span<uint8_t> out) {
    for (auto& b : out) b = static_cast<uint8_t>((*rng)());
    return true;
  };
}

}  // namespace tandem::test
