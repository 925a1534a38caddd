// Event bus publish: does the cost follow the matching subscribers only (DESIGN principle 4)?
//
// Every subscriber is keyed, as a per-stream subscription is: the 10 that match are keyed on the published key,
// the others each on a different key of the same kind (one subscription per other stream — the LiveKit case of
// one subscription per room/track, where the old design woke every subscriber for every event). One extra
// variant puts the 990 on other event kinds instead. Variants:
//   10subs_all_match         10 subscribers, every event matches all 10
//   1000subs_10_match        the same 10 + 990 keyed on 990 other keys
//   990subs_none_match       only the 990: nothing matches, so nothing may be encoded, queued or allocated
//   1000subs_10_match_990_other_kinds   the 10 + 990 unkeyed subscribers of log_batch / metrics_report
// The bus times every publish into send_event with the clock it is given; these use CheapClock so the figure is
// the bus's own cost; `10subs_all_match_platform_clock` shows the same with the platform's real clock.
//
// event_publish times publish() only; the queued events are delivered (drained to a no-op sink) untimed after
// each batch, and the queues are big enough that nothing overflows. event_publish_deliver times publish() plus
// drain() per event: the full cost of getting one event to its 10 subscribers' sink calls.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "clocks.h"
#include "core/events/event_bus.h"
#include "harness.h"

namespace tandem::bench {
namespace {

constexpr uint64_t kKey = 1'000'000;       // the stream the events are published on
constexpr size_t kMatching = 10;
constexpr size_t kOthers = 990;
constexpr uint64_t kMaxBatch = 4096;       // events published between two drains
constexpr size_t kPayloadBytes = 64;       // what encode writes: a small event, longer than any SSO buffer

enum class Others { none, other_keys, other_kinds };

// One bus with its own registry and clock, and its subscribers.
struct Setup {
  metrics::Registry registry;
  CheapClock cheap;
  uint64_t delivered = 0;
  std::unique_ptr<events::EventBus> bus;

  Setup(size_t matching, Others others, bool platform_clock_on) {
    bus = std::make_unique<events::EventBus>(
        registry, platform_clock_on ? platform_clock() : static_cast<platform::Clock&>(cheap),
        [this](uint64_t, std::span<const uint8_t> bytes) { delivered += bytes.size(); }, nullptr);
    uint64_t id = 1;
    for (size_t i = 0; i < matching; ++i) {
      events::Filter f;
      f.add(events::EventKind::synthetic);
      f.has_key = true;
      f.key = kKey;
      check(bus->subscribe(id++, f, kMaxBatch, events::Overflow::drop_oldest));
    }
    for (size_t i = 0; i < (others == Others::none ? 0 : kOthers); ++i) {
      events::Filter f;
      if (others == Others::other_keys) {
        f.add(events::EventKind::synthetic);
        f.has_key = true;
        f.key = kKey + 1 + i;
      } else {
        f.add(i % 2 == 0 ? events::EventKind::log_batch : events::EventKind::metrics_report);
      }
      check(bus->subscribe(id++, f, 16, events::Overflow::drop_oldest));  // never receives anything
    }
  }
  static void check(const Result<void>& r) {
    if (!r.ok()) {
      std::fprintf(stderr, "subscribe failed: %s\n", r.error().message.c_str());
      std::abort();
    }
  }
};

void run_event_suite(Harness& h) {
  const std::string payload(kPayloadBytes, 'x');
  auto encode = [&payload](std::string& out) { out.assign(payload); };  // capacity kept by the pooled buffer

  struct Variant {
    const char* name;
    size_t matching;
    Others others;
    bool platform_clock_on;
    bool with_deliver;
  };
  const Variant variants[] = {
      {"10subs_all_match", kMatching, Others::none, false, true},
      {"1000subs_10_match", kMatching, Others::other_keys, false, true},
      {"990subs_none_match", 0, Others::other_keys, false, false},
      {"1000subs_10_match_990_other_kinds", kMatching, Others::other_kinds, false, false},
      {"10subs_all_match_platform_clock", kMatching, Others::none, true, false},
  };

  for (const Variant& v : variants) {
    if (!h.selected("event_publish", v.name) && !h.selected("event_publish_deliver", v.name)) continue;
    Setup s(v.matching, v.others, v.platform_clock_on);
    Case publish{"event_publish", v.name, [&](uint64_t n) {
                   for (uint64_t i = 0; i < n; ++i) keep(s.bus->publish(events::EventKind::synthetic, kKey, encode));
                 }};
    publish.after = [&](uint64_t) { s.bus->drain(); };
    publish.max_batch = kMaxBatch;
    h.run(publish);

    if (v.with_deliver) {
      h.run({"event_publish_deliver", v.name, [&](uint64_t n) {
               for (uint64_t i = 0; i < n; ++i) {
                 keep(s.bus->publish(events::EventKind::synthetic, kKey, encode));
                 keep(s.bus->drain());
               }
             }});
    }
  }
}

const Suite kSuite(20, "events", run_event_suite);

}  // namespace
}  // namespace tandem::bench
