// PeerConnection end to end over the simulated network: SDP offer/answer, trickled candidates, ICE, DTLS
// and SCTP data channels, both peers in one process on a fake clock.
#include <catch2/catch.hpp>

#include <algorithm>

#include "core/media/pipeline/media_session.h"
#include "core/media/rtp/rtp_packet.h"
#include "core/metrics/registry.h"
#include "support/fake_platform.h"
#include "tests/core/transport/peer/peer_pair_support.h"

namespace tandem::transport {
namespace {

using test::PeerPair;
constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSecond = 1000 * kMs;

std::vector<uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

DataChannelInit labelled(std::string label) {
  DataChannelInit init;
  init.label = std::move(label);
  return init;
}

bool connected_with_channels(PeerPair& pair) {
  return pair.connected() && !pair.a().opened.empty() && !pair.b().opened.empty();
}

// Media through a peer: the session's protected datagrams go out on the peer's selected pair.
struct PeerMediaSink final : media::DatagramSink {
  PeerConnection* peer = nullptr;
  void send_datagram(std::span<const uint8_t> d) override { peer->send_media(d); }
};

}  // namespace

TEST_CASE("peer connection: offer/answer, ICE, DTLS and a data channel both ways", "[peer]") {
  PeerPair pair;
  auto channel = pair.a().peer->create_data_channel(labelled("chat"), pair.now());
  REQUIRE(channel.ok());
  const uint64_t start = pair.now();
  pair.negotiate();
  REQUIRE(pair.run_until([&] { return pair.connected() && !pair.a().opened.empty() && !pair.b().opened.empty(); },
                         pair.now() + 10 * kSecond));
  INFO("fake-time connect " << (pair.now() - start) / kMs << " ms");
  CHECK(pair.now() - start < 500 * kMs);
  CHECK(pair.a().peer->ice_state() != IceState::failed);
  CHECK(pair.a().peer->dtls_state() == DtlsState::connected);
  CHECK(pair.a().error.empty());
  CHECK(pair.b().error.empty());
  // a offered actpass, b answered active: b is the DTLS client and a's channel got an odd id.
  REQUIRE(pair.a().peer->stream_id(channel.value()));
  CHECK(*pair.a().peer->stream_id(channel.value()) % 2 == 1);

  const uint32_t at_b = pair.b().opened.front();
  REQUIRE(pair.a().peer->send_data(channel.value(), bytes_of("hello"), false, pair.now()).ok());
  REQUIRE(pair.b().peer->send_data(at_b, bytes_of("world"), true, pair.now()).ok());
  REQUIRE(pair.run_until([&] { return !pair.a().messages.empty() && !pair.b().messages.empty(); },
                         pair.now() + kSecond));
  CHECK(pair.b().messages.front().data == bytes_of("hello"));
  CHECK_FALSE(pair.b().messages.front().binary);
  CHECK(pair.a().messages.front().data == bytes_of("world"));
  CHECK(pair.a().messages.front().binary);
  CHECK(pair.a().messages.front().channel == channel.value());
}


TEST_CASE("peer connection: when the remote peer closes, the state goes connected -> disconnected -> failed",
          "[peer]") {
  // The W3C aggregate: the remote's close_notify closes DTLS, which still counts as up, so the peer stays
  // connected until consent freshness notices the silence (never back to connecting).
  PeerPair pair;
  REQUIRE(pair.a().peer->create_data_channel(labelled("x"), pair.now()).ok());
  pair.negotiate();
  REQUIRE(pair.run_until([&] { return connected_with_channels(pair); }, pair.now() + 10 * kSecond));
  const size_t seen = pair.b().events.size();
  pair.a().peer->close(pair.now());
  CHECK(pair.a().peer->state() == PeerState::closed);
  REQUIRE(pair.run_until([&] { return pair.b().peer->dtls_state() == DtlsState::closed; }, pair.now() + kSecond));
  CHECK(pair.b().peer->state() == PeerState::connected);
  REQUIRE(pair.run_until([&] { return pair.b().peer->state() == PeerState::failed; }, pair.now() + 60 * kSecond));
  std::vector<PeerState> states;
  for (size_t i = seen; i < pair.b().events.size(); ++i) {
    if (pair.b().events[i].kind == PeerEventKind::connection_state) states.push_back(pair.b().events[i].state);
  }
  CHECK(states == std::vector<PeerState>{PeerState::disconnected, PeerState::failed});
  CHECK(pair.b().closed.size() == 1);  // the channel closed with the association
}

TEST_CASE("peer connection: closing during the DTLS handshake never reports connected", "[peer]") {
  PeerPair pair;
  REQUIRE(pair.a().peer->create_data_channel(labelled("x"), pair.now()).ok());
  pair.negotiate();
  REQUIRE(pair.run_until([&] {
    const IceState ice = pair.a().peer->ice_state();
    return ice == IceState::connected || ice == IceState::completed;
  }, pair.now() + 10 * kSecond));
  REQUIRE(pair.a().peer->dtls_state() != DtlsState::connected);  // ICE is up, the handshake is not done
  pair.a().peer->close(pair.now());
  pair.step();  // collects the events close() queued
  std::vector<PeerState> states;
  for (const auto& e : pair.a().events) {
    if (e.kind == PeerEventKind::connection_state) states.push_back(e.state);
  }
  REQUIRE_FALSE(states.empty());
  CHECK(states.back() == PeerState::closed);
  CHECK(std::find(states.begin(), states.end(), PeerState::connected) == states.end());
}

TEST_CASE("peer connection: DTLS completes under 30% loss", "[peer]") {
  sim::Impairments lossy;
  lossy.loss = 0.30;
  lossy.delay_ns = 20 * kMs;
  for (uint64_t seed : {31, 32, 33}) {
    INFO("seed " << seed);
    PeerPair pair(lossy, seed);
    REQUIRE(pair.a().peer->create_data_channel(labelled("x"), pair.now()).ok());
    pair.negotiate();
    CHECK(pair.run_until([&] { return connected_with_channels(pair); }, pair.now() + 120 * kSecond));
    CHECK(pair.a().peer->dtls_state() == DtlsState::connected);
    CHECK(pair.b().peer->dtls_state() == DtlsState::connected);
  }
}

TEST_CASE("peer connection: a fingerprint that does not match the certificate fails the connection", "[peer]") {
  PeerPair pair;
  REQUIRE(pair.a().peer->create_data_channel(labelled("x"), pair.now()).ok());
  // b's answer claims another certificate: flip one hex digit of its fingerprint.
  pair.negotiate([](std::string& answer) {
    const size_t at = answer.find("a=fingerprint:sha-256 ");
    REQUIRE(at != std::string::npos);
    char& digit = answer[at + 22];
    digit = digit == 'A' ? 'B' : 'A';
  });
  pair.run_until([&] { return pair.a().peer->state() == PeerState::failed; }, pair.now() + 30 * kSecond);
  CHECK(pair.a().peer->state() == PeerState::failed);
  CHECK(pair.a().peer->dtls_state() == DtlsState::failed);
  CHECK(pair.a().error.find("DTLS") != std::string::npos);
  CHECK(pair.a().opened.empty());
  CHECK(pair.b().opened.empty());
  CHECK_FALSE(pair.b().peer->state() == PeerState::connected);
}

TEST_CASE("peer connection: DTLS-SRTP keys the media sessions of both peers", "[peer]") {
  test::FakePlatform fake;
  metrics::Registry registry;
  auto media_metrics = media::MediaMetrics::in(registry);
  PeerPair pair;
  PeerMediaSink sink_a, sink_b;
  sink_a.peer = pair.a().peer.get();
  sink_b.peer = pair.b().peer.get();
  media::MediaSessionConfig unkeyed;
  auto session_a = media::MediaSession::create(unkeyed, fake.platform, media_metrics, sink_a);
  auto session_b = media::MediaSession::create(unkeyed, fake.platform, media_metrics, sink_b);
  REQUIRE(session_a.ok());
  REQUIRE(session_b.ok());
  pair.a().peer->attach_media(session_a.value().get());
  pair.b().peer->attach_media(session_b.value().get());
  LocalMediaTrack track;
  track.kind = media::MediaKind::audio;
  track.ssrc = 0x1234;
  track.payload_type = 111;
  track.codec = "opus";
  REQUIRE(pair.a().peer->add_track(track).ok());
  pair.negotiate();
  REQUIRE(pair.run_until([&] { return pair.connected(); }, pair.now() + 10 * kSecond));
  CHECK(session_a.value()->keyed());
  CHECK(session_b.value()->keyed());
  CHECK(pair.a().error.empty());
  // b learned a's track from the offer.
  bool saw_track = false;
  for (const auto& e : pair.b().events) {
    if (e.kind != PeerEventKind::remote_track) continue;
    saw_track = true;
    CHECK(e.track->ssrc == 0x1234);
    CHECK(e.track->payload_type == 111);
    CHECK(e.track->codec == "opus");
  }
  CHECK(saw_track);
  // One RTP packet from a: b's session authenticates it with the exported keys (it has no stream for the SSRC,
  // so it counts it as unknown_ssrc, which happens only after SRTP accepted it).
  std::array<uint8_t, 1500> buffer{};
  const uint8_t payload[20] = {1, 2, 3};
  media::rtp::RtpHeader h;
  h.payload_type = 111;
  h.ssrc = 0x1234;
  auto n = media::rtp::write_rtp(h, payload, buffer);
  REQUIRE(n.ok());
  REQUIRE(session_a.value()->send_rtp(buffer, n.value(), pair.now()).ok());
  pair.run_until([&] { return session_b.value()->stats().unknown_ssrc == 1; }, pair.now() + kSecond);
  CHECK(session_b.value()->stats().unknown_ssrc == 1);
  CHECK(session_b.value()->stats().srtp_auth_failures == 0);
  CHECK(pair.b().peer->stats().srtp_received >= 1);
}

}  // namespace tandem::transport
