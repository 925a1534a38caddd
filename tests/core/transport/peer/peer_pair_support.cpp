#include "tests/core/transport/peer/peer_pair_support.h"

#include <catch2/catch.hpp>

#include "support/seeded_entropy.h"

namespace tandem::test {
namespace {

sim::NetworkLink make_link(const sim::Impairments& impairments, uint64_t seed) {
  sim::LinkConfig c;
  c.seed = seed;
  c.capacity = 8192;
  c.impairments = impairments;
  return std::move(sim::NetworkLink::create(c).value());
}

std::shared_ptr<const transport::DtlsCertificate> certificate(uint64_t seed) {
  // Generating a P-256 key costs a few ms; two per process are plenty.
  static std::shared_ptr<const transport::DtlsCertificate> certs[2];
  auto& c = certs[seed & 1];
  if (!c) c = transport::DtlsCertificate::generate(seeded_entropy(seed)).value();
  return c;
}

}  // namespace

PeerPair::PeerPair(const sim::Impairments& impairments, uint64_t seed,
                   std::function<void(transport::PeerConnectionConfig&)> tweak)
    : ab_(make_link(impairments, seed)), ba_(make_link(impairments, seed + 1)) {
  for (Side* side : {&a_, &b_}) {
    const bool is_a = side == &a_;
    transport::PeerConnectionConfig c;
    c.entropy = seeded_entropy(seed * 2 + (is_a ? 0 : 1));
    c.certificate = certificate(is_a ? 0 : 1);
    c.ice_pacing_ms = 20;
    if (tweak) tweak(c);
    side->peer = std::move(transport::PeerConnection::create(std::move(c), transport::TransportMetrics::none()).value());
    side->address = *transport::parse_socket_address(is_a ? "10.0.0.1:5000" : "10.0.0.2:6000");
    REQUIRE(side->peer->add_local_address(side->address, now_ns_).ok());
    side->peer->set_local_gathering_complete();
  }
}

void PeerPair::negotiate(std::function<void(std::string&)> edit_answer) {
  auto offer = a_.peer->create_offer(now_ns_);
  REQUIRE(offer.ok());
  REQUIRE(b_.peer->set_remote_description(transport::SdpKind::offer, offer.value(), now_ns_).ok());
  auto answer = b_.peer->create_answer(now_ns_);
  REQUIRE(answer.ok());
  std::string text = answer.value();
  if (edit_answer) edit_answer(text);
  REQUIRE(a_.peer->set_remote_description(transport::SdpKind::answer, text, now_ns_).ok());
}

void PeerPair::drain(Side& side, Side& other, sim::NetworkLink& out) {
  for (;;) {
    bool progress = false;
    while (auto e = side.peer->poll_event()) {
      progress = true;
      using K = transport::PeerEventKind;
      if (e->kind == K::local_candidate && side.trickle) (void)other.peer->add_remote_candidate(e->text, now_ns_);
      if (e->kind == K::error) side.error = e->text;
      if (e->kind == K::data_channel) {
        const auto& ce = e->channel_event;
        using D = transport::DataChannelEventKind;
        if (ce.kind == D::message) {
          Side::Message m{e->channel, ce.binary, std::vector<uint8_t>(ce.payload.begin(), ce.payload.end())};
          if (!side.on_message || side.on_message(m)) side.messages.push_back(std::move(m));
          continue;
        }
        if (ce.kind == D::connected) side.sctp_connected = true;
        if (ce.kind == D::channel_open) side.opened.push_back(e->channel);
        if (ce.kind == D::channel_closed) side.closed.push_back(e->channel);
        if (ce.kind == D::buffered_amount_low) side.low.push_back(e->channel);
        e->channel_event.payload = {};
        e->channel_event.channel = nullptr;  // views die with the next poll
      }
      side.events.push_back(std::move(*e));
    }
    auto batch = side.peer->transmits();
    if (!batch.empty()) progress = true;
    for (const auto& t : batch) {
      CHECK(t.local == side.address);
      CHECK(t.remote == other.address);
      (void)out.send(t.bytes, now_ns_);
    }
    side.peer->clear_transmits();
    if (!progress) return;
  }
}

void PeerPair::deliver(sim::NetworkLink& in, Side& to, Side& from) {
  std::vector<uint8_t> copy;
  while (auto d = in.poll_receive(now_ns_)) {
    copy.assign(d->bytes.begin(), d->bytes.end());
    (void)to.peer->handle_datagram(to.address, from.address, copy, now_ns_);
  }
}

void PeerPair::step(uint64_t max_step_ns) {
  deliver(ab_, b_, a_);
  deliver(ba_, a_, b_);
  for (Side* s : {&a_, &b_}) {
    auto t = s->peer->next_timeout();
    if (t && *t <= now_ns_) s->peer->handle_timeout(now_ns_);
  }
  drain(a_, b_, ab_);
  drain(b_, a_, ba_);
  uint64_t next = now_ns_ + max_step_ns;
  for (auto t : {ab_.next_timeout(), ba_.next_timeout(), a_.peer->next_timeout(), b_.peer->next_timeout()}) {
    if (t && *t < next) next = std::max(*t, now_ns_ + 1);
  }
  now_ns_ = next;
}

bool PeerPair::run_until(const std::function<bool()>& done, uint64_t deadline_ns) {
  while (now_ns_ < deadline_ns) {
    step();
    if (done()) return true;
  }
  return done();
}

bool PeerPair::connected() const {
  return a_.peer->state() == transport::PeerState::connected && b_.peer->state() == transport::PeerState::connected;
}

}  // namespace tandem::test
