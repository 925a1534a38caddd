// AsyncCrypto over mbedTLS's AES-GCM: the native implementation (mbedTLS uses AES-NI and PCLMULQDQ when the
// CPU has them), the wasm module's fallback when crypto.subtle is missing, and the tests' FakePlatform.
//
// "Synchronously deferred": the work happens inside seal()/open() (measured on the 2-vCPU EPYC: ~0.9 us for a
// 100-byte audio frame, ~64 us for a 10 KB video frame, i.e. ~6 ns per byte with Debian's mbedTLS 2.28 GCM;
// bench/RESULTS.md) and the completion is queued and delivered by a later runtime task, as the interface
// requires. Moving large frames to a worker thread would only pay off well above that.
//
// Header-only so that the three users share one implementation without a library of their own; including it
// needs mbedTLS's headers (link tandem::mbedtls). Not thread-safe: used on the runtime only.
#pragma once

#include <mbedtls/gcm.h>
#include <mbedtls/platform_util.h>

#include <memory>
#include <vector>

#include "tandem/platform/crypto.h"
#include "tandem/platform/crypto_completions.h"

namespace tandem::platform {

class MbedtlsCrypto final : public AsyncCrypto {
 public:
  explicit MbedtlsCrypto(TaskRunner& runner) : completions_(runner) {}
  ~MbedtlsCrypto() override = default;

  std::string_view implementation() const override { return "mbedtls"; }

  // Tests only: deliver each batch of completions in reverse (see CryptoCompletionQueue).
  void set_completion_order(CryptoCompletionQueue::Order order) { completions_.set_order(order); }
  size_t pending_completions() const { return completions_.pending(); }

  CryptoKeyId import_aes_gcm_key(std::span<const uint8_t> raw_key) override {
    if (raw_key.size() != 16 && raw_key.size() != 32) return kNoCryptoKey;
    auto ctx = std::make_unique<Context>();
    if (mbedtls_gcm_setkey(&ctx->gcm, MBEDTLS_CIPHER_ID_AES, raw_key.data(),
                           static_cast<unsigned>(raw_key.size() * 8)) != 0) {
      return kNoCryptoKey;
    }
    size_t index = 0;
    while (index < keys_.size() && keys_[index].ctx) ++index;
    if (index == keys_.size()) {
      if (index >= 0xFFFF) return kNoCryptoKey;
      keys_.emplace_back();
    }
    Slot& slot = keys_[index];
    slot.ctx = std::move(ctx);
    ++slot.generation;  // a released id stays invalid until this slot has been reused 65536 times
    return (static_cast<CryptoKeyId>(slot.generation) << 16) | static_cast<CryptoKeyId>(index + 1);
  }

  void release_key(CryptoKeyId key) override {
    if (Slot* slot = find(key)) slot->ctx.reset();
  }

  CryptoStatus seal(const AeadOperation& op, CryptoCompletionHandler& handler) override {
    Slot* slot = find(op.key);
    if (slot == nullptr) return CryptoStatus::unknown_key;
    const size_t n = op.input.size();
    if (op.iv.size() != kAesGcmIvBytes || op.output.size() < n + kAesGcmTagBytes) {
      return CryptoStatus::invalid_argument;
    }
    const int rc = mbedtls_gcm_crypt_and_tag(&slot->ctx->gcm, MBEDTLS_GCM_ENCRYPT, n, op.iv.data(), op.iv.size(),
                                             op.aad.data(), op.aad.size(), op.input.data(), op.output.data(),
                                             kAesGcmTagBytes, op.output.data() + n);
    completions_.push(handler, {op.tag, rc == 0 ? CryptoStatus::ok : CryptoStatus::failed,
                                rc == 0 ? n + kAesGcmTagBytes : 0});
    return CryptoStatus::ok;
  }

  CryptoStatus open(const AeadOperation& op, CryptoCompletionHandler& handler) override {
    Slot* slot = find(op.key);
    if (slot == nullptr) return CryptoStatus::unknown_key;
    if (op.iv.size() != kAesGcmIvBytes || op.input.size() < kAesGcmTagBytes ||
        op.output.size() < op.input.size() - kAesGcmTagBytes) {
      return CryptoStatus::invalid_argument;
    }
    const CryptoStatus status = decrypt(slot->ctx->gcm, op);
    completions_.push(handler, {op.tag, status, status == CryptoStatus::ok ? op.input.size() - kAesGcmTagBytes : 0});
    return CryptoStatus::ok;
  }

  void cancel(CryptoCompletionHandler& handler) override { completions_.cancel(handler); }

 private:
  struct Context {
    Context() { mbedtls_gcm_init(&gcm); }
    ~Context() { mbedtls_gcm_free(&gcm); }  // wipes the key schedule
    mbedtls_gcm_context gcm;  // not movable (mbedTLS keeps pointers into it): hence the unique_ptr
  };
  struct Slot {
    std::unique_ptr<Context> ctx;
    uint16_t generation = 0;
  };

  Slot* find(CryptoKeyId key) {
    const size_t index = (key & 0xFFFF);
    if (index == 0 || index > keys_.size()) return nullptr;
    Slot& slot = keys_[index - 1];
    if (!slot.ctx || slot.generation != (key >> 16)) return nullptr;
    return &slot;
  }

  // Constant time: how many bytes matched must not show in the timing. (mbedTLS 2.28's mbedtls_ct_memcmp
  // is declared without extern "C", so C++ cannot call it.)
  static bool tags_equal(const uint8_t* a, const uint8_t* b) {
    uint8_t diff = 0;
    for (size_t i = 0; i < kAesGcmTagBytes; ++i) diff |= static_cast<uint8_t>(a[i] ^ b[i]);
    return diff == 0;
  }

  // mbedtls_gcm_auth_decrypt would zero the output on a bad tag, which for an in-place open destroys the
  // ciphertext a caller wants to retry with the next ratchet key. So decrypt step by step, compare the tag
  // in constant time, and on a mismatch run the CTR keystream once more over the buffer, which turns the
  // unauthenticated plaintext back into the original ciphertext (or wipe a separate output).
  static CryptoStatus decrypt(mbedtls_gcm_context& gcm, const AeadOperation& op) {
    const size_t n = op.input.size() - kAesGcmTagBytes;
    uint8_t tag[kAesGcmTagBytes];
    if (mbedtls_gcm_starts(&gcm, MBEDTLS_GCM_DECRYPT, op.iv.data(), op.iv.size(), op.aad.data(), op.aad.size()) != 0 ||
        mbedtls_gcm_update(&gcm, n, op.input.data(), op.output.data()) != 0 ||
        mbedtls_gcm_finish(&gcm, tag, sizeof tag) != 0) {
      return CryptoStatus::failed;
    }
    if (tags_equal(tag, op.input.data() + n)) return CryptoStatus::ok;
    if (op.output.data() == op.input.data()) {
      if (mbedtls_gcm_starts(&gcm, MBEDTLS_GCM_ENCRYPT, op.iv.data(), op.iv.size(), nullptr, 0) != 0 ||
          mbedtls_gcm_update(&gcm, n, op.output.data(), op.output.data()) != 0) {
        return CryptoStatus::failed;
      }
    } else {
      mbedtls_platform_zeroize(op.output.data(), n);
    }
    return CryptoStatus::authentication_failed;
  }

  std::vector<Slot> keys_;
  CryptoCompletionQueue completions_;
};

}  // namespace tandem::platform
