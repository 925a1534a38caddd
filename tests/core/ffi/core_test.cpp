#include "core/ffi/core.h"

#include <catch2/catch.hpp>

#include "proto/tandem.pb.h"
#include "support/alloc_counter.h"
#include "support/fake_platform.h"

using namespace tandem;

namespace {

struct Received {
  uint64_t subscription;
  api::FfiEvent event;
};

struct CoreFixture {
  test::FakePlatform p;
  std::vector<Received> events;
  std::unique_ptr<ffi::Core> core;
  std::string response_bytes;

  explicit CoreFixture(const api::InitializeOptions& options = {}) {
    const std::string bytes = options.SerializeAsString();
    auto c = ffi::Core::create(p.platform, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()},
                               [this](uint64_t sub, std::span<const uint8_t> b) {
                                 Received r{sub, {}};
                                 CHECK(r.event.ParseFromArray(b.data(), static_cast<int>(b.size())));
                                 events.push_back(std::move(r));
                               });
    REQUIRE(c.ok());
    core = std::move(c).value();
  }

  api::FfiResponse raw(const std::string& bytes) {
    core->request({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, response_bytes);
    api::FfiResponse resp;
    REQUIRE(resp.ParseFromString(response_bytes));
    return resp;
  }
  api::FfiResponse send(const api::FfiRequest& req) { return raw(req.SerializeAsString()); }

  uint64_t subscribe(std::initializer_list<api::EventKind> kinds, std::optional<uint64_t> key = {},
                     uint32_t capacity = 0) {
    api::FfiRequest req;
    auto* f = req.mutable_subscribe()->mutable_filter();
    for (auto k : kinds) f->add_kinds(k);
    if (key) {
      f->set_has_key(true);
      f->set_key(*key);
    }
    req.mutable_subscribe()->set_queue_capacity(capacity);
    auto resp = send(req);
    REQUIRE(resp.error() == api::OK);
    return resp.subscribe().subscription();
  }

  std::vector<Received> of(api::FfiEvent::MessageCase kind) const {
    std::vector<Received> out;
    for (const auto& e : events) if (e.event.message_case() == kind) out.push_back(e);
    return out;
  }
};

api::FfiRequest ping(const std::string& payload) {
  api::FfiRequest req;
  req.mutable_ping()->set_payload(payload);
  req.mutable_ping()->set_sent_ns(123);
  return req;
}

}  // namespace

TEST_CASE("ping echoes bytes and is timed", "[ffi]") {
  CoreFixture f;
  auto resp = f.send(ping("hello"));
  CHECK(resp.error() == api::OK);
  CHECK(resp.ping().payload() == "hello");
  CHECK(resp.ping().sent_ns() == 123);
  CHECK(resp.ping().core_now_ns() == f.p.clock.now_ns());
  CHECK(f.core->metrics().histogram("ffi_request", "kind=ping").snapshot().count == 1);
}

TEST_CASE("malformed and unknown requests are errors, never crashes", "[ffi]") {
  CoreFixture f;
  SECTION("garbage bytes") {
    auto resp = f.raw(std::string("\xff\xff\xff\xff\x0f\x01", 6));
    CHECK(resp.error() == api::MALFORMED_REQUEST);
    CHECK_FALSE(resp.error_message().empty());
  }
  SECTION("truncated message") {
    std::string bytes = ping("a longer payload").SerializeAsString();
    bytes.resize(bytes.size() - 3);
    CHECK(f.raw(bytes).error() == api::MALFORMED_REQUEST);
  }
  SECTION("empty request") { CHECK(f.raw("").error() == api::UNKNOWN_REQUEST); }
  SECTION("a request kind this build does not know") {
    // Field 99, length-delimited, empty: a valid protobuf message with an unknown oneof member.
    CHECK(f.raw(std::string("\x9a\x06\x00", 3)).error() == api::UNKNOWN_REQUEST);
  }
  CHECK(f.core->metrics().counter("ffi_request_errors").value() == 1);
  CHECK(f.core->metrics().histogram("ffi_request", "kind=invalid").snapshot().count == 1);
}

TEST_CASE("subscriptions filter events; dropping the handle unsubscribes", "[ffi]") {
  CoreFixture f;
  const uint64_t all = f.subscribe({api::SYNTHETIC_EVENT});
  const uint64_t only7 = f.subscribe({api::SYNTHETIC_EVENT}, 7);
  CHECK(handle_type_of(all) == HandleType::subscription);
  CHECK(f.core->handles().live(HandleType::subscription) == 2);

  api::FfiRequest load;
  load.mutable_load_generator()->set_events(10);
  load.mutable_load_generator()->add_keys(7);
  load.mutable_load_generator()->add_keys(8);
  auto resp = f.send(load);
  REQUIRE(resp.error() == api::OK);
  CHECK(resp.async_id() != 0);
  f.p.runner.run_ready();

  size_t to_all = 0, to_7 = 0;
  for (auto& e : f.of(api::FfiEvent::kSynthetic)) {
    if (e.subscription == all) ++to_all;
    if (e.subscription == only7) {
      ++to_7;
      CHECK(e.event.key() == 7);
    }
  }
  CHECK(to_all == 10);
  CHECK(to_7 == 5);

  api::FfiRequest unsub;
  unsub.mutable_unsubscribe()->set_subscription(only7);
  CHECK(f.send(unsub).error() == api::OK);
  CHECK(f.send(unsub).error() == api::STALE_HANDLE);
  CHECK(f.core->drop_handle(all).ok());
  CHECK(f.core->bus().subscriber_count() == 0);
  CHECK(f.core->handles().live(HandleType::subscription) == 0);
}

TEST_CASE("bad subscribe requests are rejected", "[ffi]") {
  CoreFixture f;
  api::FfiRequest req;
  req.mutable_subscribe();
  CHECK(f.send(req).error() == api::INVALID_ARGUMENT);  // no kinds
  req.mutable_subscribe()->mutable_filter()->add_kinds(api::REQUEST_COMPLETE);
  CHECK(f.send(req).error() == api::INVALID_ARGUMENT);
  req.mutable_subscribe()->mutable_filter()->set_kinds(0, static_cast<api::EventKind>(63));
  CHECK(f.send(req).error() == api::INVALID_ARGUMENT);
  req.mutable_subscribe()->mutable_filter()->set_kinds(0, api::SYNTHETIC_EVENT);
  req.mutable_subscribe()->set_overflow(static_cast<api::OverflowPolicy>(9));
  CHECK(f.send(req).error() == api::INVALID_ARGUMENT);
  CHECK(f.core->handles().live(HandleType::subscription) == 0);  // nothing leaked
}

TEST_CASE("drop_handle reports typed errors", "[ffi]") {
  CoreFixture f;
  const uint64_t sub = f.subscribe({api::LOG_BATCH});
  api::FfiRequest req;
  req.mutable_drop_handle()->set_handle(0);
  CHECK(f.send(req).error() == api::NULL_HANDLE);
  req.mutable_drop_handle()->set_handle(sub + 999);
  CHECK(f.send(req).error() == api::UNKNOWN_HANDLE);
  req.mutable_drop_handle()->set_handle(sub);
  auto ok = f.send(req);
  CHECK(ok.error() == api::OK);
  CHECK(ok.drop_handle().type() == api::SUBSCRIPTION);
  CHECK(f.send(req).error() == api::STALE_HANDLE);
  // Unsubscribing with a handle of another type.
  api::FfiRequest load;
  load.mutable_load_generator()->set_events(1'000'000);
  const uint64_t gen = f.send(load).load_generator().generator();
  api::FfiRequest unsub;
  unsub.mutable_unsubscribe()->set_subscription(gen);
  CHECK(f.send(unsub).error() == api::WRONG_HANDLE_TYPE);
}

TEST_CASE("a load generator completes to its waiter only, with handle churn", "[ffi]") {
  CoreFixture f;
  const uint64_t all = f.subscribe({api::SYNTHETIC_EVENT, api::LOG_BATCH, api::METRICS_REPORT});
  api::FfiRequest load;
  auto* l = load.mutable_load_generator();
  l->set_events(1000);
  l->set_handle_churn(300);
  l->set_payload_bytes(32);
  l->set_batch(100);
  auto resp = f.send(load);
  REQUIRE(resp.error() == api::OK);
  const uint64_t async_id = resp.async_id();
  CHECK(handle_type_of(resp.load_generator().generator()) == HandleType::load_generator);
  f.p.runner.run_ready();

  auto done = f.of(api::FfiEvent::kRequestComplete);
  REQUIRE(done.size() == 1);
  CHECK(done[0].subscription == 0);
  CHECK(done[0].event.async_id() == async_id);
  const auto& result = done[0].event.request_complete().load_generator();
  CHECK(result.events_published() == 1000);
  CHECK(result.handles_churned() == 300);
  CHECK_FALSE(result.stopped_early());
  auto synthetic = f.of(api::FfiEvent::kSynthetic);
  REQUIRE(synthetic.size() == 1000);
  CHECK(synthetic[999].event.synthetic().sequence() == 999);
  CHECK(synthetic[0].event.synthetic().payload().size() == 32);
  for (auto& e : synthetic) CHECK(e.subscription == all);
  // The run released its own handle, and the churned ones are gone.
  CHECK(f.core->handles().live(HandleType::load_generator) == 0);
  CHECK(f.core->handles().live(HandleType::synthetic) == 0);
  CHECK(f.core->metrics().histogram("store_handle").snapshot().count >= 300);
}

TEST_CASE("dropping a generator's handle stops it early", "[ffi]") {
  CoreFixture f;
  api::FfiRequest load;
  load.mutable_load_generator()->set_events(100'000);
  load.mutable_load_generator()->set_batch(10);
  auto resp = f.send(load);
  CHECK(f.core->drop_handle(resp.load_generator().generator()).ok());
  f.p.runner.run_ready();
  auto done = f.of(api::FfiEvent::kRequestComplete);
  REQUIRE(done.size() == 1);
  CHECK(done[0].event.request_complete().load_generator().stopped_early());
  CHECK(done[0].event.request_complete().load_generator().events_published() < 100'000);
}

TEST_CASE("a paced generator follows its rate", "[ffi]") {
  CoreFixture f;
  f.subscribe({api::SYNTHETIC_EVENT});
  api::FfiRequest load;
  load.mutable_load_generator()->set_events(100);
  load.mutable_load_generator()->set_events_per_second(1000);
  load.mutable_load_generator()->set_batch(10);
  f.send(load);
  f.p.runner.run_ready();
  CHECK(f.of(api::FfiEvent::kSynthetic).size() == 10);
  f.p.runner.advance(50'000'000);  // 50 ms -> 60 events due
  CHECK(f.of(api::FfiEvent::kSynthetic).size() == 60);
  f.p.runner.advance(100'000'000);
  CHECK(f.of(api::FfiEvent::kSynthetic).size() == 100);
  CHECK(f.of(api::FfiEvent::kRequestComplete).size() == 1);
}

TEST_CASE("bad load generator arguments", "[ffi]") {
  CoreFixture f;
  api::FfiRequest load;
  load.mutable_load_generator()->set_payload_bytes(1 << 20);
  CHECK(f.send(load).error() == api::INVALID_ARGUMENT);
  load.mutable_load_generator()->set_payload_bytes(0);
  load.mutable_load_generator()->set_events_per_second(-1);
  CHECK(f.send(load).error() == api::INVALID_ARGUMENT);
  CHECK(f.core->handles().live(HandleType::load_generator) == 0);
}

TEST_CASE("metrics on demand in three formats, periodic report as log and event", "[ffi]") {
  api::InitializeOptions options;
  options.set_metrics_report_interval_ms(1000);
  CoreFixture f(options);
  const uint64_t sub = f.subscribe({api::METRICS_REPORT, api::LOG_BATCH});
  f.send(ping("x"));

  api::FfiRequest get;
  get.mutable_get_metrics()->set_format(api::JSON);
  auto json = f.send(get);
  CHECK(json.get_metrics().text().find("\"name\":\"ffi_request\",\"label\":\"kind=ping\"") != std::string::npos);
  get.mutable_get_metrics()->set_format(api::PROMETHEUS);
  CHECK(f.send(get).get_metrics().text().find("tandem_ffi_request_ns_count{kind=\"ping\"}") != std::string::npos);
  get.mutable_get_metrics()->set_format(api::STRUCTURED);
  auto structured = f.send(get);
  bool found = false;
  for (const auto& h : structured.get_metrics().report().histograms()) {
    if (h.name() == "ffi_request" && h.label() == "kind=ping") found = h.count() == 1;
  }
  CHECK(found);
  get.mutable_get_metrics()->set_format(static_cast<api::MetricsFormat>(17));
  CHECK(f.send(get).error() == api::INVALID_ARGUMENT);

  f.p.runner.advance(1'000'000'000);
  auto reports = f.of(api::FfiEvent::kMetricsReport);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].subscription == sub);
  CHECK(reports[0].event.metrics_report().histograms_size() > 0);
  bool logged = false;
  for (auto& e : f.of(api::FfiEvent::kLogBatch)) {
    for (auto& r : e.event.log_batch().records()) logged |= r.target() == "metrics";
  }
  CHECK(logged);

  api::FfiRequest configure;
  configure.mutable_configure_metrics()->set_report_disabled(true);
  auto c = f.send(configure);
  CHECK(c.configure_metrics().report_disabled());
  CHECK(c.configure_metrics().report_interval_ms() == 1000);
  f.p.runner.advance(5'000'000'000);
  CHECK(f.of(api::FfiEvent::kMetricsReport).size() == 1);
  configure.mutable_configure_metrics()->set_report_interval_ms(5);
  CHECK(f.send(configure).error() == api::INVALID_ARGUMENT);
}

TEST_CASE("bad initialize options are rejected", "[ffi]") {
  test::FakePlatform p;
  const std::string garbage("\xff\xff\xff", 3);
  CHECK(ffi::Core::create(p.platform, {reinterpret_cast<const uint8_t*>(garbage.data()), garbage.size()}, {})
            .code() == Errc::malformed_request);
  api::InitializeOptions o;
  o.set_metrics_report_interval_ms(1);
  const std::string bytes = o.SerializeAsString();
  CHECK(ffi::Core::create(p.platform, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, {}).code() ==
        Errc::invalid_argument);
}

TEST_CASE("dispose flushes, completes, then refuses requests", "[ffi]") {
  CoreFixture f;
  f.subscribe({api::METRICS_REPORT});
  api::FfiRequest dispose;
  dispose.mutable_dispose();
  auto resp = f.send(dispose);
  REQUIRE(resp.error() == api::OK);
  f.p.runner.run_ready();
  CHECK(f.of(api::FfiEvent::kMetricsReport).size() == 1);  // the final report
  auto done = f.of(api::FfiEvent::kRequestComplete);
  REQUIRE(done.size() == 1);
  CHECK(done[0].event.async_id() == resp.async_id());
  CHECK(f.send(ping("late")).error() == api::DISPOSED);
  CHECK(f.send(dispose).error() == api::DISPOSED);
}

TEST_CASE("steady-state ping allocates no response buffer and no handle", "[ffi]") {
  CoreFixture f;
  const std::string req = ping("0123456789").SerializeAsString();  // fits the small-string buffer
  for (int i = 0; i < 10; ++i) f.core->request({reinterpret_cast<const uint8_t*>(req.data()), req.size()}, f.response_bytes);
  const int64_t handles_before = f.core->handles().live(HandleType::subscription) +
                                 f.core->handles().live(HandleType::synthetic);
  test::AllocationScope scope;
  for (int i = 0; i < 1000; ++i) {
    f.core->request({reinterpret_cast<const uint8_t*>(req.data()), req.size()}, f.response_bytes);
  }
  CHECK(scope.count() == 0);
  CHECK(f.core->handles().live(HandleType::subscription) + f.core->handles().live(HandleType::synthetic) ==
        handles_before);
}
