#include "core/ffi/metrics_proto.h"

#include "proto/tandem.pb.h"

namespace tandem::ffi {

void to_proto(const metrics::Snapshot& s, api::MetricsReport& out) {
  out.set_time_ns(s.time_ns);
  out.set_interval_ns(s.interval_ns);
  for (const auto& h : s.histograms) {
    auto* m = out.add_histograms();
    m->set_name(h.name);
    m->set_label(h.label);
    m->set_count(h.stats.count);
    m->set_mean_ns(h.stats.mean);
    m->set_min_ns(h.stats.min);
    m->set_p50_ns(h.stats.p50);
    m->set_p90_ns(h.stats.p90);
    m->set_p99_ns(h.stats.p99);
    m->set_p999_ns(h.stats.p999);
    m->set_max_ns(h.stats.max);
  }
  for (const auto& c : s.counters) {
    auto* m = out.add_counters();
    m->set_name(c.name);
    m->set_label(c.label);
    m->set_value(c.value);
  }
  for (const auto& g : s.gauges) {
    auto* m = out.add_gauges();
    m->set_name(g.name);
    m->set_label(g.label);
    m->set_value(g.value);
  }
}

}  // namespace tandem::ffi
