// The C ABI on the target's real platform (a runtime thread natively, the worker loop in wasm).
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <string>
#include <vector>

#include "proto/tandem.pb.h"
#include "support/pump.h"
#include "tandem/tandem.h"

using namespace tandem;

namespace {
struct Inbox {
  std::mutex mutex;
  std::vector<std::pair<uint64_t, api::FfiEvent>> events;
  size_t count() {
    std::lock_guard lock(mutex);
    return events.size();
  }
};

void on_event(void* user, uint64_t sub, const uint8_t* bytes, size_t len) {
  auto* inbox = static_cast<Inbox*>(user);
  api::FfiEvent ev;
  ev.ParseFromArray(bytes, static_cast<int>(len));
  std::lock_guard lock(inbox->mutex);
  inbox->events.emplace_back(sub, std::move(ev));
}

api::FfiResponse call(tandem_core* core, const api::FfiRequest& req) {
  const std::string bytes = req.SerializeAsString();
  const uint8_t* out = nullptr;
  size_t len = 0;
  REQUIRE(tandem_request(core, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &out, &len) ==
          TANDEM_OK);
  api::FfiResponse resp;
  REQUIRE(resp.ParseFromArray(out, static_cast<int>(len)));
  return resp;
}
}  // namespace

TEST_CASE("C ABI: initialize, request, events on the runtime, drop, dispose", "[c_api]") {
  Inbox inbox;
  tandem_core* core = nullptr;
  REQUIRE(tandem_initialize(on_event, &inbox, nullptr, 0, &core) == TANDEM_OK);
  REQUIRE(core != nullptr);

  api::FfiRequest sub;
  sub.mutable_subscribe()->mutable_filter()->add_kinds(api::SYNTHETIC_EVENT);
  const uint64_t subscription = call(core, sub).subscribe().subscription();
  REQUIRE(subscription != 0);

  api::FfiRequest load;
  load.mutable_load_generator()->set_events(500);
  load.mutable_load_generator()->set_handle_churn(100);
  const auto started = call(core, load);
  REQUIRE(started.error() == api::OK);

  REQUIRE(test::pump_until([&] { return inbox.count() == 501; }));
  {
    std::lock_guard lock(inbox.mutex);
    size_t completions = 0;
    for (auto& [s, ev] : inbox.events) {
      if (ev.has_request_complete()) {
        ++completions;
        CHECK(s == 0);
        CHECK(ev.async_id() == started.async_id());
        CHECK(ev.request_complete().load_generator().events_published() == 500);
      } else {
        CHECK(s == subscription);
      }
    }
    CHECK(completions == 1);
  }

  CHECK(tandem_drop_handle(core, subscription) == TANDEM_OK);
  CHECK(tandem_drop_handle(core, subscription) == TANDEM_STALE_HANDLE);
  CHECK(tandem_drop_handle(core, 0) == TANDEM_NULL_HANDLE);
  CHECK(std::string(tandem_error_name(TANDEM_STALE_HANDLE)) == "stale_handle");

  const uint8_t* out = nullptr;
  size_t len = 0;
  CHECK(tandem_request(nullptr, nullptr, 0, &out, &len) == TANDEM_INVALID_ARGUMENT);
  CHECK(tandem_request(core, nullptr, 5, &out, &len) == TANDEM_INVALID_ARGUMENT);
  tandem_dispose(core);
  tandem_dispose(nullptr);
}

TEST_CASE("C ABI: bad options", "[c_api]") {
  tandem_core* core = reinterpret_cast<tandem_core*>(0x1);
  const uint8_t garbage[] = {0xff, 0xff, 0xff};
  CHECK(tandem_initialize(nullptr, nullptr, garbage, sizeof garbage, &core) == TANDEM_MALFORMED_REQUEST);
  CHECK(core == nullptr);
  CHECK(tandem_initialize(nullptr, nullptr, nullptr, 0, nullptr) == TANDEM_INVALID_ARGUMENT);
}
