#include "core/metrics/histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace tandem::metrics {

uint64_t Histogram::bucket_low(size_t bucket) {
  if (bucket < kSubBuckets) return bucket;
  const uint64_t octave = bucket / kSubBuckets;  // >= 1
  const uint64_t sub = bucket % kSubBuckets;
  const unsigned shift = static_cast<unsigned>(octave - 1);
  return (kSubBuckets + sub) << shift;
}

uint64_t Histogram::bucket_value(size_t bucket) {
  if (bucket < kSubBuckets) return bucket;
  const unsigned shift = static_cast<unsigned>(bucket / kSubBuckets - 1);
  const uint64_t width = uint64_t{1} << shift;
  return bucket_low(bucket) + (width - 1) / 2;
}

void Histogram::reset() {
  for (auto& b : buckets_) b.store(0, std::memory_order_relaxed);
  sum_.store(0, std::memory_order_relaxed);
  max_.store(0, std::memory_order_relaxed);
  min_.store(std::numeric_limits<uint64_t>::max(), std::memory_order_relaxed);
}

namespace {
// Nearest-rank: the smallest value with at least ceil(q * count) values at or below it.
uint64_t rank_for(double q, uint64_t count) {
  const double r = std::ceil(q * static_cast<double>(count));
  return std::clamp<uint64_t>(static_cast<uint64_t>(r), 1, count);
}
}  // namespace

HistogramStats Histogram::snapshot() const {
  HistogramStats s;
  // Copy once so all figures come from the same counts even while records continue.
  std::vector<uint64_t> counts(kBuckets);
  size_t last = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    counts[i] = buckets_[i].load(std::memory_order_relaxed);
    if (counts[i] != 0) last = i;
    s.count += counts[i];
  }
  if (s.count == 0) return s;
  s.max = max_.load(std::memory_order_relaxed);
  s.min = min_.load(std::memory_order_relaxed);
  if (s.min > s.max) s.min = s.max;  // a record raced with the copy
  s.mean = static_cast<double>(sum_.load(std::memory_order_relaxed)) / static_cast<double>(s.count);

  const double qs[] = {0.5, 0.9, 0.99, 0.999};
  uint64_t* outs[] = {&s.p50, &s.p90, &s.p99, &s.p999};
  uint64_t seen = 0;
  size_t next = 0;
  for (size_t i = 0; i <= last && next < 4; ++i) {
    seen += counts[i];
    while (next < 4 && seen >= rank_for(qs[next], s.count)) {
      *outs[next++] = std::clamp(bucket_value(i), s.min, s.max);
    }
  }
  return s;
}

uint64_t Histogram::quantile(double q) const {
  uint64_t total = 0;
  for (const auto& b : buckets_) total += b.load(std::memory_order_relaxed);
  if (total == 0) return 0;
  const uint64_t rank = rank_for(q, total);
  const uint64_t lo = min_.load(std::memory_order_relaxed), hi = max_.load(std::memory_order_relaxed);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i].load(std::memory_order_relaxed);
    if (seen >= rank) return std::clamp(bucket_value(i), std::min(lo, hi), hi);
  }
  return hi;
}

}  // namespace tandem::metrics
