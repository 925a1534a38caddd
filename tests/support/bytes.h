// Byte-vector helpers for tests that build packets by hand.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace tandem::test {

using Bytes = std::vector<uint8_t>;

// The parts one after another: cat({header, payload, padding}).
inline Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace tandem::test
