// Records the time from construction to destruction into a histogram, using the platform's clock
// (core/ has no clock of its own).
#pragma once

#include "core/metrics/histogram.h"
#include "tandem/platform/platform.h"

namespace tandem::metrics {

class ScopedTimer {
 public:
  ScopedTimer(platform::Clock& clock, Histogram& histogram)
      : clock_(clock), histogram_(histogram), start_(clock.now_ns()) {}
  ~ScopedTimer() {
    // A clock read on another core may be a hair behind (per-core TSCs); never record a wrapped difference.
    const uint64_t end = clock_.now_ns();
    histogram_.record(end > start_ ? end - start_ : 0);
  }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  platform::Clock& clock_;
  Histogram& histogram_;
  uint64_t start_;
};

}  // namespace tandem::metrics
