// The DTLS identity of a WebRTC peer (RFC 8827 section 6.5, RFC 8122): a self-signed certificate whose digest,
// the fingerprint, travels in SDP (a=fingerprint:sha-256 AB:CD:...). The remote peer is authenticated by
// comparing the digest of the certificate it presents with the fingerprint it signalled; names, issuers and
// dates play no part.
//
//   auto cert = DtlsCertificate::generate(entropy);          // ECDSA P-256, signed with SHA-256
//   sdp_fingerprint = cert.value()->fingerprint().to_sdp();  // "sha-256 AB:CD:..."
//   auto remote = parse_fingerprint("sha-256", "12:34:...");  // from the peer's a=fingerprint
//
// A certificate is immutable once made and is shared by the endpoints that use it (shared_ptr<const>); one
// certificate for all the connections of a peer is what browsers do. Endpoints only read it, on the runtime
// thread that drives them.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/common/error.h"
#include "core/transport/dtls/entropy.h"

namespace tandem::transport {

// The hash functions of the IANA "Hash Function Textual Names" registry that WebRTC peers use in
// a=fingerprint (RFC 8122 section 5). sha-256 is what every browser sends.
enum class FingerprintAlgorithm : uint8_t { sha1, sha256, sha384, sha512 };

// "sha-1", "sha-256", "sha-384", "sha-512": the SDP spelling.
std::string_view to_string(FingerprintAlgorithm algorithm);

struct DtlsFingerprint {
  FingerprintAlgorithm algorithm = FingerprintAlgorithm::sha256;
  std::array<uint8_t, 64> digest{};  // the first `size` bytes are used
  uint8_t size = 0;

  std::span<const uint8_t> bytes() const { return {digest.data(), size}; }
  // Uppercase hex pairs joined by colons, "AB:CD:...", as RFC 8122's grammar (UHEX) writes them.
  std::string value() const;
  // The value of the a=fingerprint attribute: "sha-256 AB:CD:...".
  std::string to_sdp() const;

  friend bool operator==(const DtlsFingerprint& a, const DtlsFingerprint& b) {
    return a.algorithm == b.algorithm && a.size == b.size &&
           std::equal(a.digest.begin(), a.digest.end(), b.digest.begin());
  }
};

// Parses the two tokens of a remote a=fingerprint attribute. The algorithm name is matched without regard to
// case (sha-1, sha-256, sha-384, sha-512; anything else is Errc::invalid_argument, as is md5 and md2, which
// RFC 8122 section 5 forbids). The value must be exactly the digest's length in hex pairs (either case)
// separated by single colons, with nothing before, after or between them; else Errc::invalid_argument.
Result<DtlsFingerprint> parse_fingerprint(std::string_view algorithm, std::string_view text);

// The digest of DER bytes, e.g. a certificate's, with the given algorithm.
DtlsFingerprint compute_fingerprint(FingerprintAlgorithm algorithm, std::span<const uint8_t> der);

class DtlsCertificate {
 public:
  // A fresh ECDSA P-256 key and a self-signed X.509 v3 certificate for it, signed with ECDSA-SHA-256. Every
  // random byte (the key, the serial number, the signature's nonce) comes from `entropy` through a CTR-DRBG.
  // The subject and issuer are CN=<common_name> (browsers use "WebRTC"; it is never checked).
  static Result<std::shared_ptr<const DtlsCertificate>> generate(const EntropySource& entropy,
                                                                 std::string_view common_name = "tandem");

  // A certificate and its private key supplied by the caller, in PEM (what certificate_pem() and
  // private_key_pem() give, or e.g. `openssl req -x509 -newkey ec`). The key must be EC (P-256, P-384, P-521)
  // or RSA, unencrypted, and must match the certificate; else Errc::invalid_argument.
  static Result<std::shared_ptr<const DtlsCertificate>> from_pem(std::string_view certificate_pem,
                                                                 std::string_view private_key_pem);

  DtlsCertificate(const DtlsCertificate&) = delete;
  DtlsCertificate& operator=(const DtlsCertificate&) = delete;
  ~DtlsCertificate();

  // SHA-256 of the DER certificate: what to put in our a=fingerprint.
  const DtlsFingerprint& fingerprint() const { return sha256_; }
  DtlsFingerprint fingerprint(FingerprintAlgorithm algorithm) const;

  std::span<const uint8_t> der() const;
  std::string certificate_pem() const;
  // The unencrypted private key (SEC1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY"). Handle with care.
  std::string private_key_pem() const;

  struct Impl;  // mbedTLS's certificate and key; defined in certificate_internal.h for the endpoint
  const Impl& impl() const { return *impl_; }

 private:
  explicit DtlsCertificate(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
  DtlsFingerprint sha256_;
};

}  // namespace tandem::transport
