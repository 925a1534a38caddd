#include "core/media/srtp_session.h"

#include <srtp2/srtp.h>

#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <utility>

namespace tandem::media {
namespace {

constexpr size_t kRtpHeaderSize = 12;
constexpr size_t kRtcpHeaderSize = 8;
constexpr size_t kSrtcpIndexSize = 4;  // the E flag and the 31-bit SRTCP index (RFC 3711 section 3.4)
// No RTP or RTCP packet carried in one UDP datagram is larger; it also keeps libsrtp's int lengths safe.
constexpr size_t kMaxPacketSize = 65535;

// libsrtp keeps process-wide state (its crypto kernel): initialise it exactly once and never shut it down,
// since sessions of other cores in the same process may still be alive at any point.
Result<void> ensure_srtp_initialized() {
  static std::once_flag once;
  static srtp_err_status_t status = srtp_err_status_ok;
  std::call_once(once, [] { status = srtp_init(); });
  if (status != srtp_err_status_ok) {
    return {Errc::internal, "srtp_init failed with libsrtp status " + std::to_string(status)};
  }
  return {};
}

bool known_profile(SrtpProfile p) {
  switch (p) {
    case SrtpProfile::aes_cm_128_hmac_sha1_80:
    case SrtpProfile::aes_cm_128_hmac_sha1_32:
    case SrtpProfile::aead_aes_128_gcm:
    case SrtpProfile::aead_aes_256_gcm: return true;
  }
  return false;
}

size_t rtp_tag_size(SrtpProfile p) {
  switch (p) {
    case SrtpProfile::aes_cm_128_hmac_sha1_80: return 10;
    case SrtpProfile::aes_cm_128_hmac_sha1_32: return 4;
    case SrtpProfile::aead_aes_128_gcm:
    case SrtpProfile::aead_aes_256_gcm: return 16;
  }
  return 0;
}

// RFC 5764 section 4.1.2: the _32 profile shortens the SRTP tag only; SRTCP keeps the 80-bit tag.
size_t rtcp_tag_size(SrtpProfile p) {
  return p == SrtpProfile::aes_cm_128_hmac_sha1_32 ? 10 : rtp_tag_size(p);
}

// The RTP header (RFC 3550 section 5.1) with its CSRC list and extension must lie within `len` bytes;
// libsrtp reads it in the clear before touching anything else.
bool rtp_header_fits(std::span<const uint8_t> p, size_t len) {
  if (len < kRtpHeaderSize || (p[0] >> 6) != 2) return false;
  size_t header = kRtpHeaderSize + 4u * (p[0] & 0x0f);
  if (p[0] & 0x10) {
    if (header + 4 > len) return false;
    header += 4 + 4u * ((size_t{p[header + 2]} << 8) | p[header + 3]);
  }
  return header <= len;
}

bool rtcp_header_fits(std::span<const uint8_t> p, size_t len) {
  return len >= kRtcpHeaderSize && (p[0] >> 6) == 2;
}

Error map_status(srtp_err_status_t status, const char* operation) {
  std::string what = std::string(operation) + ": ";
  switch (status) {
    case srtp_err_status_auth_fail: return {Errc::authentication_failed, what + "authentication tag mismatch"};
    case srtp_err_status_replay_fail: return {Errc::replayed, what + "packet index already seen"};
    case srtp_err_status_replay_old: return {Errc::replayed, what + "packet index older than the replay window"};
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err: return {Errc::malformed_packet, what + "not a valid packet"};
    // SRTCP with the E flag clear claims to be unencrypted, which no profile we offer allows.
    case srtp_err_status_cant_check: return {Errc::malformed_packet, what + "unencrypted SRTCP is not accepted"};
    case srtp_err_status_alloc_fail: return {Errc::resource_exhausted, what + "out of memory"};
    case srtp_err_status_key_expired:
      return {Errc::resource_exhausted, what + "the master key reached its packet limit"};
    default: return {Errc::internal, what + "libsrtp status " + std::to_string(status)};
  }
}

void wipe(uint8_t* p, size_t n) {
  // volatile: a plain memset of a buffer that dies right after may be optimised away.
  volatile uint8_t* v = p;
  while (n--) *v++ = 0;
}

}  // namespace

std::string_view to_string(SrtpProfile profile) {
  switch (profile) {
    case SrtpProfile::aes_cm_128_hmac_sha1_80: return "AES_CM_128_HMAC_SHA1_80";
    case SrtpProfile::aes_cm_128_hmac_sha1_32: return "AES_CM_128_HMAC_SHA1_32";
    case SrtpProfile::aead_aes_128_gcm: return "AEAD_AES_128_GCM";
    case SrtpProfile::aead_aes_256_gcm: return "AEAD_AES_256_GCM";
  }
  return "unknown_srtp_profile";
}

SrtpKeyLengths srtp_key_lengths(SrtpProfile profile) {
  switch (profile) {
    case SrtpProfile::aes_cm_128_hmac_sha1_80:
    case SrtpProfile::aes_cm_128_hmac_sha1_32: return {SRTP_AES_128_KEY_LEN, SRTP_SALT_LEN};
    case SrtpProfile::aead_aes_128_gcm: return {SRTP_AES_128_KEY_LEN, SRTP_AEAD_SALT_LEN};
    case SrtpProfile::aead_aes_256_gcm: return {SRTP_AES_256_KEY_LEN, SRTP_AEAD_SALT_LEN};
  }
  return {};
}

Result<SrtpSession> SrtpSession::create(const SrtpConfig& config) {
  if (!known_profile(config.profile)) return Error{Errc::invalid_argument, "unknown SRTP profile"};
  const SrtpKeyLengths want = srtp_key_lengths(config.profile);
  if (config.master_key.size() != want.master_key || config.master_salt.size() != want.master_salt) {
    return Error{Errc::invalid_argument,
                 std::string(to_string(config.profile)) + " needs a " + std::to_string(want.master_key) +
                     "-byte master key and a " + std::to_string(want.master_salt) + "-byte master salt"};
  }
  if (config.replay_window < 64 || config.replay_window > 0x7fff) {
    return Error{Errc::invalid_argument, "replay_window must be within 64..32767"};
  }
  if (auto init = ensure_srtp_initialized(); !init) return init.error();

  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof(policy));
  const auto profile = static_cast<srtp_profile_t>(config.profile);
  if (srtp_crypto_policy_set_from_profile_for_rtp(&policy.rtp, profile) != srtp_err_status_ok ||
      srtp_crypto_policy_set_from_profile_for_rtcp(&policy.rtcp, profile) != srtp_err_status_ok) {
    return Error{Errc::internal, "libsrtp does not support " + std::string(to_string(config.profile))};
  }
  // Wildcard SSRC: one session serves every stream in its direction (libsrtp clones the template per SSRC).
  policy.ssrc.type = config.direction == SrtpDirection::outbound ? ssrc_any_outbound : ssrc_any_inbound;
  uint8_t key_and_salt[SRTP_MAX_KEY_LEN];  // libsrtp wants the master key immediately followed by the salt
  std::memcpy(key_and_salt, config.master_key.data(), want.master_key);
  std::memcpy(key_and_salt + want.master_key, config.master_salt.data(), want.master_salt);
  policy.key = key_and_salt;
  policy.window_size = config.replay_window;
  policy.allow_repeat_tx = 0;  // a repeated outbound index would reuse keystream
  policy.next = nullptr;

  srtp_t ctx = nullptr;
  const srtp_err_status_t status = srtp_create(&ctx, &policy);
  wipe(key_and_salt, sizeof(key_and_salt));
  if (status != srtp_err_status_ok) return map_status(status, "srtp_create");
  return SrtpSession(ctx, config.profile, config.direction);
}

SrtpSession::SrtpSession(SrtpSession&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)), profile_(other.profile_), direction_(other.direction_) {}

SrtpSession& SrtpSession::operator=(SrtpSession&& other) noexcept {
  if (this != &other) {
    if (ctx_) srtp_dealloc(ctx_);
    ctx_ = std::exchange(other.ctx_, nullptr);
    profile_ = other.profile_;
    direction_ = other.direction_;
  }
  return *this;
}

SrtpSession::~SrtpSession() {
  if (ctx_) srtp_dealloc(ctx_);
}

size_t SrtpSession::rtp_overhead() const { return rtp_tag_size(profile_); }
size_t SrtpSession::rtcp_overhead() const { return kSrtcpIndexSize + rtcp_tag_size(profile_); }

Result<size_t> SrtpSession::protect(std::span<uint8_t> buffer, size_t len) {
  if (!ctx_ || direction_ != SrtpDirection::outbound) return Error{Errc::invalid_argument, "not an outbound session"};
  if (len > buffer.size() || len > kMaxPacketSize) return Error{Errc::invalid_argument, "len exceeds the buffer"};
  if (buffer.size() - len < rtp_overhead()) {
    return Error{Errc::invalid_argument, "buffer needs " + std::to_string(rtp_overhead()) + " spare bytes"};
  }
  if (!rtp_header_fits(buffer, len)) return Error{Errc::invalid_argument, "not an RTP packet"};
  int out_len = static_cast<int>(len);
  if (auto s = srtp_protect(ctx_, buffer.data(), &out_len); s != srtp_err_status_ok) {
    return map_status(s, "srtp_protect");
  }
  return static_cast<size_t>(out_len);
}

Result<size_t> SrtpSession::protect_rtcp(std::span<uint8_t> buffer, size_t len) {
  if (!ctx_ || direction_ != SrtpDirection::outbound) return Error{Errc::invalid_argument, "not an outbound session"};
  if (len > buffer.size() || len > kMaxPacketSize) return Error{Errc::invalid_argument, "len exceeds the buffer"};
  if (buffer.size() - len < rtcp_overhead()) {
    return Error{Errc::invalid_argument, "buffer needs " + std::to_string(rtcp_overhead()) + " spare bytes"};
  }
  if (!rtcp_header_fits(buffer, len)) return Error{Errc::invalid_argument, "not an RTCP packet"};
  int out_len = static_cast<int>(len);
  if (auto s = srtp_protect_rtcp(ctx_, buffer.data(), &out_len); s != srtp_err_status_ok) {
    return map_status(s, "srtp_protect_rtcp");
  }
  return static_cast<size_t>(out_len);
}

Result<size_t> SrtpSession::unprotect(std::span<uint8_t> packet) {
  if (!ctx_ || direction_ != SrtpDirection::inbound) return Error{Errc::invalid_argument, "not an inbound session"};
  if (packet.size() > kMaxPacketSize || packet.size() < kRtpHeaderSize + rtp_overhead() ||
      !rtp_header_fits(packet, packet.size() - rtp_overhead())) {
    return Error{Errc::malformed_packet, "srtp_unprotect: not an SRTP packet"};
  }
  int out_len = static_cast<int>(packet.size());
  if (auto s = srtp_unprotect(ctx_, packet.data(), &out_len); s != srtp_err_status_ok) {
    return map_status(s, "srtp_unprotect");
  }
  return static_cast<size_t>(out_len);
}

Result<size_t> SrtpSession::unprotect_rtcp(std::span<uint8_t> packet) {
  if (!ctx_ || direction_ != SrtpDirection::inbound) return Error{Errc::invalid_argument, "not an inbound session"};
  if (packet.size() > kMaxPacketSize || packet.size() < kRtcpHeaderSize + rtcp_overhead() ||
      !rtcp_header_fits(packet, packet.size())) {
    return Error{Errc::malformed_packet, "srtp_unprotect_rtcp: not an SRTCP packet"};
  }
  int out_len = static_cast<int>(packet.size());
  if (auto s = srtp_unprotect_rtcp(ctx_, packet.data(), &out_len); s != srtp_err_status_ok) {
    return map_status(s, "srtp_unprotect_rtcp");
  }
  return static_cast<size_t>(out_len);
}

}  // namespace tandem::media
