// Named histograms, counters and gauges, snapshots of all of them, and their text exports.
//
// Metrics are created once (under a lock) and then recorded through the returned reference, which stays valid
// for the registry's lifetime: hot paths look a metric up at construction, never per operation. Names are
// stable snake_case; an optional label is written "key=value" (e.g. "kind=ping").
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics/histogram.h"

namespace tandem::metrics {

class Counter {
 public:
  void add(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }
  void reset() { v_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void set(int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void add(int64_t n) { v_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

struct NamedHistogram {
  std::string name, label;
  HistogramStats stats;
};
struct NamedCounter {
  std::string name, label;
  uint64_t value = 0;
};
struct NamedGauge {
  std::string name, label;
  int64_t value = 0;
};

struct Snapshot {
  uint64_t time_ns = 0;
  uint64_t interval_ns = 0;  // since the previous reset, or since the registry was created
  std::vector<NamedHistogram> histograms;
  std::vector<NamedCounter> counters;
  std::vector<NamedGauge> gauges;
};

class Registry {
 public:
  explicit Registry(uint64_t created_ns = 0) : last_reset_ns_(created_ns) {}

  Histogram& histogram(std::string_view name, std::string_view label = {});
  Counter& counter(std::string_view name, std::string_view label = {});
  Gauge& gauge(std::string_view name, std::string_view label = {});

  // A gauge whose value is computed when a snapshot is taken, for state that is cheaper to count on demand
  // than to track on every change (e.g. live handles). Returns an id for remove_gauge_fn(); the owner of the
  // state must remove it before the state goes away.
  using GaugeFn = std::function<int64_t()>;
  uint64_t gauge_fn(std::string_view name, std::string_view label, GaugeFn fn);
  void remove_gauge_fn(uint64_t id);

  // Histograms with no records are left out (an operation that never ran has no latency to show).
  Snapshot snapshot(uint64_t now_ns) const;
  // Zeroes histograms and counters; gauges describe current state and are kept.
  void reset(uint64_t now_ns);

 private:
  template <class M>
  struct Entry {
    std::string name, label;
    M metric;
  };
  template <class M>
  static M& find_or_add(std::deque<Entry<M>>& entries, std::string_view name, std::string_view label);

  mutable std::mutex mutex_;
  std::deque<Entry<Histogram>> histograms_;  // deque: references stay valid as it grows
  std::deque<Entry<Counter>> counters_;
  std::deque<Entry<Gauge>> gauges_;
  struct GaugeFnEntry {
    uint64_t id;
    std::string name, label;
    GaugeFn fn;
  };
  std::vector<GaugeFnEntry> gauge_fns_;
  uint64_t next_gauge_fn_ = 1;
  std::atomic<uint64_t> last_reset_ns_;
};

// One JSON object: {"time_ns":..,"interval_ns":..,"histograms":[{"name","label","count","mean_ns",...}],...}.
std::string to_json(const Snapshot& s);
// Prometheus text exposition 0.0.4: histograms as summaries named tandem_<name>_ns with quantile labels.
std::string to_prometheus(const Snapshot& s);
// The one-line summary the periodic report logs: "name{label} n=.. p50=.. p99=.. max=..; ...".
std::string summary_line(const Snapshot& s);

}  // namespace tandem::metrics
