// Small pieces shared by the DTLS files that talk to mbedTLS directly. Internal: not for callers of the
// DTLS API (it includes mbedTLS headers).
#pragma once

#include <mbedtls/ctr_drbg.h>

#include <string>
#include <string_view>

#include "core/common/error.h"
#include "core/transport/dtls/entropy.h"

namespace tandem::transport::detail {

// "mbedTLS -0x7780: SSL - A fatal alert message was received from our peer", for error messages.
std::string describe_mbedtls_error(int ret);

// A CTR-DRBG seeded from the caller's entropy source. mbedTLS draws on the source again when it reseeds, so
// the source must outlive the Drbg, and the Drbg must not move once seeded (mbedTLS keeps `this`).
class Drbg {
 public:
  Drbg() { mbedtls_ctr_drbg_init(&ctx_); }
  ~Drbg() { mbedtls_ctr_drbg_free(&ctx_); }
  Drbg(const Drbg&) = delete;
  Drbg& operator=(const Drbg&) = delete;

  // Errc::internal when the source fails.
  Result<void> seed(const EntropySource* source, std::string_view personalization);

  // The mbedTLS f_rng callback and its context: mbedtls_xxx(..., Drbg::random, drbg.context()).
  static int random(void* ctx, unsigned char* out, size_t len) { return mbedtls_ctr_drbg_random(ctx, out, len); }
  void* context() { return &ctx_; }

 private:
  static int entropy(void* source, unsigned char* out, size_t len);
  mbedtls_ctr_drbg_context ctx_;
};

}  // namespace tandem::transport::detail
