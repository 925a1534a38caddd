// A deliberately small benchmark harness, identical on both targets (Google Benchmark has no wasm build, and one
// harness keeps native and wasm figures comparable).
//
// A case's body runs n operations per call. The harness warms it up, picks n so that one batch lasts about
// `batch_target_us` (so the clock's own cost and resolution vanish in the batch), then runs batches until
// `min_time_ms` has passed. It reports the mean ns/op over all timed batches, p50/p99 over the per-batch ns/op
// samples, ops/s, and heap allocations per op (global operator new is replaced in the bench binary; only the
// calling thread is counted). Optional before/after hooks run untimed and uncounted around every batch, for
// cases that need a set-up (e.g. handles to drop) or a clean-up (e.g. draining queues).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace tandem::bench {

struct Options {
  double min_time_ms = 300;     // timed time per case
  double warmup_ms = 50;        // untimed, also fills pools and caches
  double batch_target_us = 100; // one sample
  std::string filter;           // run only cases whose "bench/variant" contains this
};

struct Measurement {
  Measurement(std::string b, std::string v) : bench(std::move(b)), variant(std::move(v)) {}
  std::string bench, variant;
  uint64_t ops = 0;
  double ns_per_op = 0, p50_ns = 0, p99_ns = 0, ops_per_s = 0, allocs_per_op = 0;
  std::string note;  // optional; printed after the row and as "note" in the JSON line
  // Optional figures that do not fit the per-op columns (Mbit/s, p999, CPU per Gbit, ...): extra numeric fields
  // of the JSON line, after the usual ones, so readers of the usual fields (bench/run.mjs) are unaffected.
  std::vector<std::pair<std::string, double>> extra;
};

struct Case {
  Case(std::string b, std::string v, std::function<void(uint64_t)> fn)
      : bench(std::move(b)), variant(std::move(v)), body(std::move(fn)) {}
  std::string bench, variant;
  std::function<void(uint64_t n)> body;    // timed: n operations
  std::function<void(uint64_t n)> before;  // untimed, optional
  std::function<void(uint64_t n)> after;   // untimed, optional
  uint64_t max_batch = uint64_t{1} << 24;  // for bodies that need per-op storage sized in advance
};

class Harness {
 public:
  explicit Harness(Options options);

  const Options& options() const { return options_; }
  bool selected(const std::string& bench, const std::string& variant) const;
  // Runs one case (if selected) and prints its table row.
  void run(const Case& c);
  // Adds a measurement taken by the caller (the multi-threaded cases) and prints its row.
  void report(Measurement m);
  // One JSON line per measurement, in run order.
  void print_json() const;

  // "native" or "wasm" (from the build; see bench/CMakeLists.txt).
  static const char* target();

 private:
  Options options_;
  std::vector<Measurement> results_;
  bool header_printed_ = false;
};

// Steady-clock nanoseconds (performance.now() under node in wasm).
uint64_t now_ns();
// Allocations made by the calling thread so far.
uint64_t allocations();
// Fills p50/p99 of `m` from per-batch ns/op samples (sorted in place).
void set_percentiles(Measurement& m, std::vector<double>& samples);

// Keeps the compiler from deleting a computation whose result is otherwise unused, without adding a store to
// memory: an empty asm statement that claims to read the value. Works with g++ and with emscripten's clang.
template <class T>
inline void keep(const T& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}

// Registration: each bench_*.cpp adds its suite with a static Suite object, so a file only built for one
// target (bench_threads.cpp, native only) needs no #ifdef anywhere. Suites run in `order`.
using SuiteFn = void (*)(Harness&);
struct Suite {
  Suite(int order, const char* name, SuiteFn fn);
};
struct RegisteredSuite {
  int order;
  const char* name;
  SuiteFn fn;
};
std::vector<RegisteredSuite>& suites();

}  // namespace tandem::bench
