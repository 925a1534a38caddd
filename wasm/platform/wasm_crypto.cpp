// WebCrypto behind AsyncCrypto. The JS half (library_tandem.js) keeps the CryptoKeys and runs
// crypto.subtle.encrypt/decrypt; when a promise settles it asks this side where the result goes
// (tandem_wasm_crypto_output), copies it into wasm memory, and reports the status (tandem_wasm_crypto_done),
// which queues the completion for a task of the worker loop: handlers run inside the core's runner like
// every other task, never from a bare promise callback.
//
// The JS side copies the inputs before returning (WebCrypto's own "get a copy of the bytes" step when the
// key is ready, a slice otherwise), so in-place operations are safe. A promise may settle after its handler
// was cancelled or after this object is gone: operations are found by (instance, op id) with a generation,
// and a miss drops the result without touching wasm memory.
#include "wasm/platform/wasm_crypto.h"

#include <emscripten.h>

#include <algorithm>
#include <vector>

#include "tandem/platform/crypto_completions.h"
#include "tandem/platform/mbedtls_crypto.h"

extern "C" {
// Implemented in library_tandem.js.
int tandem_js_crypto_available();
void tandem_js_crypto_import(uint32_t key, const uint8_t* raw, size_t len);
void tandem_js_crypto_release(uint32_t key);
void tandem_js_crypto_aead(int encrypt, uint32_t instance, uint32_t op, uint32_t key, const uint8_t* iv,
                           const uint8_t* aad, size_t aad_len, const uint8_t* input, size_t input_len);
}

namespace tandem::platform {
namespace {

class WebCrypto;

// Every WebCrypto of the module by instance number; a destroyed one leaves nullptr (numbers are not reused,
// so a late promise of a dead instance can never land in a new one).
std::vector<WebCrypto*>& instances() {
  static std::vector<WebCrypto*> all;
  return all;
}

// Key ids are module-wide: the JS side keeps one map of CryptoKeys for every instance.
CryptoKeyId next_key_id() {
  static CryptoKeyId next = 0;
  return ++next;
}

class WebCrypto final : public AsyncCrypto {
 public:
  // A bound on promises in flight; callers (the frame cryptors) keep their own, much smaller, bounds.
  static constexpr size_t kMaxPending = 4096;

  explicit WebCrypto(TaskRunner& runner) : completions_(runner), instance_(instances().size()) {
    instances().push_back(this);
    ops_.reserve(64);
  }
  ~WebCrypto() override {
    instances()[instance_] = nullptr;
    for (CryptoKeyId key : keys_) tandem_js_crypto_release(key);
  }

  std::string_view implementation() const override { return "webcrypto"; }

  CryptoKeyId import_aes_gcm_key(std::span<const uint8_t> raw_key) override {
    if (raw_key.size() != 16 && raw_key.size() != 32) return kNoCryptoKey;
    const CryptoKeyId key = next_key_id();
    tandem_js_crypto_import(key, raw_key.data(), raw_key.size());
    keys_.push_back(key);
    return key;
  }

  void release_key(CryptoKeyId key) override {
    auto it = std::find(keys_.begin(), keys_.end(), key);
    if (it == keys_.end()) return;
    *it = keys_.back();
    keys_.pop_back();
    tandem_js_crypto_release(key);
  }

  CryptoStatus seal(const AeadOperation& op, CryptoCompletionHandler& handler) override {
    return start(true, op, handler, op.input.size() + kAesGcmTagBytes);
  }
  CryptoStatus open(const AeadOperation& op, CryptoCompletionHandler& handler) override {
    if (op.input.size() < kAesGcmTagBytes) return CryptoStatus::invalid_argument;
    return start(false, op, handler, op.input.size() - kAesGcmTagBytes);
  }

  void cancel(CryptoCompletionHandler& handler) override {
    for (auto& op : ops_) {
      if (op.handler == &handler) op.handler = nullptr;  // the slot stays busy until its promise settles
    }
    completions_.cancel(handler);
  }

  // From JS, when a promise settled with `len` result bytes: where to copy them, or nullptr to drop them.
  uint8_t* output_for(uint32_t op_id, size_t len) {
    Op* op = find(op_id);
    if (op == nullptr || op->handler == nullptr || len != op->expected) return nullptr;
    return op->output;
  }

  void finish(uint32_t op_id, CryptoStatus status, size_t len) {
    Op* op = find(op_id);
    if (op == nullptr) return;
    CryptoCompletionHandler* handler = op->handler;
    const uint64_t tag = op->tag;
    if (status == CryptoStatus::ok && len != op->expected) status = CryptoStatus::failed;
    op->busy = false;
    ++op->generation;
    free_.push_back(static_cast<uint16_t>(op - ops_.data()));
    if (handler != nullptr) completions_.push(*handler, {tag, status, status == CryptoStatus::ok ? len : 0});
  }

 private:
  struct Op {
    CryptoCompletionHandler* handler = nullptr;
    uint64_t tag = 0;
    uint8_t* output = nullptr;
    size_t expected = 0;  // result length the output was checked for
    uint16_t generation = 0;
    bool busy = false;
  };

  CryptoStatus start(bool encrypt, const AeadOperation& op, CryptoCompletionHandler& handler, size_t expected) {
    if (std::find(keys_.begin(), keys_.end(), op.key) == keys_.end()) return CryptoStatus::unknown_key;
    if (op.iv.size() != kAesGcmIvBytes || op.output.size() < expected) return CryptoStatus::invalid_argument;
    if (free_.empty()) {
      if (ops_.size() >= kMaxPending) return CryptoStatus::busy;
      free_.push_back(static_cast<uint16_t>(ops_.size()));
      ops_.emplace_back();
    }
    const uint16_t index = free_.back();
    free_.pop_back();
    Op& slot = ops_[index];
    slot = Op{&handler, op.tag, op.output.data(), expected, slot.generation, true};
    const uint32_t op_id = (static_cast<uint32_t>(slot.generation) << 16) | index;
    tandem_js_crypto_aead(encrypt ? 1 : 0, instance_, op_id, op.key, op.iv.data(), op.aad.data(), op.aad.size(),
                          op.input.data(), op.input.size());
    return CryptoStatus::ok;
  }

  Op* find(uint32_t op_id) {
    const size_t index = op_id & 0xFFFF;
    if (index >= ops_.size()) return nullptr;
    Op& op = ops_[index];
    if (!op.busy || op.generation != (op_id >> 16)) return nullptr;
    return &op;
  }

  CryptoCompletionQueue completions_;
  const uint32_t instance_;
  std::vector<Op> ops_;
  std::vector<uint16_t> free_;
  std::vector<CryptoKeyId> keys_;  // live keys; a handful per participant, so a linear search is cheapest
};

WebCrypto* instance(uint32_t id) { return id < instances().size() ? instances()[id] : nullptr; }

}  // namespace

std::unique_ptr<AsyncCrypto> create_wasm_crypto(TaskRunner& runner) {
  if (tandem_js_crypto_available() != 0) return std::make_unique<WebCrypto>(runner);
  return std::make_unique<MbedtlsCrypto>(runner);
}

}  // namespace tandem::platform

extern "C" EMSCRIPTEN_KEEPALIVE uint8_t* tandem_wasm_crypto_output(uint32_t instance, uint32_t op, size_t len) {
  auto* crypto = tandem::platform::instance(instance);
  return crypto != nullptr ? crypto->output_for(op, len) : nullptr;
}

extern "C" EMSCRIPTEN_KEEPALIVE void tandem_wasm_crypto_done(uint32_t instance, uint32_t op, int status,
                                                             size_t len) {
  if (auto* crypto = tandem::platform::instance(instance)) {
    crypto->finish(op, static_cast<tandem::platform::CryptoStatus>(status), len);
  }
}
