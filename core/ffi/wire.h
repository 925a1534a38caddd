// Just enough of the protobuf wire format to encode the big media events by hand, straight into the event
// bus's reused buffer: building them as protobuf-lite messages would first copy every frame and packet into
// a std::string of its own. The field numbers come from proto/tandem.proto; the JS and C++ decoders are the
// generated ones, and tests decode these events with them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace tandem::ffi::wire {

inline size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

inline void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

enum WireType : uint8_t { kVarint = 0, kLengthDelimited = 2 };

inline size_t tag_size(uint32_t field) { return varint_size(uint64_t{field} << 3); }
inline void put_tag(std::string& out, uint32_t field, WireType type) { put_varint(out, (uint64_t{field} << 3) | type); }

// A varint field; proto3 omits zero values, and so do we.
inline size_t uint_field_size(uint32_t field, uint64_t v) { return v == 0 ? 0 : tag_size(field) + varint_size(v); }
inline void put_uint_field(std::string& out, uint32_t field, uint64_t v) {
  if (v == 0) return;
  put_tag(out, field, kVarint);
  put_varint(out, v);
}

inline size_t bytes_field_size(uint32_t field, size_t n) { return tag_size(field) + varint_size(n) + n; }
inline void put_bytes_field(std::string& out, uint32_t field, std::span<const uint8_t> bytes) {
  put_tag(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}
// The header of a length-delimited field whose `n` bytes the caller appends next.
inline void put_length_header(std::string& out, uint32_t field, size_t n) {
  put_tag(out, field, kLengthDelimited);
  put_varint(out, n);
}

}  // namespace tandem::ffi::wire
