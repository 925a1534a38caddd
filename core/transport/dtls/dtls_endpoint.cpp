#include "core/transport/dtls/dtls_endpoint.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/error.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <string>
#include <utility>

namespace tandem::transport {
namespace {

constexpr size_t kRecordHeaderSize = 13;  // type, version, epoch, sequence number, length (RFC 6347 4.1)
constexpr uint64_t kNsPerMs = 1'000'000;

// mbedTLS keeps pointers to these lists in its config, so they live for the whole process.
constexpr mbedtls_ssl_srtp_profile kSrtpProfiles[] = {MBEDTLS_TLS_SRTP_AES128_CM_HMAC_SHA1_80,
                                                      MBEDTLS_TLS_SRTP_UNSET};
// ECDHE with AEAD only, the suites browsers offer first for WebRTC; ECDSA first (WebRTC certificates are
// ECDSA P-256 by default).
constexpr int kCipherSuites[] = {MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                                 MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                                 MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                                 MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, 0};
constexpr unsigned char kDrbgPersonalization[] = "tandem-dtls";

// RFC 7983 demultiplexes on the first byte; here we go further and require every record of the datagram to
// be a well-formed DTLS 1.0/1.2 record of a content type DTLS 1.2 defines (change_cipher_spec, alert,
// handshake, application_data), so that non-DTLS bytes are reported instead of silently dropped by mbedTLS.
bool is_dtls_datagram(std::span<const uint8_t> d) {
  if (d.empty()) return false;
  size_t off = 0;
  while (off < d.size()) {
    if (d.size() - off < kRecordHeaderSize) return false;
    const uint8_t type = d[off];
    if (type < 20 || type > 23) return false;
    if (d[off + 1] != 0xfe || (d[off + 2] != 0xff && d[off + 2] != 0xfd)) return false;
    const size_t length = (size_t{d[off + 11]} << 8) | d[off + 12];
    if (length > d.size() - off - kRecordHeaderSize) return false;
    off += kRecordHeaderSize + length;
  }
  return true;
}

std::string describe(int ret) {
  char text[160];
  const int n = std::snprintf(text, sizeof(text), "mbedTLS -0x%04x: ", static_cast<unsigned>(-ret));
  mbedtls_strerror(ret, text + n, sizeof(text) - static_cast<size_t>(n));
  return text;
}

Error map_error(int ret) {
  switch (ret) {
    case MBEDTLS_ERR_SSL_TIMEOUT:
      return {Errc::timed_out, "DTLS handshake: the peer stopped answering (" + describe(ret) + ")"};
    case MBEDTLS_ERR_SSL_INVALID_MAC: return {Errc::authentication_failed, "DTLS: " + describe(ret)};
    case MBEDTLS_ERR_SSL_ALLOC_FAILED: return {Errc::resource_exhausted, "DTLS: " + describe(ret)};
    case MBEDTLS_ERR_SSL_BAD_INPUT_DATA: return {Errc::internal, "DTLS: " + describe(ret)};
    default: break;
  }
  // The BAD_HS_* codes: a handshake message from the peer that does not parse or does not fit.
  const bool bad_handshake_message =
      (ret <= MBEDTLS_ERR_SSL_BAD_HS_CLIENT_HELLO && ret >= MBEDTLS_ERR_SSL_BAD_HS_FINISHED) ||
      ret == MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION || ret == MBEDTLS_ERR_SSL_BAD_HS_NEW_SESSION_TICKET;
  if (bad_handshake_message) return {Errc::malformed_packet, "DTLS: " + describe(ret)};
  return {Errc::protocol_error, "DTLS: " + describe(ret)};
}

}  // namespace

struct DtlsEndpoint::Impl {
  DtlsConfig config;
  mbedtls_ssl_config conf;
  mbedtls_ssl_context ssl;
  mbedtls_ctr_drbg_context drbg;

  DtlsState state = DtlsState::idle;
  std::optional<Error> failure;  // set with state == failed, returned by every later call
  uint64_t now_ns = 0;           // the time the caller passed to the call in progress

  // The DTLS retransmission timer, as mbedTLS asked for it (mbedtls_ssl_set_timer_t). Zero means disarmed.
  uint64_t intermediate_deadline_ns = 0;
  uint64_t final_deadline_ns = 0;

  std::span<const uint8_t> incoming;  // the datagram of the handle_datagram call in progress, until read
  std::deque<std::vector<uint8_t>> outgoing;

  explicit Impl(DtlsConfig c) : config(std::move(c)) {
    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_init(&ssl);
    mbedtls_ctr_drbg_init(&drbg);
  }
  ~Impl() {
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_ctr_drbg_free(&drbg);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // --- mbedTLS callbacks: all of them run inside our own calls into mbedTLS, on the caller's thread.

  static int entropy(void* self, unsigned char* out, size_t len) {
    auto* me = static_cast<Impl*>(self);
    return me->config.entropy({out, len}) ? 0 : MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
  }
  static int send(void* self, const unsigned char* buf, size_t len) {
    static_cast<Impl*>(self)->outgoing.emplace_back(buf, buf + len);
    return static_cast<int>(len);
  }
  static int recv(void* self, unsigned char* buf, size_t len) {
    auto* me = static_cast<Impl*>(self);
    if (me->incoming.empty()) return MBEDTLS_ERR_SSL_WANT_READ;
    const std::span<const uint8_t> d = std::exchange(me->incoming, {});
    // mbedTLS reads a whole datagram into a buffer of its maximum record size; a longer one cannot be DTLS
    // we accept, and a datagram is never read in pieces.
    if (d.size() > len) return MBEDTLS_ERR_SSL_WANT_READ;
    std::memcpy(buf, d.data(), d.size());
    return static_cast<int>(d.size());
  }
  static void set_timer(void* self, uint32_t intermediate_ms, uint32_t final_ms) {
    auto* me = static_cast<Impl*>(self);
    if (final_ms == 0) {
      me->intermediate_deadline_ns = me->final_deadline_ns = 0;
      return;
    }
    me->intermediate_deadline_ns = me->now_ns + intermediate_ms * kNsPerMs;
    me->final_deadline_ns = me->now_ns + final_ms * kNsPerMs;
  }
  // mbedtls_ssl_get_timer_t: -1 cancelled, 0 running, 1 intermediate delay passed, 2 final delay passed.
  static int get_timer(void* self) {
    const auto* me = static_cast<const Impl*>(self);
    if (me->final_deadline_ns == 0) return -1;
    if (me->now_ns >= me->final_deadline_ns) return 2;
    if (me->now_ns >= me->intermediate_deadline_ns) return 1;
    return 0;
  }

  Result<void> setup() {
    if (!config.entropy) return {Errc::invalid_argument, "DtlsConfig.entropy is required"};
    if (config.mtu < 256) return {Errc::invalid_argument, "DtlsConfig.mtu must be at least 256"};
    if (config.handshake_timeout_min_ms == 0 || config.handshake_timeout_max_ms < config.handshake_timeout_min_ms) {
      return {Errc::invalid_argument, "DtlsConfig handshake timeouts must satisfy 0 < min <= max"};
    }
    int ret = mbedtls_ctr_drbg_seed(&drbg, &Impl::entropy, this, kDrbgPersonalization,
                                    sizeof(kDrbgPersonalization) - 1);
    if (ret == MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED) return {Errc::internal, "the entropy source failed"};
    if (ret != 0) return map_error(ret);
    ret = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_DATAGRAM,
                                      MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) return map_error(ret);
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
    // WebRTC requires DTLS 1.2 (RFC 8827 section 6.5); 3.3 is mbedTLS's spelling of (D)TLS 1.2.
    mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(&conf, kCipherSuites);
    // Fail closed: with no trust anchor nothing verifies until the fingerprint check replaces this.
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_handshake_timeout(&conf, config.handshake_timeout_min_ms, config.handshake_timeout_max_ms);
    ret = mbedtls_ssl_conf_dtls_srtp_protection_profiles(&conf, kSrtpProfiles);
    if (ret != 0) return map_error(ret);
    ret = mbedtls_ssl_setup(&ssl, &conf);
    if (ret != 0) return map_error(ret);
    mbedtls_ssl_set_bio(&ssl, this, &Impl::send, &Impl::recv, nullptr);
    mbedtls_ssl_set_timer_cb(&ssl, this, &Impl::set_timer, &Impl::get_timer);
    mbedtls_ssl_set_mtu(&ssl, config.mtu);
    return {};
  }

  Result<void> fail(Error error) {
    state = DtlsState::failed;
    intermediate_deadline_ns = final_deadline_ns = 0;
    failure = error;
    return error;
  }

  // Runs the handshake as far as the input allows. mbedTLS reads at most the one datagram in `incoming`,
  // checks the timer through get_timer, and queues whatever it sends.
  Result<void> drive() {
    const int ret = mbedtls_ssl_handshake(&ssl);
    incoming = {};  // a datagram mbedTLS did not read is not kept past the call that handed it in
    if (ret == 0) {
      state = DtlsState::connected;
      return {};
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) return {};
    return fail(map_error(ret));
  }

  Result<void> enter(uint64_t now) {
    if (failure) return *failure;
    if (now > now_ns) now_ns = now;  // time never runs backwards for the timer, whatever the caller passes
    return {};
  }
};

Result<DtlsEndpoint> DtlsEndpoint::create_client(DtlsConfig config) {
  auto impl = std::make_unique<Impl>(std::move(config));
  if (auto r = impl->setup(); !r) return r.error();
  return DtlsEndpoint(std::move(impl));
}

DtlsEndpoint::DtlsEndpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DtlsEndpoint::DtlsEndpoint(DtlsEndpoint&&) noexcept = default;
DtlsEndpoint& DtlsEndpoint::operator=(DtlsEndpoint&&) noexcept = default;
DtlsEndpoint::~DtlsEndpoint() = default;

DtlsState DtlsEndpoint::state() const { return impl_ ? impl_->state : DtlsState::failed; }

Result<void> DtlsEndpoint::start(uint64_t now_ns) {
  if (!impl_) return {Errc::invalid_argument, "moved-from DtlsEndpoint"};
  if (auto r = impl_->enter(now_ns); !r) return r;
  if (impl_->state != DtlsState::idle) return {Errc::invalid_argument, "DTLS endpoint already started"};
  impl_->state = DtlsState::handshaking;
  return impl_->drive();
}

Result<void> DtlsEndpoint::handle_datagram(std::span<const uint8_t> datagram, uint64_t now_ns) {
  if (!impl_) return {Errc::invalid_argument, "moved-from DtlsEndpoint"};
  if (auto r = impl_->enter(now_ns); !r) return r;
  if (!is_dtls_datagram(datagram)) return {Errc::malformed_packet, "not a DTLS 1.0/1.2 datagram"};
  if (impl_->state != DtlsState::handshaking) {
    // Application data (connected) arrives with the next step; before start() there is no session to feed.
    return {Errc::invalid_argument, "DTLS endpoint is not handshaking"};
  }
  impl_->incoming = datagram;
  return impl_->drive();
}

std::optional<std::vector<uint8_t>> DtlsEndpoint::poll_transmit() {
  if (!impl_ || impl_->outgoing.empty()) return std::nullopt;
  std::vector<uint8_t> d = std::move(impl_->outgoing.front());
  impl_->outgoing.pop_front();
  return d;
}

std::optional<uint64_t> DtlsEndpoint::next_timeout() const {
  if (!impl_ || impl_->state != DtlsState::handshaking || impl_->final_deadline_ns == 0) return std::nullopt;
  return impl_->final_deadline_ns;
}

Result<void> DtlsEndpoint::handle_timeout(uint64_t now_ns) {
  if (!impl_) return {Errc::invalid_argument, "moved-from DtlsEndpoint"};
  if (auto r = impl_->enter(now_ns); !r) return r;
  if (impl_->state != DtlsState::handshaking) return {};
  return impl_->drive();  // mbedTLS sees the expired timer through get_timer and resends or gives up
}

}  // namespace tandem::transport
