// Cross-target vectors: tests/vectors/e2ee_frames.json was made by the native build (the hidden test
// "[.e2ee-vectors]" below writes it). Every target, on the FakePlatform and on its real platform (native
// mbedTLS; wasm WebCrypto or the in-module mbedTLS), must encrypt each frame to exactly the recorded bytes
// and decrypt the recorded bytes back to the frame. Since encryption is deterministic given key, salt and
// counter, equal bytes mean a frame encrypted natively decrypts in wasm and the reverse.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>

#include "core/media/e2ee/frame_cryptor.h"
#include "e2ee_test_support.h"
#include "mini_json.h"
#include "support/fake_platform.h"

namespace tandem::test {
extern const char kE2eeVectorsJson[];  // the JSON file, compiled in (see sources.cmake)
}

using namespace tandem;
using namespace tandem::media::e2ee;
using test::e2ee::from_hex;
using test::e2ee::RecordingSink;
using test::e2ee::to_hex;

namespace {

struct FrameVector {
  std::string name;
  CodecKind codec = CodecKind::opaque;
  std::vector<uint8_t> key;
  uint8_t key_index = 0;
  uint32_t generation = 0;  // sender ratchets applied to `key` before encrypting
  std::array<uint8_t, kIvBytes> salt{};
  uint64_t counter = 0;
  std::vector<uint8_t> plaintext, encrypted;
};

CodecKind codec_named(const std::string& name) {
  for (auto c : {CodecKind::opaque, CodecKind::opus, CodecKind::vp8, CodecKind::pcmu, CodecKind::pcma}) {
    if (to_string(c) == name) return c;
  }
  throw std::runtime_error("unknown codec " + name);
}

std::vector<FrameVector> load_frames(const test::Json& doc) {
  std::vector<FrameVector> out;
  for (const auto& f : doc["frames"].items) {
    FrameVector v;
    v.name = f["name"].str();
    v.codec = codec_named(f["codec"].str());
    v.key = from_hex(f["key"].str());
    v.key_index = static_cast<uint8_t>(f["key_index"].u64());
    v.generation = static_cast<uint32_t>(f["generation"].u64());
    const auto salt = from_hex(f["salt"].str());
    REQUIRE(salt.size() == kIvBytes);
    std::copy(salt.begin(), salt.end(), v.salt.begin());
    v.counter = f["counter"].u64();
    v.plaintext = from_hex(f["plaintext"].str());
    v.encrypted = from_hex(f["encrypted"].str());
    out.push_back(std::move(v));
  }
  return out;
}

// Where the runtime is: the FakePlatform's manual runner, or a real host's runtime.
struct Driver {
  std::function<bool(const std::function<void()>&)> run;   // run on the runtime, return when done
  std::function<bool(const std::function<bool()>&)> wait;  // drive until the condition holds
  platform::Platform& platform;
};

// What one vector produced; filled on the runtime, read by the test thread after `delivered` reaches 2.
struct Outcome {
  RecordingSink sent, received;
  uint32_t receiver_generation = 0;
  std::string setup_error;
  std::atomic<int> delivered{0};
};

void run_vector(Driver& d, const FrameVector& v, Outcome& out) {
  std::unique_ptr<KeyRing> send_keys, recv_keys;
  std::unique_ptr<FrameCryptor> sender, receiver;
  std::vector<uint8_t> send_buf(v.plaintext), recv_buf(v.encrypted);
  send_buf.resize(v.plaintext.size() + kFrameOverhead);
  out.sent.then = [&](const CryptedFrame&) { out.delivered.fetch_add(1); };
  out.received.then = [&](const CryptedFrame&) {
    out.receiver_generation = recv_keys->generation(v.key_index);
    out.delivered.fetch_add(1);
  };
  REQUIRE(d.run([&] {
    auto fail = [&](const char* what) { out.setup_error = what; };
    const KeyRingOptions ring_options{16, 8};
    send_keys = std::make_unique<KeyRing>(d.platform.crypto, ring_options);
    recv_keys = std::make_unique<KeyRing>(d.platform.crypto, ring_options);
    if (!send_keys->set_key(v.key_index, v.key) || !send_keys->set_active_index(v.key_index)) return fail("send key");
    for (uint32_t i = 0; i < v.generation; ++i) {
      if (!send_keys->ratchet(v.key_index)) return fail("ratchet");
    }
    if (!recv_keys->set_key(v.key_index, v.key)) return fail("receive key");
    FrameCryptorOptions so;
    so.iv_salt = v.salt;
    so.first_counter = v.counter;
    auto s = FrameCryptor::create(d.platform, *send_keys, out.sent, so);
    const auto ro = test::e2ee::cryptor_options(CryptorRole::receiver);
    auto r = FrameCryptor::create(d.platform, *recv_keys, out.received, ro);
    if (!s || !r) return fail("create");
    sender = std::move(s).value();
    receiver = std::move(r).value();
    if (!sender->encrypt(send_buf, v.plaintext.size(), v.codec, 1)) return fail("encrypt refused");
    if (!receiver->decrypt(recv_buf, 2)) return fail("decrypt refused");
  }));
  CHECK(out.setup_error.empty());
  if (out.setup_error.empty()) CHECK(d.wait([&] { return out.delivered.load() == 2; }));
  // Everything was made on the runtime; it is destroyed there too.
  REQUIRE(d.run([&] {
    sender.reset();
    receiver.reset();
    send_keys.reset();
    recv_keys.reset();
  }));
}

void check_all_vectors(Driver& d) {
  const auto doc = test::parse_json(test::kE2eeVectorsJson);
  REQUIRE(doc["format"].str() == "tandem-e2ee-frame-vectors-1");
  const auto frames = load_frames(doc);
  REQUIRE(frames.size() >= 5);
  for (const auto& v : frames) {
    INFO(v.name);
    Outcome out;
    run_vector(d, v, out);
    REQUIRE(out.delivered.load() == 2);
    REQUIRE(out.sent.deliveries.size() == 1);
    CHECK(out.sent.deliveries[0].error == Errc::ok);
    CHECK(to_hex(out.sent.deliveries[0].bytes) == to_hex(v.encrypted));
    REQUIRE(out.received.deliveries.size() == 1);
    CHECK(out.received.deliveries[0].error == Errc::ok);
    CHECK(to_hex(out.received.deliveries[0].bytes) == to_hex(v.plaintext));
    CHECK(out.receiver_generation == v.generation);  // the receiver followed the ratchet
  }
  // The key ratchet on its own.
  for (const auto& chain : doc["ratchets"].items) {
    auto key = from_hex(chain["key"].str());
    for (const auto& expected : chain["next"].items) {
      std::vector<uint8_t> next(key.size());
      REQUIRE(ratchet_key(key, next).ok());
      CHECK(to_hex(next) == expected.str());
      key = next;
    }
  }
}

// The vectors the generator writes (plaintext made by sample_frame; everything else fixed here).
struct VectorSpec {
  const char* name;
  CodecKind codec;
  bool key_frame;
  size_t size;
  const char* key;
  uint8_t key_index;
  uint32_t generation;
  const char* salt;
  uint64_t counter;
};
constexpr const char* kKey128 = "000102030405060708090a0b0c0d0e0f";
constexpr const char* kKey256 = "5ea1ed0ff1ce5a1ad5eedc0ffeeba5eb0a7ca5ca4dec0de0f1e1d5a1e5ca1ab1";
constexpr const char* kSaltA = "a1b2c3d4e5f60718293a4b5c";
constexpr const char* kSaltB = "0f1e2d3c4b5a69788796a5b4";
constexpr VectorSpec kSpecs[] = {
    {"opus 20 ms, AES-128, index 0, counter 0", CodecKind::opus, true, 83, kKey128, 0, 0, kSaltA, 0},
    {"vp8 key frame, AES-128, index 3, counter 7", CodecKind::vp8, true, 320, kKey128, 3, 0, kSaltA, 7},
    {"vp8 delta frame 1200 B, AES-256, index 1, sender ratcheted twice", CodecKind::vp8, false, 1200, kKey256, 1, 2,
     kSaltB, 41},
    {"pcmu 20 ms, AES-256, index 15, counter 2^40+5", CodecKind::pcmu, true, 160, kKey256, 15, 0, kSaltB,
     (uint64_t{1} << 40) + 5},
    {"opaque empty frame, AES-128", CodecKind::opaque, true, 0, kKey128, 0, 0, kSaltA, 1},
    {"opus, AES-128, generation 1", CodecKind::opus, true, 61, kKey128, 0, 1, kSaltB, 3},
};

}  // namespace

TEST_CASE("e2ee vectors: the fake platform reproduces the native vectors", "[e2ee]") {
  test::FakePlatform fake;
  fake.complete_crypto_in_reverse();
  Driver d{[&](const std::function<void()>& fn) { return fn(), true; },
           [&](const std::function<bool()>& done) {
             for (int i = 0; i < 16 && !done(); ++i) fake.runner.run_ready();
             return done();
           },
           fake.platform};
  check_all_vectors(d);
}

TEST_CASE("e2ee vectors: this target's platform crypto reproduces the native vectors", "[e2ee]") {
  auto host = platform::create_host();
  auto& runner = host->platform().runner;
  Driver d{[&](const std::function<void()>& fn) { return test::e2ee::run_on_runtime(runner, fn); },
           [&](const std::function<bool()>& done) { return test::e2ee::wait_for(done); }, host->platform()};
  INFO("platform crypto: " << host->platform().crypto.implementation());
  check_all_vectors(d);
}

// Writes the vector file (natively): tandem_tests "[.e2ee-vectors]", with TANDEM_E2EE_VECTORS_OUT naming
// the output (default: e2ee_frames.json in the working directory). Copy it to tests/vectors/.
TEST_CASE("e2ee vectors: generate", "[.e2ee-vectors]") {
  test::FakePlatform fake;
  std::ostringstream json;
  json << "{\n  \"format\": \"tandem-e2ee-frame-vectors-1\",\n"
       << "  \"about\": \"Frame E2EE vectors (core/media/e2ee/frame_format.h), written by the native build's "
          "tandem_tests [.e2ee-vectors]. Each frame: the sender sets key at key_index, ratchets it generation "
          "times, and encrypts plaintext with IV salt and first counter; every target must produce encrypted "
          "exactly, and a receiver holding the generation-0 key must decrypt it. ratchets: HKDF-SHA256 chains.\",\n"
       << "  \"frames\": [\n";
  for (size_t i = 0; i < std::size(kSpecs); ++i) {
    const VectorSpec& s = kSpecs[i];
    FrameVector v;
    v.name = s.name;
    v.codec = s.codec;
    v.key = from_hex(s.key);
    v.key_index = s.key_index;
    v.generation = s.generation;
    const auto salt = from_hex(s.salt);
    std::copy(salt.begin(), salt.end(), v.salt.begin());
    v.counter = s.counter;
    v.plaintext = test::e2ee::sample_frame(s.codec, s.size, static_cast<uint8_t>(i * 37), s.key_frame);
    // Encrypt with the same code path the checker uses; the checker then also proves decryption.
    KeyRing keys(fake.crypto);
    REQUIRE(keys.set_key(v.key_index, v.key).ok());
    REQUIRE(keys.set_active_index(v.key_index).ok());
    for (uint32_t g = 0; g < v.generation; ++g) REQUIRE(keys.ratchet(v.key_index).ok());
    RecordingSink sink;
    FrameCryptorOptions o;
    o.iv_salt = v.salt;
    o.first_counter = v.counter;
    auto sender = std::move(FrameCryptor::create(fake.platform, keys, sink, o)).value();
    std::vector<uint8_t> buf(v.plaintext);
    buf.resize(buf.size() + kFrameOverhead);
    REQUIRE(sender->encrypt(buf, v.plaintext.size(), v.codec, 0).ok());
    fake.runner.run_ready();
    REQUIRE(sink.deliveries.size() == 1);
    json << "    {\"name\": \"" << v.name << "\", \"codec\": \"" << to_string(v.codec) << "\", \"key\": \"" << s.key
         << "\", \"key_index\": " << int(v.key_index) << ", \"generation\": " << v.generation << ", \"salt\": \""
         << s.salt << "\", \"counter\": " << v.counter << ",\n     \"plaintext\": \"" << to_hex(v.plaintext)
         << "\",\n     \"encrypted\": \"" << to_hex(sink.deliveries[0].bytes) << "\"}"
         << (i + 1 < std::size(kSpecs) ? ",\n" : "\n");
  }
  json << "  ],\n  \"ratchets\": [\n";
  const char* chains[] = {kKey128, kKey256};
  for (size_t c = 0; c < 2; ++c) {
    auto key = from_hex(chains[c]);
    json << "    {\"key\": \"" << chains[c] << "\", \"next\": [";
    for (int g = 0; g < 3; ++g) {
      std::vector<uint8_t> next(key.size());
      REQUIRE(ratchet_key(key, next).ok());
      json << (g ? ", " : "") << "\"" << to_hex(next) << "\"";
      key = next;
    }
    json << "]}" << (c == 0 ? ",\n" : "\n");
  }
  json << "  ]\n}\n";
  const char* path = std::getenv("TANDEM_E2EE_VECTORS_OUT");
  std::ofstream file(path != nullptr ? path : "e2ee_frames.json", std::ios::binary);
  file << json.str();
  REQUIRE(file.good());
}
