#include "core/transport/dtls/certificate.h"

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/pem.h>
#include <mbedtls/x509_crt.h>

#include <cstdio>
#include <utility>

#include "core/transport/dtls/certificate_internal.h"
#include "core/transport/dtls/mbedtls_glue.h"

namespace tandem::transport {
namespace detail {

std::string describe_mbedtls_error(int ret) {
  char text[160];
  const int n = std::snprintf(text, sizeof(text), "mbedTLS -0x%04x: ", static_cast<unsigned>(-ret));
  mbedtls_strerror(ret, text + n, sizeof(text) - static_cast<size_t>(n));
  return text;
}

int Drbg::entropy(void* source, unsigned char* out, size_t len) {
  const auto& fill = *static_cast<const EntropySource*>(source);
  return fill({out, len}) ? 0 : MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
}

Result<void> Drbg::seed(const EntropySource* source, std::string_view personalization) {
  if (source == nullptr || !*source) return {Errc::invalid_argument, "an entropy source is required"};
  const int ret =
      mbedtls_ctr_drbg_seed(&ctx_, &Drbg::entropy, const_cast<EntropySource*>(source),
                            reinterpret_cast<const unsigned char*>(personalization.data()), personalization.size());
  if (ret == MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED) return {Errc::internal, "the entropy source failed"};
  if (ret != 0) return {Errc::internal, "seeding the DRBG: " + describe_mbedtls_error(ret)};
  return {};
}

}  // namespace detail

namespace {

struct AlgorithmInfo {
  std::string_view name;
  mbedtls_md_type_t md;
  uint8_t size;
};
// Indexed by FingerprintAlgorithm.
constexpr AlgorithmInfo kAlgorithms[] = {{"sha-1", MBEDTLS_MD_SHA1, 20},
                                         {"sha-256", MBEDTLS_MD_SHA256, 32},
                                         {"sha-384", MBEDTLS_MD_SHA384, 48},
                                         {"sha-512", MBEDTLS_MD_SHA512, 64}};
const AlgorithmInfo& info(FingerprintAlgorithm a) { return kAlgorithms[static_cast<size_t>(a)]; }

// The validity window. The core has no wall clock, and WebRTC authenticates a certificate by its fingerprint,
// never by its dates (RFC 8827 section 6.5; browsers ignore them, and so does DtlsEndpoint). So instead of
// "now until now + 30 days" as libwebrtc writes, the window contains every clock reading a peer could have:
// from 2000-01-01, before any clock a working device shows, to 9999-12-31 23:59:59, the value RFC 5280
// section 4.1.2.5 reserves for "no well-defined expiration date". A peer that checks dates anyway (with a
// sane clock) accepts it, and the certificate never needs replacing for age.
constexpr char kNotBefore[] = "20000101000000";
constexpr char kNotAfter[] = "99991231235959";

constexpr char kPemBegin[] = "-----BEGIN CERTIFICATE-----\n";
constexpr char kPemEnd[] = "-----END CERTIFICATE-----\n";

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// A common name goes into mbedtls_x509_string_to_names ("CN=..."): keep to characters that need no escaping.
bool plain_common_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;  // 64: the X.520 upper bound for commonName
  for (char c : name) {
    if (c < 0x20 || c > 0x7e || c == ',' || c == '=' || c == '\\' || c == '+' || c == '"') return false;
  }
  return true;
}

Error mbedtls_failure(std::string_view what, int ret) {
  return {Errc::internal, std::string(what) + ": " + detail::describe_mbedtls_error(ret)};
}

}  // namespace

std::string_view to_string(FingerprintAlgorithm algorithm) { return info(algorithm).name; }

std::string DtlsFingerprint::value() const {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string text;
  text.reserve(size * 3u);
  for (size_t i = 0; i < size; ++i) {
    if (i > 0) text.push_back(':');
    text.push_back(kHex[digest[i] >> 4]);
    text.push_back(kHex[digest[i] & 0xf]);
  }
  return text;
}

std::string DtlsFingerprint::to_sdp() const { return std::string(to_string(algorithm)) + " " + value(); }

Result<DtlsFingerprint> parse_fingerprint(std::string_view algorithm, std::string_view text) {
  DtlsFingerprint fp;
  bool known = false;
  for (size_t i = 0; i < std::size(kAlgorithms); ++i) {
    if (equals_ignoring_case(algorithm, kAlgorithms[i].name)) {
      fp.algorithm = static_cast<FingerprintAlgorithm>(i);
      known = true;
    }
  }
  if (!known) {
    return {Errc::invalid_argument, "unsupported fingerprint hash function '" + std::string(algorithm.substr(0, 32)) +
                                        "' (expected sha-1, sha-256, sha-384 or sha-512)"};
  }
  fp.size = info(fp.algorithm).size;
  if (text.size() != fp.size * 3u - 1) {
    return {Errc::invalid_argument, "a " + std::string(to_string(fp.algorithm)) + " fingerprint is " +
                                        std::to_string(fp.size) + " colon-separated hex pairs"};
  }
  for (size_t i = 0; i < fp.size; ++i) {
    const int hi = hex_digit(text[3 * i]);
    const int lo = hex_digit(text[3 * i + 1]);
    const bool separator_ok = i + 1 == fp.size || text[3 * i + 2] == ':';
    if (hi < 0 || lo < 0 || !separator_ok) {
      return {Errc::invalid_argument, "malformed fingerprint near byte " + std::to_string(i)};
    }
    fp.digest[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return fp;
}

DtlsFingerprint compute_fingerprint(FingerprintAlgorithm algorithm, std::span<const uint8_t> der) {
  DtlsFingerprint fp;
  fp.algorithm = algorithm;
  fp.size = info(algorithm).size;
  // Cannot fail for a compiled-in hash with a valid output buffer (all four are in both builds' config).
  (void)mbedtls_md(mbedtls_md_info_from_type(info(algorithm).md), der.data(), der.size(), fp.digest.data());
  return fp;
}

DtlsCertificate::DtlsCertificate(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)), sha256_(compute_fingerprint(FingerprintAlgorithm::sha256, der())) {}

DtlsCertificate::~DtlsCertificate() = default;

DtlsFingerprint DtlsCertificate::fingerprint(FingerprintAlgorithm algorithm) const {
  return compute_fingerprint(algorithm, der());
}

std::span<const uint8_t> DtlsCertificate::der() const { return {impl_->certificate.raw.p, impl_->certificate.raw.len}; }

std::string DtlsCertificate::certificate_pem() const {
  std::string pem;
  // Base64 grows by 4/3 plus a newline per 64 characters; 2x the DER plus the armour is always enough.
  pem.resize(2 * impl_->certificate.raw.len + sizeof(kPemBegin) + sizeof(kPemEnd) + 16);
  size_t written = 0;
  const int ret = mbedtls_pem_write_buffer(kPemBegin, kPemEnd, impl_->certificate.raw.p, impl_->certificate.raw.len,
                                           reinterpret_cast<unsigned char*>(pem.data()), pem.size(), &written);
  if (ret != 0 || written == 0) return {};
  pem.resize(written - 1);  // `written` counts the terminating NUL
  return pem;
}

std::string DtlsCertificate::private_key_pem() const {
  std::string pem(8192, '\0');  // an RSA-4096 key is about 3.3 KB of PEM
  const int ret = mbedtls_pk_write_key_pem(&impl_->key, reinterpret_cast<unsigned char*>(pem.data()), pem.size());
  if (ret != 0) return {};
  pem.resize(pem.find('\0'));
  return pem;
}

Result<std::shared_ptr<const DtlsCertificate>> DtlsCertificate::generate(const EntropySource& entropy,
                                                                         std::string_view common_name) {
  if (!plain_common_name(common_name)) {
    return {Errc::invalid_argument, "the common name must be 1-64 printable ASCII characters without ,=+\\\""};
  }
  detail::Drbg drbg;
  if (auto r = drbg.seed(&entropy, "tandem-dtls-certificate"); !r) return r.error();

  auto impl = std::make_unique<Impl>();
  int ret = mbedtls_pk_setup(&impl->key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (ret != 0) return mbedtls_failure("setting up the key", ret);
  ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(impl->key), &detail::Drbg::random, drbg.context());
  if (ret != 0) return mbedtls_failure("generating the P-256 key", ret);

  mbedtls_x509write_cert writer;
  mbedtls_x509write_crt_init(&writer);
  mbedtls_mpi serial;
  mbedtls_mpi_init(&serial);
  const auto cleanup = [&] {
    mbedtls_x509write_crt_free(&writer);
    mbedtls_mpi_free(&serial);
  };

  // A random positive serial of 63 bits (RFC 5280 section 4.1.2.2: positive, at most 20 octets).
  unsigned char serial_bytes[8];
  ret = detail::Drbg::random(drbg.context(), serial_bytes, sizeof(serial_bytes));
  serial_bytes[0] = static_cast<unsigned char>((serial_bytes[0] & 0x7f) | 0x40);  // positive, never zero
  if (ret == 0) ret = mbedtls_mpi_read_binary(&serial, serial_bytes, sizeof(serial_bytes));
  const std::string name = "CN=" + std::string(common_name);
  mbedtls_x509write_crt_set_version(&writer, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&writer, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&writer, &impl->key);
  mbedtls_x509write_crt_set_issuer_key(&writer, &impl->key);  // self-signed
  if (ret == 0) ret = mbedtls_x509write_crt_set_serial(&writer, &serial);
  if (ret == 0) ret = mbedtls_x509write_crt_set_validity(&writer, kNotBefore, kNotAfter);
  if (ret == 0) ret = mbedtls_x509write_crt_set_subject_name(&writer, name.c_str());
  if (ret == 0) ret = mbedtls_x509write_crt_set_issuer_name(&writer, name.c_str());
  // One extension, basicConstraints cA=FALSE: a v3 certificate with an empty extension list (mbedTLS would
  // write one) breaks RFC 5280's SIZE (1..MAX), which strict parsers reject.
  if (ret == 0) ret = mbedtls_x509write_crt_set_basic_constraints(&writer, 0, -1);
  if (ret != 0) {
    cleanup();
    return mbedtls_failure("preparing the certificate", ret);
  }
  unsigned char der[1024];  // a P-256 certificate is about 400 bytes
  const int len = mbedtls_x509write_crt_der(&writer, der, sizeof(der), &detail::Drbg::random, drbg.context());
  cleanup();
  if (len < 0) return mbedtls_failure("signing the certificate", len);
  // mbedtls_x509write_crt_der writes at the end of the buffer.
  ret = mbedtls_x509_crt_parse_der(&impl->certificate, der + sizeof(der) - len, static_cast<size_t>(len));
  if (ret != 0) return mbedtls_failure("parsing the certificate just written", ret);
  return std::shared_ptr<const DtlsCertificate>(new DtlsCertificate(std::move(impl)));
}

Result<std::shared_ptr<const DtlsCertificate>> DtlsCertificate::from_pem(std::string_view certificate_pem,
                                                                         std::string_view private_key_pem) {
  // mbedTLS recognises PEM only in a NUL-terminated buffer whose length counts the NUL.
  const std::string cert_text(certificate_pem);
  const std::string key_text(private_key_pem);
  if (cert_text.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return {Errc::invalid_argument, "no PEM certificate (-----BEGIN CERTIFICATE-----) found"};
  }
  auto impl = std::make_unique<Impl>();
  int ret = mbedtls_x509_crt_parse(&impl->certificate, reinterpret_cast<const unsigned char*>(cert_text.c_str()),
                                   cert_text.size() + 1);
  if (ret != 0) {
    return {Errc::invalid_argument,
            "the certificate does not parse: " + (ret > 0 ? std::to_string(ret) + " of its certificates are invalid"
                                                          : detail::describe_mbedtls_error(ret))};
  }
  ret = mbedtls_pk_parse_key(&impl->key, reinterpret_cast<const unsigned char*>(key_text.c_str()), key_text.size() + 1,
                             nullptr, 0);
  if (ret != 0) {
    return {Errc::invalid_argument, "the private key does not parse (an encrypted key is not supported): " +
                                        detail::describe_mbedtls_error(ret)};
  }
  const bool is_ec = mbedtls_pk_can_do(&impl->key, MBEDTLS_PK_ECKEY);
  if (!is_ec && !mbedtls_pk_can_do(&impl->key, MBEDTLS_PK_RSA)) {
    return {Errc::invalid_argument, "the private key must be EC or RSA"};
  }
  if (is_ec) {
    const mbedtls_ecp_group_id curve = mbedtls_pk_ec(impl->key)->grp.id;
    if (curve != MBEDTLS_ECP_DP_SECP256R1 && curve != MBEDTLS_ECP_DP_SECP384R1 && curve != MBEDTLS_ECP_DP_SECP521R1) {
      return {Errc::invalid_argument, "an EC key must be on P-256, P-384 or P-521"};
    }
  }
  if (mbedtls_pk_check_pair(&impl->certificate.pk, &impl->key) != 0) {
    return {Errc::invalid_argument, "the private key does not belong to the certificate"};
  }
  return std::shared_ptr<const DtlsCertificate>(new DtlsCertificate(std::move(impl)));
}

}  // namespace tandem::transport
