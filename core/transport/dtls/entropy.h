// Where the DTLS code draws its randomness from: the caller's, never a source of its own (sans-IO).
#pragma once

#include <cstdint>
#include <functional>
#include <span>

namespace tandem::transport {

// Fills `out` with cryptographically secure random bytes; returns false if the source failed. In the core
// this wraps platform::Entropy::fill.
using EntropySource = std::function<bool(std::span<uint8_t> out)>;

}  // namespace tandem::transport
