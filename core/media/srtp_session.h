// One direction of SRTP/SRTCP protection (RFC 3711) over libsrtp2.
//
// A session either protects everything we send (outbound) or verifies and decrypts everything we receive
// (inbound), for any SSRC, with one master key and salt: what DTLS-SRTP (RFC 5764) exports for each direction.
// Packets are transformed in place: protect() appends the authentication tag (and for SRTCP the E flag and
// index), so the caller's buffer needs rtp_overhead() / rtcp_overhead() spare bytes after the packet;
// unprotect() shrinks it.
//
// Failures are values: a bad tag is Errc::authentication_failed, a replayed or too-old packet Errc::replayed,
// bytes that are not RTP/RTCP Errc::malformed_packet. None of them changes the session's state, so the caller
// just drops the packet and counts the reason. Timing (the srtp_protect / srtp_unprotect histograms) belongs
// to the pipeline stage that calls this, which owns the clock.
//
// Not thread-safe: a session is used by the one runtime thread that owns it (libsrtp keeps replay state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/common/error.h"

struct srtp_ctx_t_;  // libsrtp's session type; keeps <srtp2/srtp.h> out of our headers

namespace tandem::media {

// The values are the DTLS-SRTP protection profile ids (RFC 5764 section 4.1.2, RFC 7714 section 14.2),
// which libsrtp's srtp_profile_t uses too.
enum class SrtpProfile : uint16_t {
  aes_cm_128_hmac_sha1_80 = 0x0001,
  aes_cm_128_hmac_sha1_32 = 0x0002,
  aead_aes_128_gcm = 0x0007,
  aead_aes_256_gcm = 0x0008,
};
std::string_view to_string(SrtpProfile profile);

struct SrtpKeyLengths {
  size_t master_key = 0;
  size_t master_salt = 0;
};
// What a profile needs from the key exporter: 16+14 bytes for AES-CM, 16+12 / 32+12 for AES-GCM.
SrtpKeyLengths srtp_key_lengths(SrtpProfile profile);

enum class SrtpDirection : uint8_t { outbound, inbound };

struct SrtpConfig {
  SrtpProfile profile = SrtpProfile::aes_cm_128_hmac_sha1_80;
  SrtpDirection direction = SrtpDirection::outbound;
  std::span<const uint8_t> master_key;   // copied; may be wiped by the caller after create()
  std::span<const uint8_t> master_salt;  // copied
  // Inbound only: how many packets behind the newest one are still accepted (each once). libsrtp allows
  // 64..32767; 128 is its default and WebRTC's choice (video reorders across a frame's packets).
  uint32_t replay_window = 128;
};

class SrtpSession {
 public:
  static Result<SrtpSession> create(const SrtpConfig& config);

  SrtpSession(SrtpSession&& other) noexcept;
  SrtpSession& operator=(SrtpSession&& other) noexcept;
  SrtpSession(const SrtpSession&) = delete;
  SrtpSession& operator=(const SrtpSession&) = delete;
  ~SrtpSession();

  SrtpProfile profile() const { return profile_; }
  SrtpDirection direction() const { return direction_; }
  // Bytes protect() / protect_rtcp() add after the packet; the buffer must have this much room.
  size_t rtp_overhead() const;
  size_t rtcp_overhead() const;

  // Outbound. `buffer` holds the RTP (RTCP) packet in its first `len` bytes; the rest is room for the
  // trailer. Returns the protected length.
  Result<size_t> protect(std::span<uint8_t> buffer, size_t len);
  Result<size_t> protect_rtcp(std::span<uint8_t> buffer, size_t len);

  // Inbound. `packet` is exactly the received SRTP (SRTCP) packet; on success its first N bytes are the
  // plain RTP (RTCP) packet and N is returned. On failure the bytes are unspecified (drop the packet).
  Result<size_t> unprotect(std::span<uint8_t> packet);
  Result<size_t> unprotect_rtcp(std::span<uint8_t> packet);

 private:
  SrtpSession(srtp_ctx_t_* ctx, SrtpProfile profile, SrtpDirection direction)
      : ctx_(ctx), profile_(profile), direction_(direction) {}

  srtp_ctx_t_* ctx_ = nullptr;
  SrtpProfile profile_;
  SrtpDirection direction_;
};

}  // namespace tandem::media
