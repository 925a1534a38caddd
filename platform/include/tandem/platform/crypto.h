// Asynchronous authenticated encryption behind the seam: AES-GCM with 128- or 256-bit keys, 96-bit IVs and
// 128-bit tags, which is what frame end-to-end encryption needs.
//
// Why asynchronous: in a browser the fast AES is WebCrypto (crypto.subtle), whose every operation returns a
// promise; natively mbedTLS (AES-NI) answers at once. One interface that always completes later fits both,
// and the core never blocks the worker waiting for a promise.
//
// Why only AEAD here and no HKDF: key derivation (the key ring's ratchet) is rare and small, the core must
// keep the derived bytes anyway (to ratchet again and to look ahead on the receiver), and doing it with
// mbedTLS inside the core gives bit-identical results on both targets without another asynchronous state.
//
// Threading: every call is made on the runtime (TaskRunner::on_runtime()) and every completion is delivered
// there too, later, by a task of the runtime: never inside seal()/open() themselves, so a caller may hold
// its own state half-updated across the call. A rejected call (any status but ok) delivers nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace tandem::platform {

inline constexpr size_t kAesGcmIvBytes = 12;
inline constexpr size_t kAesGcmTagBytes = 16;

enum class CryptoStatus : uint8_t {
  ok = 0,
  authentication_failed = 1,  // open(): the tag did not verify (wrong key or IV, altered bytes)
  unknown_key = 2,            // the key id was never imported or has been released
  invalid_argument = 3,       // key, IV or output length wrong
  busy = 4,                   // too many operations in flight; nothing was started
  failed = 5,                 // the implementation itself failed (a rejected promise, an mbedTLS error)
};

constexpr std::string_view to_string(CryptoStatus s) {
  switch (s) {
    case CryptoStatus::ok: return "ok";
    case CryptoStatus::authentication_failed: return "authentication_failed";
    case CryptoStatus::unknown_key: return "unknown_key";
    case CryptoStatus::invalid_argument: return "invalid_argument";
    case CryptoStatus::busy: return "busy";
    case CryptoStatus::failed: return "failed";
  }
  return "unknown";
}

// Names an imported key; 0 is never a valid id. A released id is not handed out again for a long time (at
// least 65536 imports later), so a stale id fails with unknown_key instead of naming another key.
using CryptoKeyId = uint32_t;
inline constexpr CryptoKeyId kNoCryptoKey = 0;

struct CryptoCompletion {
  uint64_t tag = 0;  // the caller's tag from the AeadOperation
  CryptoStatus status = CryptoStatus::ok;
  size_t length = 0;  // bytes written to the output (only when status is ok)
};

// Receives completions. Not owned; it must call AsyncCrypto::cancel(*this) before it is destroyed.
class CryptoCompletionHandler {
 public:
  virtual void on_crypto_complete(const CryptoCompletion& completion) = 0;

 protected:
  ~CryptoCompletionHandler() = default;
};

// One seal or open. The inputs (iv, aad, input) are read or copied before seal()/open() returns, so the
// caller may change them right after. The output is written when the operation completes, so it must stay
// valid until the completion (or cancel()); it may be the very memory of `input` (in place) but must not
// otherwise overlap it.
//   seal: input = plaintext, output >= input + kAesGcmTagBytes: ciphertext then tag.
//   open: input = ciphertext then tag, output >= input - kAesGcmTagBytes: the plaintext.
// open() writes the output only on success: after authentication_failed the bytes (and so an in-place
// input) are unchanged, and the caller may try another key on the same buffer.
struct AeadOperation {
  CryptoKeyId key = kNoCryptoKey;
  std::span<const uint8_t> iv;  // kAesGcmIvBytes
  std::span<const uint8_t> aad;
  std::span<const uint8_t> input;
  std::span<uint8_t> output;
  uint64_t tag = 0;  // returned in the completion
};

class AsyncCrypto {
 public:
  virtual ~AsyncCrypto() = default;

  // "mbedtls" or "webcrypto": which implementation answers (for logs, tests and benchmarks).
  virtual std::string_view implementation() const = 0;

  // Imports a raw AES key of 16 or 32 bytes for AES-GCM. Returns kNoCryptoKey if the length is wrong.
  // The import may itself be asynchronous (WebCrypto); operations on the key simply wait for it.
  virtual CryptoKeyId import_aes_gcm_key(std::span<const uint8_t> raw_key) = 0;
  // Forgets a key. Operations already started with it complete normally; later ones fail with unknown_key.
  virtual void release_key(CryptoKeyId key) = 0;

  // Start an operation. ok: exactly one completion will follow (unless cancelled). Anything else: the
  // operation was not started and no completion follows.
  virtual CryptoStatus seal(const AeadOperation& op, CryptoCompletionHandler& handler) = 0;
  virtual CryptoStatus open(const AeadOperation& op, CryptoCompletionHandler& handler) = 0;

  // Drops every pending completion for `handler`; their outputs are not written any more.
  virtual void cancel(CryptoCompletionHandler& handler) = 0;
};

}  // namespace tandem::platform
