// Handle table: store / retrieve / drop, single-threaded, against the mutex + unordered_map baseline in the
// same run. Three variants of the same code:
//   tandem               HandleTable with no registry and no clock: the table's own cost
//   tandem_instrumented  HandleTable with a registry and a real steady clock, as Core builds it: every call
//                        is timed into store_handle / retrieve_handle / drop_handle (two clock reads + record)
//   baseline_mutex_map   std::mutex + std::unordered_map (bench/handle_ops.h)
// Every store holds 1024 other live handles, so lookups do not run on an empty map.
#include <memory>
#include <string>
#include <vector>

#include "clocks.h"
#include "handle_ops.h"
#include "harness.h"

namespace tandem::bench {
namespace {

constexpr size_t kLive = 1024;              // background population, and the retrieve working set
constexpr uint64_t kMaxStoreBatch = 16384;  // store / drop batches keep their handles in a vector this big

template <class Ops>
struct Fixture {
  std::string variant;
  Ops ops;
  std::vector<Handle> live;
  std::vector<Handle> scratch = std::vector<Handle>(kMaxStoreBatch);
  Fixture(std::string v, Ops o) : variant(std::move(v)), ops(o) {
    for (size_t i = 0; i < kLive; ++i) live.push_back(ops.store());
  }
  ~Fixture() {
    for (Handle x : live) ops.drop(x);
  }
};

template <class Ops>
void store_retrieve_drop(Harness& h, Fixture<Ops>& f) {
  h.run({"handle_store_retrieve_drop", f.variant, [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) {
             const Handle x = f.ops.store();
             f.ops.use(x);
             f.ops.drop(x);
           }
         }});
}

template <class Ops>
void retrieve(Harness& h, Fixture<Ops>& f) {
  h.run({"handle_retrieve", f.variant, [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) f.ops.use(f.live[i & (kLive - 1)]);
         }});
}

template <class Ops>
void store(Harness& h, Fixture<Ops>& f) {
  Case c{"handle_store", f.variant, [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) f.scratch[i] = f.ops.store();
         }};
  c.after = [&](uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) f.ops.drop(f.scratch[i]);
  };
  c.max_batch = kMaxStoreBatch;
  h.run(c);
}

template <class Ops>
void drop(Harness& h, Fixture<Ops>& f) {
  Case c{"handle_drop", f.variant, [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) f.ops.drop(f.scratch[i]);
         }};
  c.before = [&](uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) f.scratch[i] = f.ops.store();
  };
  c.max_batch = kMaxStoreBatch;
  h.run(c);
}

void run_handle_suite(Harness& h) {
  auto bare_table = std::make_unique<HandleTable>();
  metrics::Registry registry;
  auto instrumented_table = std::make_unique<HandleTable>(&registry, &platform_clock());
  MutexMap map;
  Fixture<TandemOps> bare("tandem", TandemOps{*bare_table});
  Fixture<TandemOps> instrumented("tandem_instrumented", TandemOps{*instrumented_table});
  Fixture<MutexMapOps> baseline("baseline_mutex_map", MutexMapOps{map});

  // Each operation runs for the three variants back to back, so ours and the baseline see the same machine
  // state (the VM is noisy; ratios are taken within one run).
  auto each = [&](auto&& op) {
    op(h, bare);
    op(h, instrumented);
    op(h, baseline);
  };
  each([](Harness& hh, auto& f) { store_retrieve_drop(hh, f); });
  each([](Harness& hh, auto& f) { retrieve(hh, f); });
  each([](Harness& hh, auto& f) { store(hh, f); });
  each([](Harness& hh, auto& f) { drop(hh, f); });

  // The error path, for the record: a stale handle gets a typed error whose message names the handle, so it
  // formats a string (and allocates once it no longer fits the small-string buffer). Not a hot path.
  const Handle stale = bare.ops.store();
  bare.ops.drop(stale);
  h.run({"handle_retrieve", "tandem_stale_handle_error", [&](uint64_t n) {
           for (uint64_t i = 0; i < n; ++i) keep(bare_table->retrieve(stale, HandleType::synthetic).ok());
         }});
}

const Suite kSuite(10, "handles", run_handle_suite);

}  // namespace
}  // namespace tandem::bench
