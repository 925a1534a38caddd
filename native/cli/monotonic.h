// The CLI's own clock (the core has its own; this one times what the CLI does: deadlines, capture pacing, the
// "ms" of its event lines).
#pragma once

#include <time.h>

#include <cstdint>

namespace tandem::cli {

inline uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace tandem::cli
