// Just enough of the DTLS record layer (RFC 6347 section 4.1) for tests to read and forge datagrams.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <span>
#include <vector>

namespace tandem::test::dtls {

// Bounds-checked big-endian reader for the wire formats below.
struct Reader {
  std::span<const uint8_t> d;
  size_t off = 0;
  size_t left() const { return d.size() - off; }
  uint64_t num(size_t bytes) {
    REQUIRE(left() >= bytes);
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v = (v << 8) | d[off++];
    return v;
  }
  std::span<const uint8_t> bytes(size_t n) {
    REQUIRE(left() >= n);
    auto s = d.subspan(off, n);
    off += n;
    return s;
  }
  std::span<const uint8_t> vec(size_t length_bytes) { return bytes(num(length_bytes)); }
};

struct Record {
  uint8_t type;
  uint16_t version, epoch;
  uint64_t sequence;
  std::span<const uint8_t> body;
};

// RFC 6347 section 4.1: a datagram carries whole records.
inline std::vector<Record> parse_records(std::span<const uint8_t> datagram) {
  std::vector<Record> records;
  Reader r{datagram};
  while (r.left() > 0) {
    Record rec{};
    rec.type = static_cast<uint8_t>(r.num(1));
    rec.version = static_cast<uint16_t>(r.num(2));
    rec.epoch = static_cast<uint16_t>(r.num(2));
    rec.sequence = r.num(6);
    rec.body = r.vec(2);
    records.push_back(rec);
  }
  return records;
}

// One record with epoch 0 and the given sequence number.
inline std::vector<uint8_t> record(uint8_t type, uint64_t sequence, std::vector<uint8_t> body) {
  std::vector<uint8_t> r = {type, 0xfe, 0xfd, 0, 0};
  for (int i = 5; i >= 0; --i) r.push_back(static_cast<uint8_t>(sequence >> (8 * i)));
  r.push_back(static_cast<uint8_t>(body.size() >> 8));
  r.push_back(static_cast<uint8_t>(body.size()));
  r.insert(r.end(), body.begin(), body.end());
  return r;
}

}  // namespace tandem::test::dtls
