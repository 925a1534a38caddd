// Counts heap allocations made by the current thread (global operator new is replaced in the test binary).
#pragma once

#include <cstdint>

namespace tandem::test {

uint64_t allocations_on_this_thread();

// Allocations made on this thread between construction and count().
class AllocationScope {
 public:
  AllocationScope() : start_(allocations_on_this_thread()) {}
  uint64_t count() const { return allocations_on_this_thread() - start_; }

 private:
  uint64_t start_;
};

}  // namespace tandem::test
