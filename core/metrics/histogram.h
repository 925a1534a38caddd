// A lock-free log-linear histogram of nanosecond values.
//
// Values below 64 get a bucket each; above, every power of two is split into 64 equal sub-buckets, so a
// bucket is at most 1/64 as wide as its lower bound. Percentiles report the bucket's midpoint, which is within
// 1/128 (0.78%) of any value in it. The whole uint64 range is covered: 3776 buckets, ~30 KiB.
//
// record() is wait-free: one relaxed fetch_add on the bucket and one on the sum, plus a relaxed load (and a
// rare CAS) for the max and the min. It may run on any thread while another thread takes a snapshot; a
// snapshot racing with records or a reset may miss or double-count the few values recorded meanwhile.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace tandem::metrics {

struct HistogramStats {
  uint64_t count = 0;
  double mean = 0;
  uint64_t min = 0;
  uint64_t p50 = 0;
  uint64_t p90 = 0;
  uint64_t p99 = 0;
  uint64_t p999 = 0;
  uint64_t max = 0;
};

class Histogram {
 public:
  static constexpr unsigned kSubBits = 6;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBits;
  static constexpr size_t kBuckets = (64 - kSubBits + 1) * kSubBuckets;

  Histogram() { reset(); }
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void record(uint64_t value) {
    buckets_[bucket_of(value)].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
    uint64_t seen = max_.load(std::memory_order_relaxed);
    while (value > seen && !max_.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
    }
    seen = min_.load(std::memory_order_relaxed);
    while (value < seen && !min_.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
    }
  }

  HistogramStats snapshot() const;
  // Value at quantile q in [0, 1] (nearest rank), 0 if empty.
  uint64_t quantile(double q) const;
  void reset();

  static size_t bucket_of(uint64_t value) {
    if (value < kSubBuckets) return static_cast<size_t>(value);
    const unsigned exponent = 63u - static_cast<unsigned>(__builtin_clzll(value));
    const uint64_t sub = (value >> (exponent - kSubBits)) & (kSubBuckets - 1);
    return static_cast<size_t>((exponent - kSubBits + 1) * kSubBuckets + sub);
  }
  static uint64_t bucket_low(size_t bucket);
  // The value reported for a bucket: exact below 64, else the midpoint.
  static uint64_t bucket_value(size_t bucket);

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_;
  std::atomic<uint64_t> sum_;
  std::atomic<uint64_t> max_;
  std::atomic<uint64_t> min_;
};

}  // namespace tandem::metrics
