// The two handle stores the benchmarks compare, behind one small interface so every case runs the same code
// against both: tandem's HandleTable, and the baseline DESIGN.md names — a std::mutex around a
// std::unordered_map from id to object, which is what a handle map usually is.
#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "core/handle/handle_table.h"
#include "harness.h"

namespace tandem::bench {

// Every case stores this object with a no-op deleter, so the figures are the table's cost, not new/delete's.
inline int g_object = 0;
inline void no_delete(void*) {}

// The baseline. retrieve() hands out a raw pointer under the lock and does not pin the object, so it does
// strictly less than HandleTable::retrieve (whose Ref keeps the object alive against a concurrent drop); it
// checks the type tag like ours. Each store allocates a map node: that is inherent to the baseline.
class MutexMap {
 public:
  Handle store(HandleType type, void* object, HandleTable::Deleter deleter) {
    std::lock_guard lock(mutex_);
    const Handle h = (uint64_t{static_cast<uint8_t>(type)} << 56) | ++next_;
    map_.emplace(h, Entry{object, deleter, type});
    return h;
  }
  void* retrieve(Handle h, HandleType expected) {
    std::lock_guard lock(mutex_);
    auto it = map_.find(h);
    return it == map_.end() || it->second.type != expected ? nullptr : it->second.object;
  }
  bool drop(Handle h) {
    Entry e;
    {
      std::lock_guard lock(mutex_);
      auto it = map_.find(h);
      if (it == map_.end()) return false;
      e = it->second;
      map_.erase(it);
    }
    if (e.deleter != nullptr) e.deleter(e.object);
    return true;
  }

 private:
  struct Entry {
    void* object = nullptr;
    HandleTable::Deleter deleter = nullptr;
    HandleType type = HandleType::unspecified;
  };
  std::mutex mutex_;
  std::unordered_map<Handle, Entry> map_;
  uint64_t next_ = 0;
};

// Adapters: store / use (retrieve, touch the object, release) / drop, all with the synthetic type.
struct TandemOps {
  HandleTable& table;
  Handle store() {
    auto h = table.store(HandleType::synthetic, &g_object, no_delete);
    return h.ok() ? *h : 0;
  }
  void use(Handle h) {
    auto ref = table.retrieve(h, HandleType::synthetic);  // the Ref unpins at the end of this scope
    keep(ref.ok() ? ref->get() : nullptr);
  }
  void drop(Handle h) { keep(table.drop(h).ok()); }
};

struct MutexMapOps {
  MutexMap& map;
  Handle store() { return map.store(HandleType::synthetic, &g_object, no_delete); }
  void use(Handle h) { keep(map.retrieve(h, HandleType::synthetic)); }
  void drop(Handle h) { keep(map.drop(h)); }
};

}  // namespace tandem::bench
