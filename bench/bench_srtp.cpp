// SRTP protect and unprotect through SrtpSession, each next to the same call on a libsrtp2 srtp_t created
// directly (same policy: wildcard SSRC, replay window 128, no repeated transmissions) in the same run. Target:
// SrtpSession within 10% of raw libsrtp.
//   srtp_protect/<profile>_<size>/{tandem,raw}     protect one RTP packet (12-byte header + <size> payload) in
//                                                  place; the sequence number advances every call (libsrtp
//                                                  refuses to protect an index twice)
//   srtp_unprotect/<profile>_<size>/{tandem,raw}   unprotect one packet. Replay protection accepts each packet
//                                                  once, so the untimed `before` hook protects a fresh batch
//                                                  (continuing the sequence) and the timed body unprotects it
// Profiles: cm80 = AES_CM_128_HMAC_SHA1_80, cm32 = AES_CM_128_HMAC_SHA1_32, gcm128 = AEAD_AES_128_GCM,
// gcm256 = AEAD_AES_256_GCM. Natively libsrtp is built from Debian's source on OpenSSL
// (scripts/build-native-deps.sh); in wasm on mbedTLS.
#include <srtp2/srtp.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/media/rtp/byte_order.h"
#include "core/media/srtp_session.h"
#include "harness.h"

namespace tandem::bench {
namespace {

using media::SrtpDirection;
using media::SrtpProfile;
using media::SrtpSession;

constexpr uint64_t kMaxBatch = 4096;
constexpr size_t kHeader = 12;
constexpr size_t kMaxTrailer = 16;

struct Keys {
  std::vector<uint8_t> key, salt;
};
Keys make_keys(SrtpProfile p) {
  const auto lengths = media::srtp_key_lengths(p);
  Keys k{std::vector<uint8_t>(lengths.master_key), std::vector<uint8_t>(lengths.master_salt)};
  for (size_t i = 0; i < k.key.size(); ++i) k.key[i] = static_cast<uint8_t>(0x31 + i * 7);
  for (size_t i = 0; i < k.salt.size(); ++i) k.salt[i] = static_cast<uint8_t>(0x91 + i * 3);
  return k;
}

// A libsrtp session made the way SrtpSession::create makes its own.
struct RawSrtp {
  srtp_t ctx = nullptr;
  RawSrtp(SrtpProfile p, SrtpDirection d, const Keys& k) {
    srtp_policy_t policy;
    std::memset(&policy, 0, sizeof(policy));
    srtp_crypto_policy_set_from_profile_for_rtp(&policy.rtp, static_cast<srtp_profile_t>(p));
    srtp_crypto_policy_set_from_profile_for_rtcp(&policy.rtcp, static_cast<srtp_profile_t>(p));
    policy.ssrc.type = d == SrtpDirection::outbound ? ssrc_any_outbound : ssrc_any_inbound;
    uint8_t key_and_salt[SRTP_MAX_KEY_LEN];
    std::memcpy(key_and_salt, k.key.data(), k.key.size());
    std::memcpy(key_and_salt + k.key.size(), k.salt.data(), k.salt.size());
    policy.key = key_and_salt;
    policy.window_size = 128;
    policy.allow_repeat_tx = 0;
    if (srtp_create(&ctx, &policy) != srtp_err_status_ok) ctx = nullptr;
  }
  ~RawSrtp() {
    if (ctx) srtp_dealloc(ctx);
  }
  RawSrtp(const RawSrtp&) = delete;
  RawSrtp& operator=(const RawSrtp&) = delete;
};

std::vector<uint8_t> plain_packet(size_t payload) {
  std::vector<uint8_t> p(kHeader + payload + kMaxTrailer);
  const uint8_t header[kHeader] = {0x80, 96, 0, 0, 0, 0, 0x12, 0x34, 0xca, 0xfe, 0xba, 0xbe};
  std::memcpy(p.data(), header, kHeader);
  for (size_t i = 0; i < payload; ++i) p[kHeader + i] = static_cast<uint8_t>(i * 13 + 5);
  return p;
}

// Makes fresh protected packets, continuing one stream, into a shared slot array.
struct Feed {
  SrtpSession tx;
  std::vector<uint8_t> plain;
  size_t plain_len;
  uint16_t seq = 0;
  uint64_t failures = 0;
  void fill(uint8_t* slots, size_t stride, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      uint8_t* slot = slots + i * stride;
      std::memcpy(slot, plain.data(), plain_len);
      media::rtp::store_be16(slot + 2, ++seq);
      if (!tx.protect(std::span<uint8_t>(slot, stride), plain_len).ok()) ++failures;
    }
  }
};

void report_failures(const char* what, uint64_t failures) {
  if (failures != 0) std::printf("srtp: %s: %llu calls FAILED (figures invalid)\n", what,
                                 static_cast<unsigned long long>(failures));
}

void run_srtp_suite(Harness& h) {
  struct Named {
    SrtpProfile profile;
    const char* name;
  };
  const Named profiles[] = {{SrtpProfile::aes_cm_128_hmac_sha1_80, "cm80"},
                            {SrtpProfile::aes_cm_128_hmac_sha1_32, "cm32"},
                            {SrtpProfile::aead_aes_128_gcm, "gcm128"},
                            {SrtpProfile::aead_aes_256_gcm, "gcm256"}};
  const size_t stride = kHeader + 1200 + kMaxTrailer;
  std::vector<uint8_t> slots;  // allocated on first use: only when an unprotect case is selected

  for (const Named& np : profiles) {
    const Keys keys = make_keys(np.profile);
    for (const size_t payload : {size_t{100}, size_t{1200}}) {
      const std::string variant = std::string(np.name) + "_" + std::to_string(payload) + "B";
      const size_t len = kHeader + payload;

      // Sessions first: SrtpSession::create runs srtp_init() once for the process.
      auto tx = SrtpSession::create({np.profile, SrtpDirection::outbound, keys.key, keys.salt});
      auto rx = SrtpSession::create({np.profile, SrtpDirection::inbound, keys.key, keys.salt});
      if (!tx.ok() || !rx.ok()) {
        std::printf("srtp: cannot create %s sessions\n", np.name);
        return;
      }
      RawSrtp raw_tx(np.profile, SrtpDirection::outbound, keys);
      RawSrtp raw_rx(np.profile, SrtpDirection::inbound, keys);
      if (!raw_tx.ctx || !raw_rx.ctx) {
        std::printf("srtp: cannot create raw %s sessions\n", np.name);
        return;
      }

      // protect: the same buffer over and over, a new sequence number each time.
      std::vector<uint8_t> buf = plain_packet(payload);
      uint16_t seq = 0;
      uint64_t failures = 0;
      h.run({"srtp_protect", variant + "/tandem", [&](uint64_t n) {
               for (uint64_t i = 0; i < n; ++i) {
                 media::rtp::store_be16(buf.data() + 2, ++seq);
                 auto r = tx->protect(buf, len);
                 failures += !r.ok();
                 keep(r.ok() ? *r : 0);
               }
             }});
      report_failures("protect/tandem", failures);
      std::vector<uint8_t> raw_buf = plain_packet(payload);
      uint16_t raw_seq = 0;
      failures = 0;
      h.run({"srtp_protect", variant + "/raw", [&](uint64_t n) {
               for (uint64_t i = 0; i < n; ++i) {
                 media::rtp::store_be16(raw_buf.data() + 2, ++raw_seq);
                 int out_len = static_cast<int>(len);
                 failures += srtp_protect(raw_tx.ctx, raw_buf.data(), &out_len) != srtp_err_status_ok;
                 keep(out_len);
               }
             }});
      report_failures("protect/raw", failures);

      // unprotect: a fresh, in-order batch of protected packets per timed batch.
      if (!h.selected("srtp_unprotect", variant + "/tandem") && !h.selected("srtp_unprotect", variant + "/raw")) {
        continue;
      }
      if (slots.empty()) slots.resize(kMaxBatch * stride);
      const size_t protected_len = len + tx->rtp_overhead();
      auto make_feed = [&] {
        auto s = SrtpSession::create({np.profile, SrtpDirection::outbound, keys.key, keys.salt});
        return std::make_unique<Feed>(Feed{std::move(s).value(), plain_packet(payload), len});
      };
      auto feed = make_feed();
      failures = 0;
      Case ours{"srtp_unprotect", variant + "/tandem", [&](uint64_t n) {
                         for (uint64_t i = 0; i < n; ++i) {
                           auto r = rx->unprotect(std::span<uint8_t>(slots.data() + i * stride, protected_len));
                           failures += !r.ok();
                           keep(r.ok() ? *r : 0);
                         }
                       }};
      ours.before = [&](uint64_t n) { feed->fill(slots.data(), stride, n); };
      ours.max_batch = kMaxBatch;
      h.run(ours);
      report_failures("unprotect/tandem", failures + feed->failures);

      auto raw_feed = make_feed();
      failures = 0;
      Case raw{"srtp_unprotect", variant + "/raw", [&](uint64_t n) {
                 for (uint64_t i = 0; i < n; ++i) {
                   int out_len = static_cast<int>(protected_len);
                   failures += srtp_unprotect(raw_rx.ctx, slots.data() + i * stride, &out_len) != srtp_err_status_ok;
                   keep(out_len);
                 }
               }};
      raw.before = [&](uint64_t n) { raw_feed->fill(slots.data(), stride, n); };
      raw.max_batch = kMaxBatch;
      h.run(raw);
      report_failures("unprotect/raw", failures + raw_feed->failures);
    }
  }
}

const Suite kSuite(71, "srtp", run_srtp_suite);

}  // namespace
}  // namespace tandem::bench
