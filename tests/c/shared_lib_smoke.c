/* A C program (not C++) using libtandem.so through tandem.h only: initialize, a hand-encoded ping, a bad
 * request, drop_handle errors, dispose. Proves the shared library and the header are usable from plain C. */
#include <stdio.h>
#include <string.h>

#include "tandem/tandem.h"

static int failures = 0;
#define EXPECT(cond)                                            \
  do {                                                          \
    if (!(cond)) {                                              \
      fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                               \
    }                                                           \
  } while (0)

static int contains(const uint8_t* hay, size_t n, const char* needle) {
  size_t k = strlen(needle);
  for (size_t i = 0; i + k <= n; ++i) {
    if (memcmp(hay + i, needle, k) == 0) return 1;
  }
  return 0;
}

int main(void) {
  tandem_core* core = NULL;
  EXPECT(tandem_initialize(NULL, NULL, NULL, 0, &core) == TANDEM_OK);
  EXPECT(core != NULL);

  /* FfiRequest { ping (field 6) { payload (field 1) = "c-abi" } } */
  const uint8_t ping[] = {0x32, 0x07, 0x0a, 0x05, 'c', '-', 'a', 'b', 'i'};
  const uint8_t* resp = NULL;
  size_t len = 0;
  EXPECT(tandem_request(core, ping, sizeof ping, &resp, &len) == TANDEM_OK);
  /* FfiResponse { ping (field 15) { payload = "c-abi", core_now_ns } }: tag 0x7a, no error field. */
  EXPECT(len > 9 && resp[0] == 0x7a);
  EXPECT(contains(resp, len, "c-abi"));

  const uint8_t garbage[] = {0xff, 0xff, 0xff};
  EXPECT(tandem_request(core, garbage, sizeof garbage, &resp, &len) == TANDEM_OK);
  EXPECT(len >= 2 && resp[0] == 0x08 && resp[1] == TANDEM_MALFORMED_REQUEST); /* error = MALFORMED_REQUEST */

  EXPECT(tandem_drop_handle(core, 0) == TANDEM_NULL_HANDLE);
  EXPECT(tandem_drop_handle(core, 12345) == TANDEM_UNKNOWN_HANDLE);
  EXPECT(strcmp(tandem_error_name(TANDEM_UNKNOWN_HANDLE), "unknown_handle") == 0);
  tandem_dispose(core);

  printf("shared library smoke test: %s (%d failures)\n", failures ? "FAILED" : "passed", failures);
  return failures ? 1 : 0;
}
