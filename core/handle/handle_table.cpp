#include "core/handle/handle_table.h"

#include <string>

#include "core/metrics/timer.h"

namespace tandem {
namespace {

constexpr uint64_t kPinMask = (uint64_t{1} << 31) - 1;
constexpr uint64_t kLiveBit = uint64_t{1} << 31;
constexpr uint64_t kGenerationMask = (uint64_t{1} << 24) - 1;

constexpr uint64_t generation_of_state(uint64_t state) { return state >> 40; }
constexpr uint64_t type_of_state(uint64_t state) { return (state >> 32) & 0xff; }
constexpr uint64_t generation_of_handle(Handle h) { return (h >> 32) & kGenerationMask; }
constexpr uint32_t index_of_handle(Handle h) { return static_cast<uint32_t>(h); }

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
  }
  return "unknown";
}

HandleTable::Ref& HandleTable::Ref::operator=(Ref&& o) noexcept {
  if (this != &o) {
    release();
    table_ = o.table_;
    index_ = o.index_;
    object_ = o.object_;
    o.table_ = nullptr;
  }
  return *this;
}

void HandleTable::Ref::release() {
  if (table_ != nullptr) table_->unpin(index_);
  table_ = nullptr;
}

HandleTable::HandleTable(metrics::Registry* registry, platform::Clock* clock) : clock_(clock) {
  for (size_t t = 0; t < kHandleTypeCount; ++t) {
    live_[t] = registry != nullptr
                   ? &registry->gauge("handles_live", "type=" + std::string(to_string(static_cast<HandleType>(t))))
                   : &own_live_[t];
  }
  if (registry != nullptr && clock != nullptr) {
    store_hist_ = &registry->histogram("store_handle");
    retrieve_hist_ = &registry->histogram("retrieve_handle");
    drop_hist_ = &registry->histogram("drop_handle");
  }
}

HandleTable::~HandleTable() {
  const uint32_t issued = issued_.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < issued; ++i) {
    Slot* s = slot(i);
    if (s != nullptr && s->object != nullptr && s->deleter != nullptr) s->deleter(s->object);
  }
  for (auto& c : chunks_) delete[] c.load(std::memory_order_relaxed);
}

HandleTable::Slot* HandleTable::slot(uint32_t index) const {
  Slot* chunk = chunks_[index >> kChunkBits].load(std::memory_order_acquire);
  return chunk == nullptr ? nullptr : &chunk[index & (kChunkSize - 1)];
}

Result<uint32_t> HandleTable::allocate_slot() {
  // Reuse a freed slot first (Treiber stack; the tag in the head's top half defeats ABA).
  uint64_t head = free_head_.load(std::memory_order_acquire);
  while ((head & 0xffffffffu) != 0) {
    const uint32_t index = static_cast<uint32_t>(head) - 1;
    const uint64_t next = slot(index)->next_free.load(std::memory_order_relaxed);
    const uint64_t desired = (((head >> 32) + 1) << 32) | next;
    if (free_head_.compare_exchange_weak(head, desired, std::memory_order_acquire)) return index;
  }
  // Otherwise a never-used slot; make sure its chunk exists before anyone can name the index.
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

Result<Handle> HandleTable::store(HandleType type, void* object, Deleter deleter) {
  std::optional<metrics::ScopedTimer> timer;
  if (store_hist_ != nullptr) timer.emplace(*clock_, *store_hist_);
  if (type == HandleType::unspecified || static_cast<size_t>(type) >= kHandleTypeCount) {
    return Error{Errc::invalid_argument, "cannot store a handle of unspecified type"};
  }
  auto index = allocate_slot();
  if (!index.ok()) return index.error();
  Slot* s = slot(*index);
  s->object = object;
  s->deleter = deleter;
  const uint64_t generation = generation_of_state(s->state.load(std::memory_order_relaxed));
  // Publishing the state (release) makes object/deleter visible to retrievers that see it live.
  s->state.store((generation << 40) | (uint64_t{static_cast<uint8_t>(type)} << 32) | kLiveBit,
                 std::memory_order_release);
  live_[static_cast<size_t>(type)]->add(1);
  return (uint64_t{static_cast<uint8_t>(type)} << 56) | (generation << 32) | *index;
}

Result<HandleTable::Slot*> HandleTable::find(Handle handle) const {
  if (handle == 0) return Error{Errc::null_handle, "handle 0 names nothing"};
  const uint32_t index = index_of_handle(handle);
  Slot* s = index < issued_.load(std::memory_order_acquire) ? slot(index) : nullptr;
  if (s == nullptr) return Error{Errc::unknown_handle, describe(handle) + " was never issued"};
  return s;
}

Result<HandleTable::Ref> HandleTable::retrieve(Handle handle, HandleType expected) {
  std::optional<metrics::ScopedTimer> timer;
  if (retrieve_hist_ != nullptr) timer.emplace(*clock_, *retrieve_hist_);
  return retrieve_untimed(handle, expected);
}

Result<uint64_t> HandleTable::transition(Slot* s, Handle handle, HandleType expected, uint64_t (*next)(uint64_t)) {
  uint64_t state = s->state.load(std::memory_order_acquire);
  for (;;) {
    if (generation_of_state(state) != generation_of_handle(handle) || !(state & kLiveBit)) {
      return Error{Errc::stale_handle, describe(handle) + " was dropped"};
    }
    if (type_of_state(state) != (handle >> 56)) {
      return Error{Errc::unknown_handle, describe(handle) + " has a type tag its slot never had"};
    }
    if (expected != HandleType::unspecified && type_of_state(state) != static_cast<uint8_t>(expected)) {
      return Error{Errc::wrong_handle_type,
                   describe(handle) + " names a " +
                       std::string(to_string(static_cast<HandleType>(type_of_state(state)))) + ", not a " +
                       std::string(to_string(expected))};
    }
    if ((state & kPinMask) == kPinMask) return Error{Errc::resource_exhausted, "too many pins on one handle"};
    if (s->state.compare_exchange_weak(state, next(state), std::memory_order_acq_rel)) return state;
  }
}

Result<HandleTable::Ref> HandleTable::retrieve_untimed(Handle handle, HandleType expected) {
  auto found = find(handle);
  if (!found.ok()) return found.error();
  auto pinned = transition(*found, handle, expected, [](uint64_t st) { return st + 1; });
  if (!pinned.ok()) return pinned.error();
  return Ref(this, index_of_handle(handle), (*found)->object);
}

Result<HandleType> HandleTable::drop(Handle handle) {
  std::optional<metrics::ScopedTimer> timer;
  if (drop_hist_ != nullptr) timer.emplace(*clock_, *drop_hist_);
  return drop_untimed(handle);
}

Result<HandleType> HandleTable::drop_untimed(Handle handle) {
  auto found = find(handle);
  if (!found.ok()) return found.error();
  // Any type may be dropped; the caller learns which it was.
  auto dropped = transition(*found, handle, HandleType::unspecified, [](uint64_t st) { return st & ~kLiveBit; });
  if (!dropped.ok()) return dropped.error();
  const uint64_t state = *dropped;
  const auto type = static_cast<HandleType>(type_of_state(state));
  live_[static_cast<size_t>(type)]->add(-1);
  if ((state & kPinMask) == 0) destroy(index_of_handle(handle), state & ~kLiveBit);
  return type;
}

void HandleTable::unpin(uint32_t index) {
  Slot* s = slot(index);
  const uint64_t before = s->state.fetch_sub(1, std::memory_order_acq_rel);
  // The last pin of a dropped handle destroys the object.
  if ((before & kPinMask) == 1 && !(before & kLiveBit)) destroy(index, before - 1);
}

void HandleTable::destroy(uint32_t index, uint64_t state) {
  Slot* s = slot(index);
  void* object = s->object;
  const Deleter deleter = s->deleter;
  s->object = nullptr;
  s->deleter = nullptr;
  uint64_t generation = (generation_of_state(state) + 1) & kGenerationMask;
  if (generation == 0) generation = 1;  // 0 would let a forged handle with generation 0 look plausible
  s->state.store(generation << 40, std::memory_order_release);
  // Push on the free list.
  uint64_t head = free_head_.load(std::memory_order_relaxed);
  do {
    s->next_free.store(static_cast<uint32_t>(head), std::memory_order_relaxed);
  } while (!free_head_.compare_exchange_weak(head, (((head >> 32) + 1) << 32) | (uint64_t{index} + 1),
                                             std::memory_order_release, std::memory_order_relaxed));
  if (deleter != nullptr) deleter(object);
}

}  // namespace tandem
