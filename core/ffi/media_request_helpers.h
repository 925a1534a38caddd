// Conversions from API messages to pipeline configuration, shared by the media request handlers.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "core/common/error.h"
#include "core/media/e2ee/key_ring.h"
#include "core/media/pipeline/audio_sender.h"
#include "core/media/srtp_session.h"
#include "core/sim/network.h"
#include "proto/tandem.pb.h"
#include "tandem/platform/platform.h"

namespace tandem::ffi {
namespace media_api {

inline std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline Result<sim::Impairments> to_impairments(const api::NetworkImpairment& n) {
  auto probability = [](double p) { return p >= 0.0 && p <= 1.0; };
  if (!probability(n.loss()) || !probability(n.reorder()) || !probability(n.duplicate()))
    return Error{Errc::invalid_argument, "impairment probabilities must be within 0..1"};
  if (n.delay_ms() > 10'000 || n.jitter_ms() > 10'000)
    return Error{Errc::invalid_argument, "impairment delay and jitter must be <= 10000 ms"};
  sim::Impairments i;
  i.loss = n.loss();
  i.delay_ns = uint64_t{n.delay_ms()} * 1'000'000;
  i.jitter_ns = uint64_t{n.jitter_ms()} * 1'000'000;
  i.jitter_reorders = true;  // a jittery path reorders, as in the "loss and jitter" sliders
  i.reorder = n.reorder();
  i.duplicate = n.duplicate();
  i.bandwidth_bps = uint64_t{n.bandwidth_kbps()} * 1000;
  return i;
}

inline bool impairment_set(const api::NetworkImpairment& n) {
  return n.loss() != 0 || n.delay_ms() != 0 || n.jitter_ms() != 0 || n.reorder() != 0 || n.duplicate() != 0 ||
         n.bandwidth_kbps() != 0;
}

inline Result<media::SrtpProfile> to_profile(api::SrtpProfile p) {
  switch (p) {
    case api::SRTP_PROFILE_DEFAULT:
    case api::AES_CM_128_HMAC_SHA1_80: return media::SrtpProfile::aes_cm_128_hmac_sha1_80;
    case api::AES_CM_128_HMAC_SHA1_32: return media::SrtpProfile::aes_cm_128_hmac_sha1_32;
    case api::AEAD_AES_128_GCM: return media::SrtpProfile::aead_aes_128_gcm;
    case api::AEAD_AES_256_GCM: return media::SrtpProfile::aead_aes_256_gcm;
    default: return Error{Errc::invalid_argument, "unknown srtp_profile"};
  }
}

inline Result<media::AudioCodec> to_codec(api::AudioCodec c) {
  switch (c) {
    case api::OPUS: return media::AudioCodec::opus;
    case api::PCMU: return media::AudioCodec::pcmu;
    case api::PCMA: return media::AudioCodec::pcma;
    default: return Error{Errc::invalid_argument, "unknown audio codec"};
  }
}

inline uint8_t default_payload_type(media::AudioCodec c) {
  return c == media::AudioCodec::opus ? 111 : c == media::AudioCodec::pcmu ? 0 : 8;
}

inline Result<uint8_t> payload_type(uint32_t requested, uint8_t fallback) {
  if (requested > 127) return Error{Errc::invalid_argument, "payload_type must be 0..127"};
  return requested == 0 ? fallback : static_cast<uint8_t>(requested);
}

// A key ring holding the one configured key, or nothing when E2EE is off.
inline Result<std::unique_ptr<media::e2ee::KeyRing>> make_keys(platform::Platform& platform,
                                                               const api::E2eeOptions& e) {
  if (e.key().empty()) return std::unique_ptr<media::e2ee::KeyRing>();
  if (e.key().size() != 16 && e.key().size() != 32)
    return Error{Errc::invalid_argument, "e2ee.key must be 16 or 32 bytes"};
  if (e.key_index() >= 16) return Error{Errc::invalid_argument, "e2ee.key_index must be 0..15"};
  auto ring = std::make_unique<media::e2ee::KeyRing>(platform.crypto);
  const auto index = static_cast<uint8_t>(e.key_index());
  if (auto r = ring->set_key(index, bytes_of(e.key())); !r.ok()) return r.error();
  if (auto r = ring->set_active_index(index); !r.ok()) return r.error();
  return ring;
}


}  // namespace media_api
}  // namespace tandem::ffi
