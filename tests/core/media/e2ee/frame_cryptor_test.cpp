// FrameCryptor on the deterministic FakePlatform (mbedTLS AES-GCM, completions as ManualRunner tasks).
#include "core/media/e2ee/frame_cryptor.h"

#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <vector>

#include "e2ee_test_support.h"
#include "support/alloc_counter.h"
#include "support/fake_platform.h"

using namespace tandem;
using namespace tandem::media::e2ee;
using test::e2ee::RecordingSink;
using test::e2ee::cryptor_options;
using test::e2ee::sample_frame;

namespace {

std::vector<uint8_t> key_of(size_t size, uint8_t seed) {
  std::vector<uint8_t> k(size);
  for (size_t i = 0; i < size; ++i) k[i] = static_cast<uint8_t>(seed * 29 + i * 11 + 1);
  return k;
}

// One sender and one receiver of the same participant, each with its own copy of the participant's keys.
struct Call {
  explicit Call(KeyRingOptions ring_options = {}, size_t max_in_flight = 32)
      : send_keys(fake.crypto, ring_options), recv_keys(fake.crypto, ring_options) {
    FrameCryptorOptions s;
    s.role = CryptorRole::sender;
    s.max_in_flight = max_in_flight;
    FrameCryptorOptions r = s;
    r.role = CryptorRole::receiver;
    sender = std::move(FrameCryptor::create(fake.platform, send_keys, sent, s)).value();
    receiver = std::move(FrameCryptor::create(fake.platform, recv_keys, received, r)).value();
  }
  void set_key(uint8_t index, const std::vector<uint8_t>& key) {
    REQUIRE(send_keys.set_key(index, key).ok());
    REQUIRE(recv_keys.set_key(index, key).ok());
  }

  // Encrypts one frame and returns the encrypted bytes.
  std::vector<uint8_t> encrypt(const std::vector<uint8_t>& frame, CodecKind codec) {
    std::vector<uint8_t> buf(frame.size() + kFrameOverhead);
    std::copy(frame.begin(), frame.end(), buf.begin());
    const size_t before = sent.deliveries.size();
    REQUIRE(sender->encrypt(buf, frame.size(), codec, before).ok());
    CHECK(sent.deliveries.size() == before);  // never delivered inside the call
    fake.runner.run_ready();
    REQUIRE(sent.deliveries.size() == before + 1);
    REQUIRE(sent.deliveries.back().error == Errc::ok);
    return sent.deliveries.back().bytes;
  }
  // Decrypts one frame; returns the delivery.
  RecordingSink::Delivery decrypt(std::vector<uint8_t> frame) {
    const size_t before = received.deliveries.size();
    REQUIRE(receiver->decrypt(frame, before).ok());
    fake.runner.run_ready();
    REQUIRE(received.deliveries.size() == before + 1);
    return received.deliveries.back();
  }

  test::FakePlatform fake;
  KeyRing send_keys, recv_keys;
  RecordingSink sent, received;
  std::unique_ptr<FrameCryptor> sender, receiver;
};

}  // namespace

TEST_CASE("e2ee: frames round-trip for every codec kind and key size", "[e2ee]") {
  struct Case {
    CodecKind codec;
    bool key_frame;
    size_t clear;
  };
  const Case cases[] = {{CodecKind::opaque, true, 0}, {CodecKind::opus, true, 1}, {CodecKind::vp8, true, 10},
                        {CodecKind::vp8, false, 3},   {CodecKind::pcmu, true, 0}, {CodecKind::pcma, true, 0}};
  for (size_t key_size : {16, 32}) {
    for (const Case& c : cases) {
      for (size_t size : {size_t{40}, size_t{1200}, size_t{10'000}}) {
        INFO(to_string(c.codec) << " key frame " << c.key_frame << ", key " << key_size << ", size " << size);
        Call call;
        call.set_key(0, key_of(key_size, 3));
        const auto plain = sample_frame(c.codec, size, 7, c.key_frame);
        const auto enc = call.encrypt(plain, c.codec);
        REQUIRE(enc.size() == size + kFrameOverhead);
        CHECK(std::equal(plain.begin(), plain.begin() + c.clear, enc.begin()));  // the clear header
        CHECK_FALSE(std::equal(plain.begin() + c.clear, plain.end(), enc.begin() + c.clear));
        CHECK(enc[size + kTagBytes + kIvBytes] == c.clear);  // P
        CHECK(enc[size + kTagBytes + kIvBytes + 1] == 0);    // key index
        CHECK(enc.back() == kFrameMarker);
        const auto dec = call.decrypt(enc);
        CHECK(dec.error == Errc::ok);
        CHECK(dec.bytes == plain);
        CHECK(call.sender->stats().encrypted == 1);
        CHECK(call.receiver->stats().decrypted == 1);
      }
    }
  }
}

TEST_CASE("e2ee: tiny and empty frames round-trip, their header clear as far as it goes", "[e2ee]") {
  Call call;
  call.set_key(0, key_of(16, 1));
  for (size_t size : {0, 1, 2, 5}) {
    const auto plain = sample_frame(CodecKind::vp8, size, 1, true);
    const auto enc = call.encrypt(plain, CodecKind::vp8);
    CHECK(enc[size + kTagBytes + kIvBytes] == size);  // shorter than the VP8 header: all of it clear
    CHECK(call.decrypt(enc).bytes == plain);
  }
}

TEST_CASE("e2ee: the clear header is authenticated, and so is every other part of the frame", "[e2ee]") {
  Call call(KeyRingOptions{16, 2});
  call.set_key(0, key_of(16, 2));
  call.set_key(1, key_of(16, 9));
  const auto plain = sample_frame(CodecKind::vp8, 300, 5, true);
  const auto enc = call.encrypt(plain, CodecKind::vp8);
  const size_t trailer = enc.size() - kTrailerBytes;

  struct Tamper {
    const char* what;
    size_t at;
    uint8_t mask;
  };
  const Tamper tampers[] = {
      {"key-frame bit of the clear VP8 header", 0, 0x01},
      {"clear VP8 start code", 4, 0x80},
      {"clear VP8 dimensions", 9, 0x01},
      {"ciphertext", 100, 0x20},
      {"GCM tag", trailer - 1, 0x01},
      {"IV", trailer + 3, 0x10},
      {"clear size P", trailer + kIvBytes, 0x01},
      {"key index (to another slot that has a key)", trailer + kIvBytes + 1, 0x01},
  };
  for (const Tamper& t : tampers) {
    INFO(t.what);
    auto bad = enc;
    bad[t.at] ^= t.mask;
    const auto dec = call.decrypt(bad);
    CHECK(dec.error == Errc::authentication_failed);
    CHECK(dec.bytes.empty());
  }
  CHECK(call.receiver->stats().authentication_failures == std::size(tampers));
  CHECK(call.recv_keys.generation(0) == 0);  // forged frames never move the ratchet
  CHECK(call.recv_keys.generation(1) == 0);

  auto no_marker = enc;
  no_marker.back() ^= 0xFF;
  CHECK(call.receiver->decrypt(no_marker, 0).code() == Errc::malformed_packet);
  CHECK(call.receiver->decrypt(std::span(no_marker).first(kFrameOverhead - 1), 0).code() == Errc::malformed_packet);
  CHECK(call.decrypt(enc).bytes == plain);  // the genuine frame still opens
}

TEST_CASE("e2ee: a wrong key or a wrong key index fails", "[e2ee]") {
  SECTION("receiver has another key in the slot") {
    Call call(KeyRingOptions{16, 4});
    REQUIRE(call.send_keys.set_key(0, key_of(32, 1)).ok());
    REQUIRE(call.recv_keys.set_key(0, key_of(32, 2)).ok());
    const auto dec = call.decrypt(call.encrypt(sample_frame(CodecKind::opus, 120), CodecKind::opus));
    CHECK(dec.error == Errc::authentication_failed);
    CHECK(call.receiver->stats().ratchet_attempts == 4);  // the whole window was tried first
    CHECK(call.receiver->stats().authentication_failures == 1);
  }
  SECTION("sender encrypts with slot 2; the receiver's slot 2 holds another key") {
    Call call;
    REQUIRE(call.send_keys.set_key(2, key_of(16, 1)).ok());
    REQUIRE(call.send_keys.set_active_index(2).ok());
    REQUIRE(call.recv_keys.set_key(1, key_of(16, 1)).ok());  // the right key, but at the wrong index
    REQUIRE(call.recv_keys.set_key(2, key_of(16, 2)).ok());
    const auto enc = call.encrypt(sample_frame(CodecKind::opus, 120), CodecKind::opus);
    CHECK(enc[enc.size() - 2] == 2);
    CHECK(call.decrypt(enc).error == Errc::authentication_failed);
  }
  SECTION("the receiver has no key at that index: refused at once") {
    Call call;
    REQUIRE(call.send_keys.set_key(5, key_of(16, 1)).ok());
    REQUIRE(call.send_keys.set_active_index(5).ok());
    REQUIRE(call.recv_keys.set_key(0, key_of(16, 1)).ok());
    auto enc = call.encrypt(sample_frame(CodecKind::opus, 120), CodecKind::opus);
    CHECK(call.receiver->decrypt(enc, 0).code() == Errc::invalid_argument);
    CHECK(call.receiver->in_flight() == 0);
    CHECK(call.receiver->stats().rejected == 1);
  }
}

TEST_CASE("e2ee: the receiver follows a sender's ratchet within the window, not beyond", "[e2ee]") {
  const auto plain = sample_frame(CodecKind::vp8, 500, 3, false);
  SECTION("three ratchets, window 8") {
    Call call(KeyRingOptions{16, 8});
    call.set_key(0, key_of(16, 4));
    CHECK(call.decrypt(call.encrypt(plain, CodecKind::vp8)).bytes == plain);
    for (int i = 0; i < 3; ++i) REQUIRE(call.send_keys.ratchet(0).ok());
    CHECK(call.send_keys.generation(0) == 3);
    const auto dec = call.decrypt(call.encrypt(plain, CodecKind::vp8));
    CHECK(dec.error == Errc::ok);
    CHECK(dec.bytes == plain);
    CHECK(call.receiver->stats().ratchets == 3);
    CHECK(call.recv_keys.generation(0) == 3);
    CHECK(test::e2ee::same_bytes(call.recv_keys.key_bytes(0), call.send_keys.key_bytes(0)));
    // Now in step: the next frame opens at the first attempt.
    const uint64_t attempts = call.receiver->stats().ratchet_attempts;
    CHECK(call.decrypt(call.encrypt(plain, CodecKind::vp8)).error == Errc::ok);
    CHECK(call.receiver->stats().ratchet_attempts == attempts);
  }
  SECTION("exactly the window, with AES-256") {
    Call call(KeyRingOptions{16, 5});
    call.set_key(0, key_of(32, 4));
    for (int i = 0; i < 5; ++i) REQUIRE(call.send_keys.ratchet(0).ok());
    CHECK(call.decrypt(call.encrypt(plain, CodecKind::vp8)).bytes == plain);
    CHECK(call.recv_keys.generation(0) == 5);
  }
  SECTION("one ratchet beyond the window fails and leaves the receiver where it was") {
    Call call(KeyRingOptions{16, 5});
    call.set_key(0, key_of(16, 4));
    for (int i = 0; i < 6; ++i) REQUIRE(call.send_keys.ratchet(0).ok());
    CHECK(call.decrypt(call.encrypt(plain, CodecKind::vp8)).error == Errc::authentication_failed);
    CHECK(call.recv_keys.generation(0) == 0);
    CHECK(call.receiver->stats().ratchets == 0);
  }
  SECTION("window 0: no following at all") {
    Call call(KeyRingOptions{16, 0});
    call.set_key(0, key_of(16, 4));
    REQUIRE(call.send_keys.ratchet(0).ok());
    CHECK(call.decrypt(call.encrypt(plain, CodecKind::vp8)).error == Errc::authentication_failed);
    CHECK(call.receiver->stats().ratchet_attempts == 0);
  }
}

TEST_CASE("e2ee: the fake platform really completes in reverse when asked", "[e2ee]") {
  // Guards the next test: it proves nothing if completions were not out of order.
  test::FakePlatform fake;
  fake.complete_crypto_in_reverse();
  const auto key = key_of(16, 1);
  const auto id = fake.crypto.import_aes_gcm_key(key);
  struct Order final : platform::CryptoCompletionHandler {
    void on_crypto_complete(const platform::CryptoCompletion& c) override { tags.push_back(c.tag); }
    std::vector<uint64_t> tags;
  } order;
  uint8_t iv[12] = {}, buf[3][32] = {};
  for (uint64_t t = 0; t < 3; ++t) {
    const auto started = fake.crypto.seal({id, iv, {}, std::span(buf[t]).first(16), buf[t], t}, order);
    REQUIRE(started == platform::CryptoStatus::ok);
  }
  fake.runner.run_ready();
  CHECK(order.tags == std::vector<uint64_t>{2, 1, 0});
}

TEST_CASE("e2ee: frames come back in submission order when completions arrive out of order", "[e2ee]") {
  Call call(KeyRingOptions{16, 4});
  call.fake.complete_crypto_in_reverse();
  call.set_key(0, key_of(16, 6));
  std::vector<std::vector<uint8_t>> plains, bufs;
  for (uint8_t i = 0; i < 12; ++i) {
    plains.push_back(sample_frame(CodecKind::opus, 60 + i * 17, i));
    bufs.push_back(plains.back());
    bufs.back().resize(plains.back().size() + kFrameOverhead);
    REQUIRE(call.sender->encrypt(bufs.back(), plains.back().size(), CodecKind::opus, i).ok());
  }
  CHECK(call.sender->in_flight() == 12);
  call.fake.runner.run_ready();
  REQUIRE(call.sent.deliveries.size() == 12);
  for (uint64_t i = 0; i < 12; ++i) CHECK(call.sent.deliveries[i].user_tag == i);

  // Receiver: the sender ratchets halfway, so frames 6.. take extra attempts (and complete later) while
  // frames behind them wait.
  std::vector<std::vector<uint8_t>> encrypted;
  for (const auto& d : call.sent.deliveries) encrypted.push_back(d.bytes);
  REQUIRE(call.send_keys.ratchet(0).ok());
  for (uint8_t i = 0; i < 6; ++i) {
    auto b = plains[i];
    b.resize(b.size() + kFrameOverhead);
    REQUIRE(call.sender->encrypt(b, plains[i].size(), CodecKind::opus, 100 + i).ok());
    bufs.push_back(std::move(b));
  }
  call.fake.runner.run_ready();
  for (size_t i = 12; i < 18; ++i) encrypted.push_back(call.sent.deliveries[i].bytes);
  for (size_t i = 0; i < encrypted.size(); ++i) REQUIRE(call.receiver->decrypt(encrypted[i], i).ok());
  call.fake.runner.run_ready();
  REQUIRE(call.received.deliveries.size() == 18);
  for (size_t i = 0; i < 18; ++i) {
    INFO("frame " << i);
    CHECK(call.received.deliveries[i].user_tag == i);
    CHECK(call.received.deliveries[i].error == Errc::ok);
    CHECK(call.received.deliveries[i].bytes == plains[i % 12]);
  }
  CHECK(call.recv_keys.generation(0) == 1);
  CHECK(call.receiver->stats().ratchets == 1);
}

TEST_CASE("e2ee: in-flight frames are bounded; the bound frees up as frames are delivered", "[e2ee]") {
  Call call({}, 4);
  call.set_key(0, key_of(16, 1));
  std::vector<std::vector<uint8_t>> bufs(6, std::vector<uint8_t>(100 + kFrameOverhead));
  for (uint64_t i = 0; i < 4; ++i) REQUIRE(call.sender->encrypt(bufs[i], 100, CodecKind::opaque, i).ok());
  CHECK(call.sender->in_flight() == 4);
  CHECK(call.sender->encrypt(bufs[4], 100, CodecKind::opaque, 4).code() == Errc::resource_exhausted);
  CHECK(call.sender->stats().rejected == 1);
  call.fake.runner.run_ready();
  CHECK(call.sender->in_flight() == 0);
  CHECK(call.sent.deliveries.size() == 4);
  CHECK(call.sender->encrypt(bufs[5], 100, CodecKind::opaque, 5).ok());
  const auto zero_bound = cryptor_options(CryptorRole::sender, 0);
  CHECK(FrameCryptor::create(call.fake.platform, call.send_keys, call.sent, zero_bound).code() ==
        Errc::invalid_argument);
}

TEST_CASE("e2ee: IVs never repeat: the salt XOR a counter", "[e2ee]") {
  Call call({}, 64);
  call.set_key(0, key_of(16, 1));
  std::set<std::vector<uint8_t>> ivs;
  std::vector<std::vector<uint8_t>> bufs(64, std::vector<uint8_t>(8 + kFrameOverhead));
  constexpr int kFrames = 20'000;
  for (int i = 0; i < kFrames; i += 64) {
    for (int j = 0; j < 64; ++j) REQUIRE(call.sender->encrypt(bufs[j], 8, CodecKind::opaque, j).ok());
    call.fake.runner.run_ready();
  }
  for (const auto& d : call.sent.deliveries) {
    const auto iv = std::span(d.bytes).last(kTrailerBytes).first(kIvBytes);
    ivs.emplace(iv.begin(), iv.end());
  }
  CHECK(call.sent.deliveries.size() >= kFrames);
  CHECK(ivs.size() == call.sent.deliveries.size());
  CHECK(call.sender->next_counter() == call.sent.deliveries.size());

  // Another sender draws another salt, so even the same counters give other IVs.
  RecordingSink other_sink;
  auto other = std::move(FrameCryptor::create(call.fake.platform, call.send_keys, other_sink)).value();
  std::vector<uint8_t> buf(8 + kFrameOverhead);
  REQUIRE(other->encrypt(buf, 8, CodecKind::opaque, 0).ok());
  call.fake.runner.run_ready();
  const auto iv = std::span(other_sink.deliveries.at(0).bytes).last(kTrailerBytes).first(kIvBytes);
  CHECK(ivs.count(std::vector<uint8_t>(iv.begin(), iv.end())) == 0);

  // And the IV is exactly salt XOR counter, big-endian in the low 8 bytes.
  std::array<uint8_t, kIvBytes> salt{};
  salt[0] = 0xA0, salt[11] = 0x0F;
  const auto made = make_iv(salt, 0x0102030405060708ull);
  CHECK(test::e2ee::to_hex(made) == "a00000000102030405060707");
}

TEST_CASE("e2ee: the frame path does not allocate", "[e2ee]") {
  Call call;
  call.set_key(0, key_of(16, 1));
  struct CountingSink final : FrameSink {
    void on_frame(const CryptedFrame& f) override { ok += f.error == Errc::ok; }
    size_t ok = 0;
  } sent, received;
  const auto s = cryptor_options(CryptorRole::sender, 16);
  const auto r = cryptor_options(CryptorRole::receiver, 16);
  auto sender = std::move(FrameCryptor::create(call.fake.platform, call.send_keys, sent, s)).value();
  auto receiver = std::move(FrameCryptor::create(call.fake.platform, call.recv_keys, received, r)).value();
  std::vector<std::vector<uint8_t>> bufs(16, sample_frame(CodecKind::vp8, 1200 + kFrameOverhead));
  constexpr int kRounds = 100;
  bool all_taken = true;
  test::AllocationScope scope;
  for (int round = 0; round < kRounds; ++round) {
    for (auto& b : bufs) all_taken &= sender->encrypt(b, 1200, CodecKind::vp8, 0).ok();
    call.fake.runner.run_ready();
    for (auto& b : bufs) all_taken &= receiver->decrypt(b, 0).ok();
    call.fake.runner.run_ready();
  }
  const uint64_t allocations = scope.count();
  CHECK(all_taken);
  CHECK(sent.ok == kRounds * 16);
  CHECK(received.ok == kRounds * 16);
  // 3200 frames. What remains is the runner's task deque taking a new block now and then (one task per
  // batch of completions, not per frame).
  CHECK(allocations <= 2 * kRounds / 8);
}

TEST_CASE("e2ee: destroying a cryptor with frames in flight cancels them", "[e2ee]") {
  Call call;
  call.set_key(0, key_of(16, 1));
  std::vector<std::vector<uint8_t>> bufs(3, std::vector<uint8_t>(50 + kFrameOverhead));
  for (auto& b : bufs) REQUIRE(call.sender->encrypt(b, 50, CodecKind::opaque, 0).ok());
  call.sender.reset();
  CHECK(call.fake.runner.run_ready() >= 1);  // the completion task runs and finds nobody to deliver to
  CHECK(call.sent.deliveries.empty());
}

TEST_CASE("e2ee: a sink may submit the next frame from on_frame", "[e2ee]") {
  Call call;
  call.set_key(0, key_of(16, 1));
  std::vector<std::vector<uint8_t>> bufs(5, std::vector<uint8_t>(64 + kFrameOverhead));
  size_t next = 1;
  call.sent.then = [&](const CryptedFrame&) {
    if (next < bufs.size()) {
      CHECK(call.sender->encrypt(bufs[next], 64, CodecKind::opaque, next).ok());
      ++next;
    }
  };
  REQUIRE(call.sender->encrypt(bufs[0], 64, CodecKind::opaque, 0).ok());
  call.fake.runner.run_ready();
  REQUIRE(call.sent.deliveries.size() == 5);
  for (uint64_t i = 0; i < 5; ++i) CHECK(call.sent.deliveries[i].user_tag == i);
}

TEST_CASE("e2ee: misuse is refused synchronously", "[e2ee]") {
  Call call;
  std::vector<uint8_t> buf(100 + kFrameOverhead);
  CHECK(call.sender->encrypt(buf, 100, CodecKind::opaque, 0).code() == Errc::invalid_argument);  // no key yet
  call.set_key(0, key_of(16, 1));
  CHECK(call.sender->encrypt(buf, 101, CodecKind::opaque, 0).code() == Errc::invalid_argument);  // no room
  CHECK(call.sender->encrypt(buf, 200, CodecKind::opaque, 0).code() == Errc::invalid_argument);
  CHECK(call.sender->decrypt(buf, 0).code() == Errc::invalid_argument);                     // wrong role
  CHECK(call.receiver->encrypt(buf, 100, CodecKind::opaque, 0).code() == Errc::invalid_argument);
  CHECK(call.sender->in_flight() == 0);
  CHECK(call.fake.runner.run_ready() == 0);
  CHECK(call.sender->stats().rejected == 4);
  CHECK(call.receiver->stats().rejected == 1);
}

TEST_CASE("e2ee: per-participant keys keep participants apart", "[e2ee]") {
  test::FakePlatform fake;
  KeyRing alice_send(fake.crypto), bob_send(fake.crypto), alice_recv(fake.crypto), bob_recv(fake.crypto);
  REQUIRE(alice_send.set_key(0, key_of(16, 10)).ok());
  REQUIRE(alice_recv.set_key(0, key_of(16, 10)).ok());
  REQUIRE(bob_send.set_key(0, key_of(16, 20)).ok());
  REQUIRE(bob_recv.set_key(0, key_of(16, 20)).ok());
  RecordingSink a_out, b_out, a_in, b_in;
  auto alice = std::move(FrameCryptor::create(fake.platform, alice_send, a_out)).value();
  auto bob = std::move(FrameCryptor::create(fake.platform, bob_send, b_out)).value();
  const auto receiving = cryptor_options(CryptorRole::receiver);
  auto from_alice = std::move(FrameCryptor::create(fake.platform, alice_recv, a_in, receiving)).value();
  auto from_bob = std::move(FrameCryptor::create(fake.platform, bob_recv, b_in, receiving)).value();

  auto a = sample_frame(CodecKind::opus, 80, 1), b = sample_frame(CodecKind::opus, 80, 2);
  const size_t n = a.size();
  a.resize(n + kFrameOverhead), b.resize(n + kFrameOverhead);
  REQUIRE(alice->encrypt(a, n, CodecKind::opus, 0).ok());
  REQUIRE(bob->encrypt(b, n, CodecKind::opus, 0).ok());
  fake.runner.run_ready();
  auto a_enc = a_out.deliveries.at(0).bytes, b_enc = b_out.deliveries.at(0).bytes;
  auto a_enc2 = a_enc, b_enc2 = b_enc;
  REQUIRE(from_alice->decrypt(a_enc, 0).ok());
  REQUIRE(from_alice->decrypt(b_enc, 1).ok());  // bob's frame on alice's keys
  REQUIRE(from_bob->decrypt(b_enc2, 0).ok());
  REQUIRE(from_bob->decrypt(a_enc2, 1).ok());
  fake.runner.run_ready();
  CHECK(a_in.deliveries.at(0).error == Errc::ok);
  CHECK(a_in.deliveries.at(1).error == Errc::authentication_failed);
  CHECK(b_in.deliveries.at(0).error == Errc::ok);
  CHECK(b_in.deliveries.at(1).error == Errc::authentication_failed);
}
