// The frame keys of one participant: N slots (the frame trailer's key index names one), each holding an
// AES-128 or AES-256 key and how many times it has been ratcheted.
//
// Per-participant keys: each participant (our own sender included) gets its own KeyRing, and a receiver
// decrypts a remote sender's frames with that sender's ring. A shared-key call simply sets the same key on
// every ring; the random IV salt of each sender keeps IVs apart (frame_format.h).
//
// Ratchet: next key = HKDF-SHA256(IKM = current key, salt = "tandem-ratchet", info = "tandem frame key",
// length = key size). A sender ratchets when it wants forward secrecy against a leaked later key (e.g. when
// someone leaves); receivers are not told. Instead, when a frame fails to open under the current key, the
// FrameCryptor tries the next `ratchet_window` generations of the same slot and, once one opens the frame,
// makes it current (advance_to). Generations only move forward, so frames sent under an older generation
// that arrive after the switch fail.
//
// Keys are imported into the platform's AsyncCrypto when first needed; derivation happens here, with
// mbedTLS, because it is rare and its bytes must be kept (see platform/crypto.h). Slots keep their derived
// look-ahead keys, so a burst of frames under a new generation derives it once.
//
// Runtime-only, like every core object. Not movable (cryptors keep a reference).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/common/error.h"
#include "tandem/platform/crypto.h"

namespace tandem::media::e2ee {

struct KeyRingOptions {
  size_t slots = 16;             // key indices 0 .. slots-1; at most 256 (the index is one byte)
  uint32_t ratchet_window = 8;   // generations a receiver tries beyond the current one; at most 64
};

// One ratchet step on raw key bytes (16 or 32): `next` gets HKDF-SHA256 of `key`, same size. Exposed for
// tests and for applications that distribute ratcheted keys themselves.
Result<void> ratchet_key(std::span<const uint8_t> key, std::span<uint8_t> next);

class KeyRing {
 public:
  static constexpr size_t kMaxSlots = 256;
  static constexpr uint32_t kMaxRatchetWindow = 64;
  static constexpr size_t kMaxKeyBytes = 32;

  // Options beyond the limits are clamped to them.
  KeyRing(platform::AsyncCrypto& crypto, const KeyRingOptions& options = {});
  ~KeyRing();  // releases the platform keys and wipes the key bytes
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;

  // Installs a 16- or 32-byte AES key in slot `index` at generation 0, replacing what was there.
  Result<void> set_key(uint8_t index, std::span<const uint8_t> key);
  void clear_key(uint8_t index);

  // The slot a sender encrypts with (default 0).
  Result<void> set_active_index(uint8_t index);
  uint8_t active_index() const { return active_; }

  // Sender: replaces slot `index`'s key by its ratchet. Returns the new generation.
  Result<uint32_t> ratchet(uint8_t index);

  size_t slots() const { return slots_.size(); }
  uint32_t ratchet_window() const { return window_; }
  bool has_key(uint8_t index) const { return index < slots_.size() && slots_[index].key_size != 0; }
  uint32_t generation(uint8_t index) const { return has_key(index) ? slots_[index].generation : 0; }
  // Changes whenever set_key or clear_key replaces the slot's key (not when it ratchets).
  uint32_t epoch(uint8_t index) const { return index < slots_.size() ? slots_[index].epoch : 0; }
  // The current key's bytes (empty without a key).
  std::span<const uint8_t> key_bytes(uint8_t index) const;
  // Generations advanced in total, by ratchet() and advance_to().
  uint64_t ratchets() const { return ratchets_; }

  // For FrameCryptor. The platform key for the slot's current key (kNoCryptoKey without one).
  platform::CryptoKeyId key_id(uint8_t index) const { return has_key(index) ? slots_[index].current.id : 0; }
  // The platform key of generation `generation` of slot `index`, which must be the current one or within
  // the ratchet window beyond it; derived and imported on first use. kNoCryptoKey otherwise.
  platform::CryptoKeyId key_id_at(uint8_t index, uint32_t generation);
  // A frame opened under `generation` (within the window): make it current; older keys are released.
  void advance_to(uint8_t index, uint32_t generation);

 private:
  struct Key {
    std::array<uint8_t, kMaxKeyBytes> bytes{};
    platform::CryptoKeyId id = platform::kNoCryptoKey;
  };
  struct Slot {
    uint8_t key_size = 0;  // 0: empty
    uint32_t generation = 0;
    uint32_t epoch = 0;
    Key current;
    std::vector<Key> ahead;  // generations current+1, current+2, ... derived so far
  };

  bool derive_ahead(Slot& slot, size_t count);
  platform::CryptoKeyId import(Slot& slot, Key& key);
  void release(Key& key);

  platform::AsyncCrypto& crypto_;
  std::vector<Slot> slots_;
  uint32_t window_;
  uint8_t active_ = 0;
  uint64_t ratchets_ = 0;
};

}  // namespace tandem::media::e2ee
