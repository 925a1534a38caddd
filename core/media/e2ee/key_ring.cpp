#include "core/media/e2ee/key_ring.h"

#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#include <algorithm>
#include <cstring>
#include <string_view>

namespace tandem::media::e2ee {
namespace {

constexpr std::string_view kRatchetSalt = "tandem-ratchet";
constexpr std::string_view kRatchetInfo = "tandem frame key";

bool valid_key_size(size_t n) { return n == 16 || n == 32; }

}  // namespace

Result<void> ratchet_key(std::span<const uint8_t> key, std::span<uint8_t> next) {
  if (!valid_key_size(key.size()) || next.size() != key.size()) {
    return Error{Errc::invalid_argument, "key size"};
  }
  const int rc = mbedtls_hkdf(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                              reinterpret_cast<const unsigned char*>(kRatchetSalt.data()), kRatchetSalt.size(),
                              key.data(), key.size(), reinterpret_cast<const unsigned char*>(kRatchetInfo.data()),
                              kRatchetInfo.size(), next.data(), next.size());
  if (rc != 0) return Error{Errc::internal, "hkdf failed"};
  return {};
}

KeyRing::KeyRing(platform::AsyncCrypto& crypto, const KeyRingOptions& options)
    : crypto_(crypto),
      slots_(std::clamp<size_t>(options.slots, 1, kMaxSlots)),
      window_(std::min(options.ratchet_window, kMaxRatchetWindow)) {}

KeyRing::~KeyRing() {
  for (size_t i = 0; i < slots_.size(); ++i) clear_key(static_cast<uint8_t>(i));
}

Result<void> KeyRing::set_key(uint8_t index, std::span<const uint8_t> key) {
  if (index >= slots_.size()) return Error{Errc::invalid_argument, "key index"};
  if (!valid_key_size(key.size())) return Error{Errc::invalid_argument, "key size"};
  clear_key(index);
  Slot& slot = slots_[index];
  std::memcpy(slot.current.bytes.data(), key.data(), key.size());
  slot.key_size = static_cast<uint8_t>(key.size());
  if (import(slot, slot.current) == platform::kNoCryptoKey) {
    clear_key(index);
    return Error{Errc::internal, "key import failed"};
  }
  slot.ahead.reserve(std::max<size_t>(window_, 1));  // look-ahead never allocates on the frame path
  return {};
}

void KeyRing::clear_key(uint8_t index) {
  if (index >= slots_.size()) return;
  Slot& slot = slots_[index];
  release(slot.current);
  for (Key& k : slot.ahead) release(k);
  slot.ahead.clear();
  slot.key_size = 0;
  slot.generation = 0;
  ++slot.epoch;
}

Result<void> KeyRing::set_active_index(uint8_t index) {
  if (index >= slots_.size()) return Error{Errc::invalid_argument, "key index"};
  active_ = index;
  return {};
}

std::span<const uint8_t> KeyRing::key_bytes(uint8_t index) const {
  if (!has_key(index)) return {};
  return std::span<const uint8_t>(slots_[index].current.bytes.data(), slots_[index].key_size);
}

Result<uint32_t> KeyRing::ratchet(uint8_t index) {
  if (!has_key(index)) return Error{Errc::invalid_argument, "no key"};
  Slot& slot = slots_[index];
  if (!derive_ahead(slot, 1)) return Error{Errc::internal, "hkdf failed"};
  if (import(slot, slot.ahead.front()) == platform::kNoCryptoKey) return Error{Errc::internal, "import failed"};
  advance_to(index, slot.generation + 1);
  return slot.generation;
}

platform::CryptoKeyId KeyRing::key_id_at(uint8_t index, uint32_t generation) {
  if (!has_key(index)) return platform::kNoCryptoKey;
  Slot& slot = slots_[index];
  if (generation == slot.generation) return slot.current.id;
  if (generation < slot.generation || generation - slot.generation > window_) return platform::kNoCryptoKey;
  const size_t at = generation - slot.generation - 1;
  if (!derive_ahead(slot, at + 1)) return platform::kNoCryptoKey;
  return import(slot, slot.ahead[at]);
}

void KeyRing::advance_to(uint8_t index, uint32_t generation) {
  if (!has_key(index)) return;
  Slot& slot = slots_[index];
  if (generation <= slot.generation || generation - slot.generation > slot.ahead.size()) return;
  const size_t steps = generation - slot.generation;
  release(slot.current);
  for (size_t i = 0; i + 1 < steps; ++i) release(slot.ahead[i]);  // skipped generations
  slot.current = slot.ahead[steps - 1];
  mbedtls_platform_zeroize(slot.ahead[steps - 1].bytes.data(), kMaxKeyBytes);
  slot.ahead.erase(slot.ahead.begin(), slot.ahead.begin() + static_cast<std::ptrdiff_t>(steps));
  slot.generation = generation;
  ratchets_ += steps;
}

// Extends the slot's look-ahead chain to `count` derived generations.
bool KeyRing::derive_ahead(Slot& slot, size_t count) {
  while (slot.ahead.size() < count) {
    const Key& from = slot.ahead.empty() ? slot.current : slot.ahead.back();
    Key next;
    const auto ok = ratchet_key(std::span<const uint8_t>(from.bytes.data(), slot.key_size),
                                std::span<uint8_t>(next.bytes.data(), slot.key_size));
    if (!ok) return false;
    slot.ahead.push_back(next);
    mbedtls_platform_zeroize(next.bytes.data(), kMaxKeyBytes);
  }
  return true;
}

platform::CryptoKeyId KeyRing::import(Slot& slot, Key& key) {
  if (key.id == platform::kNoCryptoKey) {
    key.id = crypto_.import_aes_gcm_key(std::span<const uint8_t>(key.bytes.data(), slot.key_size));
  }
  return key.id;
}

void KeyRing::release(Key& key) {
  if (key.id != platform::kNoCryptoKey) crypto_.release_key(key.id);
  key.id = platform::kNoCryptoKey;
  mbedtls_platform_zeroize(key.bytes.data(), kMaxKeyBytes);
}

}  // namespace tandem::media::e2ee
