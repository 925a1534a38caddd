// Handle retrieve from several threads at once (native only: the wasm build has no threads, so CMake adds this
// file to the native bench only).
//
//   handle_retrieve_mt/<store>_<T>threads_distinct   each thread retrieves its own 256 handles
//   handle_retrieve_mt/<store>_<T>threads_same       every thread retrieves the same handle (one hot room/track
//                                                    handle): the worst case for our per-slot pin CAS
// ns_per_op, p50 and p99 are the latency one thread sees per retrieve (over per-batch samples of all threads);
// ops_per_s is the aggregate over all threads. On the 2-vCPU VM, 4 threads are oversubscribed on purpose: a
// thread preempted while holding the baseline's mutex stalls the others, a lock-free retrieve does not.
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "handle_ops.h"
#include "harness.h"

namespace tandem::bench {
namespace {

constexpr size_t kPerThread = 256;
constexpr uint64_t kBatch = 2048;  // retrieves per sample

uint64_t process_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

struct ThreadResult {
  std::vector<double> samples;
  uint64_t ops = 0, busy_ns = 0, allocs = 0, first_ns = UINT64_MAX, last_ns = 0;
};

template <class Ops>
void run_mt(Harness& h, const std::string& store_name, Ops ops, unsigned threads, bool same) {
  const std::string variant =
      store_name + "_" + std::to_string(threads) + "threads_" + (same ? "same" : "distinct");
  if (!h.selected("handle_retrieve_mt", variant)) return;

  std::vector<std::vector<Handle>> handles(threads);
  const Handle shared = ops.store();
  for (auto& hs : handles) {
    for (size_t i = 0; i < kPerThread; ++i) hs.push_back(same ? shared : ops.store());
  }

  // phase 0: warm-up (not counted), 1: measuring, 2: stop.
  std::atomic<int> phase{0};
  std::vector<ThreadResult> results(threads);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ThreadResult& r = results[t];
      const std::vector<Handle>& mine = handles[t];
      Ops local = ops;
      for (;;) {
        const int p = phase.load(std::memory_order_acquire);
        if (p == 2) break;
        const uint64_t a0 = allocations();
        const uint64_t t0 = now_ns();
        for (uint64_t i = 0; i < kBatch; ++i) local.use(mine[i & (kPerThread - 1)]);
        const uint64_t t1 = now_ns();
        const uint64_t a1 = allocations();  // before push_back, whose growth is the harness's, not ours
        if (p == 1) {
          r.samples.push_back(static_cast<double>(t1 - t0) / kBatch);
          r.ops += kBatch;
          r.busy_ns += t1 - t0;
          r.allocs += a1 - a0;
          r.first_ns = std::min(r.first_ns, t0);
          r.last_ns = std::max(r.last_ns, t1);
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(h.options().warmup_ms * 1e3)));
  const uint64_t cpu0 = process_cpu_ns(), wall0 = now_ns();
  phase.store(1, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(h.options().min_time_ms * 1e3)));
  phase.store(2, std::memory_order_release);
  const uint64_t cpu1 = process_cpu_ns(), wall1 = now_ns();
  for (auto& th : pool) th.join();

  Measurement m{"handle_retrieve_mt", variant};
  std::vector<double> samples;
  uint64_t busy = 0, allocs = 0, first = UINT64_MAX, last = 0;
  for (const auto& r : results) {
    samples.insert(samples.end(), r.samples.begin(), r.samples.end());
    m.ops += r.ops;
    busy += r.busy_ns;
    allocs += r.allocs;
    first = std::min(first, r.first_ns);
    last = std::max(last, r.last_ns);
  }
  if (m.ops != 0) {
    m.ns_per_op = static_cast<double>(busy) / static_cast<double>(m.ops);
    m.ops_per_s = static_cast<double>(m.ops) * 1e9 / static_cast<double>(last - first);
    m.allocs_per_op = static_cast<double>(allocs) / static_cast<double>(m.ops);
    set_percentiles(m, samples);
  }
  // On a busy 2-vCPU VM the threads may take turns instead of running at once; say how parallel they were.
  char note[96];
  std::snprintf(note, sizeof note, "cpus busy on average: %.2f of %u threads",
                static_cast<double>(cpu1 - cpu0) / static_cast<double>(wall1 - wall0), threads);
  m.note = note;
  h.report(std::move(m));

  for (auto& hs : handles) {
    if (!same) for (Handle x : hs) ops.drop(x);
  }
  ops.drop(shared);
}

void run_thread_suite(Harness& h) {
  auto table = std::make_unique<HandleTable>();
  MutexMap map;
  for (unsigned threads : {2u, 4u}) {
    for (bool same : {false, true}) {
      run_mt(h, "tandem", TandemOps{*table}, threads, same);
      run_mt(h, "baseline_mutex_map", MutexMapOps{map}, threads, same);
    }
  }
}

const Suite kSuite(15, "handles_mt", run_thread_suite);

}  // namespace
}  // namespace tandem::bench
