#include "core/metrics/reporter.h"

namespace tandem::metrics {

Reporter::Reporter(platform::TaskRunner& runner, platform::Clock& clock, Registry& registry, OnReport on_report)
    : runner_(runner), clock_(clock), registry_(registry), on_report_(std::move(on_report)) {}

Reporter::~Reporter() { stop(); }

ReportSettings Reporter::configure(ReportSettings s) {
  std::lock_guard lock(mutex_);
  if (s.interval_ms == 0) s.interval_ms = settings_.interval_ms;
  settings_ = s;
  if (timer_ != 0) runner_.cancel(timer_);
  timer_ = 0;
  const uint64_t generation = ++generation_;
  if (!settings_.disabled && !stopped_) schedule(generation);
  return settings_;
}

ReportSettings Reporter::settings() const {
  std::lock_guard lock(mutex_);
  return settings_;
}

void Reporter::schedule(uint64_t generation) {
  // Called with mutex_ held.
  timer_ = runner_.post_delayed(uint64_t{settings_.interval_ms} * 1'000'000, [this, generation] {
    if (generation_.load() != generation) return;
    report_now();
    std::lock_guard lock(mutex_);
    if (generation_.load() == generation && !stopped_ && !settings_.disabled) schedule(generation);
  });
}

void Reporter::report_now() {
  const bool reset = settings().reset_on_report;
  const uint64_t now = clock_.now_ns();
  const Snapshot snap = registry_.snapshot(now);
  if (reset) registry_.reset(now);
  if (on_report_) on_report_(snap);
}

void Reporter::stop() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  ++generation_;
  if (timer_ != 0) runner_.cancel(timer_);
  timer_ = 0;
}

}  // namespace tandem::metrics
