#include "core/media/jitter/unwrap.h"

#include <catch2/catch.hpp>

using namespace tandem::media;

TEST_CASE("Sequence numbers and timestamps extend across their wrap in both directions", "[jitter]") {
  const int64_t start = kFirstExtended + 65535;
  CHECK(extend_seq(start, 65535) == start);
  CHECK(extend_seq(start, 0) == start + 1);
  CHECK(extend_seq(start, 100) == start + 101);
  CHECK(extend_seq(start + 1, 65535) == start);  // backwards over the wrap
  CHECK(extend_seq(start, 32766) == start + 32767);  // furthest forward
  CHECK(extend_seq(start, static_cast<uint16_t>(65535 - 32768)) == start - 32768);  // furthest back

  const int64_t ts = kFirstExtended + 0xFFFFFF00u;
  CHECK(extend_timestamp(ts, 0x100) == ts + 0x200);
  CHECK(extend_timestamp(ts + 0x200, 0xFFFFFF00u) == ts);
  CHECK(extend_timestamp(ts, 0x7FFFFF00u) == ts - 0x80000000ll);
}
