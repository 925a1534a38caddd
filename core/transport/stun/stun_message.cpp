#include "core/transport/stun/stun_message.h"

#include <mbedtls/sha1.h>

#include <cstring>

namespace tandem::transport {
namespace {

using platform::AddressFamily;
using platform::IpAddress;
using platform::SocketAddress;

constexpr uint32_t kFingerprintXor = 0x5354554e;
constexpr size_t kMessageIntegritySize = 20;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 |
         p[3];
}
void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

uint32_t crc32_update(uint32_t crc, std::span<const uint8_t> bytes) {
  for (uint8_t b : bytes) crc = kCrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return crc;
}

// HMAC-SHA1 (RFC 2104) of head || tail. Built on mbedTLS's SHA-1 context rather than mbedtls_md_hmac_*, whose
// mbedtls_md_setup() allocates: checks and their responses are answered on every consent interval and must not.
void hmac_sha1(std::span<const uint8_t> key, std::span<const uint8_t> head, std::span<const uint8_t> tail,
               uint8_t out[20]) {
  uint8_t block[64] = {};
  mbedtls_sha1_context ctx;
  mbedtls_sha1_init(&ctx);
  if (key.size() > sizeof block) {
    mbedtls_sha1_starts_ret(&ctx);
    mbedtls_sha1_update_ret(&ctx, key.data(), key.size());
    mbedtls_sha1_finish_ret(&ctx, block);
  } else if (!key.empty()) {
    std::memcpy(block, key.data(), key.size());
  }
  uint8_t pad[64];
  for (size_t i = 0; i < 64; ++i) pad[i] = block[i] ^ 0x36;
  uint8_t inner[20];
  mbedtls_sha1_starts_ret(&ctx);
  mbedtls_sha1_update_ret(&ctx, pad, sizeof pad);
  mbedtls_sha1_update_ret(&ctx, head.data(), head.size());
  mbedtls_sha1_update_ret(&ctx, tail.data(), tail.size());
  mbedtls_sha1_finish_ret(&ctx, inner);
  for (size_t i = 0; i < 64; ++i) pad[i] = block[i] ^ 0x5c;
  mbedtls_sha1_starts_ret(&ctx);
  mbedtls_sha1_update_ret(&ctx, pad, sizeof pad);
  mbedtls_sha1_update_ret(&ctx, inner, sizeof inner);
  mbedtls_sha1_finish_ret(&ctx, out);
  mbedtls_sha1_free(&ctx);
}

// The 16 bytes an address is xored with: the cookie, then (IPv6 only) the transaction id.
std::array<uint8_t, 16> xor_pad(const StunTransactionId& id) {
  std::array<uint8_t, 16> pad{};
  put32(pad.data(), kStunMagicCookie);
  std::memcpy(pad.data() + 4, id.data(), id.size());
  return pad;
}

Error malformed(const char* why) { return Error{Errc::malformed_packet, why}; }

}  // namespace

uint32_t crc32(std::span<const uint8_t> bytes) { return crc32_update(0xFFFFFFFFu, bytes) ^ 0xFFFFFFFFu; }

bool looks_like_stun(std::span<const uint8_t> d) {
  return d.size() >= kStunHeaderSize && (d[0] & 0xC0) == 0 && be32(d.data() + 4) == kStunMagicCookie &&
         be16(d.data() + 2) % 4 == 0 && kStunHeaderSize + be16(d.data() + 2) == d.size();
}

std::optional<StunMessage::Known> StunMessage::known_index(uint16_t type) {
  switch (type) {
    case stun_attr::mapped_address: return kMappedAddress;
    case stun_attr::username: return kUsername;
    case stun_attr::message_integrity: return kMessageIntegrity;
    case stun_attr::error_code: return kErrorCode;
    case stun_attr::unknown_attributes: return kUnknownAttributes;
    case stun_attr::realm: return kRealm;
    case stun_attr::nonce: return kNonce;
    case stun_attr::xor_mapped_address: return kXorMappedAddress;
    case stun_attr::priority: return kPriority;
    case stun_attr::use_candidate: return kUseCandidate;
    case stun_attr::software: return kSoftware;
    case stun_attr::fingerprint: return kFingerprint;
    case stun_attr::ice_controlled: return kIceControlled;
    case stun_attr::ice_controlling: return kIceControlling;
    default: return std::nullopt;
  }
}

Result<StunMessage> StunMessage::parse(std::span<const uint8_t> d) {
  if (d.size() < kStunHeaderSize) return malformed("stun: shorter than the header");
  if ((d[0] & 0xC0) != 0) return malformed("stun: the first two bits are not zero");
  if (be32(d.data() + 4) != kStunMagicCookie) return malformed("stun: no magic cookie");
  const size_t length = be16(d.data() + 2);
  if (length % 4 != 0) return malformed("stun: length is not a multiple of 4");
  if (kStunHeaderSize + length != d.size()) return malformed("stun: length does not match the datagram");

  StunMessage m;
  m.bytes_ = d;
  const uint16_t type = be16(d.data());
  m.method_ = static_cast<uint16_t>((type & 0x000F) | (type & 0x00E0) >> 1 | (type & 0x3E00) >> 2);
  m.class_ = static_cast<StunClass>((type >> 4 & 1) | (type >> 7 & 2));
  std::memcpy(m.transaction_id_.data(), d.data() + 8, m.transaction_id_.size());

  bool after_integrity = false;
  for (size_t pos = kStunHeaderSize; pos < d.size();) {
    if (m.offsets_[kFingerprint] != 0) return malformed("stun: attribute after FINGERPRINT");
    if (d.size() - pos < 4) return malformed("stun: truncated attribute header");
    const uint16_t atype = be16(d.data() + pos);
    const size_t alen = be16(d.data() + pos + 2);
    const size_t padded = (alen + 3) & ~size_t{3};
    if (d.size() - pos - 4 < padded) return malformed("stun: attribute runs past the end");
    const uint8_t* v = d.data() + pos + 4;
    const size_t at = pos;
    pos += 4 + padded;
    if (after_integrity && atype != stun_attr::fingerprint) continue;  // RFC 8489 14.5: ignored

    const auto known = known_index(atype);
    if (!known) {
      if (atype < 0x8000) {
        if (m.unknown_count_ < kMaxUnknownRequired) m.unknown_required_[m.unknown_count_++] = atype;
        ++m.unknown_total_;
      }
      continue;
    }
    switch (*known) {
      case kMappedAddress:
      case kXorMappedAddress:
        if (!((alen == 8 && v[1] == 1) || (alen == 20 && v[1] == 2))) return malformed("stun: bad address");
        break;
      case kMessageIntegrity:
        if (alen != kMessageIntegritySize) return malformed("stun: MESSAGE-INTEGRITY is not 20 bytes");
        after_integrity = true;
        break;
      case kFingerprint:
        if (alen != 4) return malformed("stun: FINGERPRINT is not 4 bytes");
        break;
      case kErrorCode:
        if (alen < 4 || (v[2] & 7) < 3 || (v[2] & 7) > 6 || v[3] > 99) return malformed("stun: bad ERROR-CODE");
        break;
      case kUnknownAttributes:
        if (alen % 2 != 0) return malformed("stun: odd UNKNOWN-ATTRIBUTES");
        break;
      case kPriority:
        if (alen != 4) return malformed("stun: PRIORITY is not 4 bytes");
        break;
      case kUseCandidate:
        if (alen != 0) return malformed("stun: USE-CANDIDATE has a value");
        break;
      case kIceControlled:
      case kIceControlling:
        if (alen != 8) return malformed("stun: ICE-CONTROLLING/ICE-CONTROLLED is not 8 bytes");
        break;
      default:
        break;
    }
    if (m.offsets_[*known] == 0) m.offsets_[*known] = static_cast<uint32_t>(at);
  }
  return m;
}

std::span<const uint8_t> StunMessage::value(Known k) const {
  const uint32_t at = offsets_[k];
  if (at == 0) return {};
  return bytes_.subspan(at + 4, be16(bytes_.data() + at + 2));
}

std::optional<std::span<const uint8_t>> StunMessage::attribute(uint16_t type) const {
  if (const auto known = known_index(type)) {
    if (offsets_[*known] == 0) return std::nullopt;
    return value(*known);
  }
  for (size_t pos = kStunHeaderSize; pos < bytes_.size();) {  // framing was checked by parse()
    const uint16_t atype = be16(bytes_.data() + pos);
    const size_t alen = be16(bytes_.data() + pos + 2);
    if (atype == type) return bytes_.subspan(pos + 4, alen);
    if (atype == stun_attr::message_integrity) break;
    pos += 4 + ((alen + 3) & ~size_t{3});
  }
  return std::nullopt;
}

std::optional<std::string_view> StunMessage::text(Known k) const {
  if (offsets_[k] == 0) return std::nullopt;
  const auto v = value(k);
  return std::string_view(reinterpret_cast<const char*>(v.data()), v.size());
}

std::optional<uint64_t> StunMessage::u64(Known k) const {
  if (offsets_[k] == 0) return std::nullopt;
  const auto v = value(k);
  return static_cast<uint64_t>(be32(v.data())) << 32 | be32(v.data() + 4);
}

std::optional<uint32_t> StunMessage::priority() const {
  if (offsets_[kPriority] == 0) return std::nullopt;
  return be32(value(kPriority).data());
}

std::optional<SocketAddress> StunMessage::address(Known k, bool xored) const {
  if (offsets_[k] == 0) return std::nullopt;
  const auto v = value(k);
  const auto pad = xor_pad(transaction_id_);
  SocketAddress a;
  a.port = be16(v.data() + 2);
  if (xored) a.port ^= static_cast<uint16_t>(kStunMagicCookie >> 16);
  a.ip.family = v[1] == 1 ? AddressFamily::ipv4 : AddressFamily::ipv6;
  for (size_t i = 0; i < a.ip.size(); ++i) a.ip.bytes[i] = static_cast<uint8_t>(v[4 + i] ^ (xored ? pad[i] : 0));
  return a;
}

std::optional<SocketAddress> StunMessage::xor_mapped_address() const { return address(kXorMappedAddress, true); }
std::optional<SocketAddress> StunMessage::mapped_address() const { return address(kMappedAddress, false); }

std::optional<StunErrorCode> StunMessage::error_code() const {
  if (offsets_[kErrorCode] == 0) return std::nullopt;
  const auto v = value(kErrorCode);
  return StunErrorCode{static_cast<uint16_t>((v[2] & 7) * 100 + v[3]),
                       std::string_view(reinterpret_cast<const char*>(v.data() + 4), v.size() - 4)};
}

std::optional<StunAttributeTypes> StunMessage::unknown_attributes() const {
  if (offsets_[kUnknownAttributes] == 0) return std::nullopt;
  return StunAttributeTypes(value(kUnknownAttributes));
}

bool StunMessage::verify_message_integrity(std::span<const uint8_t> key) const {
  const uint32_t at = offsets_[kMessageIntegrity];
  if (at == 0) return false;
  // The length field must cover the message up to and including MESSAGE-INTEGRITY, whatever follows it.
  uint8_t header[kStunHeaderSize];
  std::memcpy(header, bytes_.data(), sizeof header);
  put16(header + 2, static_cast<uint16_t>(at + 4 + kMessageIntegritySize - kStunHeaderSize));
  uint8_t mac[20];
  hmac_sha1(key, header, bytes_.subspan(kStunHeaderSize, at - kStunHeaderSize), mac);
  const uint8_t* expected = bytes_.data() + at + 4;
  uint8_t diff = 0;
  for (size_t i = 0; i < sizeof mac; ++i) diff |= static_cast<uint8_t>(mac[i] ^ expected[i]);
  return diff == 0;
}

bool StunMessage::verify_fingerprint() const {
  const uint32_t at = offsets_[kFingerprint];
  if (at == 0) return false;
  // FINGERPRINT is always last, so the header's length already covers it.
  return (crc32(bytes_.first(at)) ^ kFingerprintXor) == be32(bytes_.data() + at + 4);
}

// ---- builder ----

StunBuilder::StunBuilder(std::span<uint8_t> buffer, StunClass cls, uint16_t method, const StunTransactionId& id)
    : buffer_(buffer) {
  if (buffer.size() < kStunHeaderSize) {
    fail(Errc::resource_exhausted);
    return;
  }
  const auto c = static_cast<uint16_t>(cls);
  const auto type = static_cast<uint16_t>((method & 0x0F80) << 2 | (method & 0x0070) << 1 | (method & 0x000F) |
                                          (c & 2) << 7 | (c & 1) << 4);
  put16(buffer.data(), type);
  put16(buffer.data() + 2, 0);
  put32(buffer.data() + 4, kStunMagicCookie);
  std::memcpy(buffer.data() + 8, id.data(), id.size());
  size_ = kStunHeaderSize;
}

uint8_t* StunBuilder::begin_attribute(uint16_t type, size_t length) {
  if (error_ != Errc::ok) return nullptr;
  if (sealed_ || length > 0xFFFF) {
    fail(Errc::invalid_argument);
    return nullptr;
  }
  const size_t padded = (length + 3) & ~size_t{3};
  if (buffer_.size() - size_ < 4 + padded || size_ + 4 + padded - kStunHeaderSize > 0xFFFF) {
    fail(Errc::resource_exhausted);
    return nullptr;
  }
  uint8_t* p = buffer_.data() + size_;
  put16(p, type);
  put16(p + 2, static_cast<uint16_t>(length));
  std::memset(p + 4 + length, padding_, padded - length);
  size_ += 4 + padded;
  put16(buffer_.data() + 2, static_cast<uint16_t>(size_ - kStunHeaderSize));
  return p + 4;
}

StunBuilder& StunBuilder::add_raw(uint16_t type, std::span<const uint8_t> value) {
  if (uint8_t* p = begin_attribute(type, value.size()); p && !value.empty()) {
    std::memcpy(p, value.data(), value.size());
  }
  return *this;
}

StunBuilder& StunBuilder::add_u32(uint16_t type, uint32_t value) {
  if (uint8_t* p = begin_attribute(type, 4)) put32(p, value);
  return *this;
}

StunBuilder& StunBuilder::add_u64(uint16_t type, uint64_t value) {
  if (uint8_t* p = begin_attribute(type, 8)) {
    put32(p, static_cast<uint32_t>(value >> 32));
    put32(p + 4, static_cast<uint32_t>(value));
  }
  return *this;
}

void StunBuilder::write_address(uint16_t type, const SocketAddress& a, bool xored) {
  uint8_t* p = begin_attribute(type, 4 + a.ip.size());
  if (!p) return;
  StunTransactionId id;
  std::memcpy(id.data(), buffer_.data() + 8, id.size());
  const auto pad = xor_pad(id);
  p[0] = 0;
  p[1] = a.ip.is_ipv6() ? 2 : 1;
  put16(p + 2, static_cast<uint16_t>(a.port ^ (xored ? kStunMagicCookie >> 16 : 0)));
  for (size_t i = 0; i < a.ip.size(); ++i) p[4 + i] = static_cast<uint8_t>(a.ip.bytes[i] ^ (xored ? pad[i] : 0));
}

StunBuilder& StunBuilder::add_xor_mapped_address(const SocketAddress& a) {
  write_address(stun_attr::xor_mapped_address, a, true);
  return *this;
}

StunBuilder& StunBuilder::add_mapped_address(const SocketAddress& a) {
  write_address(stun_attr::mapped_address, a, false);
  return *this;
}

StunBuilder& StunBuilder::add_error_code(uint16_t code, std::string_view reason) {
  if (code < 300 || code > 699) {
    fail(Errc::invalid_argument);
    return *this;
  }
  if (uint8_t* p = begin_attribute(stun_attr::error_code, 4 + reason.size())) {
    p[0] = p[1] = 0;
    p[2] = static_cast<uint8_t>(code / 100);
    p[3] = static_cast<uint8_t>(code % 100);
    if (!reason.empty()) std::memcpy(p + 4, reason.data(), reason.size());
  }
  return *this;
}

StunBuilder& StunBuilder::add_unknown_attributes(std::span<const uint16_t> types) {
  if (uint8_t* p = begin_attribute(stun_attr::unknown_attributes, 2 * types.size())) {
    for (size_t i = 0; i < types.size(); ++i) put16(p + 2 * i, types[i]);
  }
  return *this;
}

StunBuilder& StunBuilder::add_message_integrity(std::span<const uint8_t> key) {
  // begin_attribute() sets the length to include this attribute, which is what the HMAC must see.
  const size_t covered = size_;
  if (uint8_t* p = begin_attribute(stun_attr::message_integrity, kMessageIntegritySize)) {
    hmac_sha1(key, buffer_.first(kStunHeaderSize), buffer_.subspan(kStunHeaderSize, covered - kStunHeaderSize), p);
  }
  return *this;
}

StunBuilder& StunBuilder::add_fingerprint() {
  const size_t covered = size_;
  if (uint8_t* p = begin_attribute(stun_attr::fingerprint, 4)) {
    put32(p, crc32(buffer_.first(covered)) ^ kFingerprintXor);
    sealed_ = true;
  }
  return *this;
}

Result<std::span<const uint8_t>> StunBuilder::finish() const {
  if (error_ != Errc::ok) {
    return Error{error_, error_ == Errc::resource_exhausted ? "stun: buffer too small" : "stun: invalid attribute"};
  }
  return std::span<const uint8_t>(buffer_.first(size_));
}

}  // namespace tandem::transport
