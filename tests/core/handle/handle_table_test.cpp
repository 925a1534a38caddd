#include "core/handle/handle_table.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <random>
#include <thread>
#include <vector>

#include "support/fake_platform.h"

using namespace tandem;

namespace {
struct Tracked {
  explicit Tracked(std::atomic<int>& alive, int value = 0) : alive(alive), value(value) { ++alive; }
  ~Tracked() { --alive; }
  std::atomic<int>& alive;
  int value;
};
}  // namespace

TEST_CASE("store, retrieve and drop", "[handle]") {
  metrics::Registry registry;
  test::FakeClock clock;
  HandleTable table(&registry, &clock);
  std::atomic<int> alive{0};

  auto h = table.store(HandleType::subscription, std::make_unique<Tracked>(alive, 7));
  REQUIRE(h.ok());
  CHECK(*h != 0);
  CHECK(handle_type_of(*h) == HandleType::subscription);
  CHECK(table.live(HandleType::subscription) == 1);
  auto live_gauge = [&registry] {
    for (const auto& g : registry.snapshot(0).gauges) {
      if (g.name == "handles_live" && g.label == "type=subscription") return g.value;
    }
    return int64_t{-1};
  };
  CHECK(live_gauge() == 1);
  {
    auto ref = table.retrieve(*h, HandleType::subscription);
    REQUIRE(ref.ok());
    CHECK(ref->as<Tracked>()->value == 7);
  }
  auto dropped = table.drop(*h);
  REQUIRE(dropped.ok());
  CHECK(*dropped == HandleType::subscription);
  CHECK(alive == 0);
  CHECK(table.live(HandleType::subscription) == 0);
  CHECK(live_gauge() == 0);

  const auto snap = registry.snapshot(0);
  int timed = 0;
  for (const auto& hs : snap.histograms) {
    if (hs.name == "store_handle" || hs.name == "retrieve_handle" || hs.name == "drop_handle") ++timed;
  }
  CHECK(timed == 3);
}

TEST_CASE("bad handles give typed errors", "[handle]") {
  HandleTable table;
  std::atomic<int> alive{0};
  auto h = table.store(HandleType::subscription, std::make_unique<Tracked>(alive)).value();

  CHECK(table.retrieve(0, HandleType::subscription).code() == Errc::null_handle);
  CHECK(table.drop(0).code() == Errc::null_handle);
  CHECK(table.retrieve(h + 12345, HandleType::subscription).code() == Errc::unknown_handle);
  CHECK(table.retrieve(h, HandleType::synthetic).code() == Errc::wrong_handle_type);
  // A handle with a forged type tag is rejected even though its slot and generation are right.
  const Handle forged = (h & ~(uint64_t{0xff} << 56)) | (uint64_t{2} << 56);
  CHECK(table.retrieve(forged, HandleType::synthetic).code() == Errc::unknown_handle);
  CHECK(table.drop(forged).code() == Errc::unknown_handle);
  CHECK(table.store(HandleType::unspecified, nullptr, nullptr).code() == Errc::invalid_argument);

  REQUIRE(table.drop(h).ok());
  CHECK(table.drop(h).code() == Errc::stale_handle);  // dropped twice
  CHECK(table.retrieve(h, HandleType::subscription).code() == Errc::stale_handle);
  CHECK(alive == 0);
}

TEST_CASE("a reused slot gets a new generation; old handles stay stale", "[handle]") {
  HandleTable table;
  int object = 0;
  auto first = table.store(HandleType::synthetic, &object, nullptr).value();
  REQUIRE(table.drop(first).ok());
  auto second = table.store(HandleType::synthetic, &object, nullptr).value();
  CHECK(static_cast<uint32_t>(second) == static_cast<uint32_t>(first));  // same slot
  CHECK(second != first);
  CHECK(table.retrieve(first, HandleType::synthetic).code() == Errc::stale_handle);
  CHECK(table.drop(first).code() == Errc::stale_handle);
  CHECK(table.retrieve(second, HandleType::synthetic).ok());
}

TEST_CASE("a pinned object outlives its drop until the last Ref goes", "[handle]") {
  HandleTable table;
  std::atomic<int> alive{0};
  auto h = table.store(HandleType::synthetic, std::make_unique<Tracked>(alive)).value();
  auto ref = table.retrieve(h, HandleType::synthetic).value();
  auto ref2 = table.retrieve(h, HandleType::synthetic).value();
  REQUIRE(table.drop(h).ok());
  CHECK(alive == 1);
  CHECK(table.retrieve(h, HandleType::synthetic).code() == Errc::stale_handle);
  ref = HandleTable::Ref();
  CHECK(alive == 1);
  { auto moved = std::move(ref2); }
  CHECK(alive == 0);
  // The slot is reusable only after the object is gone.
  auto again = table.store(HandleType::synthetic, std::make_unique<Tracked>(alive)).value();
  CHECK(static_cast<uint32_t>(again) == static_cast<uint32_t>(h));
}

TEST_CASE("the table destroys what is still stored", "[handle]") {
  std::atomic<int> alive{0};
  {
    HandleTable table;
    for (int i = 0; i < 10'000; ++i) REQUIRE(table.store(HandleType::synthetic, std::make_unique<Tracked>(alive)).ok());
    CHECK(alive == 10'000);
  }
  CHECK(alive == 0);
}

TEST_CASE("handle table hammered from many threads", "[handle][threads]") {
  metrics::Registry registry;
  HandleTable table(&registry);
  std::atomic<int> alive{0};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> shared_handle{0};
  std::atomic<uint64_t> retrieved{0}, stale{0};
  std::atomic<int> readers_ready{0};
  constexpr uint64_t kMinReads = 20'000;  // reads that must overlap the writers' churn
  // Catch2's assertion macros are not thread-safe: threads count failures, the main thread checks them.
  std::atomic<uint64_t> failures{0};

  // Writers store, publish, retrieve and drop; readers retrieve whatever handle was last published, which may
  // be dropped at any moment: they must get either the object or stale_handle, never garbage. On a small
  // machine the writers could finish before a reader is even scheduled, so writers start only once both
  // readers run, and keep churning until the readers have made kMinReads attempts.
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      while (readers_ready.load() < 2) std::this_thread::yield();
      std::mt19937 rng(t);
      std::vector<Handle> mine;
      for (int i = 0; i < 20'000 || retrieved.load() + stale.load() < kMinReads; ++i) {
        auto stored = table.store(HandleType::synthetic, std::make_unique<Tracked>(alive, t));
        if (!stored.ok()) {
          ++failures;
          continue;
        }
        const Handle h = *stored;
        shared_handle.store(h);
        mine.push_back(h);
        if (mine.size() > 64 || (rng() & 1)) {
          const size_t k = rng() % mine.size();
          if (!table.drop(mine[k]).ok()) ++failures;
          mine.erase(mine.begin() + static_cast<long>(k));
        }
      }
      for (Handle h : mine) {
        if (!table.drop(h).ok()) ++failures;
      }
    });
  }
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      ++readers_ready;
      while (!stop.load()) {
        const Handle h = shared_handle.load();
        if (h == 0) continue;
        auto ref = table.retrieve(h, HandleType::synthetic);
        if (ref.ok()) {
          const int v = ref->as<Tracked>()->value;
          if (v < 0 || v >= 3) ++failures;
          ++retrieved;
        } else {
          if (ref.code() != Errc::stale_handle) ++failures;
          ++stale;
        }
      }
    });
  }
  for (int t = 0; t < 3; ++t) threads[static_cast<size_t>(t)].join();
  stop = true;
  for (size_t t = 3; t < threads.size(); ++t) threads[t].join();
  CHECK(failures == 0);
  CHECK(alive == 0);
  CHECK(table.live(HandleType::synthetic) == 0);
  CHECK(retrieved + stale >= kMinReads);
  CHECK(retrieved > 0);
}

TEST_CASE("live-count gauges leave the registry with the table", "[handle]") {
  metrics::Registry registry;
  {
    HandleTable table(&registry);
    int object = 0;
    REQUIRE(table.store(HandleType::synthetic, &object, nullptr).ok());
    size_t gauges = 0;
    for (const auto& g : registry.snapshot(0).gauges) gauges += g.name == "handles_live";
    CHECK(gauges == kHandleTypeCount - 1);
  }
  for (const auto& g : registry.snapshot(0).gauges) CHECK(g.name != "handles_live");
}

TEST_CASE("slots freed on one thread are reused after it exits", "[handle][threads]") {
  HandleTable table;
  int object = 0;
  std::thread worker([&] {
    std::vector<Handle> hs;
    for (int i = 0; i < 100; ++i) hs.push_back(table.store(HandleType::synthetic, &object, nullptr).value());
    for (Handle h : hs) (void)table.drop(h);  // the last 32 or so stay in this thread's magazine
  });
  worker.join();
  REQUIRE(table.slots_issued() == 100);
  std::vector<Handle> again;
  for (int i = 0; i < 100; ++i) again.push_back(table.store(HandleType::synthetic, &object, nullptr).value());
  CHECK(table.slots_issued() == 100);  // every slot came back, including the exited thread's cached ones
  for (Handle h : again) CHECK(table.drop(h).ok());
}

TEST_CASE("one thread cycling over three tables keeps every table's size bounded", "[handle]") {
  // Each thread caches slots for two tables; a third evicts one, whose slots must return to their table.
  HandleTable a, b, c;
  HandleTable* tables[] = {&a, &b, &c};
  int object = 0;
  for (int round = 0; round < 200; ++round) {
    for (HandleTable* t : tables) {
      std::vector<Handle> hs;
      for (int i = 0; i < 40; ++i) hs.push_back(t->store(HandleType::synthetic, &object, nullptr).value());
      for (Handle h : hs) REQUIRE(t->drop(h).ok());
    }
  }
  for (HandleTable* t : tables) CHECK(t->slots_issued() <= 40 + HandleTable::kMagazineSize);
}

TEST_CASE("a dead table's cached slots never reach a new table", "[handle]") {
  int object = 0;
  Handle old_handle = 0;
  {
    HandleTable dead;
    old_handle = dead.store(HandleType::synthetic, &object, nullptr).value();
    REQUIRE(dead.drop(old_handle).ok());  // its slot sits in this thread's magazine for `dead`
  }
  HandleTable fresh;  // may well live at the same address
  auto h = fresh.store(HandleType::synthetic, &object, nullptr);
  REQUIRE(h.ok());
  CHECK(fresh.slots_issued() == 1);  // a newly issued slot, not one inherited from `dead`
  CHECK(fresh.retrieve(*h, HandleType::synthetic).ok());
  CHECK(fresh.drop(*h).ok());
}
