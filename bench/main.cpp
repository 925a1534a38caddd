// tandem_bench: runs every registered suite and prints a table, then one JSON line per case.
//   --filter TEXT     only cases whose "bench/variant" contains TEXT
//   --min-time-ms N   timed milliseconds per case (default 300)
//   --warmup-ms N     untimed warm-up per case (default 50)
//   --batch-us N      target length of one timed batch, i.e. one p50/p99 sample (default 100)
//   --quick           --min-time-ms 60 --warmup-ms 10 (a smoke run; figures are noisier)
// Natively: build/<dir>/bench/tandem_bench. Wasm: node --no-experimental-fetch build/<dir>/bench/tandem_bench.js
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "harness.h"

int main(int argc, char** argv) {
  using namespace tandem::bench;
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--filter") {
      o.filter = value();
    } else if (a == "--min-time-ms") {
      o.min_time_ms = std::atof(value());
    } else if (a == "--warmup-ms") {
      o.warmup_ms = std::atof(value());
    } else if (a == "--batch-us") {
      o.batch_target_us = std::atof(value());
    } else if (a == "--quick") {
      o.min_time_ms = 60;
      o.warmup_ms = 10;
    } else {
      std::fprintf(stderr, "unknown argument %s (see bench/main.cpp)\n", a.c_str());
      return 2;
    }
  }
  Harness h(o);
  auto all = suites();
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.order < b.order; });
  for (const auto& s : all) s.fn(h);
  h.print_json();
  return 0;
}
