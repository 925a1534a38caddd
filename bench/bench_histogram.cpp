// Histogram record (target < 10 ns natively, so it can stay always on), with the floors that explain it:
//   histogram_record/tandem                   Histogram::record over 4096 latencies spread log-uniformly over
//                                             20 ns .. 10 ms (realistic: the bucket changes every call)
//   histogram_record/tandem_same_value        the same value every call (best case for caches and branches)
//   histogram_record/floor_one_atomic_add     one relaxed fetch_add on a shared counter: the least any record
//                                             into shared memory costs on this machine
//   histogram_record/floor_single_writer      bucket_of + plain (non-atomic) bucket and sum increments: what a
//                                             record costs when each thread owns its buckets
//   clock_now/steady_clock                    one read of the real clock
//   scoped_timer/steady_clock                 ScopedTimer around nothing: two clock reads + one record, the
//                                             price of timing one operation
#include <atomic>
#include <cmath>
#include <memory>
#include <vector>

#include "clocks.h"
#include "core/metrics/histogram.h"
#include "core/metrics/timer.h"
#include "harness.h"

namespace tandem::bench {
namespace {

constexpr size_t kValues = 4096;

std::vector<uint64_t> latencies() {
  std::vector<uint64_t> v(kValues);
  uint64_t state = 0x9e3779b97f4a7c15ull;  // fixed seed: the same values on both targets
  for (auto& x : v) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const double u = static_cast<double>(state >> 11) / 9007199254740992.0;  // [0, 1)
    x = static_cast<uint64_t>(20.0 * std::pow(10.0 / 20e-6, u));            // 20 ns .. 10 ms
  }
  return v;
}

void run_histogram_suite(Harness& h) {
  const std::vector<uint64_t> values = latencies();
  auto hist = std::make_unique<metrics::Histogram>();

  h.run({"histogram_record", "tandem", [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) hist->record(values[i & (kValues - 1)]);
         }});
  h.run({"histogram_record", "tandem_same_value", [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) hist->record(1234);
         }});

  std::atomic<uint64_t> counter{0};
  h.run({"histogram_record", "floor_one_atomic_add", [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) counter.fetch_add(values[i & (kValues - 1)], std::memory_order_relaxed);
         }});

  auto buckets = std::make_unique<std::array<uint64_t, metrics::Histogram::kBuckets>>();
  uint64_t sum = 0;
  h.run({"histogram_record", "floor_single_writer", [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) {
             const uint64_t x = values[i & (kValues - 1)];
             ++(*buckets)[metrics::Histogram::bucket_of(x)];
             sum += x;
             keep(sum);  // the increments must happen per call, as a record's would
           }
         }});

  SteadyClock steady;
  platform::Clock& platform = platform_clock();
  h.run({"clock_now", "steady_clock", [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) keep(steady.now_ns());
         }});
  h.run({"clock_now", "platform", [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) keep(platform.now_ns());
         }});
  h.run({"scoped_timer", "platform", [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) metrics::ScopedTimer t(platform, *hist);
         }});
  keep(hist->snapshot().count);
}

const Suite kSuite(30, "histogram", run_histogram_suite);

}  // namespace
}  // namespace tandem::bench
