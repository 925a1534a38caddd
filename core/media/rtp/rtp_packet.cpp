#include "core/media/rtp/rtp_packet.h"

#include <cstring>

namespace tandem::media::rtp {
namespace {

// Error construction is kept out of line and marked cold so the success path of parse/write stays small
// enough to inline its loads and stay in registers.
[[gnu::cold, gnu::noinline]] Error malformed(const char* what) { return Error{Errc::malformed_packet, what}; }
[[gnu::cold, gnu::noinline]] Error invalid(const char* what) { return Error{Errc::invalid_argument, what}; }

RtpExtensionFormat format_of_profile(uint16_t profile) {
  if (profile == kOneByteExtensionProfile) return RtpExtensionFormat::one_byte;
  if ((profile & 0xFFF0) == kTwoByteExtensionProfile) return RtpExtensionFormat::two_byte;
  return RtpExtensionFormat::other;
}

// The same rules as detail::next_extension(), as tight loops that only walk the lengths: this runs for every
// received packet, the element-by-element walk only when someone looks at the extensions.
bool one_byte_elements_valid(const uint8_t* block, size_t n) {
  size_t pos = 0;
  while (pos < n) {
    const uint8_t b = block[pos];
    if (b == 0) {  // padding
      ++pos;
      continue;
    }
    if ((b >> 4) == 15) return true;  // reserved id: the list ends here
    if ((b >> 4) == 0) return false;
    pos += 2u + (b & 0x0F);  // header byte and 1..16 data bytes
  }
  return pos == n;
}

bool two_byte_elements_valid(const uint8_t* block, size_t n) {
  size_t pos = 0;
  while (pos < n) {
    if (block[pos] == 0) {
      ++pos;
      continue;
    }
    if (pos + 2 > n) return false;
    pos += 2u + block[pos + 1];
  }
  return pos == n;
}

// Which RFC 8285 form `extensions` needs, and the bytes its elements take (before rounding to 32 bits).
// Returns false when some element fits neither form. Branch-free per element: this runs for every packet sent.
inline bool plan_extensions(const RtpHeader& h, RtpExtensionFormat& format, size_t& element_bytes) {
  bool invalid = false;
  bool needs_two_byte = h.two_byte_extensions;
  size_t data = 0;
  for (const RtpExtension& e : h.extensions) {
    const size_t size = e.data.size();
    invalid |= (e.id == 0) | (size > kMaxTwoByteExtensionSize);
    // One-byte form: id 1..14 and 1..16 bytes (unsigned wrap-around turns both ranges into one compare).
    needs_two_byte |=
        (static_cast<uint8_t>(e.id - 1) >= kMaxOneByteExtensionId) | (size - 1 >= kMaxOneByteExtensionSize);
    data += size;
  }
  format = needs_two_byte ? RtpExtensionFormat::two_byte : RtpExtensionFormat::one_byte;
  element_bytes = data + h.extensions.size() * (needs_two_byte ? 2 : 1);
  return !invalid;
}

size_t round_up_to_word(size_t n) { return (n + 3) & ~size_t{3}; }

// Extension data is 0..255 bytes and usually 1..4: fixed-size moves (which compile to plain loads and stores)
// instead of a call to memcpy per element. Overlapping moves cover every length without reading past `src`.
inline void copy_small(uint8_t* dst, const uint8_t* src, size_t n) {
  if (n > 16) {
    std::memcpy(dst, src, n);
  } else if (n >= 8) {
    std::memcpy(dst, src, 8);
    std::memcpy(dst + n - 8, src + n - 8, 8);
  } else if (n >= 4) {
    std::memcpy(dst, src, 4);
    std::memcpy(dst + n - 4, src + n - 4, 4);
  } else if (n > 0) {
    dst[0] = src[0];
    dst[n / 2] = src[n / 2];
    dst[n - 1] = src[n - 1];
  }
}

}  // namespace

Result<RtpPacketView> parse_rtp(std::span<const uint8_t> d) {
  const size_t size = d.size();
  if (size < kRtpFixedHeaderSize) return malformed("rtp: shorter than the 12-byte fixed header");
  const uint8_t* p = d.data();
  if ((p[0] >> 6) != 2) return malformed("rtp: version is not 2");

  RtpPacketView v;
  v.marker = (p[1] & 0x80) != 0;
  v.payload_type = p[1] & 0x7F;
  v.sequence_number = load_be16(p + 2);
  v.timestamp = load_be32(p + 4);
  v.ssrc = load_be32(p + 8);

  size_t pos = kRtpFixedHeaderSize;
  const size_t csrc_bytes = size_t{p[0] & 0x0Fu} * 4;
  if (csrc_bytes > size - pos) return malformed("rtp: CSRC count runs past the end of the packet");
  v.csrc_bytes = d.subspan(pos, csrc_bytes);
  pos += csrc_bytes;

  if (p[0] & 0x10) {
    if (size - pos < 4) return malformed("rtp: header extension header runs past the end of the packet");
    v.extension_profile = load_be16(p + pos);
    const size_t ext_bytes = size_t{load_be16(p + pos + 2)} * 4;
    pos += 4;
    if (ext_bytes > size - pos) return malformed("rtp: header extension length runs past the end of the packet");
    v.extension_data = d.subspan(pos, ext_bytes);
    pos += ext_bytes;
    v.extension_format = format_of_profile(v.extension_profile);
    const bool valid = v.extension_format == RtpExtensionFormat::one_byte
                           ? one_byte_elements_valid(p + pos - ext_bytes, ext_bytes)
                       : v.extension_format == RtpExtensionFormat::two_byte
                           ? two_byte_elements_valid(p + pos - ext_bytes, ext_bytes)
                           : true;
    if (!valid)
      return malformed("rtp: bad RFC 8285 header extension element (non-zero id-0 byte or data past the block)");
  }

  size_t end = size;
  if (p[0] & 0x20) {
    if (end == pos) return malformed("rtp: padding bit set but no byte after the header");
    const uint8_t padding = p[end - 1];
    if (padding == 0) return malformed("rtp: padding length is 0");
    if (padding > end - pos) return malformed("rtp: padding length exceeds the payload");
    v.padding_size = padding;
    end -= padding;
  }
  v.header_size = pos;
  v.payload = d.subspan(pos, end - pos);
  return v;
}

size_t rtp_header_size(const RtpHeader& h) {
  if (h.csrcs.size() > kMaxCsrcs) return 0;
  size_t size = kRtpFixedHeaderSize + 4 * h.csrcs.size();
  if (!h.extensions.empty()) {
    RtpExtensionFormat format;
    size_t element_bytes;
    if (!plan_extensions(h, format, element_bytes)) return 0;
    size += 4 + round_up_to_word(element_bytes);
  }
  return size;
}

Result<size_t> write_rtp(const RtpHeader& h, std::span<const uint8_t> payload, std::span<uint8_t> out) {
  if (h.payload_type > 127) return invalid("rtp: payload type must be 0..127");
  if (h.csrcs.size() > kMaxCsrcs) return invalid("rtp: at most 15 CSRCs");
  RtpExtensionFormat format = RtpExtensionFormat::none;
  size_t ext_block = 0;
  if (!h.extensions.empty()) {
    size_t element_bytes = 0;
    if (!plan_extensions(h, format, element_bytes))
      return invalid("rtp: extension ids must be 1..255 and data at most 255 bytes");
    ext_block = round_up_to_word(element_bytes);
    if (ext_block / 4 > 0xFFFF) return invalid("rtp: header extension block too long");
  }
  const size_t header_size = kRtpFixedHeaderSize + 4 * h.csrcs.size() + (ext_block ? 4 + ext_block : 0);
  const size_t total = header_size + payload.size() + h.padding_size;
  if (total > out.size()) return invalid("rtp: output buffer too small");

  uint8_t* p = out.data();
  // The payload first: it may overlap the header area of `out` (or already be in place).
  if (!payload.empty() && payload.data() != p + header_size)
    std::memmove(p + header_size, payload.data(), payload.size());

  p[0] = static_cast<uint8_t>(0x80 | (h.padding_size ? 0x20 : 0) | (ext_block ? 0x10 : 0) | h.csrcs.size());
  p[1] = static_cast<uint8_t>((h.marker ? 0x80 : 0) | h.payload_type);
  store_be16(p + 2, h.sequence_number);
  store_be32(p + 4, h.timestamp);
  store_be32(p + 8, h.ssrc);
  size_t pos = kRtpFixedHeaderSize;
  for (uint32_t csrc : h.csrcs) {
    store_be32(p + pos, csrc);
    pos += 4;
  }
  if (ext_block) {
    const bool one_byte = format == RtpExtensionFormat::one_byte;
    store_be16(p + pos, one_byte ? kOneByteExtensionProfile : kTwoByteExtensionProfile);
    store_be16(p + pos + 2, static_cast<uint16_t>(ext_block / 4));
    pos += 4;
    store_be32(p + pos + ext_block - 4, 0);  // zeroes the block's final padding; elements overwrite the rest
    if (one_byte) {
      for (const RtpExtension& e : h.extensions) {
        const size_t n = e.data.size();
        p[pos] = static_cast<uint8_t>((e.id << 4) | (n - 1));
        copy_small(p + pos + 1, e.data.data(), n);
        pos += 1 + n;
      }
    } else {
      for (const RtpExtension& e : h.extensions) {
        const size_t n = e.data.size();
        p[pos] = e.id;
        p[pos + 1] = static_cast<uint8_t>(n);
        copy_small(p + pos + 2, e.data.data(), n);
        pos += 2 + n;
      }
    }
  }
  if (h.padding_size) {
    uint8_t* pad = p + header_size + payload.size();
    std::memset(pad, 0, h.padding_size - 1u);
    pad[h.padding_size - 1] = h.padding_size;
  }
  return total;
}

}  // namespace tandem::media::rtp
