// RTP packets (RFC 3550 section 5.1) with RFC 8285 header extensions: a zero-copy parser and a writer into a
// caller's buffer.
//
// parse_rtp() checks everything a receiver must not trust (version, CSRC count, extension length, padding,
// every RFC 8285 extension element) once, and returns a view whose spans point into the datagram: the view is
// valid only while the datagram's bytes are. After a successful parse nothing else can fail, so walking the
// extensions is a plain range-for. write_rtp() is the inverse. Neither allocates, calls virtually or throws;
// an error is a value (Errc::malformed_packet for bad input, Errc::invalid_argument for a bad description or
// a buffer that is too small) whose message is built only on that cold path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/common/error.h"
#include "core/media/rtp/byte_order.h"
#include "core/media/rtp/cursor_range.h"

namespace tandem::media::rtp {

inline constexpr size_t kRtpFixedHeaderSize = 12;
inline constexpr size_t kMaxCsrcs = 15;
// RFC 8285: the "defined by profile" field of the extension header says which element format follows.
inline constexpr uint16_t kOneByteExtensionProfile = 0xBEDE;
inline constexpr uint16_t kTwoByteExtensionProfile = 0x1000;  // the low 4 bits ("appbits") are free
inline constexpr uint8_t kMaxOneByteExtensionId = 14;         // 15 is reserved: it ends the element list
inline constexpr size_t kMaxOneByteExtensionSize = 16;
inline constexpr size_t kMaxTwoByteExtensionSize = 255;

enum class RtpExtensionFormat : uint8_t {
  none,      // the X bit is clear
  one_byte,  // RFC 8285 section 4.2 (profile 0xBEDE)
  two_byte,  // RFC 8285 section 4.3 (profile 0x100X)
  other,     // an RFC 3550 extension of some other profile: extension_data is opaque
};

// One RFC 8285 extension element: its local id (as negotiated by a=extmap) and its data.
struct RtpExtension {
  uint8_t id = 0;
  std::span<const uint8_t> data;
};

namespace detail {
// Steps over padding to the next element of an RFC 8285 block. Returns 1 with `out` set, 0 at the end of the
// list (the end of the block, or a one-byte id 15, which RFC 8285 says stops processing), -1 when the element
// is malformed (an id-0 byte that is not padding, a missing length byte, or data running past the block).
inline int next_extension(RtpExtensionFormat format, std::span<const uint8_t> block, size_t& pos,
                          RtpExtension& out) {
  const size_t n = block.size();
  while (pos < n && block[pos] == 0) ++pos;  // padding, allowed between and after elements
  if (pos >= n) return 0;
  size_t id, size;
  if (format == RtpExtensionFormat::one_byte) {
    id = block[pos] >> 4;
    if (id == 15) return 0;
    if (id == 0) return -1;
    size = (block[pos] & 0x0F) + 1u;
    pos += 1;
  } else {
    if (pos + 2 > n) return -1;
    id = block[pos];
    size = block[pos + 1];
    pos += 2;
  }
  if (size > n - pos) return -1;
  out.id = static_cast<uint8_t>(id);
  out.data = block.subspan(pos, size);
  pos += size;
  return 1;
}

struct ExtensionCursor {
  using value_type = RtpExtension;
  RtpExtensionFormat format = RtpExtensionFormat::none;
  std::span<const uint8_t> block;
  size_t pos = 0;
  bool next(RtpExtension& out) {
    if (format != RtpExtensionFormat::one_byte && format != RtpExtensionFormat::two_byte) return false;
    return next_extension(format, block, pos, out) == 1;
  }
};
}  // namespace detail

using RtpExtensionRange = CursorRange<detail::ExtensionCursor>;

// A parsed packet. The spans point into the datagram given to parse_rtp().
struct RtpPacketView {
  uint8_t payload_type = 0;
  bool marker = false;
  uint16_t sequence_number = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  uint8_t padding_size = 0;  // bytes of RTP padding after the payload, including the count byte; 0 if P=0
  RtpExtensionFormat extension_format = RtpExtensionFormat::none;
  uint16_t extension_profile = 0;           // the raw "defined by profile" field when X=1
  std::span<const uint8_t> csrc_bytes;      // 4 bytes per CSRC, network order; see csrc()
  std::span<const uint8_t> extension_data;  // the extension block after its 4-byte header
  std::span<const uint8_t> payload;         // without the padding
  size_t header_size = 0;                   // fixed header + CSRCs + extension: where the payload starts

  size_t csrc_count() const { return csrc_bytes.size() / 4; }
  uint32_t csrc(size_t i) const { return load_be32(csrc_bytes.data() + 4 * i); }  // i < csrc_count()
  // RFC 8285 elements in wire order (empty for `none` and `other`).
  RtpExtensionRange extensions() const { return RtpExtensionRange({extension_format, extension_data, 0}); }
  // The first element with this id, if any.
  std::optional<std::span<const uint8_t>> find_extension(uint8_t id) const {
    for (const RtpExtension& e : extensions())
      if (e.id == id) return e.data;
    return std::nullopt;
  }
};

Result<RtpPacketView> parse_rtp(std::span<const uint8_t> datagram);

// What write_rtp() writes. Spans are read during the call only and must not overlap the output buffer.
struct RtpHeader {
  uint8_t payload_type = 0;  // 0..127
  bool marker = false;
  uint16_t sequence_number = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  std::span<const uint32_t> csrcs;  // at most 15
  // RFC 8285 elements. The one-byte form is used when every id is 1..14 and every size 1..16 (what browsers
  // expect unless a=extmap-allow-mixed was negotiated); otherwise, or when two_byte_extensions is set, the
  // two-byte form (ids 1..255, sizes 0..255).
  std::span<const RtpExtension> extensions;
  bool two_byte_extensions = false;
  // RTP padding to append (0 = none, else 1..255 bytes, the last one holding the count), e.g. for SRTP
  // block alignment or bandwidth probes.
  uint8_t padding_size = 0;
};

// Bytes the header (fixed part, CSRCs, extension block) of `header` takes; 0 if the header is invalid.
size_t rtp_header_size(const RtpHeader& header);

// Writes header, payload and padding to the front of `out` and returns the packet's size. The payload may
// already sit in `out` at offset rtp_header_size(header) (a packetizer writing in place): it is then not
// copied. Errc::invalid_argument when the description is invalid or `out` is too small.
Result<size_t> write_rtp(const RtpHeader& header, std::span<const uint8_t> payload, std::span<uint8_t> out);

}  // namespace tandem::media::rtp
