// STUN messages (RFC 8489), the subset ICE needs: a zero-copy parser and an allocation-free builder.
//
// Parsing checks the framing once (header bits, magic cookie, lengths, attribute bounds and padding, the sizes of
// the attributes we understand) and records where each known attribute first occurs, so the accessors are O(1)
// and read straight from the caller's datagram: a StunMessage is a view, valid while those bytes are.
// Any attribute may repeat; as RFC 8489 section 14 says, only the first occurrence counts. Attributes after
// MESSAGE-INTEGRITY other than FINGERPRINT are ignored (section 14.5); anything after FINGERPRINT is malformed.
// Unknown comprehension-optional attributes (type >= 0x8000) are skipped; unknown comprehension-required ones
// are listed (unknown_required()) so that a server can answer 420 with UNKNOWN-ATTRIBUTES.
//
// MESSAGE-INTEGRITY is HMAC-SHA1 (SHA-1 from mbedTLS) keyed with the short-term password as ICE uses it, or any
// key the caller derives (the long-term MD5 key). FINGERPRINT is CRC-32 (ISO 3309 / IEEE 802.3) xor 0x5354554e.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "core/common/error.h"
#include "tandem/platform/net.h"

namespace tandem::transport {

inline constexpr uint32_t kStunMagicCookie = 0x2112A442;
inline constexpr size_t kStunHeaderSize = 20;

enum class StunClass : uint8_t { request = 0, indication = 1, success = 2, error = 3 };

namespace stun_method {
inline constexpr uint16_t binding = 0x001;
}

namespace stun_attr {
inline constexpr uint16_t mapped_address = 0x0001;
inline constexpr uint16_t username = 0x0006;
inline constexpr uint16_t message_integrity = 0x0008;
inline constexpr uint16_t error_code = 0x0009;
inline constexpr uint16_t unknown_attributes = 0x000A;
inline constexpr uint16_t realm = 0x0014;
inline constexpr uint16_t nonce = 0x0015;
inline constexpr uint16_t xor_mapped_address = 0x0020;
inline constexpr uint16_t priority = 0x0024;        // RFC 8445
inline constexpr uint16_t use_candidate = 0x0025;   // RFC 8445
inline constexpr uint16_t software = 0x8022;
inline constexpr uint16_t fingerprint = 0x8028;
inline constexpr uint16_t ice_controlled = 0x8029;   // RFC 8445
inline constexpr uint16_t ice_controlling = 0x802A;  // RFC 8445
}  // namespace stun_attr

using StunTransactionId = std::array<uint8_t, 12>;

struct StunErrorCode {
  uint16_t code = 0;        // class * 100 + number, 300-699
  std::string_view reason;  // UTF-8 reason phrase, a view into the message
};

// A list of 16-bit attribute types as UNKNOWN-ATTRIBUTES carries them (big-endian on the wire).
class StunAttributeTypes {
 public:
  explicit StunAttributeTypes(std::span<const uint8_t> raw) : raw_(raw) {}
  size_t size() const { return raw_.size() / 2; }
  uint16_t operator[](size_t i) const { return static_cast<uint16_t>(raw_[2 * i] << 8 | raw_[2 * i + 1]); }

 private:
  std::span<const uint8_t> raw_;
};

// CRC-32 as FINGERPRINT uses it (reflected polynomial 0xEDB88320, init and final xor 0xFFFFFFFF).
uint32_t crc32(std::span<const uint8_t> bytes);

// The bytes of a text key (ICE passwords are used as they are).
inline std::span<const uint8_t> key_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// True if the datagram starts like a STUN message (first two bits zero, the magic cookie, a length that is a
// multiple of 4 and matches); cheaper than parse() and enough to separate STUN from other traffic.
bool looks_like_stun(std::span<const uint8_t> datagram);

class StunMessage {
 public:
  static constexpr size_t kMaxUnknownRequired = 8;  // more are counted but not listed

  // Errc::malformed_packet for anything that is not a well-formed STUN message.
  static Result<StunMessage> parse(std::span<const uint8_t> datagram);

  StunClass message_class() const { return class_; }
  uint16_t method() const { return method_; }
  const StunTransactionId& transaction_id() const { return transaction_id_; }
  std::span<const uint8_t> bytes() const { return bytes_; }

  // The first occurrence of any attribute type (before MESSAGE-INTEGRITY, or FINGERPRINT itself).
  std::optional<std::span<const uint8_t>> attribute(uint16_t type) const;

  std::optional<platform::SocketAddress> xor_mapped_address() const;
  std::optional<platform::SocketAddress> mapped_address() const;
  std::optional<std::string_view> username() const { return text(kUsername); }
  std::optional<std::string_view> realm() const { return text(kRealm); }
  std::optional<std::string_view> nonce() const { return text(kNonce); }
  std::optional<std::string_view> software() const { return text(kSoftware); }
  std::optional<uint32_t> priority() const;
  bool use_candidate() const { return offsets_[kUseCandidate] != 0; }
  std::optional<uint64_t> ice_controlling() const { return u64(kIceControlling); }
  std::optional<uint64_t> ice_controlled() const { return u64(kIceControlled); }
  std::optional<StunErrorCode> error_code() const;
  std::optional<StunAttributeTypes> unknown_attributes() const;

  // Comprehension-required attribute types this parser does not understand, in order of appearance.
  std::span<const uint16_t> unknown_required() const { return {unknown_required_.data(), unknown_count_}; }
  size_t unknown_required_total() const { return unknown_total_; }

  bool has_message_integrity() const { return offsets_[kMessageIntegrity] != 0; }
  // HMAC-SHA1 over the message up to MESSAGE-INTEGRITY with the header length covering it (RFC 8489 14.5).
  // False if the attribute is absent. Constant-time comparison.
  bool verify_message_integrity(std::span<const uint8_t> key) const;
  bool has_fingerprint() const { return offsets_[kFingerprint] != 0; }
  bool verify_fingerprint() const;

 private:
  enum Known : uint8_t {
    kMappedAddress, kUsername, kMessageIntegrity, kErrorCode, kUnknownAttributes, kRealm, kNonce,
    kXorMappedAddress, kPriority, kUseCandidate, kSoftware, kFingerprint, kIceControlled, kIceControlling,
    kKnownCount
  };
  static std::optional<Known> known_index(uint16_t type);

  StunMessage() = default;
  std::span<const uint8_t> value(Known k) const;  // empty if absent
  std::optional<std::string_view> text(Known k) const;
  std::optional<uint64_t> u64(Known k) const;
  std::optional<platform::SocketAddress> address(Known k, bool xored) const;

  std::span<const uint8_t> bytes_;
  StunClass class_ = StunClass::request;
  uint16_t method_ = 0;
  StunTransactionId transaction_id_{};
  std::array<uint32_t, kKnownCount> offsets_{};  // offset of the attribute header; 0 = absent
  std::array<uint16_t, kMaxUnknownRequired> unknown_required_{};
  uint8_t unknown_count_ = 0;
  uint32_t unknown_total_ = 0;
};

// Writes a STUN message into a caller-supplied buffer, attribute by attribute, without allocating. Errors are
// sticky: once the buffer is too small (or an attribute follows FINGERPRINT) every later call is ignored and
// finish() reports it. MESSAGE-INTEGRITY and FINGERPRINT go last, in that order, and are computed over what has
// been written so far, so the header length is kept current after every attribute.
class StunBuilder {
 public:
  StunBuilder(std::span<uint8_t> buffer, StunClass cls, uint16_t method, const StunTransactionId& id);

  // Value of the padding bytes after attributes that are not a multiple of 4 long (any value is valid;
  // RFC 5769's vectors use spaces).
  StunBuilder& set_padding_byte(uint8_t byte) {
    padding_ = byte;
    return *this;
  }

  StunBuilder& add_raw(uint16_t type, std::span<const uint8_t> value);
  StunBuilder& add_text(uint16_t type, std::string_view text) { return add_raw(type, key_bytes(text)); }
  StunBuilder& add_u32(uint16_t type, uint32_t value);
  StunBuilder& add_u64(uint16_t type, uint64_t value);
  StunBuilder& add_flag(uint16_t type) { return add_raw(type, {}); }

  StunBuilder& add_xor_mapped_address(const platform::SocketAddress& address);
  StunBuilder& add_mapped_address(const platform::SocketAddress& address);
  StunBuilder& add_username(std::string_view name) { return add_text(stun_attr::username, name); }
  StunBuilder& add_software(std::string_view text) { return add_text(stun_attr::software, text); }
  StunBuilder& add_priority(uint32_t priority) { return add_u32(stun_attr::priority, priority); }
  StunBuilder& add_use_candidate() { return add_flag(stun_attr::use_candidate); }
  StunBuilder& add_ice_controlling(uint64_t tie_breaker) { return add_u64(stun_attr::ice_controlling, tie_breaker); }
  StunBuilder& add_ice_controlled(uint64_t tie_breaker) { return add_u64(stun_attr::ice_controlled, tie_breaker); }
  // code: 300-699 (class * 100 + number).
  StunBuilder& add_error_code(uint16_t code, std::string_view reason);
  StunBuilder& add_unknown_attributes(std::span<const uint16_t> types);

  StunBuilder& add_message_integrity(std::span<const uint8_t> key);
  StunBuilder& add_fingerprint();

  size_t size() const { return size_; }
  // The finished message, a view into the buffer; Errc::resource_exhausted if it did not fit, or
  // Errc::invalid_argument for a misuse (attribute after FINGERPRINT, bad error code).
  Result<std::span<const uint8_t>> finish() const;

 private:
  uint8_t* begin_attribute(uint16_t type, size_t length);  // nullptr on error
  void fail(Errc code) {
    if (error_ == Errc::ok) error_ = code;
  }
  void write_address(uint16_t type, const platform::SocketAddress& address, bool xored);

  std::span<uint8_t> buffer_;
  size_t size_ = 0;
  uint8_t padding_ = 0;
  bool sealed_ = false;  // FINGERPRINT written
  Errc error_ = Errc::ok;
};

}  // namespace tandem::transport
