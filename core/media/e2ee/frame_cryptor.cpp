#include "core/media/e2ee/frame_cryptor.h"

#include <algorithm>

namespace tandem::media::e2ee {
namespace {

constexpr size_t kMaxInFlightLimit = 4096;

Errc to_errc(platform::CryptoStatus status) {
  switch (status) {
    case platform::CryptoStatus::ok: return Errc::ok;
    case platform::CryptoStatus::authentication_failed: return Errc::authentication_failed;
    case platform::CryptoStatus::busy: return Errc::resource_exhausted;
    case platform::CryptoStatus::invalid_argument: return Errc::invalid_argument;
    case platform::CryptoStatus::unknown_key:
    case platform::CryptoStatus::failed: return Errc::internal;
  }
  return Errc::internal;
}

}  // namespace

Result<std::unique_ptr<FrameCryptor>> FrameCryptor::create(platform::Platform& platform, KeyRing& keys,
                                                           FrameSink& sink, const FrameCryptorOptions& options) {
  if (options.max_in_flight == 0 || options.max_in_flight > kMaxInFlightLimit) {
    return Error{Errc::invalid_argument, "max_in_flight must be 1..4096"};
  }
  std::array<uint8_t, kIvBytes> salt{};
  if (options.iv_salt) {
    salt = *options.iv_salt;
  } else if (options.role == CryptorRole::sender && !platform.entropy.fill(salt)) {
    return Error{Errc::internal, "no entropy for the IV salt"};
  }
  return std::unique_ptr<FrameCryptor>(new FrameCryptor(platform.crypto, keys, sink, options, salt));
}

FrameCryptor::FrameCryptor(platform::AsyncCrypto& crypto, KeyRing& keys, FrameSink& sink,
                           const FrameCryptorOptions& options, const std::array<uint8_t, kIvBytes>& salt)
    : crypto_(crypto),
      keys_(keys),
      sink_(sink),
      role_(options.role),
      salt_(salt),
      counter_(options.first_counter),
      entries_(options.max_in_flight) {}

FrameCryptor::~FrameCryptor() { crypto_.cancel(*this); }

Result<void> FrameCryptor::reject(Errc code, const char* message) {
  ++stats_.rejected;
  return Error{code, message};  // short messages: no allocation even when rejecting a flood
}

Result<void> FrameCryptor::encrypt(std::span<uint8_t> buffer, size_t size, CodecKind codec, uint64_t user_tag) {
  if (role_ != CryptorRole::sender) return reject(Errc::invalid_argument, "not a sender");
  if (in_flight() == entries_.size()) return reject(Errc::resource_exhausted, "in flight full");
  if (size > buffer.size() || buffer.size() - size < kFrameOverhead) {
    return reject(Errc::invalid_argument, "no room");
  }
  const uint8_t index = keys_.active_index();
  const platform::CryptoKeyId key = keys_.key_id(index);
  if (key == platform::kNoCryptoKey) return reject(Errc::invalid_argument, "no key");

  const size_t clear = clear_prefix_size(codec, buffer.first(size));
  const auto iv = make_iv(salt_, counter_);
  // The trailer goes after ciphertext and tag; the IV is read from there by the platform.
  const auto trailer = buffer.subspan(size + kTagBytes).first<kTrailerBytes>();
  write_trailer(trailer, std::span<const uint8_t, kIvBytes>(iv), static_cast<uint8_t>(clear), index);

  const uint64_t seq = next_seq_;
  platform::AeadOperation op;
  op.key = key;
  op.iv = trailer.first<kIvBytes>();
  op.aad = buffer.first(clear);
  op.input = buffer.subspan(clear, size - clear);
  op.output = buffer.subspan(clear, size - clear + kTagBytes);
  op.tag = seq;
  const platform::CryptoStatus started = crypto_.seal(op, *this);
  if (started != platform::CryptoStatus::ok) return reject(to_errc(started), "seal refused");

  ++counter_;  // only IVs actually used count; a refused frame never reached the cipher
  Entry& e = entries_[seq % entries_.size()];
  e = Entry{};
  e.seq = seq;
  e.user_tag = user_tag;
  e.data = buffer.data();
  e.frame_size = size;
  e.state = State::pending;
  ++next_seq_;
  return {};
}

Result<void> FrameCryptor::decrypt(std::span<uint8_t> frame, uint64_t user_tag) {
  if (role_ != CryptorRole::receiver) return reject(Errc::invalid_argument, "not a receiver");
  if (in_flight() == entries_.size()) return reject(Errc::resource_exhausted, "in flight full");
  auto view = parse_encrypted_frame(frame);
  if (!view) return reject(view.code(), "not e2ee");
  const uint8_t index = view->key_index;
  if (!keys_.has_key(index)) return reject(Errc::invalid_argument, "no key");

  const uint64_t seq = next_seq_;
  Entry& e = entries_[seq % entries_.size()];
  e = Entry{};
  e.seq = seq;
  e.user_tag = user_tag;
  e.data = frame.data();
  e.frame_size = frame.size();
  e.clear_size = static_cast<uint8_t>(view->clear.size());
  e.key_index = index;
  e.generation = keys_.generation(index);
  e.key_epoch = keys_.epoch(index);
  const platform::CryptoStatus started = start_open(e, keys_.key_id(index));
  if (started != platform::CryptoStatus::ok) return reject(to_errc(started), "open refused");
  e.state = State::pending;
  ++next_seq_;
  return {};
}

platform::CryptoStatus FrameCryptor::start_open(Entry& e, platform::CryptoKeyId key) {
  const size_t sealed = e.frame_size - e.clear_size - kTrailerBytes;  // ciphertext + tag
  uint8_t* body = e.data + e.clear_size;
  platform::AeadOperation op;
  op.key = key;
  op.iv = std::span<const uint8_t>(e.data + e.frame_size - kTrailerBytes, kIvBytes);
  op.aad = std::span<const uint8_t>(e.data, e.clear_size);
  op.input = std::span<const uint8_t>(body, sealed);
  op.output = std::span<uint8_t>(body, sealed - kTagBytes);
  op.tag = e.seq;
  return crypto_.open(op, *this);
}

// After a failed open: try the next generation of the slot that is still within the ratchet window.
// Generations count from the ring's current one, which other frames may have moved forward meanwhile (then
// this frame skips to it), and restart if the application replaced the key. Returns ok when a new attempt
// is under way, authentication_failed when no key is left to try, or why the platform refused the attempt.
platform::CryptoStatus FrameCryptor::retry_with_next_generation(Entry& e) {
  const uint32_t current = keys_.generation(e.key_index);
  uint32_t next;
  if (keys_.epoch(e.key_index) != e.key_epoch) {
    e.key_epoch = keys_.epoch(e.key_index);
    next = current;
  } else {
    next = std::max(e.generation + 1, current);
  }
  if (!keys_.has_key(e.key_index) || next - current > keys_.ratchet_window()) {
    return platform::CryptoStatus::authentication_failed;
  }
  const platform::CryptoKeyId key = keys_.key_id_at(e.key_index, next);
  if (key == platform::kNoCryptoKey) return platform::CryptoStatus::failed;
  const platform::CryptoStatus started = start_open(e, key);
  if (started == platform::CryptoStatus::ok) {
    e.generation = next;
    ++stats_.ratchet_attempts;
  }
  return started;
}

void FrameCryptor::on_crypto_complete(const platform::CryptoCompletion& completion) {
  Entry& e = entries_[completion.tag % entries_.size()];
  if (e.state != State::pending || e.seq != completion.tag) return;  // cannot happen; be safe
  if (role_ == CryptorRole::sender) {
    e.error = to_errc(completion.status);
    if (e.error == Errc::ok) {
      e.result_size = e.frame_size + kFrameOverhead;
      ++stats_.encrypted;
    } else {
      e.error = Errc::internal;
      ++stats_.failures;
    }
    e.state = State::done;
  } else {
    finish_decrypt(e, completion);
  }
  deliver_ready();
}

void FrameCryptor::finish_decrypt(Entry& e, const platform::CryptoCompletion& completion) {
  if (completion.status == platform::CryptoStatus::authentication_failed) {
    const platform::CryptoStatus retry = retry_with_next_generation(e);
    if (retry == platform::CryptoStatus::ok) return;  // still pending
    e.error = to_errc(retry);
    if (e.error == Errc::authentication_failed) {
      ++stats_.authentication_failures;
    } else {
      ++stats_.failures;
    }
  } else if (completion.status != platform::CryptoStatus::ok) {
    e.error = Errc::internal;
    ++stats_.failures;
  } else {
    const uint32_t current = keys_.generation(e.key_index);
    if (keys_.epoch(e.key_index) == e.key_epoch && e.generation > current) {
      keys_.advance_to(e.key_index, e.generation);  // the sender ratcheted: follow
      stats_.ratchets += e.generation - current;
    }
    e.result_size = e.clear_size + completion.length;
    ++stats_.decrypted;
  }
  e.state = State::done;
}

// Hands out finished frames from the head while they are finished: a late completion holds back every
// frame behind it, which is what keeps the order.
void FrameCryptor::deliver_ready() {
  while (head_seq_ != next_seq_) {
    Entry& e = entries_[head_seq_ % entries_.size()];
    if (e.state != State::done) break;
    CryptedFrame out;
    out.user_tag = e.user_tag;
    out.error = e.error;
    if (e.error == Errc::ok) out.frame = std::span<uint8_t>(e.data, e.result_size);
    e.state = State::free;
    ++head_seq_;  // before the call: the sink may submit the next frame into this entry
    sink_.on_frame(out);
  }
}

}  // namespace tandem::media::e2ee
