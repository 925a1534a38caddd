#include "core/metrics/histogram.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

using tandem::metrics::Histogram;

namespace {
uint64_t exact_quantile(std::vector<uint64_t> sorted, double q) {
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

void check_against_exact(const std::vector<uint64_t>& values) {
  Histogram h;
  for (uint64_t v : values) h.record(v);
  std::vector<uint64_t> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  const auto s = h.snapshot();
  REQUIRE(s.count == values.size());
  CHECK(s.min == sorted.front());
  CHECK(s.max == sorted.back());
  const std::pair<double, uint64_t> pairs[] = {{0.5, s.p50}, {0.9, s.p90}, {0.99, s.p99}, {0.999, s.p999}};
  for (auto [q, got] : pairs) {
    const double want = static_cast<double>(exact_quantile(sorted, q));
    INFO("q=" << q << " exact=" << want << " histogram=" << got);
    CHECK(std::abs(static_cast<double>(got) - want) <= 0.01 * want);
  }
  double sum = 0;
  for (uint64_t v : values) sum += static_cast<double>(v);
  CHECK(s.mean == Approx(sum / static_cast<double>(values.size())).epsilon(1e-9));
}
}  // namespace

TEST_CASE("histogram buckets are contiguous and narrow", "[metrics]") {
  for (size_t b = 0; b + 1 < Histogram::kBuckets; ++b) {
    const uint64_t lo = Histogram::bucket_low(b), next = Histogram::bucket_low(b + 1);
    REQUIRE(next > lo);
    REQUIRE(Histogram::bucket_of(lo) == b);
    REQUIRE(Histogram::bucket_of(next - 1) == b);
    // Width is at most 1/64 of the lower bound: the midpoint is within 0.78% of any value in the bucket.
    if (lo >= Histogram::kSubBuckets) REQUIRE((next - lo) * 64 <= lo);
  }
  REQUIRE(Histogram::bucket_of(UINT64_MAX) == Histogram::kBuckets - 1);
}

TEST_CASE("histogram percentiles are within 1% of exact ones", "[metrics]") {
  std::mt19937_64 rng(7);
  SECTION("uniform 0..10 ms") {
    std::uniform_int_distribution<uint64_t> d(0, 10'000'000);
    std::vector<uint64_t> v(100'000);
    for (auto& x : v) x = d(rng);
    check_against_exact(v);
  }
  SECTION("log-normal latencies (heavy tail)") {
    std::lognormal_distribution<double> d(8.0, 1.5);
    std::vector<uint64_t> v(200'000);
    for (auto& x : v) x = static_cast<uint64_t>(d(rng));
    check_against_exact(v);
  }
  SECTION("exponential, small values near the exact range") {
    std::exponential_distribution<double> d(1.0 / 80);
    std::vector<uint64_t> v(50'000);
    for (auto& x : v) x = static_cast<uint64_t>(d(rng));
    check_against_exact(v);
  }
  SECTION("large values (hours)") {
    std::uniform_int_distribution<uint64_t> d(uint64_t{1} << 40, uint64_t{1} << 48);
    std::vector<uint64_t> v(20'000);
    for (auto& x : v) x = d(rng);
    check_against_exact(v);
  }
}

TEST_CASE("empty histogram and reset", "[metrics]") {
  Histogram h;
  CHECK(h.snapshot().count == 0);
  CHECK(h.quantile(0.5) == 0);
  h.record(100);
  h.record(200);
  CHECK(h.snapshot().count == 2);
  CHECK(h.quantile(1.0) == 200);
  h.reset();
  const auto s = h.snapshot();
  CHECK(s.count == 0);
  CHECK(s.max == 0);
}

TEST_CASE("histogram records concurrently without losing counts", "[metrics][threads]") {
  Histogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (uint64_t i = 0; i < 100'000; ++i) h.record(i * (t + 1));
    });
  }
  for (auto& t : threads) t.join();
  const auto s = h.snapshot();
  CHECK(s.count == 400'000);
  CHECK(s.max == 99'999 * 4);
  CHECK(s.min == 0);
}
