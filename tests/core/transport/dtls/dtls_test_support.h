// Helpers shared by the DTLS tests: deterministic entropy, certificates, endpoint pairs, and an in-memory
// exchange loop. Every figure comes from the caller's seed and the fake time the tests pass.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "core/transport/dtls/certificate.h"
#include "core/transport/dtls/dtls_endpoint.h"

namespace tandem::test::dtls {

using namespace tandem::transport;

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kStart = 5'000 * kMs;  // an arbitrary caller clock; the endpoint must only use what it is given

// A deterministic entropy source; equal seeds draw equal bytes.
inline EntropySource seeded_entropy(uint64_t seed) {
  return [state = seed * 0x9E3779B97F4A7C15ull + 1](std::span<uint8_t> out) mutable {
    for (auto& b : out) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      b = static_cast<uint8_t>(state >> 56);
    }
    return true;
  };
}

// Key generation costs a few ms (more in wasm), so each seed's certificate is made once per test binary.
inline std::shared_ptr<const DtlsCertificate> certificate(uint64_t seed) {
  static std::map<uint64_t, std::shared_ptr<const DtlsCertificate>> cache;
  auto& slot = cache[seed];
  if (!slot) {
    auto made = DtlsCertificate::generate(seeded_entropy(1000 + seed));
    REQUIRE(made.ok());
    slot = made.value();
  }
  return slot;
}

inline DtlsConfig config(DtlsRole role, uint64_t seed, std::shared_ptr<const DtlsCertificate> own,
                         const DtlsFingerprint& remote) {
  DtlsConfig c;
  c.role = role;
  c.entropy = seeded_entropy(seed);
  c.certificate = std::move(own);
  c.remote_fingerprint = remote;
  return c;
}

inline DtlsEndpoint make(DtlsConfig c) {
  auto e = DtlsEndpoint::create(std::move(c));
  REQUIRE(e.ok());
  return std::move(e).value();
}

// A client (certificate 1) and a server (certificate 2), each expecting the other's fingerprint.
struct Pair {
  DtlsEndpoint client;
  DtlsEndpoint server;
};

inline DtlsConfig client_config(uint64_t seed = 1) {
  return config(DtlsRole::client, seed, certificate(1), certificate(2)->fingerprint());
}
inline DtlsConfig server_config(uint64_t seed = 2) {
  return config(DtlsRole::server, seed, certificate(2), certificate(1)->fingerprint());
}
inline Pair make_pair(DtlsConfig client = client_config(), DtlsConfig server = server_config()) {
  return {make(std::move(client)), make(std::move(server))};
}

// Moves every queued datagram from `from` to `to`; returns how many. `tap` sees each one first.
template <class Tap>
size_t deliver(DtlsEndpoint& from, DtlsEndpoint& to, uint64_t now, Tap&& tap) {
  size_t n = 0;
  while (auto d = from.poll_transmit()) {
    const std::vector<uint8_t> copy(d->begin(), d->end());  // the view ends with the next call on `from`
    tap(copy);
    (void)to.handle_datagram(copy, now);
    ++n;
  }
  return n;
}
inline size_t deliver(DtlsEndpoint& from, DtlsEndpoint& to, uint64_t now) {
  return deliver(from, to, now, [](const std::vector<uint8_t>&) {});
}

// Starts both and exchanges datagrams (no loss) until neither sends; firing timers if they stall. Returns the
// fake time at which both were connected, or nothing.
inline std::optional<uint64_t> handshake(Pair& p, uint64_t now = kStart) {
  REQUIRE(p.server.start(now).ok());
  REQUIRE(p.client.start(now).ok());
  for (int round = 0; round < 50; ++round) {
    const size_t moved = deliver(p.client, p.server, now) + deliver(p.server, p.client, now);
    if (p.client.state() == DtlsState::connected && p.server.state() == DtlsState::connected) return now;
    if (moved == 0) {
      auto t = p.client.next_timeout();
      if (auto ts = p.server.next_timeout(); ts && (!t || *ts < *t)) t = ts;
      if (!t) return std::nullopt;
      now = *t;
      (void)p.client.handle_timeout(now);
      (void)p.server.handle_timeout(now);
    }
  }
  return std::nullopt;
}

inline std::vector<DtlsEvent> drain_events(DtlsEndpoint& e) {
  std::vector<DtlsEvent> out;
  while (auto ev = e.poll_event()) out.push_back(*ev);
  return out;
}

}  // namespace tandem::test::dtls
