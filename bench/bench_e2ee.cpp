// Frame end-to-end encryption per frame, on the platform's own AsyncCrypto and runtime (platform::create_host():
// natively mbedTLS with AES-NI completing on the runtime thread; in wasm WebCrypto, or mbedTLS compiled into
// the module when TANDEM_WASM_CRYPTO=mbedtls). Wasm: tandem_bench.js runs the mbedTLS fallback only, and
// tandem_bench_webcrypto.js (this suite alone, linked with Asyncify: see below) runs WebCrypto and, for
// comparison, the fallback again; one host each.
//
//   e2ee_encrypt|e2ee_decrypt/<crypto>_<size>B_burst32   32 frames submitted at once, then the runtime is
//                                                        driven until all 32 are delivered
//   e2ee_encrypt|e2ee_decrypt/<crypto>_<size>B_serial    one frame at a time: submit, wait for its delivery,
//                                                        submit the next (32 in a row): what a frame costs
//                                                        when nothing overlaps its completion
// Sizes: 100 B (an audio frame: Opus, its TOC byte clear) and 10240 B (a VP8 delta frame, 3 bytes clear).
// AES-128-GCM, one sender (FrameCryptor, max_in_flight 32) and one receiver with the same key.
//
// One sample = 32 frames. The time runs on the runtime: from the start of the task that submits the first
// frame to the sink receiving the 32nd (so the completion hop, and in wasm the JS event-loop turns WebCrypto's
// promises need, are in it; handing the batch to the runtime thread natively is not). ns/op = per frame;
// p50/p99 are over the per-sample ns/frame. allocs/op counts operator new on the runtime's thread over the
// same span (JS-side allocations of WebCrypto are not visible); natively the note adds malloc-family calls
// per frame (mbedTLS included; tests/support/alloc_counter.h). Buffers are refilled before each sample,
// untimed: plaintext to encrypt, a frame the sender sealed earlier to decrypt (decryption is in place).
//
// Wasm and WebCrypto: a promise settles only when node's event loop turns, which a synchronous benchmark
// cannot let happen, so the waiting function yields to it with EM_ASYNC_JS, which needs Asyncify. Linking
// tandem_bench itself with Asyncify made unrelated cases slower (bench/RESULTS.md, Issue 3), so only
// tandem_bench_webcrypto (TANDEM_BENCH_ASYNCIFY) has it. There only the functions in namespace e2ee_drive (and
// main) are on the stack when it yields, and bench/CMakeLists.txt instruments just those (ASYNCIFY_ONLY), so
// the measured code runs uninstrumented. Keep every other function out of that namespace, and call the yield
// only from there.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/media/e2ee/frame_cryptor.h"
#include "core/media/e2ee/key_ring.h"
#include "harness.h"
#include "support/alloc_counter.h"
#include "tandem/platform/platform.h"

#if defined(__EMSCRIPTEN__) && defined(TANDEM_BENCH_ASYNCIFY)
#define TANDEM_BENCH_WEBCRYPTO 1  // this program can wait for promises (see the top)
#endif

#ifdef __EMSCRIPTEN__
#include <emscripten.h>

#include "wasm/platform/wasm_host.h"
#else
#include <chrono>
#include <condition_variable>
#include <mutex>
#endif

namespace tandem::bench {

// ---- the runtime's side: everything here runs in tasks of the host's runner ------------------------------
namespace e2ee_rig {

using media::e2ee::CodecKind;
using media::e2ee::CryptedFrame;
using media::e2ee::CryptorRole;
using media::e2ee::FrameCryptor;
using media::e2ee::FrameCryptorOptions;
using media::e2ee::KeyRing;
using media::e2ee::kFrameOverhead;

constexpr size_t kFramesPerSample = 32;
constexpr size_t kMaxInFlight = 32;
constexpr uint32_t kWaitLimitMs = 30'000;  // a batch that takes this long is broken: abort, do not hang

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "e2ee bench: %s\n", what);
  std::abort();
}

// Set by the runtime when a task is done; awaited by the bench (e2ee_drive::wait).
class Signal {
 public:
#ifdef __EMSCRIPTEN__
  void set() { done_ = true; }
  bool take() {
    const bool d = done_;
    done_ = false;
    return d;
  }

 private:
  bool done_ = false;
#else
  void set() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
  }
  // Blocks (natively the runtime is another thread); false after the limit.
  bool take_within(uint32_t ms) {
    std::unique_lock lock(mutex_);
    const bool ok = cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return done_; });
    done_ = false;
    return ok;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
#endif
};

enum class Op { encrypt, decrypt };

struct SampleResult {
  uint64_t ns = 0;
  uint64_t allocs = 0;   // operator new
  uint64_t mallocs = 0;  // malloc-family (0 where test::kCountsMalloc is false)
};

// One sender and one receiver on one host, the buffers they are lent, and the sink both deliver to.
class Rig final : public media::e2ee::FrameSink {
 public:
  explicit Rig(platform::Platform& platform) : platform_(platform) {}

  Signal& signal() { return signal_; }
  std::string_view crypto_name() const { return platform_.crypto.implementation(); }

  // Runtime: keys and cryptors.
  void create() {
    sender_keys_ = std::make_unique<KeyRing>(platform_.crypto);
    receiver_keys_ = std::make_unique<KeyRing>(platform_.crypto);
    uint8_t key[16];
    for (size_t i = 0; i < sizeof key; ++i) key[i] = static_cast<uint8_t>(0xA0 + i);
    if (!sender_keys_->set_key(0, key).ok() || !receiver_keys_->set_key(0, key).ok()) die("set_key failed");
    FrameCryptorOptions o;
    o.max_in_flight = kMaxInFlight;
    o.role = CryptorRole::sender;
    auto s = FrameCryptor::create(platform_, *sender_keys_, *this, o);
    o.role = CryptorRole::receiver;
    auto r = FrameCryptor::create(platform_, *receiver_keys_, *this, o);
    if (!s.ok() || !r.ok()) die("FrameCryptor::create failed");
    sender_ = std::move(s).value();
    receiver_ = std::move(r).value();
    signal_.set();
  }

  // Runtime: cryptors before their key rings, both before the host's crypto.
  void destroy() {
    sender_.reset();
    receiver_.reset();
    sender_keys_.reset();
    receiver_keys_.reset();
    signal_.set();
  }

  // Runtime, untimed: a plausible frame of `size` bytes for `codec`, in every buffer. The sealed copies
  // for decryption are taken from the buffers after an encrypt sample (keep_sealed).
  void set_frame(size_t size, CodecKind codec) {
    size_ = size;
    codec_ = codec;
    plain_.resize(size);
    for (size_t i = 0; i < size; ++i) plain_[i] = static_cast<uint8_t>(i * 13 + 7);
    if (codec == CodecKind::vp8) plain_[0] = 0x11;  // frame tag: delta frame, version 0, shown
    if (codec == CodecKind::opus) plain_[0] = 0x78;  // TOC: hybrid FB 20 ms, mono, one frame
    buffers_.assign(kFramesPerSample, std::vector<uint8_t>(size + kFrameOverhead));
    sealed_.clear();
    signal_.set();
  }

  // Bench thread, between samples (the runtime is idle then): the last encrypt sample's outputs become the
  // frames every decrypt sample opens. Checks that they are no longer the plaintext.
  void keep_sealed() {
    sealed_ = buffers_;
    for (const auto& b : sealed_) {
      if (std::memcmp(b.data() + 1, plain_.data() + 1, size_ - 1) == 0) die("encrypt left the frame clear");
    }
  }
  bool have_sealed() const { return !sealed_.empty(); }
  // Bench thread, after a decrypt sample: every buffer holds the plaintext again.
  bool opened_to_plaintext() const {
    for (const auto& b : buffers_) {
      if (std::memcmp(b.data(), plain_.data(), size_) != 0) return false;
    }
    return true;
  }

  // Runtime: one sample. Refills the buffers (untimed), then submits `burst` frames at a time; each time the
  // last of a round is delivered, the next round is submitted, until kFramesPerSample frames came back.
  void start_sample(Op op, size_t burst) {
    op_ = op;
    burst_ = burst;
    for (size_t i = 0; i < kFramesPerSample; ++i) {
      if (op == Op::encrypt) {
        std::memcpy(buffers_[i].data(), plain_.data(), size_);
      } else {
        buffers_[i] = sealed_[i];  // same size: copies into the existing storage
      }
    }
    next_ = 0;
    delivered_in_round_ = 0;
    failures_ = 0;
    m0_ = test::mallocs_on_this_thread();
    a0_ = allocations();
    t0_ = now_ns();
    submit_round();
  }

  const SampleResult& last() const { return last_; }
  uint64_t failures() const { return failures_; }

 private:
  void submit_round() {
    for (size_t j = 0; j < burst_; ++j) {
      const size_t i = next_++;
      auto& b = buffers_[i];
      const Result<void> r =
          op_ == Op::encrypt ? sender_->encrypt(b, size_, codec_, i) : receiver_->decrypt(b, i);
      if (!r.ok()) die("a frame was refused");  // no delivery would follow: the sample could never end
    }
  }

  void on_frame(const CryptedFrame& frame) override {
    const size_t expected = op_ == Op::encrypt ? size_ + kFrameOverhead : size_;
    if (frame.error != Errc::ok || frame.frame.size() != expected) ++failures_;
    if (++delivered_in_round_ < burst_) return;
    delivered_in_round_ = 0;
    if (next_ < kFramesPerSample) {
      submit_round();
      return;
    }
    const uint64_t t1 = now_ns();
    last_ = {t1 - t0_, allocations() - a0_, test::mallocs_on_this_thread() - m0_};
    signal_.set();
  }

  platform::Platform& platform_;
  Signal signal_;
  std::unique_ptr<KeyRing> sender_keys_, receiver_keys_;
  std::unique_ptr<FrameCryptor> sender_, receiver_;
  size_t size_ = 0;
  CodecKind codec_ = CodecKind::opaque;
  std::vector<uint8_t> plain_;
  std::vector<std::vector<uint8_t>> buffers_, sealed_;
  Op op_ = Op::encrypt;
  size_t burst_ = 1, next_ = 0, delivered_in_round_ = 0;
  uint64_t failures_ = 0, t0_ = 0, a0_ = 0, m0_ = 0;
  SampleResult last_;
};

// Posting from the bench's side; the lambdas run on the runtime (and are not in e2ee_drive: see the top).
void post_create(Rig& rig, platform::TaskRunner& runner) { runner.post([&rig] { rig.create(); }); }
void post_destroy(Rig& rig, platform::TaskRunner& runner) { runner.post([&rig] { rig.destroy(); }); }
void post_set_frame(Rig& rig, platform::TaskRunner& runner, size_t size, CodecKind codec) {
  runner.post([&rig, size, codec] { rig.set_frame(size, codec); });
}
void post_sample(Rig& rig, platform::TaskRunner& runner, Op op, size_t burst) {
  runner.post([&rig, op, burst] { rig.start_sample(op, burst); });
}

#ifdef __EMSCRIPTEN__
// Which AsyncCrypto the next host gets (wasm_crypto.h reads TANDEM_WASM_CRYPTO from node's environment when
// the host is created). restore puts back what the environment said before the first call.
EM_JS(void, tandem_bench_force_crypto, (int mbedtls, int restore), {
  const env = (typeof process === 'object' && process.env) ? process.env : null;
  if (!env) return;
  if (globalThis.tandemBenchCryptoEnv === undefined) globalThis.tandemBenchCryptoEnv = env.TANDEM_WASM_CRYPTO ?? null;
  const value = restore ? globalThis.tandemBenchCryptoEnv : (mbedtls ? 'mbedtls' : null);
  if (value === null) delete env.TANDEM_WASM_CRYPTO;
  else env.TANDEM_WASM_CRYPTO = value;
});
#endif

}  // namespace e2ee_rig

// ---- the bench's side: the only functions that wait (and, in wasm, yield to the JS event loop) -----------
namespace e2ee_drive {

using e2ee_rig::Op;
using e2ee_rig::Rig;

#ifdef __EMSCRIPTEN__
#ifdef TANDEM_BENCH_WEBCRYPTO
// One turn of node's event loop (setImmediate: a setTimeout(0) would be dated from the start of this long
// synchronous run). Settled WebCrypto promises run their callbacks meanwhile, which queue completions.
EM_ASYNC_JS(void, tandem_bench_yield, (), {
  await new Promise((resolve) => setImmediate(resolve));
});
#endif

// The worker loop runs on this very thread: run its ready tasks and, where WebCrypto is waited for, let the
// event loop turn, until the runtime has signalled. (The mbedTLS fallback finishes within wasm_run_pending.)
void wait(Rig& rig) {
  const double end = emscripten_get_now() + e2ee_rig::kWaitLimitMs;
  for (;;) {
    platform::wasm_run_pending();
    if (rig.signal().take()) return;
    if (emscripten_get_now() > end) e2ee_rig::die("the runtime did not finish in time");
#ifdef TANDEM_BENCH_WEBCRYPTO
    tandem_bench_yield();
#endif
  }
}
#else
void wait(Rig& rig) {
  if (!rig.signal().take_within(e2ee_rig::kWaitLimitMs)) e2ee_rig::die("the runtime did not finish in time");
}
#endif

// Warm-up, then samples until min_time_ms of wall time has passed (and at least 20 samples).
void measure(Harness& h, Rig& rig, platform::TaskRunner& runner, Op op, size_t size, size_t burst) {
  const std::string bench = op == Op::encrypt ? "e2ee_encrypt" : "e2ee_decrypt";
  const std::string variant = std::string(rig.crypto_name()) + "_" + std::to_string(size) + "B_" +
                              (burst == 1 ? std::string("serial") : "burst" + std::to_string(burst));
  if (!h.selected(bench, variant)) return;
  const Options& o = h.options();
  auto one = [&]() -> const e2ee_rig::SampleResult& {
    e2ee_rig::post_sample(rig, runner, op, burst);
    wait(rig);
    if (rig.failures() != 0) e2ee_rig::die("frames came back with an error or a wrong size");
    return rig.last();
  };

  const uint64_t warm_end = now_ns() + static_cast<uint64_t>(o.warmup_ms * 1e6);
  do one(); while (now_ns() < warm_end);
  if (op == Op::decrypt && !rig.opened_to_plaintext()) e2ee_rig::die("decrypt did not give the plaintext back");

  Measurement m{bench, variant};
  std::vector<double> samples;
  uint64_t timed = 0, allocs = 0, mallocs = 0;
  const uint64_t end = now_ns() + static_cast<uint64_t>(o.min_time_ms * 1e6);
  while (now_ns() < end || samples.size() < 20) {
    const e2ee_rig::SampleResult& r = one();
    timed += r.ns;
    allocs += r.allocs;
    mallocs += r.mallocs;
    m.ops += e2ee_rig::kFramesPerSample;
    samples.push_back(static_cast<double>(r.ns) / e2ee_rig::kFramesPerSample);
  }
  m.ns_per_op = static_cast<double>(timed) / static_cast<double>(m.ops);
  m.ops_per_s = 1e9 / m.ns_per_op;
  m.allocs_per_op = static_cast<double>(allocs) / static_cast<double>(m.ops);
  set_percentiles(m, samples);
  m.note = "per frame, runtime-timed";
  if (test::kCountsMalloc) {
    char text[48];
    std::snprintf(text, sizeof text, "; mallocs/frame %.3g", static_cast<double>(mallocs) / static_cast<double>(m.ops));
    m.note += text;
  }
  h.report(std::move(m));
}

bool any_selected(Harness& h) {
  for (const char* bench : {"e2ee_encrypt", "e2ee_decrypt"}) {
    for (const char* crypto : {"mbedtls", "webcrypto"}) {
      for (const char* rest : {"_100B_burst32", "_100B_serial", "_10240B_burst32", "_10240B_serial"}) {
        if (h.selected(bench, std::string(crypto) + rest)) return true;
      }
    }
  }
  return false;
}

// Every case on one host; returns the crypto it had.
std::string run_host(Harness& h, const std::vector<std::string>& done_already) {
  auto host = platform::create_host();
  platform::Platform& p = host->platform();
  const std::string name(p.crypto.implementation());
  for (const auto& d : done_already) {
    if (d == name) return name;  // the fallback was forced anyway (no crypto.subtle): nothing new to run
  }
  Rig rig(p);
  e2ee_rig::post_create(rig, p.runner);
  wait(rig);
  struct Frame {
    size_t size;
    media::e2ee::CodecKind codec;
  };
  for (const Frame f : {Frame{100, media::e2ee::CodecKind::opus}, Frame{10240, media::e2ee::CodecKind::vp8}}) {
    e2ee_rig::post_set_frame(rig, p.runner, f.size, f.codec);
    wait(rig);
    for (const size_t burst : {e2ee_rig::kFramesPerSample, size_t{1}}) {
      measure(h, rig, p.runner, Op::encrypt, f.size, burst);
    }
    // Frames to open: one encrypt sample's output (whether or not its cases were selected).
    e2ee_rig::post_sample(rig, p.runner, Op::encrypt, e2ee_rig::kFramesPerSample);
    wait(rig);
    rig.keep_sealed();
    for (const size_t burst : {e2ee_rig::kFramesPerSample, size_t{1}}) {
      measure(h, rig, p.runner, Op::decrypt, f.size, burst);
    }
  }
  e2ee_rig::post_destroy(rig, p.runner);
  wait(rig);
  return name;
}

void run_e2ee_suite(Harness& h) {
  if (!any_selected(h)) return;
#ifdef __EMSCRIPTEN__
  std::vector<std::string> done;
#ifdef TANDEM_BENCH_WEBCRYPTO
  e2ee_rig::tandem_bench_force_crypto(0, 0);  // WebCrypto (when node has crypto.subtle)
  done.push_back(run_host(h, done));
#else
  std::printf("# e2ee: the WebCrypto cases are in tandem_bench_webcrypto.js (it needs Asyncify)\n");
#endif
  e2ee_rig::tandem_bench_force_crypto(1, 0);  // the in-module mbedTLS fallback
  done.push_back(run_host(h, done));
  e2ee_rig::tandem_bench_force_crypto(0, 1);
#else
  run_host(h, {});
#endif
}

}  // namespace e2ee_drive

namespace {
const Suite kSuite(60, "e2ee", e2ee_drive::run_e2ee_suite);
}  // namespace

}  // namespace tandem::bench
