// Frame end-to-end encryption for one sender: our own (role sender: encrypt) or a remote participant's
// (role receiver: decrypt). Frame format: frame_format.h; keys: key_ring.h.
//
// Asynchronous, in order: encrypt()/decrypt() check the frame, start AES-GCM on the platform's AsyncCrypto
// (WebCrypto in browsers, mbedTLS natively) and return at once. Completions may arrive in any order (and,
// on a receiver, a frame may take several attempts while following a sender's ratchet), but the FrameSink
// gets the frames back strictly in submission order, on the runtime, from a later task: never from inside
// encrypt()/decrypt(). At most `max_in_flight` frames are submitted and not yet delivered; beyond that,
// submissions fail with Errc::resource_exhausted and the caller drops or retries the frame (nothing blocks).
//
// Buffers: the caller owns them (pooled frame buffers) and lends them until delivery; frames are
// transformed in place, so nothing is allocated or copied per frame. A sender's buffer needs
// kFrameOverhead bytes of room after the frame.
//
// Errors are values. Synchronous (the frame was not taken; no delivery follows): resource_exhausted
// (in-flight bound), invalid_argument (wrong role, buffer too small, no key in the slot),
// malformed_packet (not an encrypted frame). Delivered with the frame: authentication_failed (no key
// within the ratchet window opens it: wrong key, tampering, or a sender too many ratchets ahead), internal
// (the platform's crypto failed), resource_exhausted (the platform refused a ratchet attempt).
//
// Runtime-only, like every core object. The key ring and the sink must outlive the cryptor. The sink must not
// destroy the cryptor from on_frame; destroying it otherwise at any time is fine (pending work is cancelled
// and the lent buffers are no longer written).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/common/error.h"
#include "core/media/e2ee/frame_format.h"
#include "core/media/e2ee/key_ring.h"
#include "tandem/platform/platform.h"

namespace tandem::media::e2ee {

enum class CryptorRole : uint8_t { sender, receiver };

struct FrameCryptorOptions {
  CryptorRole role = CryptorRole::sender;
  // Frames submitted and not yet delivered (1..4096). 32 covers a video keyframe burst at 30 fps with
  // WebCrypto's latency of well under a millisecond per frame.
  size_t max_in_flight = 32;
  // Sender: the IV salt. Unset (the default): 12 random bytes from the platform's entropy. A fixed salt is
  // for test vectors only: two senders with one salt and one key would repeat IVs.
  std::optional<std::array<uint8_t, kIvBytes>> iv_salt;
  uint64_t first_counter = 0;  // sender: the IV counter of the first frame (tests)
};

// A frame handed back, in submission order.
struct CryptedFrame {
  uint64_t user_tag = 0;  // as given to encrypt()/decrypt()
  Errc error = Errc::ok;
  // ok: the result, at the start of the lent buffer (encrypted: frame size + kFrameOverhead; decrypted:
  // the original frame). On error: empty, and the buffer's bytes are unspecified.
  std::span<uint8_t> frame;
};

class FrameSink {
 public:
  virtual void on_frame(const CryptedFrame& frame) = 0;

 protected:
  ~FrameSink() = default;
};

struct FrameCryptorStats {
  uint64_t encrypted = 0;
  uint64_t decrypted = 0;
  uint64_t authentication_failures = 0;  // frames delivered with Errc::authentication_failed
  uint64_t ratchets = 0;                 // receiver: generations followed after the sender ratcheted
  uint64_t ratchet_attempts = 0;         // receiver: opens tried with a look-ahead key
  uint64_t rejected = 0;                 // submissions refused synchronously
  uint64_t failures = 0;                 // frames delivered with another error (Errc::internal mostly)
};

class FrameCryptor final : private platform::CryptoCompletionHandler {
 public:
  static Result<std::unique_ptr<FrameCryptor>> create(platform::Platform& platform, KeyRing& keys, FrameSink& sink,
                                                      const FrameCryptorOptions& options = {});
  ~FrameCryptor();
  FrameCryptor(const FrameCryptor&) = delete;
  FrameCryptor& operator=(const FrameCryptor&) = delete;

  // Sender. `buffer` holds the encoded frame in its first `size` bytes and has at least
  // size + kFrameOverhead bytes. Encrypts with the key ring's active slot, current generation.
  Result<void> encrypt(std::span<uint8_t> buffer, size_t size, CodecKind codec, uint64_t user_tag);
  // Receiver. `frame` is exactly one encrypted frame; it is decrypted in place.
  Result<void> decrypt(std::span<uint8_t> frame, uint64_t user_tag);

  CryptorRole role() const { return role_; }
  size_t in_flight() const { return static_cast<size_t>(next_seq_ - head_seq_); }
  size_t max_in_flight() const { return entries_.size(); }
  uint64_t next_counter() const { return counter_; }  // sender: the IV counter the next frame gets
  const FrameCryptorStats& stats() const { return stats_; }

 private:
  enum class State : uint8_t { free, pending, done };
  struct Entry {
    uint64_t seq = 0;
    uint64_t user_tag = 0;
    uint8_t* data = nullptr;
    size_t frame_size = 0;  // what was submitted
    size_t result_size = 0;
    Errc error = Errc::ok;
    State state = State::free;
    // Receiver: where the parts are and which key generation the current attempt uses.
    uint8_t clear_size = 0;
    uint8_t key_index = 0;
    uint32_t generation = 0;
    uint32_t key_epoch = 0;
  };

  FrameCryptor(platform::AsyncCrypto& crypto, KeyRing& keys, FrameSink& sink, const FrameCryptorOptions& options,
               const std::array<uint8_t, kIvBytes>& salt);

  Result<void> reject(Errc code, const char* message);
  platform::CryptoStatus start_open(Entry& entry, platform::CryptoKeyId key);
  platform::CryptoStatus retry_with_next_generation(Entry& entry);
  void on_crypto_complete(const platform::CryptoCompletion& completion) override;
  void finish_decrypt(Entry& entry, const platform::CryptoCompletion& completion);
  void deliver_ready();

  platform::AsyncCrypto& crypto_;
  KeyRing& keys_;
  FrameSink& sink_;
  const CryptorRole role_;
  const std::array<uint8_t, kIvBytes> salt_;
  uint64_t counter_;
  std::vector<Entry> entries_;  // ring by sequence number: entry of seq s is entries_[s % size]
  uint64_t next_seq_ = 0;       // sequence number of the next submission
  uint64_t head_seq_ = 0;       // the oldest frame not yet delivered
  FrameCryptorStats stats_;
};

}  // namespace tandem::media::e2ee
