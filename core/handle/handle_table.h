// The handle table: 64-bit handles name core objects across the API boundary.
//
//   bits 63..56  type tag (tandem.api.HandleType; never 0 in a live handle)
//   bits 55..32  generation (24 bits, bumped each time the slot is freed; never 0)
//   bits 31..0   slot index
//
// Handle 0 is never issued. A zero, stale (dropped, dropped twice, or slot reused), never-issued or
// wrong-type handle gives a typed error, never undefined behaviour.
//
// Thread safety: store, retrieve and drop may be called from any thread. retrieve() takes no lock: it pins the
// slot with one CAS on the slot's state word, so the object stays alive while the returned Ref exists even if
// another thread drops the handle meanwhile; the last of {drop, Ref release} destroys the object and frees the
// slot. store() and the final free use a lock-free free list (tagged head against ABA). Slots live in
// fixed-size chunks that are never moved, so growing the table never invalidates a concurrent reader.
//
// Speed: the success paths are inline below; building an error is out of line. Freed slots go first to a small
// per-thread cache (a "magazine") that the same thread's next store() takes from, so a thread that stores and
// drops touches the shared free list only once per kMagazineSize slots: a store + retrieve + drop cycle costs
// three atomic read-modify-writes (the pin, the unpin, the drop). Live counts per type are not tracked per
// operation but counted from the state words when asked (a report).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "core/common/error.h"
#include "core/metrics/registry.h"
#include "core/metrics/timer.h"
#include "tandem/platform/platform.h"

namespace tandem {

using Handle = uint64_t;

enum class HandleType : uint8_t {
  unspecified = 0,
  subscription = 1,
  synthetic = 2,
  load_generator = 3,
  media_session = 4,
  audio_source = 5,
  audio_stream = 6,
  video_source = 7,
  video_stream = 8,
  peer_connection = 9,
  data_channel = 10,
};
inline constexpr size_t kHandleTypeCount = 11;
std::string_view to_string(HandleType type);

constexpr HandleType handle_type_of(Handle h) { return static_cast<HandleType>(h >> 56); }

class HandleTable {
 public:
  using Deleter = void (*)(void*);

  // A pinned reference to a live object. Move-only; releases the pin when destroyed. Must not outlive the table.
  class Ref {
   public:
    Ref() = default;
    Ref(Ref&& o) noexcept : table_(o.table_), index_(o.index_), object_(o.object_) { o.table_ = nullptr; }
    Ref& operator=(Ref&& o) noexcept {
      if (this != &o) {
        release();
        table_ = o.table_;
        index_ = o.index_;
        object_ = o.object_;
        o.table_ = nullptr;
      }
      return *this;
    }
    ~Ref() { release(); }
    void* get() const { return object_; }
    template <class T>
    T* as() const { return static_cast<T*>(object_); }

   private:
    friend class HandleTable;
    Ref(HandleTable* t, uint32_t index, void* object) : table_(t), index_(index), object_(object) {}
    void release() {
      if (table_ != nullptr) table_->unpin(index_);
      table_ = nullptr;
    }
    HandleTable* table_ = nullptr;
    uint32_t index_ = 0;
    void* object_ = nullptr;
  };

  // With a registry, live counts per type are the gauge handles_live{type=...}; with a clock too, every
  // store / retrieve / drop is timed into store_handle / retrieve_handle / drop_handle. Benchmarks also run the
  // table bare (both null) to separate its own cost from the cost of measuring it.
  explicit HandleTable(metrics::Registry* registry = nullptr, platform::Clock* clock = nullptr);
  ~HandleTable();  // destroys every object still stored
  HandleTable(const HandleTable&) = delete;
  HandleTable& operator=(const HandleTable&) = delete;

  // Takes ownership of `object`; `deleter` runs when the handle is dropped (and no Ref pins it) or when the
  // table is destroyed. Fails with resource_exhausted when all kMaxSlots are live.
  Result<Handle> store(HandleType type, void* object, Deleter deleter) {
    if (store_hist_ == nullptr) return store_untimed(type, object, deleter);
    metrics::ScopedTimer timer(*clock_, *store_hist_);
    return store_untimed(type, object, deleter);
  }
  template <class T>
  Result<Handle> store(HandleType type, std::unique_ptr<T> object) {
    auto r = store(type, object.get(), [](void* p) { delete static_cast<T*>(p); });
    if (r.ok()) object.release();
    return r;
  }

  Result<Ref> retrieve(Handle handle, HandleType expected) {
    if (retrieve_hist_ == nullptr) return retrieve_untimed(handle, expected);
    metrics::ScopedTimer timer(*clock_, *retrieve_hist_);
    return retrieve_untimed(handle, expected);
  }

  // Ends the handle's life and returns the type it named. The object is destroyed now, or when its last Ref
  // goes. Any type may be dropped.
  Result<HandleType> drop(Handle handle) {
    if (drop_hist_ == nullptr) return drop_untimed(handle);
    metrics::ScopedTimer timer(*clock_, *drop_hist_);
    return drop_untimed(handle);
  }

  // Counts live handles of `type` by scanning the slots: O(slots ever issued). For reports and tests.
  int64_t live(HandleType type) const;
  // Slots ever handed out: the table's size. Grows only when no freed slot is available.
  uint32_t slots_issued() const { return issued_.load(std::memory_order_relaxed); }

  static constexpr uint32_t kChunkBits = 12;
  static constexpr uint32_t kChunkSize = 1u << kChunkBits;  // slots per chunk
  static constexpr uint32_t kMaxChunks = 1024;              // up to 4M live handles
  static constexpr uint32_t kMaxSlots = kChunkSize * kMaxChunks;
  static constexpr uint32_t kMagazineSize = 32;

  // A thread's cache of free slots for one table (see handle_table.cpp for its lifetime rules).
  struct Magazine {
    uint64_t table_id;  // 0: empty / unused
    uint32_t count;
    uint32_t slots[kMagazineSize];
  };
  struct ThreadCache {
    Magazine magazines[2];  // two tables per thread before one is flushed (e.g. two cores in one host)
    bool exiting;           // the thread is exiting: slots go straight to the shared list
  };

 private:
  // State word: [generation:24][type:8][live:1][pins:31]. A slot is free when live == 0 and pins == 0.
  static constexpr uint64_t kPinMask = (uint64_t{1} << 31) - 1;
  static constexpr uint64_t kLiveBit = uint64_t{1} << 31;
  static constexpr uint64_t kGenerationMask = (uint64_t{1} << 24) - 1;

  struct Slot {
    std::atomic<uint64_t> state{uint64_t{1} << 40};  // generation 1, free
    void* object = nullptr;
    Deleter deleter = nullptr;
    std::atomic<uint32_t> next_free{0};
  };

  // What a live, unpinned slot's state word looks like for `handle` (pins masked off).
  static constexpr uint64_t live_state_of(Handle h) {
    return (((h >> 32) & kGenerationMask) << 40) | ((h >> 56) << 32) | kLiveBit;
  }

  Slot* slot(uint32_t index) const {
    Slot* chunk = chunks_[index >> kChunkBits].load(std::memory_order_acquire);
    return chunk == nullptr ? nullptr : &chunk[index & (kChunkSize - 1)];
  }
  Slot* find(Handle handle) const {
    const auto index = static_cast<uint32_t>(handle);
    return handle != 0 && index < issued_.load(std::memory_order_acquire) ? slot(index) : nullptr;
  }

  Result<Handle> store_untimed(HandleType type, void* object, Deleter deleter) {
    const auto t = static_cast<uint8_t>(type);
    if (t == 0 || t >= kHandleTypeCount) return bad_type_error();
    // A slot this thread freed, else one from the shared free list (a Treiber stack; the tag in the head's top
    // half defeats ABA), else a never-used one.
    uint32_t index;
    if (Magazine* m = magazine_of_this_thread(); m != nullptr && m->count != 0) {
      index = m->slots[--m->count];
    } else {
      index = pop_shared();
      if (index == kNoSlot) {
        auto fresh = issue_slot();
        if (!fresh.ok()) return fresh.error();
        index = *fresh;
      }
    }
    Slot* s = slot(index);
    s->object = object;
    s->deleter = deleter;
    const uint64_t generation = s->state.load(std::memory_order_relaxed) >> 40;
    // Publishing the state (release) makes object/deleter visible to retrievers that see it live.
    s->state.store((generation << 40) | (uint64_t{t} << 32) | kLiveBit, std::memory_order_release);
    return (uint64_t{t} << 56) | (generation << 32) | index;
  }

  Result<Ref> retrieve_untimed(Handle handle, HandleType expected) {
    if (Slot* s = find(handle); s != nullptr && static_cast<uint8_t>(expected) == (handle >> 56)) {
      const uint64_t want = live_state_of(handle);
      uint64_t state = s->state.load(std::memory_order_acquire);
      while ((state & ~kPinMask) == want && (state & kPinMask) != kPinMask) {
        if (s->state.compare_exchange_weak(state, state + 1, std::memory_order_acquire)) {
          return Ref(this, static_cast<uint32_t>(handle), s->object);
        }
      }
    }
    return retrieve_error(handle, expected);
  }

  Result<HandleType> drop_untimed(Handle handle) {
    if (Slot* s = find(handle); s != nullptr) {
      const uint64_t want = live_state_of(handle);
      uint64_t state = s->state.load(std::memory_order_acquire);
      while ((state & ~kPinMask) == want) {
        if (s->state.compare_exchange_weak(state, state & ~kLiveBit, std::memory_order_acq_rel)) {
          if ((state & kPinMask) == 0) destroy(static_cast<uint32_t>(handle), state & ~kLiveBit);
          return static_cast<HandleType>(handle >> 56);
        }
      }
    }
    return drop_error(handle);
  }

  void unpin(uint32_t index) {
    const uint64_t before = slot(index)->state.fetch_sub(1, std::memory_order_acq_rel);
    // The last pin of a dropped handle destroys the object.
    if ((before & kPinMask) == 1 && !(before & kLiveBit)) destroy(index, before - 1);
  }

  // Frees the slot (new generation, into this thread's magazine) and runs the deleter.
  void destroy(uint32_t index, uint64_t state) {
    Slot* s = slot(index);
    void* object = s->object;
    const Deleter deleter = s->deleter;
    s->object = nullptr;
    s->deleter = nullptr;
    uint64_t generation = ((state >> 40) + 1) & kGenerationMask;
    if (generation == 0) generation = 1;  // 0 would let a forged handle with generation 0 look plausible
    s->state.store(generation << 40, std::memory_order_release);
    Magazine* m = magazine_of_this_thread();
    if (m != nullptr && m->count < kMagazineSize && !t_cache.exiting) {
      m->slots[m->count++] = index;
    } else {
      free_slot_slow(index);
    }
    if (deleter != nullptr) deleter(object);
  }

  static constexpr uint32_t kNoSlot = UINT32_MAX;
  uint32_t pop_shared() {
    uint64_t head = free_head_.load(std::memory_order_acquire);
    while ((head & 0xffffffffu) != 0) {
      const uint32_t index = static_cast<uint32_t>(head) - 1;
      const uint64_t next = slot(index)->next_free.load(std::memory_order_relaxed);
      if (free_head_.compare_exchange_weak(head, (((head >> 32) + 1) << 32) | next, std::memory_order_acquire)) {
        return index;
      }
    }
    return kNoSlot;
  }
  // This thread's magazine for this table, or null if the thread has none for it (yet, or any more).
  Magazine* magazine_of_this_thread() {
    for (Magazine& m : t_cache.magazines) {
      if (m.table_id == id_) return &m;
    }
    return nullptr;
  }
  // Trivially destructible, so access needs no C++ init guard; initial-exec keeps it a plain segment-relative
  // load even in position-independent code (the default model calls __tls_get_addr on every access). The
  // cache is ~300 bytes, well within the static TLS space glibc keeps for libraries loaded later.
  __attribute__((tls_model("initial-exec"))) static thread_local ThreadCache t_cache;

  // Out of line: the slow and the failing paths.
  void free_slot_slow(uint32_t index);  // claims or drains a magazine, or uses the shared list
  void push_shared(const uint32_t* indices, uint32_t n);
  Result<uint32_t> issue_slot();
  static Error bad_type_error();
  Error retrieve_error(Handle handle, HandleType expected) const;
  Error drop_error(Handle handle) const;
  Error describe_failure(Handle handle, std::optional<HandleType> expected) const;

  std::array<std::atomic<Slot*>, kMaxChunks> chunks_{};
  std::atomic<uint32_t> issued_{0};     // slots handed out at least once (the next never-used index)
  std::atomic<uint64_t> free_head_{0};  // [tag:32][index + 1:32]; 0 = empty
  friend struct MagazineRegistry;
  std::mutex grow_mutex_;
  const uint64_t id_;  // unique per table in the process; magazines name their table by it, never by address
  metrics::Registry* registry_ = nullptr;
  std::array<uint64_t, kHandleTypeCount> live_gauge_ids_{};
  platform::Clock* clock_ = nullptr;
  metrics::Histogram* store_hist_ = nullptr;
  metrics::Histogram* retrieve_hist_ = nullptr;
  metrics::Histogram* drop_hist_ = nullptr;
};

}  // namespace tandem
