// Counts heap allocations made by the current thread, at two levels:
//   - operator new (replaced in the test binary): every build, every target;
//   - malloc, calloc, realloc and the aligned forms, i.e. also what C libraries (libsrtp, its crypto backend,
//     the codecs) allocate: only where kCountsMalloc is true, natively on glibc without a sanitizer.
// operator new allocates through malloc, so where malloc is counted the malloc count includes it.
#pragma once

#include <cstdint>

// ASan, TSan, MSan and HWASan bring their own malloc (memory they track and free themselves), so a second
// definition in the binary cannot forward to glibc: there, and on non-glibc targets (wasm's musl), malloc is
// not interposed and malloc counts stay 0. Tests then still check operator new; the native build without
// sanitizers (scripts/test.sh's first step, and CI) is the one that checks the C libraries.
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer) || \
    __has_feature(hwaddress_sanitizer)
#define TANDEM_TEST_UNDER_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(__SANITIZE_HWADDRESS__)
#define TANDEM_TEST_UNDER_SANITIZER 1
#endif
#if defined(__GLIBC__) && !defined(TANDEM_TEST_UNDER_SANITIZER)
#define TANDEM_TEST_COUNTS_MALLOC 1
#else
#define TANDEM_TEST_COUNTS_MALLOC 0
#endif

namespace tandem::test {

// True where malloc_count() sees C allocations (see above); false means it always reads 0.
inline constexpr bool kCountsMalloc = TANDEM_TEST_COUNTS_MALLOC != 0;

uint64_t allocations_on_this_thread();  // operator new calls
uint64_t mallocs_on_this_thread();      // malloc-family calls (0 where !kCountsMalloc)

// Allocations made on this thread between construction and count() / malloc_count().
class AllocationScope {
 public:
  AllocationScope() : start_(allocations_on_this_thread()), malloc_start_(mallocs_on_this_thread()) {}
  uint64_t count() const { return allocations_on_this_thread() - start_; }
  uint64_t malloc_count() const { return mallocs_on_this_thread() - malloc_start_; }

 private:
  uint64_t start_;
  uint64_t malloc_start_;
};

}  // namespace tandem::test
