// DtlsCertificate (generation, PEM in and out, foreign certificates) and the SDP fingerprint text.
#include "core/transport/dtls/certificate.h"

#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <string>
#include <vector>

#include "dtls_test_support.h"
#include "openssl_certificates.h"

using namespace tandem;
using namespace tandem::transport;
using namespace tandem::test::dtls;

namespace {

std::vector<uint8_t> bytes_of(std::span<const uint8_t> s) { return {s.begin(), s.end()}; }

// mbedTLS's parse of DER bytes, owned.
struct Parsed {
  mbedtls_x509_crt crt;
  explicit Parsed(std::span<const uint8_t> der) {
    mbedtls_x509_crt_init(&crt);
    REQUIRE(mbedtls_x509_crt_parse_der(&crt, der.data(), der.size()) == 0);
  }
  ~Parsed() { mbedtls_x509_crt_free(&crt); }
  std::string name(const mbedtls_x509_name& n) const {
    char text[256];
    REQUIRE(mbedtls_x509_dn_gets(text, sizeof(text), &n) > 0);
    return text;
  }
};

}  // namespace

TEST_CASE("DtlsCertificate: a generated certificate is a self-signed ECDSA P-256 X.509 v3", "[dtls]") {
  auto made = DtlsCertificate::generate(seeded_entropy(7));
  REQUIRE(made.ok());
  const auto& cert = *made.value();
  Parsed p(cert.der());
  CHECK(p.crt.version == 3);
  CHECK(p.name(p.crt.subject) == "CN=tandem");
  CHECK(p.name(p.crt.issuer) == "CN=tandem");
  REQUIRE(mbedtls_pk_get_type(&p.crt.pk) == MBEDTLS_PK_ECKEY);
  CHECK(mbedtls_pk_ec(p.crt.pk)->grp.id == MBEDTLS_ECP_DP_SECP256R1);
  CHECK(p.crt.sig_pk == MBEDTLS_PK_ECDSA);
  CHECK(p.crt.sig_md == MBEDTLS_MD_SHA256);
  CHECK(p.crt.serial.len > 0);
  CHECK((p.crt.serial.p[0] & 0x80) == 0);  // a positive INTEGER
  // The fixed validity window: wider than any clock (see certificate.cpp).
  CHECK(p.crt.valid_from.year == 2000);
  CHECK(p.crt.valid_from.mon == 1);
  CHECK(p.crt.valid_from.day == 1);
  CHECK(p.crt.valid_to.year == 9999);
  CHECK(p.crt.valid_to.mon == 12);
  CHECK(p.crt.valid_to.day == 31);
  CHECK(p.crt.ca_istrue == 0);

  // The self-signature verifies with the certificate's own key.
  unsigned char hash[32];
  REQUIRE(mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), p.crt.tbs.p, p.crt.tbs.len, hash) == 0);
  CHECK(mbedtls_pk_verify(&p.crt.pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), p.crt.sig.p, p.crt.sig.len) == 0);
  hash[0] ^= 1;
  CHECK(mbedtls_pk_verify(&p.crt.pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), p.crt.sig.p, p.crt.sig.len) != 0);

  // Randomness is the caller's: equal seeds give equal certificates, different seeds different keys.
  auto again = DtlsCertificate::generate(seeded_entropy(7));
  auto other = DtlsCertificate::generate(seeded_entropy(8));
  REQUIRE(again.ok());
  REQUIRE(other.ok());
  CHECK(bytes_of(again.value()->der()) == bytes_of(cert.der()));
  CHECK(bytes_of(other.value()->der()) != bytes_of(cert.der()));
  CHECK(other.value()->fingerprint() != cert.fingerprint());

  CHECK(DtlsCertificate::generate(seeded_entropy(7), "WebRTC").ok());
  CHECK(DtlsCertificate::generate(seeded_entropy(7), "").code() == Errc::invalid_argument);
  CHECK(DtlsCertificate::generate(seeded_entropy(7), "a,O=evil").code() == Errc::invalid_argument);
  CHECK(DtlsCertificate::generate([](std::span<uint8_t>) { return false; }).code() == Errc::internal);
  CHECK(DtlsCertificate::generate(EntropySource{}).code() == Errc::invalid_argument);
}

TEST_CASE("DtlsCertificate: the fingerprint is the SDP text of the certificate's SHA-256", "[dtls]") {
  const auto cert = certificate(1);
  const DtlsFingerprint& fp = cert->fingerprint();
  CHECK(fp.algorithm == FingerprintAlgorithm::sha256);
  REQUIRE(fp.size == 32);
  const std::string text = fp.value();
  REQUIRE(text.size() == 32 * 3 - 1);
  for (size_t i = 0; i < text.size(); ++i) {
    if (i % 3 == 2) {
      CHECK(text[i] == ':');
    } else {
      CHECK(((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'A' && text[i] <= 'F')));
    }
  }
  CHECK(fp.to_sdp() == "sha-256 " + text);

  unsigned char digest[32];
  REQUIRE(mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), cert->der().data(), cert->der().size(), digest) ==
          0);
  CHECK(bytes_of(fp.bytes()) == std::vector<uint8_t>(digest, digest + 32));
  CHECK(cert->fingerprint(FingerprintAlgorithm::sha1).size == 20);
  CHECK(cert->fingerprint(FingerprintAlgorithm::sha384).size == 48);
  CHECK(cert->fingerprint(FingerprintAlgorithm::sha512).to_sdp().rfind("sha-512 ", 0) == 0);

  // Against OpenSSL's own fingerprints of certificates it made.
  auto ec = DtlsCertificate::from_pem(kOpensslEcCert, kOpensslEcKey);
  REQUIRE(ec.ok());
  CHECK(ec.value()->fingerprint().value() == kOpensslEcSha256);
  CHECK(ec.value()->fingerprint(FingerprintAlgorithm::sha1).value() == kOpensslEcSha1);
  CHECK(ec.value()->fingerprint(FingerprintAlgorithm::sha512).value() == kOpensslEcSha512);
  auto rsa = DtlsCertificate::from_pem(kOpensslRsaCert, kOpensslRsaKey);
  REQUIRE(rsa.ok());
  CHECK(rsa.value()->fingerprint().value() == kOpensslRsaSha256);
}

TEST_CASE("DtlsCertificate: PEM round trip", "[dtls]") {
  const auto cert = certificate(1);
  const std::string cert_pem = cert->certificate_pem();
  const std::string key_pem = cert->private_key_pem();
  CHECK(cert_pem.rfind("-----BEGIN CERTIFICATE-----\n", 0) == 0);
  CHECK(cert_pem.find("-----END CERTIFICATE-----") != std::string::npos);
  CHECK(key_pem.rfind("-----BEGIN EC PRIVATE KEY-----\n", 0) == 0);

  auto loaded = DtlsCertificate::from_pem(cert_pem, key_pem);
  REQUIRE(loaded.ok());
  CHECK(bytes_of(loaded.value()->der()) == bytes_of(cert->der()));
  CHECK(loaded.value()->fingerprint() == cert->fingerprint());
  CHECK(loaded.value()->certificate_pem() == cert_pem);
  CHECK(loaded.value()->private_key_pem() == key_pem);

  // The reloaded key really is the key: it completes a handshake as certificate 1.
  DtlsConfig c = client_config();
  c.certificate = loaded.value();
  Pair p = make_pair(std::move(c));
  CHECK(handshake(p));
}

TEST_CASE("DtlsCertificate: from_pem rejects what it cannot use", "[dtls]") {
  const auto one = certificate(1);
  const auto two = certificate(2);
  CHECK(DtlsCertificate::from_pem(one->certificate_pem(), two->private_key_pem()).code() == Errc::invalid_argument);
  CHECK(DtlsCertificate::from_pem("", one->private_key_pem()).code() == Errc::invalid_argument);
  CHECK(DtlsCertificate::from_pem("garbage", one->private_key_pem()).code() == Errc::invalid_argument);
  CHECK(DtlsCertificate::from_pem(one->certificate_pem(), "").code() == Errc::invalid_argument);
  CHECK(DtlsCertificate::from_pem(one->certificate_pem(),
                                  "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC "
                                  "PRIVATE KEY-----\n")
            .code() == Errc::invalid_argument);
  std::string truncated = one->certificate_pem();
  truncated.erase(truncated.size() / 2, 20);
  CHECK(DtlsCertificate::from_pem(truncated, one->private_key_pem()).code() == Errc::invalid_argument);
}

TEST_CASE("DtlsCertificate: foreign certificates with dates outside any clock still complete a handshake", "[dtls]") {
  // The check is the fingerprint alone: an EC certificate that expired in 2011 and an RSA one valid from 2090.
  auto ec = DtlsCertificate::from_pem(kOpensslEcCert, kOpensslEcKey);
  auto rsa = DtlsCertificate::from_pem(kOpensslRsaCert, kOpensslRsaKey);
  REQUIRE(ec.ok());
  REQUIRE(rsa.ok());
  auto client = config(DtlsRole::client, 1, ec.value(), rsa.value()->fingerprint());
  auto server = config(DtlsRole::server, 2, rsa.value(), ec.value()->fingerprint());
  Pair p = make_pair(std::move(client), std::move(server));
  REQUIRE(handshake(p));
  CHECK(p.client.cipher_suite() == "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256");
  CHECK(p.client.srtp_keys().ok());
}

TEST_CASE("parse_fingerprint: accepts the SDP forms and rejects malformed text", "[dtls]") {
  const std::string sha256 = certificate(1)->fingerprint().value();
  auto fp = parse_fingerprint("sha-256", sha256);
  REQUIRE(fp.ok());
  CHECK(*fp == certificate(1)->fingerprint());
  CHECK(fp->value() == sha256);

  std::string lower = sha256;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  CHECK(parse_fingerprint("SHA-256", lower).ok());  // hash names and hex digits in either case
  CHECK(*parse_fingerprint("SHA-256", lower) == certificate(1)->fingerprint());

  for (auto algorithm : {FingerprintAlgorithm::sha1, FingerprintAlgorithm::sha384, FingerprintAlgorithm::sha512}) {
    const DtlsFingerprint want = certificate(1)->fingerprint(algorithm);
    auto got = parse_fingerprint(to_string(algorithm), want.value());
    REQUIRE(got.ok());
    CHECK(*got == want);
  }

  const auto rejects = [](std::string_view algorithm, std::string_view text) {
    return parse_fingerprint(algorithm, text).code() == Errc::invalid_argument;
  };
  CHECK(rejects("md5", "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"));  // forbidden by RFC 8122
  CHECK(rejects("sha256", sha256));                                          // not the registry's name
  CHECK(rejects("", sha256));
  CHECK(rejects("sha-256", ""));
  CHECK(rejects("sha-256", sha256.substr(0, sha256.size() - 3)));  // 31 bytes
  CHECK(rejects("sha-256", sha256 + ":00"));                       // 33 bytes
  CHECK(rejects("sha-1", sha256));                                 // the length belongs to another hash
  CHECK(rejects("sha-256", " " + sha256.substr(1)));
  CHECK(rejects("sha-256", sha256.substr(0, sha256.size() - 1) + " "));
  std::string bad = sha256;
  bad[2] = '-';
  CHECK(rejects("sha-256", bad));
  bad = sha256;
  bad[4] = 'G';
  CHECK(rejects("sha-256", bad));
  std::string no_colons;
  for (char c : sha256) {
    if (c != ':') no_colons.push_back(c);
  }
  CHECK(rejects("sha-256", no_colons));

  // Random edits of a valid value: never a crash; accepted only when the text still reads as 32 hex pairs, i.e.
  // it is what value() writes for the parsed digest, up to the case of the hex digits.
  uint32_t state = 3;
  for (int round = 0; round < 3000; ++round) {
    std::string text = sha256;
    const int edits = 1 + round % 3;
    for (int e = 0; e < edits; ++e) {
      state = state * 1103515245u + 12345u;
      const size_t at = (state >> 8) % (text.size() + 1);
      const char c = static_cast<char>((state >> 20) & 0x7f);
      switch ((state >> 16) % 3) {
        case 0:
          if (at < text.size()) text[at] = c;
          break;
        case 1: text.insert(at, 1, c); break;
        default:
          if (at < text.size()) text.erase(at, 1);
          break;
      }
    }
    auto r = parse_fingerprint("sha-256", text);
    if (r.ok()) {
      std::string upper = text;
      for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      CHECK(r->value() == upper);
    }
  }
}
