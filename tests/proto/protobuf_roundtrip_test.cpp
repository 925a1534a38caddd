// protobuf-lite on both targets: the API messages survive a round trip with every field kind the schema uses,
// and bytes that are not a message are refused.
#include <catch2/catch.hpp>
#include <cctype>
#include <cstdint>
#include <limits>
#include <string>

#include "core/common/error.h"
#include "proto/tandem.pb.h"

using namespace tandem;

namespace {

template <class M>
M round_trip(const M& in) {
  const std::string wire = in.SerializeAsString();
  REQUIRE_FALSE(wire.empty());
  M out;
  REQUIRE(out.ParseFromArray(wire.data(), static_cast<int>(wire.size())));
  CHECK(out.SerializeAsString() == wire);  // nothing lost, nothing reordered
  return out;
}

const std::string kBinary("\x00\x01\xff\xfe\x80 binary\x00", 13);  // NULs and high bytes inside `bytes`
const std::string kUtf8 = "m\xc3\xa9triques \xe2\x9c\x93";      // non-ASCII inside `string`

}  // namespace

TEST_CASE("FfiRequest round trip: scalars, repeated, enums, nested messages, oneof", "[proto]") {
  SECTION("load generator: uint32, double, repeated uint64") {
    api::FfiRequest req;
    auto* lg = req.mutable_load_generator();
    lg->set_events(4'000'000'000u);
    lg->add_keys(0);
    lg->add_keys(1);
    lg->add_keys(std::numeric_limits<uint64_t>::max());
    lg->set_payload_bytes(65536);
    lg->set_events_per_second(1234.5625);
    lg->set_handle_churn(7);
    lg->set_batch(256);

    const api::FfiRequest out = round_trip(req);
    REQUIRE(out.message_case() == api::FfiRequest::kLoadGenerator);
    const auto& o = out.load_generator();
    CHECK(o.events() == 4'000'000'000u);
    REQUIRE(o.keys_size() == 3);
    CHECK(o.keys(2) == std::numeric_limits<uint64_t>::max());
    CHECK(o.payload_bytes() == 65536);
    CHECK(o.events_per_second() == 1234.5625);
    CHECK(o.handle_churn() == 7);
    CHECK(o.batch() == 256);
  }
  SECTION("subscribe: nested message, repeated enum, bool, enum") {
    api::FfiRequest req;
    auto* sub = req.mutable_subscribe();
    sub->mutable_filter()->add_kinds(api::LOG_BATCH);
    sub->mutable_filter()->add_kinds(api::SYNTHETIC_EVENT);
    sub->mutable_filter()->set_has_key(true);
    sub->mutable_filter()->set_key(0x0123456789abcdefull);
    sub->set_queue_capacity(17);
    sub->set_overflow(api::DROP_NEWEST);

    const api::FfiRequest out = round_trip(req);
    REQUIRE(out.has_subscribe());
    const auto& f = out.subscribe().filter();
    REQUIRE(f.kinds_size() == 2);
    CHECK(f.kinds(0) == api::LOG_BATCH);
    CHECK(f.kinds(1) == api::SYNTHETIC_EVENT);
    CHECK(f.has_key());
    CHECK(f.key() == 0x0123456789abcdefull);
    CHECK(out.subscribe().queue_capacity() == 17);
    CHECK(out.subscribe().overflow() == api::DROP_NEWEST);
  }
  SECTION("ping: bytes with NULs and high bytes") {
    api::FfiRequest req;
    req.mutable_ping()->set_payload(kBinary);
    req.mutable_ping()->set_sent_ns(1);
    const api::FfiRequest out = round_trip(req);
    CHECK(out.ping().payload() == kBinary);
    CHECK(out.ping().sent_ns() == 1);
  }
  SECTION("setting one member of a oneof clears the other") {
    api::FfiRequest req;
    req.mutable_ping()->set_sent_ns(5);
    req.mutable_drop_handle()->set_handle(9);
    const api::FfiRequest out = round_trip(req);
    CHECK(out.message_case() == api::FfiRequest::kDropHandle);
    CHECK_FALSE(out.has_ping());
    CHECK(out.drop_handle().handle() == 9);
  }
}

TEST_CASE("FfiEvent round trip: strings, repeated messages, int64, double, nested oneof", "[proto]") {
  SECTION("log batch") {
    api::FfiEvent ev;
    ev.set_key(42);
    auto* batch = ev.mutable_log_batch();
    for (int i = 0; i < 3; ++i) {
      auto* r = batch->add_records();
      r->set_level(i == 2 ? api::ERROR : api::INFO);
      r->set_time_ns(1'000'000'000ull * (i + 1));
      r->set_target("metrics");
      r->set_message(kUtf8 + std::to_string(i));
    }
    batch->set_dropped(5);

    const api::FfiEvent out = round_trip(ev);
    CHECK(out.key() == 42);
    REQUIRE(out.message_case() == api::FfiEvent::kLogBatch);
    REQUIRE(out.log_batch().records_size() == 3);
    CHECK(out.log_batch().records(2).level() == api::ERROR);
    CHECK(out.log_batch().records(1).time_ns() == 2'000'000'000ull);
    CHECK(out.log_batch().records(0).target() == "metrics");
    CHECK(out.log_batch().records(2).message() == kUtf8 + "2");
    CHECK(out.log_batch().dropped() == 5);
  }
  SECTION("metrics report") {
    api::FfiEvent ev;
    auto* m = ev.mutable_metrics_report();
    m->set_time_ns(123);
    auto* h = m->add_histograms();
    h->set_name("srtp_protect");
    h->set_label("profile=AEAD_AES_128_GCM");
    h->set_count(10);
    h->set_mean_ns(812.25);
    h->set_p999_ns(5000);
    auto* c = m->add_counters();
    c->set_name("srtp_unprotect_failures");
    c->set_value(3);
    auto* g = m->add_gauges();
    g->set_name("handles_live");
    g->set_value(-7);  // int64 keeps its sign

    const api::FfiEvent out = round_trip(ev);
    const auto& o = out.metrics_report();
    REQUIRE(o.histograms_size() == 1);
    CHECK(o.histograms(0).label() == "profile=AEAD_AES_128_GCM");
    CHECK(o.histograms(0).mean_ns() == 812.25);
    CHECK(o.histograms(0).p999_ns() == 5000);
    REQUIRE(o.counters_size() == 1);
    CHECK(o.counters(0).value() == 3);
    REQUIRE(o.gauges_size() == 1);
    CHECK(o.gauges(0).value() == -7);
  }
  SECTION("request complete carries an error code and a nested oneof result") {
    api::FfiEvent ev;
    ev.set_async_id(77);
    auto* done = ev.mutable_request_complete();
    done->set_error(api::REPLAYED);
    done->set_error_message("srtp_unprotect: packet index already seen");
    done->mutable_load_generator()->set_events_published(1000);
    done->mutable_load_generator()->set_stopped_early(true);

    const api::FfiEvent out = round_trip(ev);
    CHECK(out.async_id() == 77);
    CHECK(out.request_complete().error() == api::REPLAYED);
    CHECK(out.request_complete().result_case() == api::RequestComplete::kLoadGenerator);
    CHECK(out.request_complete().load_generator().events_published() == 1000);
    CHECK(out.request_complete().load_generator().stopped_early());
  }
}

TEST_CASE("bytes that are not a message fail ParseFromArray", "[proto]") {
  api::FfiRequest good;
  good.mutable_ping()->set_payload(std::string(40, 'x'));
  const std::string wire = good.SerializeAsString();

  const auto parses = [](const std::string& bytes) {
    api::FfiRequest req;
    return req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  };
  REQUIRE(parses(wire));
  CHECK_FALSE(parses(wire.substr(0, wire.size() - 1)));             // truncated inside a length-delimited field
  CHECK_FALSE(parses(std::string("\x0a\x7f\x01", 3)));              // field 1 claims 127 bytes, has 1
  CHECK_FALSE(parses(std::string(11, '\xff')));                     // a tag varint longer than 10 bytes
  CHECK_FALSE(parses(std::string("\x0f\x00", 2)));                  // wire type 7 does not exist
  CHECK_FALSE(parses(std::string("\x0c", 1)));                      // an end-group with no group open
  CHECK_FALSE(parses(std::string("\x00\x00", 2)));                  // field number 0 is invalid
  CHECK_FALSE(parses(std::string("\x32\x02\x0a\x7f", 4)));          // nested ping with a truncated payload

  // Random bytes may happen to be valid (unknown fields are allowed); they must never crash.
  uint32_t state = 11;
  for (int round = 0; round < 2000; ++round) {
    std::string junk(round % 64, '\0');
    for (auto& c : junk) c = static_cast<char>((state = state * 1103515245u + 12345u) >> 24);
    api::FfiEvent ev;
    (void)ev.ParseFromArray(junk.data(), static_cast<int>(junk.size()));
  }
}

TEST_CASE("Errc and api::ErrorCode stay in sync", "[proto]") {
  for (int i = 0; i <= api::ErrorCode_MAX; ++i) {
    INFO("code " << i);
    REQUIRE(api::ErrorCode_IsValid(i));
    std::string lower = api::ErrorCode_Name(static_cast<api::ErrorCode>(i));
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    CHECK(std::string(to_string(static_cast<Errc>(i))) == lower);
  }
  // Errc has no value beyond the proto's last one.
  CHECK(to_string(static_cast<Errc>(api::ErrorCode_MAX + 1)) == "unknown_error_code");
}
