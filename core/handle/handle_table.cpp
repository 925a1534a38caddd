#include "core/handle/handle_table.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <unordered_map>

namespace tandem {

// Magazines and table lifetimes. A magazine names its table by a process-unique id, so a table created at a
// dead table's address never sees the dead table's slots. Slots leave a magazine for their table's shared
// list in two cases, both rare: the thread's two magazines are taken by other tables (eviction), or the thread
// exits. Both go through this registry, under its lock, and only to a table that is still alive; a table
// unregisters first thing in its destructor, so the cached slots of a dead table are simply forgotten.
struct MagazineRegistry {
  std::mutex mutex;
  std::unordered_map<uint64_t, HandleTable*> live;
  uint64_t next_id = 1;

  static MagazineRegistry& get() {
    static MagazineRegistry* r = new MagazineRegistry;  // never destroyed: threads may exit after main()
    return *r;
  }
  uint64_t add(HandleTable* t) {
    std::lock_guard lock(mutex);
    live.emplace(next_id, t);
    return next_id++;
  }
  void remove(uint64_t id) {
    std::lock_guard lock(mutex);
    live.erase(id);
  }
  void give_back(HandleTable::Magazine& m) {
    if (m.table_id != 0 && m.count != 0) {
      std::lock_guard lock(mutex);
      if (auto it = live.find(m.table_id); it != live.end()) it->second->push_shared(m.slots, m.count);
    }
    m.table_id = 0;
    m.count = 0;
  }
  // At thread exit: every magazine back to its table; later frees (other TLS destructors) go to the shared list.
  void flush_this_thread() {
    for (auto& m : HandleTable::t_cache.magazines) give_back(m);
    HandleTable::t_cache.exiting = true;
  }
};

__attribute__((tls_model("initial-exec"))) thread_local HandleTable::ThreadCache HandleTable::t_cache{};

namespace {

// Registers (on first use in a thread) the flush of that thread's magazines when it exits. Kept apart from
// t_cache so the hot path reads plain TLS without a C++ init guard.
struct ThreadCacheFlush {
  bool armed = false;
  ~ThreadCacheFlush() { MagazineRegistry::get().flush_this_thread(); }
};
thread_local ThreadCacheFlush t_flush;

std::string describe(Handle h) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "handle 0x%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

std::string_view to_string(HandleType type) {
  switch (type) {
    case HandleType::unspecified: return "unspecified";
    case HandleType::subscription: return "subscription";
    case HandleType::synthetic: return "synthetic";
    case HandleType::load_generator: return "load_generator";
    case HandleType::media_session: return "media_session";
    case HandleType::audio_source: return "audio_source";
    case HandleType::audio_stream: return "audio_stream";
    case HandleType::video_source: return "video_source";
    case HandleType::video_stream: return "video_stream";
    case HandleType::peer_connection: return "peer_connection";
    case HandleType::data_channel: return "data_channel";
  }
  return "unknown";
}

HandleTable::HandleTable(metrics::Registry* registry, platform::Clock* clock)
    : id_(MagazineRegistry::get().add(this)), registry_(registry), clock_(clock) {
  if (registry != nullptr) {
    for (size_t t = 1; t < kHandleTypeCount; ++t) {
      const auto type = static_cast<HandleType>(t);
      live_gauge_ids_[t] = registry->gauge_fn("handles_live", "type=" + std::string(to_string(type)),
                                              [this, type] { return live(type); });
    }
    if (clock != nullptr) {
      store_hist_ = &registry->histogram("store_handle");
      retrieve_hist_ = &registry->histogram("retrieve_handle");
      drop_hist_ = &registry->histogram("drop_handle");
    }
  }
}

HandleTable::~HandleTable() {
  MagazineRegistry::get().remove(id_);
  if (Magazine* m = magazine_of_this_thread()) *m = Magazine{};
  if (registry_ != nullptr) {
    for (uint64_t id : live_gauge_ids_) {
      if (id != 0) registry_->remove_gauge_fn(id);
    }
  }
  const uint32_t issued = issued_.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < issued; ++i) {
    Slot* s = slot(i);
    if (s != nullptr && s->object != nullptr && s->deleter != nullptr) s->deleter(s->object);
  }
  for (auto& c : chunks_) delete[] c.load(std::memory_order_relaxed);
}

int64_t HandleTable::live(HandleType type) const {
  const uint32_t issued = issued_.load(std::memory_order_acquire);
  int64_t n = 0;
  for (uint32_t i = 0; i < issued; ++i) {
    const Slot* s = slot(i);
    if (s == nullptr) continue;
    const uint64_t state = s->state.load(std::memory_order_relaxed);
    n += (state & kLiveBit) && ((state >> 32) & 0xff) == static_cast<uint8_t>(type);
  }
  return n;
}

Result<uint32_t> HandleTable::issue_slot() {
  // Make sure the chunk exists before the index becomes nameable (issued_ is what find() checks).
  uint32_t index = issued_.load(std::memory_order_relaxed);
  do {
    if (index >= kMaxSlots) {
      return Error{Errc::resource_exhausted, "handle table full (" + std::to_string(kMaxSlots) + " live)"};
    }
    const uint32_t c = index >> kChunkBits;
    if (chunks_[c].load(std::memory_order_acquire) == nullptr) {
      std::lock_guard lock(grow_mutex_);
      if (chunks_[c].load(std::memory_order_relaxed) == nullptr) {
        chunks_[c].store(new Slot[kChunkSize], std::memory_order_release);
      }
    }
  } while (!issued_.compare_exchange_weak(index, index + 1, std::memory_order_acq_rel));
  return index;
}

void HandleTable::free_slot_slow(uint32_t index) {
  if (t_cache.exiting) return push_shared(&index, 1);
  Magazine* m = magazine_of_this_thread();
  if (m == nullptr) {
    // Claim an unused magazine, else evict the second (its slots go back to their table).
    m = t_cache.magazines[0].table_id == 0 ? &t_cache.magazines[0] : &t_cache.magazines[1];
    MagazineRegistry::get().give_back(*m);
    m->table_id = id_;
    t_flush.armed = true;  // first touch registers the flush at thread exit
  }
  if (m->count == kMagazineSize) {
    // Full: hand the older half to the shared list in one CAS, keep the recent (cache-warm) half.
    push_shared(m->slots, kMagazineSize / 2);
    std::copy(m->slots + kMagazineSize / 2, m->slots + kMagazineSize, m->slots);
    m->count = kMagazineSize / 2;
  }
  m->slots[m->count++] = index;
}

void HandleTable::push_shared(const uint32_t* indices, uint32_t n) {
  if (n == 0) return;
  // Link the batch, then splice it onto the head with one CAS.
  for (uint32_t i = 0; i + 1 < n; ++i) slot(indices[i])->next_free.store(indices[i + 1] + 1, std::memory_order_relaxed);
  Slot* last = slot(indices[n - 1]);
  uint64_t head = free_head_.load(std::memory_order_relaxed);
  do {
    last->next_free.store(static_cast<uint32_t>(head), std::memory_order_relaxed);
  } while (!free_head_.compare_exchange_weak(head, (((head >> 32) + 1) << 32) | (uint64_t{indices[0]} + 1),
                                             std::memory_order_release, std::memory_order_relaxed));
}

Error HandleTable::bad_type_error() {
  return Error{Errc::invalid_argument, "cannot store a handle of unspecified or unknown type"};
}

Error HandleTable::retrieve_error(Handle handle, HandleType expected) const {
  return describe_failure(handle, expected);
}

Error HandleTable::drop_error(Handle handle) const { return describe_failure(handle, std::nullopt); }

// Works out why a fast path refused `handle`. The state may have changed since; whatever is read now is a
// truthful reason (a handle that turned valid meanwhile would have been accepted a moment later).
Error HandleTable::describe_failure(Handle handle, std::optional<HandleType> expected) const {
  if (handle == 0) return Error{Errc::null_handle, "handle 0 names nothing"};
  const Slot* s = find(handle);
  if (s == nullptr) return Error{Errc::unknown_handle, describe(handle) + " was never issued"};
  const uint64_t state = s->state.load(std::memory_order_acquire);
  const auto slot_type = static_cast<uint8_t>((state >> 32) & 0xff);
  if ((state >> 40) != ((handle >> 32) & kGenerationMask) || !(state & kLiveBit)) {
    return Error{Errc::stale_handle, describe(handle) + " was dropped"};
  }
  if (slot_type != (handle >> 56)) {
    return Error{Errc::unknown_handle, describe(handle) + " has a type tag its slot never had"};
  }
  if (expected && slot_type != static_cast<uint8_t>(*expected)) {
    return Error{Errc::wrong_handle_type, describe(handle) + " names a " +
                                              std::string(to_string(static_cast<HandleType>(slot_type))) +
                                              ", not a " + std::string(to_string(*expected))};
  }
  if ((state & kPinMask) == kPinMask) return Error{Errc::resource_exhausted, "too many pins on one handle"};
  return Error{Errc::stale_handle, describe(handle) + " changed while it was being used"};
}

}  // namespace tandem
