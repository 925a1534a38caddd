// What a DtlsCertificate holds, for the endpoint that hands it to mbedTLS. Internal (includes mbedTLS).
#pragma once

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "core/transport/dtls/certificate.h"

namespace tandem::transport {

struct DtlsCertificate::Impl {
  // mbedtls_ssl_conf_own_cert takes non-const pointers, hence mutable: a DtlsCertificate stays logically
  // const. An ECDSA signature works on a copy of the key; RSA signing updates its blinding values in place,
  // one reason why the endpoints sharing a certificate must run on one thread.
  mutable mbedtls_x509_crt certificate;
  mutable mbedtls_pk_context key;

  Impl() {
    mbedtls_x509_crt_init(&certificate);
    mbedtls_pk_init(&key);
  }
  ~Impl() {
    mbedtls_x509_crt_free(&certificate);
    mbedtls_pk_free(&key);  // mbedtls_pk_free wipes the private key
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
};

}  // namespace tandem::transport
