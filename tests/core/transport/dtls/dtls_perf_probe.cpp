// A throwaway measurement, hidden from the default run (tags [.][dtls-perf]): it asserts nothing about time and
// only prints figures. Run: tandem_tests "[dtls-perf]" natively, node tandem_tests.js "[dtls-perf]" in wasm.
//   - certificate generation, and the CPU time a handshake spends inside each endpoint's calls (in memory);
//   - application record protect (send + poll_transmit + copying the datagram out) and unprotect
//     (handle_datagram + poll_received) for 1200-byte payloads;
//   - as a baseline in the same run, mbedTLS's AES-128-GCM alone on 1200 bytes (what a record costs at least);
//   - the fake-time durations of the handshakes over the 30%-loss path of dtls_network_test.cpp.
#include <mbedtls/gcm.h>

#include <catch2/catch.hpp>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <vector>

#include "dtls_network_run.h"
#include "dtls_test_support.h"

using namespace tandem;
using namespace tandem::transport;
using namespace tandem::test::dtls;

namespace {

// Process CPU time (std::clock): this machine's cores are shared, and CPU time leaves out the time the test
// waited for one. Natively it is the process's CPU time (the test runs one thread); in wasm under node,
// std::clock follows wall time, so run the wasm probe on an idle machine.
struct Clock {
  using time_point = std::clock_t;
  static time_point now() { return std::clock(); }
};

double ns_since(Clock::time_point t0) { return static_cast<double>(Clock::now() - t0) * 1e9 / CLOCKS_PER_SEC; }

// Moves datagrams one way, adding the time spent in `from` to `from_ns` and in `to` to `to_ns`.
size_t timed_deliver(DtlsEndpoint& from, DtlsEndpoint& to, double& from_ns, double& to_ns) {
  size_t n = 0;
  for (;;) {
    auto t0 = Clock::now();
    auto d = from.poll_transmit();
    std::vector<uint8_t> copy;
    if (d) copy.assign(d->begin(), d->end());
    from_ns += ns_since(t0);
    if (!d) return n;
    t0 = Clock::now();
    (void)to.handle_datagram(copy, kStart);
    to_ns += ns_since(t0);
    ++n;
  }
}

}  // namespace

TEST_CASE("DTLS performance probe (prints figures)", "[.][dtls-perf]") {
  constexpr int kCertificates = 20;
  auto t0 = Clock::now();
  for (int i = 0; i < kCertificates; ++i) REQUIRE(DtlsCertificate::generate(seeded_entropy(500 + i)).ok());
  std::printf("certificate generation (P-256 key + self-signed): %.2f ms\n", ns_since(t0) / kCertificates / 1e6);

  constexpr int kHandshakes = 20;
  double client_ns = 0, server_ns = 0;
  for (int i = 0; i < kHandshakes; ++i) {
    Pair p = make_pair(client_config(100 + i), server_config(200 + i));
    t0 = Clock::now();
    REQUIRE(p.server.start(kStart).ok());
    server_ns += ns_since(t0);
    t0 = Clock::now();
    REQUIRE(p.client.start(kStart).ok());
    client_ns += ns_since(t0);
    while (timed_deliver(p.client, p.server, client_ns, server_ns) +
               timed_deliver(p.server, p.client, server_ns, client_ns) >
           0) {
    }
    REQUIRE(p.client.state() == DtlsState::connected);
    REQUIRE(p.server.state() == DtlsState::connected);
  }
  std::printf("handshake time inside the endpoint (mean of %d): client %.2f ms, server %.2f ms\n", kHandshakes,
              client_ns / kHandshakes / 1e6, server_ns / kHandshakes / 1e6);

  Pair p = make_pair();
  REQUIRE(handshake(p));
  const std::vector<uint8_t> payload(1200, 0x5a);
  constexpr int kBatch = 64;
  constexpr int kBatches = 400;
  std::vector<std::vector<uint8_t>> wire(kBatch, std::vector<uint8_t>(2048));
  std::vector<size_t> sizes(kBatch);
  double protect_ns = 0, unprotect_ns = 0;
  size_t received = 0;
  for (int b = 0; b < kBatches + 2; ++b) {
    t0 = Clock::now();
    for (int i = 0; i < kBatch; ++i) {
      (void)p.client.send(payload);
      auto d = p.client.poll_transmit();
      sizes[i] = d->size();
      std::memcpy(wire[i].data(), d->data(), d->size());
    }
    const double sent = ns_since(t0);
    t0 = Clock::now();
    for (int i = 0; i < kBatch; ++i) {
      (void)p.server.handle_datagram({wire[i].data(), sizes[i]}, kStart);
      if (p.server.poll_received()) ++received;
    }
    const double got = ns_since(t0);
    if (b >= 2) {  // the first two batches warm caches and buffers
      protect_ns += sent;
      unprotect_ns += got;
    }
  }
  REQUIRE(received == static_cast<size_t>(kBatch) * (kBatches + 2));
  std::printf("1200-byte application record (%s), mean of %d: protect %.0f ns, unprotect %.0f ns\n",
              std::string(p.client.cipher_suite()).c_str(), kBatch * kBatches, protect_ns / (kBatch * kBatches),
              unprotect_ns / (kBatch * kBatches));

  // Baseline: the record's AEAD alone (same library, same key size, 13 bytes of additional data).
  mbedtls_gcm_context gcm;
  mbedtls_gcm_init(&gcm);
  const unsigned char key[16] = {1, 2, 3};
  REQUIRE(mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key, 128) == 0);
  std::vector<unsigned char> sealed(1200);
  unsigned char iv[12] = {}, aad[13] = {}, tag[16];
  constexpr int kSeals = 20000;
  t0 = Clock::now();
  for (int i = 0; i < kSeals; ++i) {
    iv[11] = static_cast<unsigned char>(i);
    (void)mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, payload.size(), iv, sizeof(iv), aad, sizeof(aad),
                                    payload.data(), sealed.data(), sizeof(tag), tag);
  }
  std::printf("baseline: mbedtls_gcm_crypt_and_tag, 1200 bytes, mean of %d: %.0f ns\n", kSeals, ns_since(t0) / kSeals);
  mbedtls_gcm_free(&gcm);

  sim::Impairments lossy;
  lossy.loss = 0.30;
  lossy.delay_ns = 40 * kMs;
  lossy.jitter_ns = 10 * kMs;
  lossy.reorder = 0.05;
  lossy.duplicate = 0.05;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    std::printf("30%% loss, 40 ms one-way, seed %2llu: %s\n", static_cast<unsigned long long>(seed),
                run_over_network(seed, lossy).describe().c_str());
  }
}
