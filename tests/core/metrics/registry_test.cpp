#include "core/metrics/registry.h"

#include <catch2/catch.hpp>

#include "core/metrics/reporter.h"
#include "support/fake_platform.h"

using namespace tandem;

TEST_CASE("registry returns the same metric for the same name and label", "[metrics]") {
  metrics::Registry r;
  auto& a = r.histogram("ffi_request", "kind=ping");
  auto& b = r.histogram("ffi_request", "kind=ping");
  auto& c = r.histogram("ffi_request", "kind=subscribe");
  CHECK(&a == &b);
  CHECK(&a != &c);
  CHECK(&r.counter("x") == &r.counter("x"));
}

TEST_CASE("snapshot leaves out empty histograms and reset keeps gauges", "[metrics]") {
  metrics::Registry r(100);
  r.histogram("never");
  r.histogram("send_event").record(150);
  r.counter("event_bus_delivered").add(3);
  r.gauge("handles_live", "type=subscription").set(2);
  auto s = r.snapshot(1100);
  REQUIRE(s.histograms.size() == 1);
  CHECK(s.histograms[0].name == "send_event");
  CHECK(s.interval_ns == 1000);
  r.reset(1100);
  s = r.snapshot(1200);
  CHECK(s.histograms.empty());
  CHECK(s.counters[0].value == 0);
  CHECK(s.gauges[0].value == 2);
  CHECK(s.interval_ns == 100);
}

TEST_CASE("JSON and Prometheus exports", "[metrics]") {
  metrics::Registry r(0);
  for (uint64_t v = 1; v <= 100; ++v) r.histogram("ffi_request", "kind=ping").record(v * 10);
  r.counter("event_bus_dropped", "policy=drop_oldest").add(7);
  r.gauge("handles_live", "type=subscription").set(3);
  const auto s = r.snapshot(5'000'000'000);

  const std::string json = metrics::to_json(s);
  CHECK(json.find("\"name\":\"ffi_request\",\"label\":\"kind=ping\",\"count\":100") != std::string::npos);
  // 500 falls in bucket [500, 504): the histogram reports its midpoint.
  CHECK(json.find("\"p50_ns\":501") != std::string::npos);
  CHECK(json.find("\"max_ns\":1000") != std::string::npos);
  CHECK(json.front() == '{');
  CHECK(json.back() == '}');

  const std::string prom = metrics::to_prometheus(s);
  CHECK(prom.find("# TYPE tandem_ffi_request_ns summary\n") != std::string::npos);
  CHECK(prom.find("tandem_ffi_request_ns{kind=\"ping\",quantile=\"0.5\"} 501\n") != std::string::npos);
  CHECK(prom.find("tandem_ffi_request_ns_count{kind=\"ping\"} 100\n") != std::string::npos);
  CHECK(prom.find("tandem_ffi_request_ns_sum{kind=\"ping\"} 50500\n") != std::string::npos);
  CHECK(prom.find("tandem_event_bus_dropped_total{policy=\"drop_oldest\"} 7\n") != std::string::npos);
  CHECK(prom.find("# TYPE tandem_handles_live gauge\ntandem_handles_live{type=\"subscription\"} 3\n") !=
        std::string::npos);

  const std::string line = metrics::summary_line(s);
  CHECK(line.find("ffi_request{kind=ping} n=100 p50=501ns") != std::string::npos);
}

TEST_CASE("JSON escapes names", "[metrics]") {
  metrics::Registry r;
  r.counter("a\"b\\c\n").add(1);
  const std::string json = metrics::to_json(r.snapshot(0));
  CHECK(json.find(R"("a\"b\\c\u000a")") != std::string::npos);
}

TEST_CASE("periodic reports follow the configured interval", "[metrics]") {
  test::FakePlatform p;
  metrics::Registry r(p.clock.now_ns());
  int reports = 0;
  uint64_t last_count = 0;
  metrics::Reporter reporter(p.runner, p.clock, r, [&](const metrics::Snapshot& s) {
    ++reports;
    last_count = s.histograms.empty() ? 0 : s.histograms[0].stats.count;
  });
  reporter.configure({1000, false, false});  // 1 s
  r.histogram("op").record(5);
  p.runner.advance(999'000'000);
  CHECK(reports == 0);
  p.runner.advance(1'000'000);
  CHECK(reports == 1);
  CHECK(last_count == 1);
  p.runner.advance(3'000'000'000);
  CHECK(reports == 4);

  SECTION("reset on report") {
    reporter.configure({0, false, true});
    p.runner.advance(1'000'000'000);
    CHECK(reports == 5);
    CHECK(last_count == 1);
    p.runner.advance(1'000'000'000);
    CHECK(last_count == 0);  // reset by the previous report
  }
  SECTION("disabled, then re-enabled") {
    reporter.configure({0, true, false});
    p.runner.advance(10'000'000'000);
    CHECK(reports == 4);
    reporter.configure({500, false, false});
    p.runner.advance(1'000'000'000);
    CHECK(reports == 6);
  }
  SECTION("stop") {
    reporter.stop();
    p.runner.advance(10'000'000'000);
    CHECK(reports == 4);
  }
}
