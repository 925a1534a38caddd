// Peer connections through the API, as a host uses them: two cores without sockets (the test carries their
// PEER_DATAGRAMS events across, as a page would between workers), SDP and candidates signalled through
// requests and PEER_EVENTs, then a data channel both ways and audio keyed by DTLS-SRTP.
#include <catch2/catch.hpp>
#include <map>

#include "core/ffi/core.h"
#include "proto/tandem.pb.h"
#include "support/fake_platform.h"
#include "support/ffi_side.h"

using namespace tandem;

namespace {

constexpr uint64_t kMs = 1'000'000;

struct Side : test::FfiSide {
  uint64_t peer = 0, session = 0;
  std::string address;
};

std::string sdp_of(const api::FfiResponse& r) {
  return r.has_create_offer() ? r.create_offer().sdp() : r.create_answer().sdp();
}

struct TwoPeers {
  test::FakePlatform p;
  Side a, b;
  std::vector<api::PeerEvent> peer_events_a, peer_events_b;
  std::vector<api::DataChannelStateEvent> states_a, states_b;
  std::vector<api::DataChannelMessageEvent> messages_a, messages_b;
  size_t audio_frames_b = 0;

  TwoPeers() {
    a.address = "10.1.0.1:4000";
    b.address = "10.1.0.2:4000";
    for (Side* s : {&a, &b}) {
      s->start(p.platform);
      s->subscribe({api::PEER_EVENT, api::DATA_CHANNEL_STATE, api::DATA_CHANNEL_MESSAGE, api::PEER_DATAGRAMS,
                        api::AUDIO_FRAME});
      api::FfiRequest req;
      req.mutable_create_peer()->add_local_addresses(s->address);
      req.mutable_create_peer()->set_ice_check_interval_ms(20);
      auto resp = s->send(req);
      REQUIRE(resp.error() == api::OK);
      s->peer = resp.create_peer().peer();
      s->session = resp.create_peer().media_session();
      CHECK(resp.create_peer().fingerprint().rfind("sha-256 ", 0) == 0);
    }
  }
  ~TwoPeers() {
    a.core->shutdown();
    b.core->shutdown();
  }

  // Carries datagrams and candidates across; sorts the other events.
  void exchange(Side& from, Side& to, std::vector<api::PeerEvent>& peer_events,
                std::vector<api::DataChannelStateEvent>& states, std::vector<api::DataChannelMessageEvent>& messages) {
    for (auto& ev : from.take(api::FfiEvent::kPeerDatagrams)) {
      api::FfiRequest req;
      auto* d = req.mutable_deliver_peer_datagrams();
      d->set_peer(to.peer);
      for (const auto& g : ev.peer_datagrams().datagrams()) {
        CHECK(g.local() == from.address);
        auto* out = d->add_datagrams();
        out->set_local(g.remote());
        out->set_remote(g.local());
        out->set_data(g.data());
      }
      CHECK(to.send(req).error() == api::OK);
    }
    for (auto& ev : from.take(api::FfiEvent::kPeerEvent)) {
      if (ev.peer_event().event_case() == api::PeerEvent::kLocalCandidate) {
        api::FfiRequest req;
        req.mutable_add_ice_candidate()->set_peer(to.peer);
        req.mutable_add_ice_candidate()->set_candidate(ev.peer_event().local_candidate());
        CHECK(to.send(req).error() == api::OK);
      }
      peer_events.push_back(ev.peer_event());
    }
    for (auto& ev : from.take(api::FfiEvent::kDataChannelState)) states.push_back(ev.data_channel_state());
    for (auto& ev : from.take(api::FfiEvent::kDataChannelMessage)) messages.push_back(ev.data_channel_message());
    audio_frames_b += b.take(api::FfiEvent::kAudioFrame).size();
  }

  bool run_until(const std::function<bool()>& done, uint64_t limit_ns) {
    const uint64_t end = p.clock.now_ns() + limit_ns;
    while (p.clock.now_ns() < end) {
      p.runner.run_ready();
      exchange(a, b, peer_events_a, states_a, messages_a);
      exchange(b, a, peer_events_b, states_b, messages_b);
      p.runner.run_ready();
      if (done()) return true;
      p.runner.advance(kMs);
    }
    return done();
  }

  // a offers, b answers, through requests; returns the offer's SDP.
  std::string negotiate() {
    api::FfiRequest offer_req;
    offer_req.mutable_create_offer()->set_peer(a.peer);
    const auto offer = a.send(offer_req);
    REQUIRE(offer.error() == api::OK);
    api::FfiRequest set_offer;
    set_offer.mutable_set_remote_description()->set_peer(b.peer);
    set_offer.mutable_set_remote_description()->set_type(api::OFFER);
    set_offer.mutable_set_remote_description()->set_sdp(sdp_of(offer));
    REQUIRE(b.send(set_offer).error() == api::OK);
    api::FfiRequest answer_req;
    answer_req.mutable_create_answer()->set_peer(b.peer);
    const auto answer = b.send(answer_req);
    REQUIRE(answer.error() == api::OK);
    api::FfiRequest set_answer;
    set_answer.mutable_set_remote_description()->set_peer(a.peer);
    set_answer.mutable_set_remote_description()->set_type(api::ANSWER);
    set_answer.mutable_set_remote_description()->set_sdp(sdp_of(answer));
    REQUIRE(a.send(set_answer).error() == api::OK);
    return sdp_of(offer);
  }

  static bool has_state(const std::vector<api::PeerEvent>& events, api::PeerConnectionState state) {
    for (const auto& e : events)
      if (e.event_case() == api::PeerEvent::kConnectionState && e.connection_state() == state) return true;
    return false;
  }
};

}  // namespace

TEST_CASE("peer API: two cores connect, open a data channel and exchange messages", "[peer-api]") {
  TwoPeers t;
  api::FfiRequest dc;
  dc.mutable_create_data_channel()->set_peer(t.a.peer);
  dc.mutable_create_data_channel()->mutable_init()->set_label("chat");
  auto created = t.a.send(dc);
  REQUIRE(created.error() == api::OK);
  const uint64_t channel_a = created.create_data_channel().channel();
  CHECK(created.create_data_channel().id() == 65535);  // no stream id before the DTLS role is known

  const std::string offer = t.negotiate();
  CHECK(offer.find("m=application") != std::string::npos);

  // b learns of the channel through a PEER_EVENT carrying a new DATA_CHANNEL handle.
  uint64_t channel_b = 0;

  REQUIRE(t.run_until([&] {
    for (const auto& e : t.peer_events_b)
      if (e.event_case() == api::PeerEvent::kDataChannel) channel_b = e.data_channel().channel();
    return channel_b != 0 && !t.states_a.empty() && TwoPeers::has_state(t.peer_events_a, api::PEER_CONNECTED) &&
           TwoPeers::has_state(t.peer_events_b, api::PEER_CONNECTED);
  }, 5000 * kMs));
  CHECK(t.states_a.front().state() == api::CHANNEL_OPEN);
  CHECK(t.states_a.front().channel() == channel_a);
  // The open event brings the id, the same one b was told of (a offered actpass, b is the DTLS client: odd).
  uint32_t id_at_b = 0;
  for (const auto& e : t.peer_events_b)
    if (e.event_case() == api::PeerEvent::kDataChannel) id_at_b = e.data_channel().id();
  CHECK(t.states_a.front().id() == id_at_b);
  CHECK(id_at_b % 2 == 1);

  for (auto [from, channel, text, binary] : {std::tuple{&t.a, channel_a, "from a", false},
                                             std::tuple{&t.b, channel_b, "from b", true}}) {
    api::FfiRequest send;
    send.mutable_send_data()->set_channel(channel);
    send.mutable_send_data()->set_data(text);
    send.mutable_send_data()->set_binary(binary);
    REQUIRE(from->send(send).error() == api::OK);
  }
  REQUIRE(t.run_until([&] { return !t.messages_a.empty() && !t.messages_b.empty(); }, 1000 * kMs));
  CHECK(t.messages_b.front().data() == "from a");
  CHECK_FALSE(t.messages_b.front().binary());
  CHECK(t.messages_b.front().channel() == channel_b);
  CHECK(t.messages_a.front().data() == "from b");
  CHECK(t.messages_a.front().binary());

  // Misuse: a closed channel, a bad address, the wrong handle type.
  api::FfiRequest wrong;
  wrong.mutable_send_data()->set_channel(t.a.peer);
  CHECK(t.a.send(wrong).error() == api::WRONG_HANDLE_TYPE);
  api::FfiRequest bad_peer;
  bad_peer.mutable_create_peer()->add_local_addresses("10.0.0.1");  // no port
  CHECK(t.a.send(bad_peer).error() == api::INVALID_ARGUMENT);

  api::FfiRequest stats;
  stats.mutable_get_peer_stats()->set_peer(t.a.peer);
  auto s = t.a.send(stats);
  REQUIRE(s.error() == api::OK);
  std::map<std::string, double> named;
  for (const auto& stat : s.get_peer_stats().stats()) named[stat.name()] = stat.value();
  CHECK(named["dc_messages_received"] == 1);
  // What would explain a message that never arrived is reported, and zero here.
  for (const char* name : {"dc_messages_dropped", "dcep_errors", "sctp_malformed_packets",
                           "sctp_oversized_messages_dropped", "sctp_partial_messages_aborted",
                           "sctp_association_restarts", "dtls_records_dropped"}) {
    INFO(name);
    REQUIRE(named.contains(name));
    CHECK(named[name] == 0);
  }
}

TEST_CASE("peer API: audio from a source on one core plays on the other, keyed by DTLS-SRTP", "[peer-api]") {
  TwoPeers t;
  api::FfiRequest src;
  src.mutable_create_audio_source()->set_session(t.a.session);
  src.mutable_create_audio_source()->set_codec(api::OPUS);
  auto source = t.a.send(src);
  REQUIRE(source.error() == api::OK);
  api::FfiRequest track;
  track.mutable_add_track()->set_peer(t.a.peer);
  track.mutable_add_track()->set_source(source.create_audio_source().source());
  REQUIRE(t.a.send(track).error() == api::OK);

  const std::string offer = t.negotiate();
  CHECK(offer.find("a=rtpmap:111 opus/48000/2") != std::string::npos);

  // b's REMOTE_TRACK names the SSRC and payload type to create the stream with.
  const api::RemoteTrack* remote = nullptr;
  REQUIRE(t.run_until([&] {
    for (const auto& e : t.peer_events_b)
      if (e.event_case() == api::PeerEvent::kRemoteTrack) remote = &e.remote_track();
    return remote != nullptr && TwoPeers::has_state(t.peer_events_b, api::PEER_CONNECTED);
  }, 5000 * kMs));
  CHECK(remote->kind() == "audio");
  CHECK(remote->codec() == "opus");
  CHECK(remote->ssrc() == source.create_audio_source().ssrc());
  api::FfiRequest st;
  st.mutable_create_audio_stream()->set_session(t.b.session);
  st.mutable_create_audio_stream()->set_codec(api::OPUS);
  st.mutable_create_audio_stream()->set_payload_type(remote->payload_type());
  st.mutable_create_audio_stream()->set_remote_ssrc(remote->ssrc());
  REQUIRE(t.b.send(st).error() == api::OK);

  const std::string silence(960 * 2, '\0');
  for (int i = 0; i < 50; ++i) {
    api::FfiRequest cap;
    cap.mutable_capture_audio_frame()->set_source(source.create_audio_source().source());
    cap.mutable_capture_audio_frame()->set_pcm(silence);
    REQUIRE(t.a.send(cap).error() == api::OK);
    t.run_until([] { return false; }, 20 * kMs);
  }
  t.run_until([] { return false; }, 300 * kMs);
  CHECK(t.audio_frames_b >= 40);
}
