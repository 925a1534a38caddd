#include "harness.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "support/alloc_counter.h"  // tests/support: the counting operator new is linked into the bench too

#ifndef TANDEM_BENCH_TARGET
#error "bench/CMakeLists.txt defines TANDEM_BENCH_TARGET as \"native\" or \"wasm\""
#endif

namespace tandem::bench {

uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

uint64_t allocations() { return tandem::test::allocations_on_this_thread(); }

const char* Harness::target() { return TANDEM_BENCH_TARGET; }

std::vector<RegisteredSuite>& suites() {
  static std::vector<RegisteredSuite> all;
  return all;
}

Suite::Suite(int order, const char* name, SuiteFn fn) { suites().push_back({order, name, fn}); }

Harness::Harness(Options options) : options_(std::move(options)) {}

bool Harness::selected(const std::string& bench, const std::string& variant) const {
  return options_.filter.empty() || (bench + "/" + variant).find(options_.filter) != std::string::npos;
}

void set_percentiles(Measurement& m, std::vector<double>& samples) {
  if (samples.empty()) return;
  std::sort(samples.begin(), samples.end());
  // Nearest rank, as the core's histograms do.
  auto at = [&](double q) {
    const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(samples.size())));
    return samples[std::clamp<size_t>(rank, 1, samples.size()) - 1];
  };
  m.p50_ns = at(0.50);
  m.p99_ns = at(0.99);
}

void Harness::run(const Case& c) {
  if (!selected(c.bench, c.variant)) return;
  const uint64_t batch_target = static_cast<uint64_t>(options_.batch_target_us * 1e3);
  auto batch = [&](uint64_t n, uint64_t* allocs) {
    if (c.before) c.before(n);
    const uint64_t a0 = allocations();
    const uint64_t t0 = now_ns();
    c.body(n);
    const uint64_t t1 = now_ns();
    const uint64_t a1 = allocations();
    if (c.after) c.after(n);
    if (allocs != nullptr) *allocs += a1 - a0;
    return t1 - t0;
  };

  // Warm-up doubles as calibration: grow n until a batch lasts batch_target, and keep going for warmup_ms so
  // pools, caches and branch predictors reach their steady state before anything is counted.
  uint64_t n = 1;
  const uint64_t warm_end = now_ns() + static_cast<uint64_t>(options_.warmup_ms * 1e6);
  for (;;) {
    const uint64_t t = batch(n, nullptr);
    if (t < batch_target && n < c.max_batch) {
      const uint64_t scaled = t == 0 ? n * 8 : n * batch_target / t + 1;
      n = std::min<uint64_t>(c.max_batch, std::max<uint64_t>(n * 2, std::min<uint64_t>(scaled, n * 8)));
      continue;
    }
    if (now_ns() >= warm_end) break;
  }

  Measurement m{c.bench, c.variant};
  std::vector<double> samples;
  uint64_t timed = 0, allocs = 0;
  const uint64_t min_time = static_cast<uint64_t>(options_.min_time_ms * 1e6);
  while (timed < min_time || samples.size() < 20) {
    const uint64_t t = batch(n, &allocs);
    timed += t;
    m.ops += n;
    samples.push_back(static_cast<double>(t) / static_cast<double>(n));
  }
  m.ns_per_op = static_cast<double>(timed) / static_cast<double>(m.ops);
  m.ops_per_s = 1e9 / m.ns_per_op;
  m.allocs_per_op = static_cast<double>(allocs) / static_cast<double>(m.ops);
  set_percentiles(m, samples);
  report(std::move(m));
}

void Harness::report(Measurement m) {
  if (!header_printed_) {
    std::printf("tandem_bench (%s): batches of ~%.0f us, >= %.0f ms timed per case; p50/p99 over per-batch ns/op\n",
                target(), options_.batch_target_us, options_.min_time_ms);
    std::printf("%-28s %-34s %11s %11s %11s %14s %10s\n", "bench", "variant", "ns/op", "p50 ns", "p99 ns", "ops/s",
                "allocs/op");
    header_printed_ = true;
  }
  std::printf("%-28s %-34s %11.2f %11.2f %11.2f %14.0f %10.4g%s%s\n", m.bench.c_str(), m.variant.c_str(),
              m.ns_per_op, m.p50_ns, m.p99_ns, m.ops_per_s, m.allocs_per_op, m.note.empty() ? "" : "  ",
              m.note.c_str());
  std::fflush(stdout);
  results_.push_back(std::move(m));
}

void Harness::print_json() const {
  for (const auto& m : results_) {
    std::string extra;
    for (const auto& [name, value] : m.extra) {
      char field[128];
      std::snprintf(field, sizeof(field), ",\"%s\":%.6g", name.c_str(), value);
      extra += field;
    }
    std::printf(
        "{\"bench\":\"%s\",\"variant\":\"%s\",\"target\":\"%s\",\"ns_per_op\":%.3f,\"p50_ns\":%.3f,"
        "\"p99_ns\":%.3f,\"ops_per_s\":%.0f,\"allocs_per_op\":%.6g,\"ops\":%llu%s%s%s%s}\n",
        m.bench.c_str(), m.variant.c_str(), target(), m.ns_per_op, m.p50_ns, m.p99_ns, m.ops_per_s, m.allocs_per_op,
        static_cast<unsigned long long>(m.ops), m.note.empty() ? "" : ",\"note\":\"", m.note.c_str(),
        m.note.empty() ? "" : "\"", extra.c_str());
  }
  std::fflush(stdout);
}

}  // namespace tandem::bench
