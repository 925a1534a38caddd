// Two media sessions (peer a and peer b) joined by two simulated links, on one fake platform, with a driver
// that moves time from event to event: link deliveries, session timers and runner tasks (crypto completions).
// Tests put streams on the sessions and call run_until() between captures.
#pragma once

#include <algorithm>
#include <memory>
#include <vector>

#include "core/media/pipeline/media_session.h"
#include "core/metrics/registry.h"
#include "core/sim/network.h"
#include "support/fake_platform.h"

namespace tandem::test {

inline std::vector<uint8_t> test_key_bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed * 29 + i * 11 + 1);
  return v;
}

class SessionPair {
 public:
  struct Peer final : media::DatagramSink {
    Peer(SessionPair& pair, sim::NetworkLink& out_link) : pair(pair), link(out_link) {}
    void send_datagram(std::span<const uint8_t> datagram) override {
      ++sent;
      (void)link.send(datagram, pair.fake.clock.now_ns());
    }
    SessionPair& pair;
    sim::NetworkLink& link;  // what this peer sends goes here
    metrics::Registry registry;
    media::MediaMetrics metrics = media::MediaMetrics::in(registry);
    std::unique_ptr<media::MediaSession> session;
    uint64_t sent = 0;
    // Every datagram this peer received, last-in (for replay tests), if `keep_received` is set.
    std::vector<std::vector<uint8_t>> received;
    bool keep_received = false;
  };

  explicit SessionPair(const sim::Impairments& impairments = {},
                       media::SrtpProfile profile = media::SrtpProfile::aes_cm_128_hmac_sha1_80,
                       uint64_t seed = 7)
      : ab_(make_link(impairments, seed)), ba_(make_link(impairments, seed + 1)), a_(*this, ab_), b_(*this, ba_) {
    const auto lengths = media::srtp_key_lengths(profile);
    const auto key_a = test_key_bytes(lengths.master_key, 1), salt_a = test_key_bytes(lengths.master_salt, 2);
    const auto key_b = test_key_bytes(lengths.master_key, 3), salt_b = test_key_bytes(lengths.master_salt, 4);
    media::MediaSessionConfig ca;
    ca.profile = profile;
    ca.local_key = key_a, ca.local_salt = salt_a, ca.remote_key = key_b, ca.remote_salt = salt_b;
    ca.cname = "peer-a";
    media::MediaSessionConfig cb = ca;
    cb.local_key = key_b, cb.local_salt = salt_b, cb.remote_key = key_a, cb.remote_salt = salt_a;
    cb.cname = "peer-b";
    a_.session = std::move(media::MediaSession::create(ca, fake.platform, a_.metrics, a_).value());
    b_.session = std::move(media::MediaSession::create(cb, fake.platform, b_.metrics, b_).value());
  }

  FakePlatform fake;
  Peer& a() { return a_; }
  Peer& b() { return b_; }
  sim::NetworkLink& link_ab() { return ab_; }
  sim::NetworkLink& link_ba() { return ba_; }
  uint64_t now() { return fake.clock.now_ns(); }

  // Runs everything due up to `end_ns`, stepping the clock to each event (at least 1 ms apart at most 5 ms, so
  // busy timers cannot stall the loop).
  void run_until(uint64_t end_ns) {
    for (;;) {
      const uint64_t now = fake.clock.now_ns();
      fake.runner.run_ready();
      deliver(ab_, b_, now);
      deliver(ba_, a_, now);
      for (Peer* p : {&a_, &b_}) {
        const auto t = p->session->next_timeout();
        if (t && *t <= now) p->session->poll(now);
      }
      fake.runner.run_ready();
      if (now >= end_ns) return;
      uint64_t next = std::min(end_ns, now + 5'000'000);
      for (const auto& t : {ab_.next_timeout(), ba_.next_timeout(), a_.session->next_timeout(),
                            b_.session->next_timeout()})
        if (t && *t > now) next = std::min(next, *t);
      fake.clock.set(std::max(next, now + 100'000));
    }
  }
  void run_for(uint64_t ns) { run_until(now() + ns); }

 private:
  static sim::NetworkLink make_link(const sim::Impairments& impairments, uint64_t seed) {
    sim::LinkConfig config;
    config.seed = seed;
    config.capacity = 4096;
    config.impairments = impairments;
    return std::move(sim::NetworkLink::create(config).value());
  }
  void deliver(sim::NetworkLink& link, Peer& to, uint64_t now) {
    bool any = false;
    while (auto d = link.poll_receive(now)) {
      any = true;
      std::copy(d->bytes.begin(), d->bytes.end(), buffer_.begin());
      if (to.keep_received) to.received.emplace_back(d->bytes.begin(), d->bytes.end());
      (void)to.session->receive(std::span<uint8_t>(buffer_.data(), d->bytes.size()), now);
    }
    // Poll after a burst of datagrams (as the session asks): receivers act on what arrived.
    if (any) to.session->poll(now);
  }

  sim::NetworkLink ab_, ba_;
  Peer a_, b_;
  std::array<uint8_t, 2048> buffer_{};
};

}  // namespace tandem::test
