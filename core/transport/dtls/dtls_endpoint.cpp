#include "core/transport/dtls/dtls_endpoint.h"

#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "core/transport/dtls/client_hello_assembler.h"

#include "core/transport/dtls/certificate_internal.h"
#include "core/transport/dtls/datagram_queue.h"
#include "core/transport/dtls/mbedtls_glue.h"

namespace tandem::transport {
namespace {

constexpr size_t kRecordHeaderSize = 13;  // type, version, epoch, sequence number, length (RFC 6347 4.1)
constexpr uint8_t kApplicationData = 23;
constexpr uint64_t kNsPerMs = 1'000'000;
constexpr size_t kMasterSecretSize = 48;
constexpr char kSrtpExporterLabel[] = "EXTRACTOR-dtls_srtp";  // RFC 5764 section 4.2

// mbedTLS keeps pointers to these lists in its config, so they live for the whole process.
// mbedTLS 2.28 negotiates only the AES-CM SRTP profiles; WebRTC requires SRTP_AES128_CM_HMAC_SHA1_80.
constexpr mbedtls_ssl_srtp_profile kSrtpProfiles[] = {MBEDTLS_TLS_SRTP_AES128_CM_HMAC_SHA1_80, MBEDTLS_TLS_SRTP_UNSET};
// ECDHE with AEAD only, the suites browsers offer first for WebRTC; ECDSA first (WebRTC certificates are
// ECDSA P-256 by default). The RSA suites serve peers with RSA certificates.
constexpr int kCipherSuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, 0};

// RFC 7983 demultiplexes on the first byte; here we go further and require every record of the datagram to
// be a well-formed DTLS 1.0/1.2 record of a content type DTLS 1.2 defines (change_cipher_spec, alert,
// handshake, application_data), so that non-DTLS bytes are reported instead of silently dropped by mbedTLS.
// Returns the number of application_data records, or -1 if the datagram is not DTLS.
int count_application_records(std::span<const uint8_t> d) {
  if (d.empty()) return -1;
  int application = 0;
  size_t off = 0;
  while (off < d.size()) {
    if (d.size() - off < kRecordHeaderSize) return -1;
    const uint8_t type = d[off];
    if (type < 20 || type > 23) return -1;
    if (d[off + 1] != 0xfe || (d[off + 2] != 0xff && d[off + 2] != 0xfd)) return -1;
    const size_t length = (size_t{d[off + 11]} << 8) | d[off + 12];
    if (length > d.size() - off - kRecordHeaderSize) return -1;
    if (type == kApplicationData) ++application;
    off += kRecordHeaderSize + length;
  }
  return application;
}

std::string alert_name(uint8_t description) {
  switch (description) {
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 80: return "internal_error";
    default: return "alert " + std::to_string(description);
  }
}

std::string hex(std::span<const uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s.push_back(kHex[b >> 4]);
    s.push_back(kHex[b & 0xf]);
  }
  return s;
}

}  // namespace

std::string_view to_string(DtlsState state) {
  switch (state) {
    case DtlsState::idle: return "idle";
    case DtlsState::connecting: return "connecting";
    case DtlsState::connected: return "connected";
    case DtlsState::closed: return "closed";
    case DtlsState::failed: return "failed";
  }
  return "unknown";
}

struct DtlsEndpoint::Impl {
  DtlsConfig config;
  mbedtls_ssl_config conf;
  mbedtls_ssl_context ssl;
  detail::Drbg drbg;

  DtlsState state = DtlsState::idle;
  std::optional<Error> failure;  // set with state == failed, returned by every later call
  bool handshake_done = false;
  uint64_t now_ns = 0;  // the time the caller passed to the call in progress

  // The DTLS retransmission timer, as mbedTLS asked for it (mbedtls_ssl_set_timer_t). Zero means disarmed.
  uint64_t intermediate_deadline_ns = 0;
  uint64_t final_deadline_ns = 0;

  std::span<const uint8_t> incoming;  // the datagram of the handle_datagram call in progress, until read
  detail::ClientHelloAssembler client_hello;  // server role: a fragmented ClientHello, made whole for mbedTLS
  detail::DatagramQueue outgoing;
  DtlsDatagramSink* sink = nullptr;  // set_datagram_sink: takes datagrams instead of `outgoing`
  detail::DatagramQueue received;
  std::vector<uint8_t> read_buffer;   // mbedtls_ssl_read's destination: one record's plaintext at most
  std::array<DtlsEvent, 4> events{};  // idle -> connecting -> connected -> closed|failed: at most 3 pending
  size_t events_head = 0;
  size_t events_count = 0;
  DtlsStats stats;

  // The peer certificate check (verify callback) and what it found.
  bool peer_verified = false;
  std::string verify_failure;

  // What the key export callback captured during the handshake, for the RFC 5764 exporter; the master
  // secret is wiped as soon as the SRTP keys are derived.
  std::array<uint8_t, kMasterSecretSize> master_secret{};
  std::array<uint8_t, 64> randoms{};  // client_random || server_random (RFC 5705 section 4)
  mbedtls_tls_prf_types prf = MBEDTLS_SSL_TLS_PRF_NONE;
  bool have_secret = false;
  std::optional<DtlsSrtpKeys> srtp;

  explicit Impl(DtlsConfig c)
      : config(std::move(c)),
        outgoing(config.max_queued, std::max<size_t>(config.mtu, config.max_record_payload + 64u)),
        received(config.max_queued, config.max_record_payload) {
    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_init(&ssl);
  }
  ~Impl() {
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_platform_zeroize(master_secret.data(), master_secret.size());
    if (srtp) mbedtls_platform_zeroize(&*srtp, sizeof(*srtp));
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // --- mbedTLS callbacks: all of them run inside our own calls into mbedTLS, on the caller's thread.

  static int send_cb(void* self, const unsigned char* buf, size_t len) {
    auto* me = static_cast<Impl*>(self);
    if (me->sink != nullptr) {
      me->sink->on_datagram({buf, len});
      return static_cast<int>(len);
    }
    // A full queue loses the datagram, as a congested path would; the handshake retransmits. Application
    // records never get here with a full queue (send() checks first).
    if (!me->outgoing.push({buf, len})) ++me->stats.transmit_overflow;
    return static_cast<int>(len);
  }
  static int recv_cb(void* self, unsigned char* buf, size_t len) {
    auto* me = static_cast<Impl*>(self);
    if (me->incoming.empty()) return MBEDTLS_ERR_SSL_WANT_READ;
    const std::span<const uint8_t> d = std::exchange(me->incoming, {});
    // mbedTLS reads a whole datagram into a buffer of its maximum record size; a longer one cannot be DTLS
    // we accept, and a datagram is never read in pieces.
    if (d.size() > len) return MBEDTLS_ERR_SSL_WANT_READ;
    std::memcpy(buf, d.data(), d.size());
    return static_cast<int>(d.size());
  }
  static void set_timer_cb(void* self, uint32_t intermediate_ms, uint32_t final_ms) {
    auto* me = static_cast<Impl*>(self);
    if (final_ms == 0) {
      me->intermediate_deadline_ns = me->final_deadline_ns = 0;
      return;
    }
    me->intermediate_deadline_ns = me->now_ns + intermediate_ms * kNsPerMs;
    me->final_deadline_ns = me->now_ns + final_ms * kNsPerMs;
  }
  // mbedtls_ssl_get_timer_t: -1 cancelled, 0 running, 1 intermediate delay passed, 2 final delay passed.
  static int get_timer_cb(void* self) {
    const auto* me = static_cast<const Impl*>(self);
    if (me->final_deadline_ns == 0) return -1;
    if (me->now_ns >= me->final_deadline_ns) return 2;
    if (me->now_ns >= me->intermediate_deadline_ns) return 1;
    return 0;
  }

  // The peer's certificate chain, from the top down to the leaf (depth 0). Whatever mbedTLS flagged (not
  // trusted, expired, weak hash...) is replaced by our one rule: the leaf's digest equals the signalled
  // fingerprint. Anything above the leaf does not matter.
  static int verify_cb(void* self, mbedtls_x509_crt* crt, int depth, uint32_t* flags) {
    auto* me = static_cast<Impl*>(self);
    if (depth != 0) {
      *flags = 0;
      return 0;
    }
    const DtlsFingerprint& expected = me->config.remote_fingerprint;
    const DtlsFingerprint actual = compute_fingerprint(expected.algorithm, {crt->raw.p, crt->raw.len});
    if (actual == expected) {
      *flags = 0;
      me->peer_verified = true;
    } else {
      // NOT_TRUSTED makes mbedTLS fail the handshake and send the unknown_ca alert.
      *flags = MBEDTLS_X509_BADCERT_NOT_TRUSTED;
      me->peer_verified = false;
      me->verify_failure = "the peer's certificate does not match its signalled fingerprint (expected " +
                           expected.to_sdp() + ", got " + actual.value() + ")";
    }
    return 0;
  }

  static int export_keys_cb(void* self, const unsigned char* master, const unsigned char*, size_t, size_t, size_t,
                            const unsigned char client_random[32], const unsigned char server_random[32],
                            mbedtls_tls_prf_types prf) {
    auto* me = static_cast<Impl*>(self);
    std::memcpy(me->master_secret.data(), master, kMasterSecretSize);
    std::memcpy(me->randoms.data(), client_random, 32);
    std::memcpy(me->randoms.data() + 32, server_random, 32);
    me->prf = prf;
    me->have_secret = true;
    if (me->config.key_log) {
      me->config.key_log("CLIENT_RANDOM " + hex({client_random, 32}) + " " + hex({master, kMasterSecretSize}));
    }
    return 0;
  }

  Result<void> validate() const {
    if (!config.entropy) return {Errc::invalid_argument, "DtlsConfig.entropy is required"};
    if (!config.certificate) return {Errc::invalid_argument, "DtlsConfig.certificate is required"};
    if (config.remote_fingerprint.size == 0) {
      return {Errc::invalid_argument, "DtlsConfig.remote_fingerprint is required (parse_fingerprint)"};
    }
    if (config.mtu < 256) return {Errc::invalid_argument, "DtlsConfig.mtu must be at least 256"};
    if (config.max_record_payload == 0 || config.max_record_payload > MBEDTLS_SSL_OUT_CONTENT_LEN) {
      return {Errc::invalid_argument, "DtlsConfig.max_record_payload must be 1..16384"};
    }
    if (config.handshake_timeout_min_ms == 0 || config.handshake_timeout_max_ms < config.handshake_timeout_min_ms) {
      return {Errc::invalid_argument, "DtlsConfig handshake timeouts must satisfy 0 < min <= max"};
    }
    if (config.max_queued < 8) return {Errc::invalid_argument, "DtlsConfig.max_queued must be at least 8"};
    return {};
  }

  Result<void> setup() {
    if (auto r = validate(); !r) return r;
    if (auto r = drbg.seed(&config.entropy, "tandem-dtls"); !r) return r;
    const bool client = config.role == DtlsRole::client;
    int ret = mbedtls_ssl_config_defaults(&conf, client ? MBEDTLS_SSL_IS_CLIENT : MBEDTLS_SSL_IS_SERVER,
                                          MBEDTLS_SSL_TRANSPORT_DATAGRAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) return map_error(ret);
    mbedtls_ssl_conf_rng(&conf, &detail::Drbg::random, drbg.context());
    // WebRTC requires DTLS 1.2 (RFC 8827 section 6.5); 3.3 is mbedTLS's spelling of (D)TLS 1.2.
    mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(&conf, kCipherSuites);

    const DtlsCertificate::Impl& own = config.certificate->impl();
    ret = mbedtls_ssl_conf_own_cert(&conf, &own.certificate, &own.key);
    if (ret != 0) return map_error(ret);
    // Both roles require the peer's certificate (a server sends CertificateRequest). With VERIFY_REQUIRED
    // mbedTLS refuses to verify without some CA chain ("got no CA chain"), although verify_cb decides
    // everything: our own certificate stands in as that chain. It is not advertised (no CA list in
    // CertificateRequest) and grants nothing, since verify_cb overrides the flags of every certificate.
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&conf, &own.certificate, nullptr);
    mbedtls_ssl_conf_cert_req_ca_list(&conf, MBEDTLS_SSL_CERT_REQ_CA_LIST_DISABLED);
    mbedtls_ssl_conf_verify(&conf, &Impl::verify_cb, this);

    mbedtls_ssl_conf_handshake_timeout(&conf, config.handshake_timeout_min_ms, config.handshake_timeout_max_ms);
    ret = mbedtls_ssl_conf_dtls_srtp_protection_profiles(&conf, kSrtpProfiles);
    if (ret != 0) return map_error(ret);
    mbedtls_ssl_conf_export_keys_ext_cb(&conf, &Impl::export_keys_cb, this);
    // No HelloVerifyRequest: see the header. Without cookie callbacks mbedTLS also ignores a new epoch-0
    // ClientHello once connected instead of resetting the session for it.
    if (!client) mbedtls_ssl_conf_dtls_cookies(&conf, nullptr, nullptr, nullptr);

    ret = mbedtls_ssl_setup(&ssl, &conf);
    if (ret != 0) return map_error(ret);
    mbedtls_ssl_set_bio(&ssl, this, &Impl::send_cb, &Impl::recv_cb, nullptr);
    mbedtls_ssl_set_timer_cb(&ssl, this, &Impl::set_timer_cb, &Impl::get_timer_cb);
    mbedtls_ssl_set_mtu(&ssl, config.mtu);
    read_buffer.resize(MBEDTLS_SSL_IN_CONTENT_LEN);
    return {};
  }

  Error map_error(int ret) const {
    switch (ret) {
      case MBEDTLS_ERR_SSL_TIMEOUT:
        return {Errc::timed_out,
                "DTLS handshake: the peer stopped answering (" + detail::describe_mbedtls_error(ret) + ")"};
      case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
        return {Errc::authentication_failed,
                "DTLS: " + (verify_failure.empty() ? detail::describe_mbedtls_error(ret) : verify_failure)};
      case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
        return {Errc::authentication_failed, "DTLS: the peer sent no certificate"};
      case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE: {
        // mbedTLS leaves the alert in in_msg: level, description.
        const uint8_t description = ssl.in_msg != nullptr ? ssl.in_msg[1] : 0;
        if (description >= 42 && description <= 49) {  // the certificate alerts of RFC 5246 section 7.2.2
          return {Errc::authentication_failed,
                  "DTLS: the peer rejected our certificate (fatal alert " + alert_name(description) + ")"};
        }
        return {Errc::protocol_error, "DTLS: the peer sent fatal alert " + alert_name(description)};
      }
      case MBEDTLS_ERR_SSL_INVALID_MAC:
        return {Errc::authentication_failed, "DTLS: " + detail::describe_mbedtls_error(ret)};
      case MBEDTLS_ERR_SSL_ALLOC_FAILED:
        return {Errc::resource_exhausted, "DTLS: " + detail::describe_mbedtls_error(ret)};
      case MBEDTLS_ERR_SSL_BAD_INPUT_DATA: return {Errc::internal, "DTLS: " + detail::describe_mbedtls_error(ret)};
      default: break;
    }
    // The BAD_HS_* codes: a handshake message from the peer that does not parse or does not fit.
    const bool bad_handshake_message =
        (ret <= MBEDTLS_ERR_SSL_BAD_HS_CLIENT_HELLO && ret >= MBEDTLS_ERR_SSL_BAD_HS_FINISHED) ||
        ret == MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION || ret == MBEDTLS_ERR_SSL_BAD_HS_NEW_SESSION_TICKET;
    if (bad_handshake_message) return {Errc::malformed_packet, "DTLS: " + detail::describe_mbedtls_error(ret)};
    return {Errc::protocol_error, "DTLS: " + detail::describe_mbedtls_error(ret)};
  }

  void emit(DtlsState next, Errc error = Errc::ok) {
    state = next;
    if (events_count < events.size()) events[(events_head + events_count++) % events.size()] = {next, error};
  }

  Result<void> fail(Error error) {
    intermediate_deadline_ns = final_deadline_ns = 0;
    failure = error;
    emit(DtlsState::failed, error.code);
    return error;
  }

  // RFC 5764 section 4.2: the keying material is the TLS exporter (RFC 5705) with the label
  // "EXTRACTOR-dtls_srtp" and no context, PRF(master_secret, label, client_random + server_random), cut as
  //   client_write_SRTP_master_key | server_write_SRTP_master_key |
  //   client_write_SRTP_master_salt | server_write_SRTP_master_salt
  Result<void> derive_srtp_keys() {
    mbedtls_dtls_srtp_info negotiated{};
    mbedtls_ssl_get_dtls_srtp_negotiation_result(&ssl, &negotiated);
    if (negotiated.chosen_dtls_srtp_profile == MBEDTLS_TLS_SRTP_UNSET) return {};  // a data-channel-only peer
    const auto profile = static_cast<media::SrtpProfile>(negotiated.chosen_dtls_srtp_profile);
    const media::SrtpKeyLengths lengths = media::srtp_key_lengths(profile);
    DtlsSrtpKeys keys;
    if (lengths.master_key == 0 || lengths.master_key > keys.local.key_storage.size() || lengths.master_salt == 0 ||
        lengths.master_salt > keys.local.salt_storage.size()) {
      return {Errc::protocol_error, "DTLS: negotiated an SRTP profile we did not offer"};
    }
    if (!have_secret) return {Errc::internal, "DTLS: the master secret was not exported"};
    const size_t k = lengths.master_key;
    const size_t s = lengths.master_salt;
    std::array<uint8_t, 2 * (32 + 14)> material{};
    const int ret = mbedtls_ssl_tls_prf(prf, master_secret.data(), master_secret.size(), kSrtpExporterLabel,
                                        randoms.data(), randoms.size(), material.data(), 2 * (k + s));
    mbedtls_platform_zeroize(master_secret.data(), master_secret.size());
    have_secret = false;
    if (ret != 0) return map_error(ret);
    const bool client = config.role == DtlsRole::client;
    const uint8_t* client_key = material.data();
    const uint8_t* server_key = client_key + k;
    const uint8_t* client_salt = server_key + k;
    const uint8_t* server_salt = client_salt + s;
    keys.profile = profile;
    keys.local.key_size = keys.remote.key_size = static_cast<uint8_t>(k);
    keys.local.salt_size = keys.remote.salt_size = static_cast<uint8_t>(s);
    std::memcpy(keys.local.key_storage.data(), client ? client_key : server_key, k);
    std::memcpy(keys.local.salt_storage.data(), client ? client_salt : server_salt, s);
    std::memcpy(keys.remote.key_storage.data(), client ? server_key : client_key, k);
    std::memcpy(keys.remote.salt_storage.data(), client ? server_salt : client_salt, s);
    mbedtls_platform_zeroize(material.data(), material.size());
    srtp = keys;
    return {};
  }

  Result<void> on_handshake_done() {
    // Fail closed: mbedTLS completed, so verify_cb must have accepted the leaf. Never trust a path where it
    // did not run.
    if (!peer_verified) {
      mbedtls_ssl_send_alert_message(&ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL, MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
      return fail({Errc::authentication_failed, "DTLS: the peer's certificate was never checked"});
    }
    if (auto r = derive_srtp_keys(); !r) return fail(r.error());
    handshake_done = true;
    intermediate_deadline_ns = final_deadline_ns = 0;
    // Handshake flights stay within `mtu`; application records may be larger (one SCTP packet per record).
    const int expansion = mbedtls_ssl_get_record_expansion(&ssl);
    if (expansion > 0) {
      const size_t app_mtu = size_t{config.max_record_payload} + static_cast<size_t>(expansion);
      mbedtls_ssl_set_mtu(&ssl, static_cast<uint16_t>(std::max<size_t>(config.mtu, std::min<size_t>(app_mtu, 65535))));
    }
    emit(DtlsState::connected);
    return {};
  }

  // Runs the handshake as far as the input allows. mbedTLS reads at most the one datagram in `incoming`,
  // checks the timer through get_timer_cb, and queues whatever it sends.
  Result<void> drive_handshake() {
    const int ret = mbedtls_ssl_handshake(&ssl);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) return {};
    if (ret != 0) return fail(map_error(ret));
    return on_handshake_done();
  }

  // Reads every record left in the datagram: application data into `received`, a close_notify closes. Also
  // lets mbedTLS answer a retransmitted final flight of the peer with ours.
  Result<void> read_records(uint64_t& delivered) {
    for (;;) {
      const int ret = mbedtls_ssl_read(&ssl, read_buffer.data(), read_buffer.size());
      if (ret > 0) {
        ++delivered;
        if (received.push({read_buffer.data(), static_cast<size_t>(ret)})) {
          ++stats.records_received;
        } else {
          ++stats.received_overflow;
        }
        continue;
      }
      if (ret == 0 || ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) return {};
      if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
        // RFC 5246 section 7.2.1: answer with a close_notify of our own.
        (void)mbedtls_ssl_close_notify(&ssl);
        emit(DtlsState::closed);
        return {};
      }
      return fail(map_error(ret));
    }
  }

  Result<void> enter(uint64_t now) {
    if (failure) return *failure;
    if (now > now_ns) now_ns = now;  // time never runs backwards for the timer, whatever the caller passes
    return {};
  }
};

Result<DtlsEndpoint> DtlsEndpoint::create(DtlsConfig config) {
  auto impl = std::make_unique<Impl>(std::move(config));
  if (auto r = impl->setup(); !r) return r.error();
  return DtlsEndpoint(std::move(impl));
}

DtlsEndpoint::DtlsEndpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DtlsEndpoint::DtlsEndpoint(DtlsEndpoint&&) noexcept = default;
DtlsEndpoint& DtlsEndpoint::operator=(DtlsEndpoint&&) noexcept = default;
DtlsEndpoint::~DtlsEndpoint() = default;

DtlsRole DtlsEndpoint::role() const { return impl_ ? impl_->config.role : DtlsRole::client; }
DtlsState DtlsEndpoint::state() const { return impl_ ? impl_->state : DtlsState::failed; }
const Error* DtlsEndpoint::last_error() const { return impl_ && impl_->failure ? &*impl_->failure : nullptr; }

const DtlsStats& DtlsEndpoint::stats() const {
  static const DtlsStats kNone;
  return impl_ ? impl_->stats : kNone;
}

Result<void> DtlsEndpoint::start(uint64_t now_ns) {
  if (!impl_) return {Errc::invalid_argument, "moved-from DtlsEndpoint"};
  if (auto r = impl_->enter(now_ns); !r) return r;
  if (impl_->state != DtlsState::idle) return {Errc::invalid_argument, "DTLS endpoint already started"};
  impl_->emit(DtlsState::connecting);
  return impl_->drive_handshake();
}

Result<void> DtlsEndpoint::handle_datagram(std::span<const uint8_t> datagram, uint64_t now_ns) {
  if (!impl_) return {Errc::invalid_argument, "moved-from DtlsEndpoint"};
  Impl& s = *impl_;
  if (auto r = s.enter(now_ns); !r) return r;
  const int application_records = count_application_records(datagram);
  if (application_records < 0) {
    ++s.stats.datagrams_rejected;
    return {Errc::malformed_packet, "not a DTLS 1.0/1.2 datagram"};
  }
  if (s.state == DtlsState::idle) return {Errc::invalid_argument, "DTLS endpoint not started"};
  if (s.state == DtlsState::closed) return {};  // late datagrams after a close are no error

  const bool was_connected = s.state == DtlsState::connected;
  if (s.config.role == DtlsRole::server && !was_connected && !s.client_hello.done()) {
    switch (s.client_hello.add(datagram)) {
      case detail::ClientHelloAssembler::Outcome::buffered:
        return {};
      case detail::ClientHelloAssembler::Outcome::complete:
        datagram = s.client_hello.assembled();
        break;
      case detail::ClientHelloAssembler::Outcome::pass:
        break;
    }
  }
  s.incoming = datagram;
  Result<void> result;
  if (!was_connected) result = s.drive_handshake();
  // The rest of a datagram that completed the handshake may hold records too, so read on once connected.
  uint64_t delivered = 0;
  if (result && s.state == DtlsState::connected) result = s.read_records(delivered);
  s.incoming = {};  // a datagram mbedTLS did not read is not kept past the call that handed it in
  if (was_connected && static_cast<uint64_t>(application_records) > delivered) {
    s.stats.records_dropped += static_cast<uint64_t>(application_records) - delivered;
  }
  return result;
}

std::optional<std::span<const uint8_t>> DtlsEndpoint::poll_transmit() {
  if (!impl_ || impl_->outgoing.empty()) return std::nullopt;
  return impl_->outgoing.pop();
}

void DtlsEndpoint::set_datagram_sink(DtlsDatagramSink* sink) {
  if (impl_) impl_->sink = sink;
}

std::optional<DtlsEvent> DtlsEndpoint::poll_event() {
  if (!impl_ || impl_->events_count == 0) return std::nullopt;
  const DtlsEvent e = impl_->events[impl_->events_head];
  impl_->events_head = (impl_->events_head + 1) % impl_->events.size();
  --impl_->events_count;
  return e;
}

std::optional<std::span<const uint8_t>> DtlsEndpoint::poll_received() {
  if (!impl_ || impl_->received.empty()) return std::nullopt;
  return impl_->received.pop();
}

std::optional<uint64_t> DtlsEndpoint::next_timeout() const {
  if (!impl_ || impl_->state != DtlsState::connecting || impl_->final_deadline_ns == 0) return std::nullopt;
  return impl_->final_deadline_ns;
}

Result<void> DtlsEndpoint::handle_timeout(uint64_t now_ns) {
  if (!impl_) return {Errc::invalid_argument, "moved-from DtlsEndpoint"};
  if (auto r = impl_->enter(now_ns); !r) return r;
  if (impl_->state != DtlsState::connecting) return {};
  return impl_->drive_handshake();  // mbedTLS sees the expired timer through get_timer_cb and resends or gives up
}

Result<void> DtlsEndpoint::send(std::span<const uint8_t> data) {
  if (!impl_) return {Errc::invalid_argument, "moved-from DtlsEndpoint"};
  Impl& s = *impl_;
  if (s.failure) return *s.failure;
  if (s.state != DtlsState::connected) return {Errc::invalid_argument, "DTLS endpoint is not connected"};
  if (data.empty()) return {Errc::invalid_argument, "DTLS: an empty record carries nothing"};
  if (data.size() > s.config.max_record_payload) {
    return {Errc::invalid_argument, "DTLS: " + std::to_string(data.size()) + " bytes do not fit one record (max " +
                                        std::to_string(s.config.max_record_payload) + ")"};
  }
  // A short text (within std::string's inline buffer, 15 characters): flow control on the hot path, not a failure.
  if (s.sink == nullptr && s.outgoing.full()) return {Errc::resource_exhausted, "dtls: full"};
  const int ret = mbedtls_ssl_write(&s.ssl, data.data(), data.size());
  if (ret == static_cast<int>(data.size())) {
    ++s.stats.records_sent;
    return {};
  }
  if (ret >= 0) return {Errc::internal, "DTLS: mbedTLS wrote part of a record"};
  return s.fail(s.map_error(ret));
}

size_t DtlsEndpoint::max_record_payload() const { return impl_ ? impl_->config.max_record_payload : 0; }

void DtlsEndpoint::close() {
  if (!impl_ || impl_->state == DtlsState::closed || impl_->state == DtlsState::failed) return;
  if (impl_->state == DtlsState::connected) (void)mbedtls_ssl_close_notify(&impl_->ssl);
  impl_->intermediate_deadline_ns = impl_->final_deadline_ns = 0;
  impl_->emit(DtlsState::closed);
}

Result<DtlsSrtpKeys> DtlsEndpoint::srtp_keys() const {
  if (!impl_ || !impl_->handshake_done || impl_->state == DtlsState::failed) {
    return {Errc::invalid_argument, "DTLS: no SRTP keys before the handshake completes"};
  }
  if (!impl_->srtp) return {Errc::protocol_error, "DTLS: the peer did not negotiate use_srtp"};
  return *impl_->srtp;
}

std::string_view DtlsEndpoint::cipher_suite() const {
  if (!impl_ || !impl_->handshake_done) return {};
  const char* name = mbedtls_ssl_get_ciphersuite(&impl_->ssl);
  return name ? name : std::string_view{};
}

}  // namespace tandem::transport
