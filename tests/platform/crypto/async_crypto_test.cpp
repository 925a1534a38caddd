// The AsyncCrypto seam on the target's real platform (native: mbedTLS with AES-NI; wasm: WebCrypto, or the
// in-module mbedTLS when TANDEM_WASM_CRYPTO=mbedtls) and on the tests' FakePlatform: the same contract.
//
// Natively the real platform's crypto belongs to its runtime thread, so each scenario runs there as a task
// and only records; the assertions run afterwards on the test thread.
#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "core/media/e2ee/e2ee_test_support.h"
#include "support/fake_platform.h"
#include "tandem/platform/crypto.h"
#include "tandem/platform/platform.h"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#endif

using namespace tandem;
using platform::CryptoStatus;
using test::e2ee::from_hex;
using test::e2ee::to_hex;

namespace {

// Test cases 4 and 16 of the GCM specification (McGrew and Viega): 60 bytes of plaintext, 20 of AAD.
constexpr const char* kPlain =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de65"
    "7ba637b39";
constexpr const char* kAad = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
constexpr const char* kIv = "cafebabefacedbaddecaf888";
struct GcmCase {
  const char* key;
  const char* sealed;  // ciphertext then tag
};
constexpr GcmCase kCases[] = {
    {"feffe9928665731c6d6a8f9467308308",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac9"
     "73d58e091"
     "5bc94fbc3221a5db94fae95ae7121a47"},
    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0"
     "abcc9f662"
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

// Completions by tag; `count` is published last so the test thread may read the rest once it sees it.
struct Recorder final : platform::CryptoCompletionHandler {
  void on_crypto_complete(const platform::CryptoCompletion& c) override {
    seen.push_back(c);
    count.fetch_add(1, std::memory_order_release);
  }
  std::vector<platform::CryptoCompletion> seen;
  std::atomic<int> count{0};
};

// What one run of the scenario observed, to be checked on the test thread.
struct Observed {
  std::string implementation;
  std::vector<CryptoStatus> started;       // what each call returned, in call order
  int completions_inside_calls = -1;       // completions seen before the calls returned (must be 0)
  std::vector<std::vector<uint8_t>> bufs;  // per operation: the buffer after completion
  std::vector<uint8_t> tampered_before;    // the tampered buffer as submitted
};

constexpr int kOps = 7;  // operations that complete: 2 seals, 2 opens, 1 failing open, 2 for cancel

// Starts every operation of the scenario. Runs on the runtime.
void start_scenario(platform::AsyncCrypto& crypto, Recorder& rec, Recorder& cancelled, Observed& o) {
  o.implementation = std::string(crypto.implementation());
  const auto iv = from_hex(kIv), aad = from_hex(kAad), plain = from_hex(kPlain);
  o.bufs.resize(kOps);
  auto record = [&](CryptoStatus s) { o.started.push_back(s); };
  for (size_t k = 0; k < 2; ++k) {
    const auto key = crypto.import_aes_gcm_key(from_hex(kCases[k].key));
    // Seal in place.
    auto& seal_buf = o.bufs[k];
    seal_buf = plain;
    seal_buf.resize(plain.size() + platform::kAesGcmTagBytes);
    record(crypto.seal({key, iv, aad, std::span(seal_buf).first(plain.size()), seal_buf, k}, rec));
    // Open the known answer in place.
    auto& open_buf = o.bufs[2 + k];
    open_buf = from_hex(kCases[k].sealed);
    record(crypto.open({key, iv, aad, open_buf, std::span(open_buf).first(plain.size()), 2 + k}, rec));
    if (k == 0) {
      // A bad tag: authentication_failed, and the in-place buffer must come back unchanged.
      auto& bad = o.bufs[4];
      bad = from_hex(kCases[0].sealed);
      bad.back() ^= 1;
      o.tampered_before = bad;
      record(crypto.open({key, iv, aad, bad, std::span(bad).first(plain.size()), 4}, rec));
      // Cancelled: must never arrive, and must not write its output.
      auto& c1 = o.bufs[5];
      c1 = plain;
      c1.resize(plain.size() + 16);
      record(crypto.seal({key, iv, aad, std::span(c1).first(plain.size()), c1, 5}, cancelled));
      auto& c2 = o.bufs[6];
      c2 = from_hex(kCases[0].sealed);
      record(crypto.open({key, iv, aad, c2, std::span(c2).first(plain.size()), 6}, cancelled));
      crypto.cancel(cancelled);
      // Refused at once: nothing follows.
      record(crypto.seal({key, std::span(iv).first(8), aad, plain, c1, 99}, rec));
      record(crypto.seal({key + 1000, iv, aad, plain, c1, 99}, rec));
      const auto released = crypto.import_aes_gcm_key(from_hex(kCases[0].key));
      crypto.release_key(released);
      record(crypto.open({released, iv, aad, o.bufs[2], o.bufs[2], 99}, rec));
      record(crypto.import_aes_gcm_key(std::vector<uint8_t>(24)) == platform::kNoCryptoKey
                 ? CryptoStatus::invalid_argument
                 : CryptoStatus::ok);
    }
  }
  o.completions_inside_calls = rec.count.load() + cancelled.count.load();
}

void check_scenario(const Observed& o, Recorder& rec, Recorder& cancelled) {
  using S = CryptoStatus;
  const std::vector<S> expected_starts = {S::ok, S::ok, S::ok, S::ok, S::ok, S::invalid_argument, S::unknown_key,
                                          S::unknown_key, S::invalid_argument, S::ok, S::ok};
  CHECK(o.started == expected_starts);
  CHECK(o.completions_inside_calls == 0);
  REQUIRE(rec.count.load(std::memory_order_acquire) == 5);
  CHECK(cancelled.count.load() == 0);
  std::vector<bool> got(5, false);
  for (const auto& c : rec.seen) {
    REQUIRE(c.tag < 5);
    got[c.tag] = true;
    INFO("operation " << c.tag);
    switch (c.tag) {
      case 0:
      case 1:
        CHECK(c.status == S::ok);
        CHECK(c.length == 76);
        CHECK(to_hex(o.bufs[c.tag]) == kCases[c.tag].sealed);
        break;
      case 2:
      case 3:
        CHECK(c.status == S::ok);
        CHECK(c.length == 60);
        CHECK(to_hex(std::span(o.bufs[c.tag]).first(60)) == kPlain);
        break;
      case 4:
        CHECK(c.status == S::authentication_failed);
        CHECK(o.bufs[4] == o.tampered_before);
        break;
    }
  }
  CHECK(got == std::vector<bool>(5, true));
  if (o.implementation == "webcrypto") {
    // Truly asynchronous: the cancelled operations never wrote their outputs. (mbedTLS works inside the
    // call, so there only the completions are dropped.)
    auto plain_padded = from_hex(kPlain);
    plain_padded.resize(76);
    CHECK(o.bufs[5] == plain_padded);
    CHECK(to_hex(o.bufs[6]) == kCases[0].sealed);
  }
}

std::string expected_implementation() {
#ifdef __EMSCRIPTEN__
  const int forced = EM_ASM_INT({
    return (typeof process === 'object' && process.env && process.env.TANDEM_WASM_CRYPTO === 'mbedtls') ? 1 : 0;
  });
  return forced != 0 ? "mbedtls" : "webcrypto";
#else
  return "mbedtls";
#endif
}

}  // namespace

TEST_CASE("platform crypto: AES-GCM known answers, deferred completions, cancel, refusals", "[platform][e2ee]") {
  SECTION("the target's platform") {
    auto host = platform::create_host();
    auto& p = host->platform();
    Recorder rec, cancelled;
    Observed o;
    REQUIRE(test::e2ee::run_on_runtime(p.runner, [&] { start_scenario(p.crypto, rec, cancelled, o); }));
    REQUIRE(test::e2ee::wait_for([&] { return rec.count.load() >= 5; }));
    // Give the cancelled operations every chance to show up anyway.
    REQUIRE(test::e2ee::run_on_runtime(p.runner, [] {}));
    check_scenario(o, rec, cancelled);
    CHECK(o.implementation == expected_implementation());
    host.reset();  // destroys the crypto with nothing pending (the cancelled ops may still be in JS)
  }
  SECTION("the fake platform") {
    test::FakePlatform fake;
    Recorder rec, cancelled;
    Observed o;
    start_scenario(fake.crypto, rec, cancelled, o);
    fake.runner.run_ready();
    check_scenario(o, rec, cancelled);
  }
}

TEST_CASE("platform crypto: a burst of operations completes exactly once each", "[platform][e2ee]") {
  auto host = platform::create_host();
  auto& p = host->platform();
  constexpr int kBurst = 300;
  Recorder rec;
  std::vector<std::vector<uint8_t>> bufs(kBurst, std::vector<uint8_t>(1200 + 16, 0x33));
  REQUIRE(test::e2ee::run_on_runtime(p.runner, [&] {
    rec.seen.reserve(kBurst);
    const auto key = p.crypto.import_aes_gcm_key(from_hex(kCases[1].key));
    const auto iv = from_hex(kIv);
    for (int i = 0; i < kBurst; ++i) {
      auto& b = bufs[static_cast<size_t>(i)];
      (void)p.crypto.seal({key, iv, {}, std::span(b).first(1200), b, static_cast<uint64_t>(i)}, rec);
    }
  }));
  REQUIRE(test::e2ee::wait_for([&] { return rec.count.load() >= kBurst; }));
  REQUIRE(test::e2ee::run_on_runtime(p.runner, [] {}));
  CHECK(rec.count.load() == kBurst);
  std::vector<int> per_tag(kBurst, 0);
  for (const auto& c : rec.seen) {
    CHECK(c.status == CryptoStatus::ok);
    if (c.tag < kBurst) ++per_tag[c.tag];
  }
  CHECK(per_tag == std::vector<int>(kBurst, 1));
  for (int i = 1; i < kBurst; ++i) CHECK(bufs[i] == bufs[0]);  // same key, IV and input: same output
}
