// One core driven through its request/event API the way a host drives it, for the FFI tests: requests go in
// serialized, responses come out parsed, and every event the core emits is parsed into `events`, from which
// a test takes them by kind.
#pragma once

#include <catch2/catch.hpp>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/ffi/core.h"
#include "proto/tandem.pb.h"

namespace tandem::test {

struct FfiSide {
  std::unique_ptr<ffi::Core> core;
  std::vector<api::FfiEvent> events;
  std::string response;

  void start(platform::Platform& platform) {
    auto c = ffi::Core::create(platform, {}, [this](uint64_t, std::span<const uint8_t> bytes) {
      api::FfiEvent ev;
      CHECK(ev.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
      events.push_back(std::move(ev));
    });
    REQUIRE(c.ok());
    core = std::move(c).value();
  }

  api::FfiResponse send(const api::FfiRequest& req) {
    const std::string bytes = req.SerializeAsString();
    core->request({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, response);
    api::FfiResponse resp;
    CHECK(resp.ParseFromString(response));
    return resp;
  }

  // Events of `kinds`, for every key or only for `key`.
  void subscribe(std::initializer_list<api::EventKind> kinds, std::optional<uint64_t> key = {}) {
    api::FfiRequest req;
    auto* f = req.mutable_subscribe()->mutable_filter();
    for (const auto k : kinds) f->add_kinds(k);
    if (key) {
      f->set_has_key(true);
      f->set_key(*key);
    }
    req.mutable_subscribe()->set_queue_capacity(100000);
    REQUIRE(send(req).error() == api::OK);
  }

  // Removes and returns the collected events of one kind, in arrival order.
  std::vector<api::FfiEvent> take(api::FfiEvent::MessageCase kind) {
    std::vector<api::FfiEvent> out, rest;
    for (auto& e : events) (e.message_case() == kind ? out : rest).push_back(std::move(e));
    events = std::move(rest);
    return out;
  }
};

}  // namespace tandem::test
