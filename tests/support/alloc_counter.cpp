#include "support/alloc_counter.h"

#include <cerrno>
#include <cstdlib>
#include <new>

namespace {
thread_local uint64_t t_allocations = 0;

void* counted_alloc(std::size_t n) {
  ++t_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* counted_aligned_alloc(std::size_t n, std::align_val_t a) {
  ++t_allocations;
  const std::size_t align = static_cast<std::size_t>(a);
  if (void* p = std::aligned_alloc(align, (n + align - 1) / align * align)) return p;
  throw std::bad_alloc();
}
}  // namespace

namespace tandem::test {
uint64_t allocations_on_this_thread() { return t_allocations; }
}  // namespace tandem::test

#if TANDEM_TEST_COUNTS_MALLOC
// glibc supports replacing malloc in the executable (its own calls go through the replacement too); these
// count and forward to glibc's allocator, so glibc's free releases the memory. Defined in the executable, the
// thread_local counter lives in static TLS: touching it never allocates, even during start-up.
namespace {
thread_local uint64_t t_mallocs = 0;
}
extern "C" {
void* __libc_malloc(std::size_t n);
void* __libc_calloc(std::size_t count, std::size_t n);
void* __libc_realloc(void* p, std::size_t n);
void* __libc_memalign(std::size_t align, std::size_t n);

void* malloc(std::size_t n) noexcept { return ++t_mallocs, __libc_malloc(n); }
void* calloc(std::size_t count, std::size_t n) noexcept { return ++t_mallocs, __libc_calloc(count, n); }
void* realloc(void* p, std::size_t n) noexcept { return ++t_mallocs, __libc_realloc(p, n); }
void* memalign(std::size_t align, std::size_t n) noexcept { return ++t_mallocs, __libc_memalign(align, n); }
void* aligned_alloc(std::size_t align, std::size_t n) noexcept { return ++t_mallocs, __libc_memalign(align, n); }
int posix_memalign(void** out, std::size_t align, std::size_t n) noexcept {
  if (align < sizeof(void*) || (align & (align - 1)) != 0) return EINVAL;  // as glibc
  ++t_mallocs;
  void* p = __libc_memalign(align, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
}  // extern "C"
namespace tandem::test {
uint64_t mallocs_on_this_thread() { return t_mallocs; }
}  // namespace tandem::test
#else
namespace tandem::test {
uint64_t mallocs_on_this_thread() { return 0; }
}  // namespace tandem::test
#endif

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_aligned_alloc(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_aligned_alloc(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
// The nothrow forms must be replaced too, or the runtime's versions pair with our deletes (ASan flags that).
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return (++t_allocations, std::malloc(n == 0 ? 1 : n)); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return (++t_allocations, std::malloc(n == 0 ? 1 : n)); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
