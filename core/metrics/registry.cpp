#include "core/metrics/registry.h"

#include <cinttypes>
#include <cstdio>

namespace tandem::metrics {

template <class M>
M& Registry::find_or_add(std::deque<Entry<M>>& entries, std::string_view name, std::string_view label) {
  for (auto& e : entries) {
    if (e.name == name && e.label == label) return e.metric;
  }
  auto& e = entries.emplace_back();
  e.name = name;
  e.label = label;
  return e.metric;
}

Histogram& Registry::histogram(std::string_view name, std::string_view label) {
  std::lock_guard lock(mutex_);
  return find_or_add(histograms_, name, label);
}

Counter& Registry::counter(std::string_view name, std::string_view label) {
  std::lock_guard lock(mutex_);
  return find_or_add(counters_, name, label);
}

Gauge& Registry::gauge(std::string_view name, std::string_view label) {
  std::lock_guard lock(mutex_);
  return find_or_add(gauges_, name, label);
}

uint64_t Registry::gauge_fn(std::string_view name, std::string_view label, GaugeFn fn) {
  std::lock_guard lock(mutex_);
  const uint64_t id = next_gauge_fn_++;
  gauge_fns_.push_back({id, std::string(name), std::string(label), std::move(fn)});
  return id;
}

void Registry::remove_gauge_fn(uint64_t id) {
  std::lock_guard lock(mutex_);
  std::erase_if(gauge_fns_, [id](const GaugeFnEntry& e) { return e.id == id; });
}

Snapshot Registry::snapshot(uint64_t now_ns) const {
  Snapshot s;
  s.time_ns = now_ns;
  const uint64_t since = last_reset_ns_.load(std::memory_order_relaxed);
  s.interval_ns = now_ns > since ? now_ns - since : 0;
  std::lock_guard lock(mutex_);
  for (const auto& e : histograms_) {
    HistogramStats stats = e.metric.snapshot();
    if (stats.count != 0) s.histograms.push_back({e.name, e.label, stats});
  }
  for (const auto& e : counters_) s.counters.push_back({e.name, e.label, e.metric.value()});
  for (const auto& e : gauges_) s.gauges.push_back({e.name, e.label, e.metric.value()});
  for (const auto& e : gauge_fns_) s.gauges.push_back({e.name, e.label, e.fn()});
  return s;
}

void Registry::reset(uint64_t now_ns) {
  std::lock_guard lock(mutex_);
  for (auto& e : histograms_) e.metric.reset();
  for (auto& e : counters_) e.metric.reset();
  last_reset_ns_.store(now_ns, std::memory_order_relaxed);
}

namespace {

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

void appendf(std::string& out, const char* fmt, auto... args) {
  char buf[256];
  const int n = std::snprintf(buf, sizeof buf, fmt, args...);
  if (n > 0) out.append(buf, static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : sizeof buf - 1);
}

void append_name_label(std::string& out, const std::string& name, const std::string& label) {
  out += "{\"name\":";
  append_json_string(out, name);
  out += ",\"label\":";
  append_json_string(out, label);
}

// "kind=ping" -> kind="ping" (escaped); "" -> "".
std::string prometheus_labels(const std::string& label, std::string_view extra = {}) {
  std::string out;
  if (!label.empty()) {
    const auto eq = label.find('=');
    out += eq == std::string::npos ? std::string("label") : label.substr(0, eq);
    out += "=\"";
    for (char c : (eq == std::string::npos ? label : label.substr(eq + 1))) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  if (!extra.empty()) {
    if (!out.empty()) out += ',';
    out += extra;
  }
  return out.empty() ? out : "{" + out + "}";
}

}  // namespace

std::string to_json(const Snapshot& s) {
  std::string out;
  out.reserve(256 + 200 * s.histograms.size() + 80 * (s.counters.size() + s.gauges.size()));
  appendf(out, "{\"time_ns\":%" PRIu64 ",\"interval_ns\":%" PRIu64 ",\"histograms\":[", s.time_ns,
          s.interval_ns);
  for (size_t i = 0; i < s.histograms.size(); ++i) {
    const auto& h = s.histograms[i];
    if (i) out += ',';
    append_name_label(out, h.name, h.label);
    appendf(out,
            ",\"count\":%" PRIu64 ",\"mean_ns\":%.1f,\"min_ns\":%" PRIu64 ",\"p50_ns\":%" PRIu64
            ",\"p90_ns\":%" PRIu64 ",\"p99_ns\":%" PRIu64 ",\"p999_ns\":%" PRIu64 ",\"max_ns\":%" PRIu64 "}",
            h.stats.count, h.stats.mean, h.stats.min, h.stats.p50, h.stats.p90, h.stats.p99, h.stats.p999,
            h.stats.max);
  }
  out += "],\"counters\":[";
  for (size_t i = 0; i < s.counters.size(); ++i) {
    if (i) out += ',';
    append_name_label(out, s.counters[i].name, s.counters[i].label);
    appendf(out, ",\"value\":%" PRIu64 "}", s.counters[i].value);
  }
  out += "],\"gauges\":[";
  for (size_t i = 0; i < s.gauges.size(); ++i) {
    if (i) out += ',';
    append_name_label(out, s.gauges[i].name, s.gauges[i].label);
    appendf(out, ",\"value\":%" PRId64 "}", s.gauges[i].value);
  }
  out += "]}";
  return out;
}

std::string to_prometheus(const Snapshot& s) {
  std::string out;
  std::string last_name;
  for (const auto& h : s.histograms) {
    const std::string metric = "tandem_" + h.name + "_ns";
    if (h.name != last_name) {
      out += "# TYPE " + metric + " summary\n";
      last_name = h.name;
    }
    const std::pair<const char*, uint64_t> qs[] = {
        {"0.5", h.stats.p50}, {"0.9", h.stats.p90}, {"0.99", h.stats.p99}, {"0.999", h.stats.p999}};
    for (const auto& [q, v] : qs) {
      out += metric + prometheus_labels(h.label, std::string("quantile=\"") + q + "\"");
      appendf(out, " %" PRIu64 "\n", v);
    }
    out += metric + "_sum" + prometheus_labels(h.label);
    appendf(out, " %.0f\n", h.stats.mean * static_cast<double>(h.stats.count));
    out += metric + "_count" + prometheus_labels(h.label);
    appendf(out, " %" PRIu64 "\n", h.stats.count);
  }
  last_name.clear();
  for (const auto& c : s.counters) {
    const std::string metric = "tandem_" + c.name + "_total";
    if (c.name != last_name) {
      out += "# TYPE " + metric + " counter\n";
      last_name = c.name;
    }
    out += metric + prometheus_labels(c.label);
    appendf(out, " %" PRIu64 "\n", c.value);
  }
  last_name.clear();
  for (const auto& g : s.gauges) {
    const std::string metric = "tandem_" + g.name;
    if (g.name != last_name) {
      out += "# TYPE " + metric + " gauge\n";
      last_name = g.name;
    }
    out += metric + prometheus_labels(g.label);
    appendf(out, " %" PRId64 "\n", g.value);
  }
  return out;
}

std::string summary_line(const Snapshot& s) {
  std::string out;
  appendf(out, "metrics over %.1f s:", static_cast<double>(s.interval_ns) / 1e9);
  for (const auto& h : s.histograms) {
    out += ' ' + h.name;
    if (!h.label.empty()) out += '{' + h.label + '}';
    appendf(out, " n=%" PRIu64 " p50=%" PRIu64 "ns p99=%" PRIu64 "ns max=%" PRIu64 "ns;", h.stats.count,
            h.stats.p50, h.stats.p99, h.stats.max);
  }
  for (const auto& c : s.counters) {
    if (c.value == 0) continue;
    out += ' ' + c.name;
    if (!c.label.empty()) out += '{' + c.label + '}';
    appendf(out, "=%" PRIu64 ";", c.value);
  }
  return out;
}

}  // namespace tandem::metrics
