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
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "core/common/error.h"
#include "core/metrics/registry.h"
#include "tandem/platform/platform.h"

namespace tandem {

using Handle = uint64_t;

enum class HandleType : uint8_t {
  unspecified = 0,
  subscription = 1,
  synthetic = 2,
  load_generator = 3,
};
inline constexpr size_t kHandleTypeCount = 4;
std::string_view to_string(HandleType type);

constexpr HandleType handle_type_of(Handle h) { return static_cast<HandleType>(h >> 56); }

class HandleTable {
 public:
  using Deleter = void (*)(void*);

  // A pinned reference to a live object. Move-only; releases the pin when destroyed.
  class Ref {
   public:
    Ref() = default;
    Ref(Ref&& o) noexcept : table_(o.table_), index_(o.index_), object_(o.object_) { o.table_ = nullptr; }
    Ref& operator=(Ref&& o) noexcept;
    ~Ref() { release(); }
    void* get() const { return object_; }
    template <class T>
    T* as() const { return static_cast<T*>(object_); }

   private:
    friend class HandleTable;
    Ref(HandleTable* t, uint32_t index, void* object) : table_(t), index_(index), object_(object) {}
    void release();
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
  Result<Handle> store(HandleType type, void* object, Deleter deleter);
  template <class T>
  Result<Handle> store(HandleType type, std::unique_ptr<T> object) {
    auto r = store(type, object.get(), [](void* p) { delete static_cast<T*>(p); });
    if (r.ok()) object.release();
    return r;
  }

  Result<Ref> retrieve(Handle handle, HandleType expected);
  // Ends the handle's life. Returns the type it named. The object is destroyed now, or when the last Ref goes.
  Result<HandleType> drop(Handle handle);

  int64_t live(HandleType type) const { return live_[static_cast<size_t>(type)]->value(); }

  static constexpr uint32_t kChunkBits = 12;
  static constexpr uint32_t kChunkSize = 1u << kChunkBits;  // slots per chunk
  static constexpr uint32_t kMaxChunks = 1024;              // up to 4M live handles
  static constexpr uint32_t kMaxSlots = kChunkSize * kMaxChunks;

 private:
  // State word: [generation:24][type:8][live:1][pins:31]. A slot is free when live == 0 and pins == 0.
  struct Slot {
    std::atomic<uint64_t> state{uint64_t{1} << 40};  // generation 1, free
    void* object = nullptr;
    Deleter deleter = nullptr;
    std::atomic<uint32_t> next_free{0};
  };
  Slot* slot(uint32_t index) const;
  Result<uint32_t> allocate_slot();
  Result<Ref> retrieve_untimed(Handle handle, HandleType expected);
  Result<HandleType> drop_untimed(Handle handle);
  void unpin(uint32_t index);
  Result<Slot*> find(Handle handle) const;
  // Checks `handle` against its slot (generation, live, type tag, `expected` unless unspecified) and swaps the
  // state word for next(state) in one CAS; returns the state it replaced.
  Result<uint64_t> transition(Slot* s, Handle handle, HandleType expected, uint64_t (*next)(uint64_t));
  void destroy(uint32_t index, uint64_t state);

  std::array<std::atomic<Slot*>, kMaxChunks> chunks_{};
  std::atomic<uint32_t> issued_{0};      // slots handed out at least once (the next never-used index)
  std::atomic<uint64_t> free_head_{0};   // [tag:32][index + 1:32]; 0 = empty
  std::mutex grow_mutex_;
  std::array<metrics::Gauge, kHandleTypeCount> own_live_{};  // used when there is no registry
  std::array<metrics::Gauge*, kHandleTypeCount> live_{};
  platform::Clock* clock_ = nullptr;
  metrics::Histogram* store_hist_ = nullptr;
  metrics::Histogram* retrieve_hist_ = nullptr;
  metrics::Histogram* drop_hist_ = nullptr;
};

}  // namespace tandem
