// The periodic metrics report: every interval (default 10 s) takes a snapshot, hands it to `on_report` (the
// core logs a line and publishes a METRICS_REPORT event) and optionally resets the registry.
// Timers run on the platform's TaskRunner; configure() may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>

#include "core/metrics/registry.h"
#include "tandem/platform/platform.h"

namespace tandem::metrics {

struct ReportSettings {
  uint32_t interval_ms = 10'000;
  bool disabled = false;
  bool reset_on_report = false;
};

class Reporter {
 public:
  using OnReport = std::function<void(const Snapshot&)>;
  Reporter(platform::TaskRunner& runner, platform::Clock& clock, Registry& registry, OnReport on_report);
  ~Reporter();

  // Applies new settings and restarts the period from now. interval_ms 0 keeps the current interval.
  ReportSettings configure(ReportSettings settings);
  ReportSettings settings() const;
  // Takes a report now (on the calling thread), honouring reset_on_report.
  void report_now();
  // No further periodic reports (idempotent).
  void stop();

 private:
  void schedule(uint64_t generation);

  platform::TaskRunner& runner_;
  platform::Clock& clock_;
  Registry& registry_;
  OnReport on_report_;
  mutable std::mutex mutex_;
  ReportSettings settings_;
  platform::TimerId timer_ = 0;
  std::atomic<uint64_t> generation_{0};  // bumped by configure/stop so a stale timer does nothing
  bool stopped_ = false;
};

}  // namespace tandem::metrics
