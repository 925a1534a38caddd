// create_offer, create_answer and negotiate, against Chromium's descriptions (chromium_sdp_fixtures.h) and
// hand-edited variants of them.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/transport/sdp/offer_answer.h"
#include "tests/core/transport/sdp/chromium_sdp_fixtures.h"
#include "tests/core/transport/sdp/sdp_test_options.h"

using namespace tandem::transport::sdp;
using tandem::Errc;
namespace fx = tandem::transport::sdp::chromium_fixtures;

namespace {

SessionDescription parsed(const std::string& text, SdpType type) {
  auto r = parse(text, type);
  if (!r) FAIL(r.error().message);
  return std::move(r).value();
}

SessionDescription chromium_offer() { return parsed(fx::kOfferAudioVideoData, SdpType::offer); }

SessionDescription answer_to(const SessionDescription& offer, const LocalDescriptionOptions& options) {
  auto r = create_answer(offer, options);
  if (!r) FAIL(r.error().message);
  return std::move(r).value();
}

std::vector<int> payload_types(const MediaSection& m) {
  std::vector<int> out;
  for (const auto& c : m.codecs) out.push_back(c.payload_type);
  return out;
}

}  // namespace

TEST_CASE("sdp offer: audio, video and data in one BUNDLE group", "[sdp]") {
  const auto options = test::tandem_options();
  const auto offer = create_offer(options);
  REQUIRE(offer);
  const SessionDescription& d = *offer;
  CHECK(d.type == SdpType::offer);
  CHECK(d.origin.session_id == options.session_id);
  REQUIRE(d.bundle_group());
  CHECK(d.bundle_group()->mids == std::vector<std::string>{"0", "1", "2"});
  REQUIRE(d.msid_semantic);
  CHECK(d.msid_semantic->stream_ids == std::vector<std::string>{"tandem-stream"});
  REQUIRE(d.media.size() == 3);
  for (const auto& m : d.media) {
    CHECK(m.setup == Setup::actpass);
    CHECK(m.ice_ufrag == options.ice_ufrag);
    CHECK(m.ice_pwd == options.ice_pwd);
    CHECK(m.ice_options == std::vector<std::string>{"trickle"});
    CHECK(m.fingerprints == std::vector<Fingerprint>{options.fingerprint});
    CHECK(m.port == 9);
  }
  const MediaSection& audio = d.media[0];
  CHECK(audio.kind == MediaKind::audio);
  CHECK(audio.protocol == "UDP/TLS/RTP/SAVPF");
  CHECK(audio.formats == std::vector<std::string>{"111", "0"});
  CHECK(audio.rtcp_mux);
  CHECK(audio.rtcp_rsize);
  CHECK(audio.direction == Direction::sendrecv);
  CHECK(audio.codecs[0].name == "opus");
  CHECK(audio.codecs[0].channels == 2);
  CHECK(audio.codecs[0].fmtp.text == "minptime=10;useinbandfec=1");
  CHECK(audio.codecs[1].name == "PCMU");
  CHECK(audio.msids == std::vector<Msid>{{"tandem-stream", "tandem-audio"}});
  CHECK(audio.ssrc_attributes == std::vector<SsrcAttribute>{{11111111, "cname", "tandemcname", true},
                                                            {11111111, "msid", "tandem-stream tandem-audio", true}});
  const MediaSection& video = d.media[1];
  CHECK(video.formats == std::vector<std::string>{"96"});
  CHECK(video.codecs[0].rtcp_fb == std::vector<std::string>{"nack", "nack pli", "ccm fir"});
  const MediaSection& data = d.media[2];
  CHECK(data.protocol == "UDP/DTLS/SCTP");
  CHECK(data.formats == std::vector<std::string>{"webrtc-datachannel"});
  CHECK(data.sctp_port == 5000);
  CHECK(data.max_message_size == 262144);
  CHECK_FALSE(data.rtcp_mux);

  auto remb = options;
  remb.goog_remb = true;
  remb.audio->direction = Direction::recvonly;
  remb.audio->track.reset();
  remb.data_channel = false;
  remb.candidates = {"1 1 udp 2122260223 192.0.2.1 50000 typ host"};
  remb.end_of_candidates = true;
  const auto second = create_offer(remb);
  REQUIRE(second);
  REQUIRE(second->media.size() == 2);
  CHECK(second->media[0].direction == Direction::recvonly);
  CHECK(second->media[0].ssrc_attributes.empty());
  CHECK(second->media[1].codecs[0].rtcp_fb == std::vector<std::string>{"goog-remb", "nack", "nack pli", "ccm fir"});
  CHECK(second->media[1].candidates == remb.candidates);
  CHECK(second->media[1].end_of_candidates);
  CHECK(second->bundle_group()->mids == std::vector<std::string>{"0", "1"});
}

TEST_CASE("sdp offer/answer: bad options are invalid_argument", "[sdp]") {
  const auto check_bad = [](auto change) {
    auto o = test::tandem_options();
    change(o);
    CHECK(create_offer(o).code() == Errc::invalid_argument);
    CHECK(create_answer(chromium_offer(), o).code() == Errc::invalid_argument);
  };
  check_bad([](LocalDescriptionOptions& o) { o.ice_ufrag = "abc"; });
  check_bad([](LocalDescriptionOptions& o) { o.ice_pwd = "short"; });
  check_bad([](LocalDescriptionOptions& o) { o.ice_pwd = "tandemTandemTandem2024p!"; });
  check_bad([](LocalDescriptionOptions& o) { o.fingerprint.value = "0A:1"; });
  check_bad([](LocalDescriptionOptions& o) { o.fingerprint.algorithm = ""; });
  check_bad([](LocalDescriptionOptions& o) { o.session_id = uint64_t{1} << 63; });
  check_bad([](LocalDescriptionOptions& o) { o.sctp_port = 0; });
  check_bad([](LocalDescriptionOptions& o) { o.audio->track.reset(); });  // sendrecv without a track
  check_bad([](LocalDescriptionOptions& o) { o.video->track->cname = "two words"; });
  check_bad([](LocalDescriptionOptions& o) { o.video->track->track_id = ""; });
  check_bad([](LocalDescriptionOptions& o) { o.candidates = {"1 1 udp\r\na=injected"}; });
  auto none = test::tandem_options();
  none.audio.reset();
  none.video.reset();
  none.data_channel = false;
  CHECK(create_offer(none).code() == Errc::invalid_argument);
  // An answer needs an offer.
  auto not_offer = chromium_offer();
  not_offer.type = SdpType::answer;
  CHECK(create_answer(not_offer, test::tandem_options()).code() == Errc::invalid_argument);
}

TEST_CASE("sdp answer: to Chromium's audio + video + data offer", "[sdp]") {
  const SessionDescription offer = chromium_offer();
  const auto options = test::tandem_options();
  const SessionDescription a = answer_to(offer, options);
  CHECK(a.type == SdpType::answer);
  REQUIRE(a.media.size() == offer.media.size());
  for (size_t i = 0; i < a.media.size(); ++i) {
    CHECK(a.media[i].mid == offer.media[i].mid);
    CHECK(a.media[i].kind == offer.media[i].kind);
    CHECK_FALSE(a.media[i].rejected());
    CHECK(a.media[i].setup == Setup::active);  // the offer says actpass: we are the DTLS client
    CHECK(a.media[i].ice_ufrag == options.ice_ufrag);
    CHECK(a.media[i].extmaps.empty());
  }
  REQUIRE(a.bundle_group());
  CHECK(a.bundle_group()->mids == std::vector<std::string>{"0", "1", "2"});
  // Audio: Opus and PCMU with the offerer's numbers and fmtp, in its order; RED, G722, PCMA, CN, DTMF dropped;
  // no rtcp-fb we do not implement (transport-cc).
  const MediaSection& audio = a.media[0];
  CHECK(payload_types(audio) == std::vector<int>{111, 0});
  CHECK(audio.formats == std::vector<std::string>{"111", "0"});
  CHECK(audio.codecs[0].fmtp == offer.media[0].codecs[0].fmtp);
  CHECK(audio.codecs[0].rtcp_fb.empty());
  CHECK(audio.direction == Direction::sendrecv);
  CHECK(audio.rtcp_mux);
  CHECK(audio.rtcp_rsize);
  CHECK(audio.ssrc_attributes.size() == 2);
  // Video: VP8 only (no RTX, H264, VP9, AV1, RED, ULPFEC), with the feedback we do.
  const MediaSection& video = a.media[1];
  CHECK(payload_types(video) == std::vector<int>{96});
  CHECK(video.codecs[0].rtcp_fb == std::vector<std::string>{"ccm fir", "nack", "nack pli"});
  auto remb = options;
  remb.goog_remb = true;
  CHECK(answer_to(offer, remb).media[1].codecs[0].rtcp_fb ==
        std::vector<std::string>{"goog-remb", "ccm fir", "nack", "nack pli"});
  // Data: our port, the smaller max-message-size.
  const MediaSection& data = a.media[2];
  CHECK(data.sctp_port == 5000);
  CHECK(data.max_message_size == 262144);
  auto big = options;
  big.max_message_size = 1 << 20;
  big.sctp_port = 5001;
  CHECK(answer_to(offer, big).media[2].max_message_size == 262144);
  CHECK(answer_to(offer, big).media[2].sctp_port == 5001);
  auto small = options;
  small.max_message_size = 16384;
  CHECK(answer_to(offer, small).media[2].max_message_size == 16384);
  auto unlimited = options;
  unlimited.max_message_size = 0;
  CHECK(answer_to(offer, unlimited).media[2].max_message_size == 262144);
  SessionDescription no_limit_offer = offer;
  no_limit_offer.media[2].max_message_size.reset();  // RFC 8841: absent means 64 KiB
  CHECK(answer_to(no_limit_offer, options).media[2].max_message_size == 65536);
}

TEST_CASE("sdp answer: direction is the offer's complement narrowed by ours", "[sdp]") {
  struct Case {
    Direction offered;
    Direction ours;
    Direction expected;
  };
  const Case cases[] = {
      {Direction::sendrecv, Direction::sendrecv, Direction::sendrecv},
      {Direction::sendonly, Direction::sendrecv, Direction::recvonly},
      {Direction::recvonly, Direction::sendrecv, Direction::sendonly},
      {Direction::inactive, Direction::sendrecv, Direction::inactive},
      {Direction::sendrecv, Direction::recvonly, Direction::recvonly},
      {Direction::sendrecv, Direction::sendonly, Direction::sendonly},
      {Direction::sendonly, Direction::sendonly, Direction::inactive},
      {Direction::recvonly, Direction::recvonly, Direction::inactive},
  };
  for (const Case& c : cases) {
    INFO(to_string(c.offered) << " / ours " << to_string(c.ours));
    SessionDescription offer = chromium_offer();
    offer.media[0].direction = c.offered;
    auto options = test::tandem_options();
    options.audio->direction = c.ours;
    const SessionDescription a = answer_to(offer, options);
    CHECK(a.media[0].direction == c.expected);
    // Our track is announced only when we send.
    const bool sends = c.expected == Direction::sendrecv || c.expected == Direction::sendonly;
    CHECK(a.media[0].ssrc_attributes.empty() != sends);
    CHECK(a.media[0].msids.empty() != sends);
  }
}

TEST_CASE("sdp answer: sections we cannot take are rejected with port 0", "[sdp]") {
  const auto options = test::tandem_options();
  SECTION("no video wanted: rejected and out of the BUNDLE group") {
    auto o = options;
    o.video.reset();
    const SessionDescription a = answer_to(chromium_offer(), o);
    CHECK(a.media[1].rejected());
    CHECK(a.media[1].port == 0);
    CHECK(a.media[1].mid == "1");
    CHECK(a.media[1].formats == chromium_offer().media[1].formats);
    CHECK(a.media[1].ice_ufrag.empty());
    CHECK(a.bundle_group()->mids == std::vector<std::string>{"0", "2"});
    // The answer still serializes and parses back to the same description.
    CHECK(parsed(serialize(a), SdpType::answer) == a);
  }
  SECTION("no codec in common") {
    SessionDescription offer = chromium_offer();
    offer.media[1].codecs.erase(offer.media[1].codecs.begin());  // drop VP8 (96)
    offer.media[1].formats.erase(offer.media[1].formats.begin());
    const SessionDescription a = answer_to(offer, options);
    CHECK(a.media[1].rejected());
    CHECK_FALSE(a.media[0].rejected());
  }
  SECTION("Opus in mono is not ours, PCMU still is") {
    SessionDescription offer = chromium_offer();
    offer.media[0].codecs[0].channels = 1;
    CHECK(payload_types(answer_to(offer, options).media[0]) == std::vector<int>{0});
  }
  SECTION("static PCMU without a=rtpmap is accepted as it came") {
    SessionDescription offer = parsed(std::string(fx::kOfferAudioVideoData), SdpType::offer);
    offer.media[0].codecs[3].name.clear();  // payload type 0
    offer.media[0].codecs[3].clock_rate = 0;
    const SessionDescription a = answer_to(offer, options);
    CHECK(payload_types(a.media[0]) == std::vector<int>{111, 0});
    CHECK(a.media[0].codecs[1].name.empty());
    const auto n = negotiate(a, offer);
    REQUIRE(n);
    CHECK(n->find(MediaKind::audio)->pcmu_payload_type == 0);
  }
  SECTION("no rtcp-mux, another protocol, a second audio section, a section outside BUNDLE") {
    SessionDescription offer = chromium_offer();
    offer.media[1].rtcp_mux = false;
    offer.media[2].protocol = "DTLS/SCTP";
    MediaSection extra = offer.media[0];
    extra.mid = "3";
    offer.media.push_back(extra);
    offer.groups[0].mids.push_back("3");
    MediaSection outside = offer.media[0];
    outside.mid = "4";
    offer.media.push_back(outside);
    const SessionDescription a = answer_to(offer, options);
    REQUIRE(a.media.size() == 5);
    CHECK_FALSE(a.media[0].rejected());
    CHECK(a.media[1].rejected());
    CHECK(a.media[2].rejected());
    CHECK(a.media[3].rejected());
    CHECK(a.media[4].rejected());
    CHECK(a.bundle_group()->mids == std::vector<std::string>{"0"});
  }
  SECTION("a rejected offered section stays rejected; unknown media kinds are rejected") {
    SessionDescription offer = chromium_offer();
    offer.media[0].port = 0;
    offer.media[1].kind = MediaKind::other;
    offer.media[1].kind_text = "text";
    const SessionDescription a = answer_to(offer, options);
    CHECK(a.media[0].rejected());
    CHECK(a.media[1].rejected());
    CHECK(a.media[1].kind_text == "text");
    CHECK_FALSE(a.media[2].rejected());
  }
  SECTION("bundle-only sections are accepted with a port") {
    SessionDescription offer = chromium_offer();
    offer.media[1].port = 0;
    offer.media[1].bundle_only = true;
    const SessionDescription a = answer_to(offer, options);
    CHECK(a.media[1].port == 9);
    CHECK_FALSE(a.media[1].bundle_only);
  }
}

TEST_CASE("sdp answer: a=setup and the DTLS role", "[sdp]") {
  for (const auto& [offered, expected] : std::vector<std::pair<std::optional<Setup>, Setup>>{
           {Setup::actpass, Setup::active}, {Setup::passive, Setup::active}, {Setup::active, Setup::passive},
           {std::nullopt, Setup::passive}}) {
    SessionDescription offer = chromium_offer();
    for (auto& m : offer.media) m.setup = offered;
    const SessionDescription a = answer_to(offer, test::tandem_options());
    CHECK(a.media[0].setup == expected);
    const auto n = negotiate(a, offer);
    REQUIRE(n);
    CHECK(n->local_dtls_role == (expected == Setup::active ? DtlsRole::client : DtlsRole::server));
  }
}

TEST_CASE("sdp answer: to the data-channel-only offer, and errors in offers", "[sdp]") {
  const SessionDescription offer = parsed(fx::kOfferDataOnly, SdpType::offer);
  const SessionDescription a = answer_to(offer, test::tandem_options());
  REQUIRE(a.media.size() == 1);
  CHECK(a.media[0].sctp_port == 5000);
  CHECK(a.bundle_group()->mids == std::vector<std::string>{"0"});
  CHECK_FALSE(a.msid_semantic);

  SessionDescription no_mid = chromium_offer();
  no_mid.media[1].mid.clear();
  CHECK(create_answer(no_mid, test::tandem_options()).code() == Errc::protocol_error);
  SessionDescription same_mid = chromium_offer();
  same_mid.media[1].mid = "0";
  CHECK(create_answer(same_mid, test::tandem_options()).code() == Errc::protocol_error);
  // Without ICE credentials or a fingerprint a section cannot be accepted.
  SessionDescription no_fingerprint = chromium_offer();
  for (auto& m : no_fingerprint.media) m.fingerprints.clear();
  const SessionDescription rejected_all = answer_to(no_fingerprint, test::tandem_options());
  for (const auto& m : rejected_all.media) CHECK(m.rejected());
  CHECK_FALSE(rejected_all.bundle_group());
  // ... unless the session level has them (JSEP allows either).
  no_fingerprint.fingerprints = chromium_offer().media[0].fingerprints;
  CHECK_FALSE(answer_to(no_fingerprint, test::tandem_options()).media[0].rejected());
}

TEST_CASE("sdp negotiate: we answer Chromium's offer", "[sdp]") {
  const SessionDescription offer = chromium_offer();
  const SessionDescription answer = answer_to(offer, test::tandem_options());
  const auto n = negotiate(answer, offer);
  if (!n) FAIL(n.error().message);
  CHECK(n->transport_mid == "0");
  CHECK(n->bundle == std::vector<std::string>{"0", "1", "2"});
  CHECK(n->remote_ice_ufrag == "j9MX");
  CHECK(n->remote_ice_pwd == "G1bH5Awd9DFSmtypqyVt54WU");
  CHECK_FALSE(n->remote_ice_lite);
  CHECK(n->remote_trickle);
  CHECK(n->remote_fingerprint.algorithm == "sha-256");
  CHECK(n->remote_fingerprint.value ==
        "8D:EE:E6:06:47:D7:4B:4D:EA:33:6A:04:07:4A:F1:5F:95:7A:3B:6C:68:84:C5:3C:D3:AB:DC:18:7B:0C:1A:99");
  CHECK(n->local_dtls_role == DtlsRole::client);
  REQUIRE(n->remote_candidates.size() == 4);  // those of the BUNDLE-tagged section (mid 0)
  CHECK(n->remote_candidates[0] == "2354454874 1 udp 2122194687 192.0.2.2 60109 typ host generation 0 network-id 1");
  CHECK_FALSE(n->remote_end_of_candidates);
  REQUIRE(n->media.size() == 2);
  const NegotiatedMedia* audio = n->find(MediaKind::audio);
  REQUIRE(audio);
  CHECK(audio->mid == "0");
  CHECK(audio->direction == Direction::sendrecv);
  CHECK(audio->opus_payload_type == 111);
  CHECK(audio->pcmu_payload_type == 0);
  CHECK_FALSE(audio->vp8_payload_type);
  REQUIRE(audio->remote_ssrcs.size() == 1);
  CHECK(audio->remote_ssrcs[0].ssrc == 627878897u);
  CHECK(audio->remote_ssrcs[0].cname == "xez1Tggc0t3OoEg8");
  CHECK(audio->rtcp_mux);
  const NegotiatedMedia* video = n->find(MediaKind::video);
  REQUIRE(video);
  CHECK(video->vp8_payload_type == 96);
  CHECK_FALSE(video->opus_payload_type);
  REQUIRE(video->remote_ssrcs.size() == 2);
  CHECK(video->remote_ssrcs[0].ssrc == 3729724417u);
  CHECK(video->remote_ssrc_groups == std::vector<SsrcGroup>{{"FID", {3729724417u, 842173130u}}});
  REQUIRE(n->sctp);
  CHECK(n->sctp->mid == "2");
  CHECK(n->sctp->local_port == 5000);
  CHECK(n->sctp->remote_port == 5000);
  CHECK(n->sctp->remote_max_message_size == 262144);
}

TEST_CASE("sdp negotiate: Chromium answers our offer", "[sdp]") {
  const auto offer = create_offer(test::tandem_options());
  REQUIRE(offer);
  const SessionDescription answer = parsed(fx::kAnswerToTandemOffer, SdpType::answer);
  const auto n = negotiate(*offer, answer);
  if (!n) FAIL(n.error().message);
  CHECK(n->transport_mid == "0");
  CHECK(n->remote_ice_ufrag == "WUSH");
  CHECK(n->remote_ice_pwd == "BhNfngOJeGpsUpIuTkIbVeQm");
  CHECK(n->remote_fingerprint.value ==
        "DA:08:C7:CD:82:77:5B:51:1E:ED:A3:90:F2:E8:52:B0:12:AF:1B:33:8F:D2:6B:64:49:85:A4:B5:B9:6D:8F:BB");
  CHECK(n->local_dtls_role == DtlsRole::server);  // Chromium said a=setup:active
  CHECK(n->remote_candidates.size() == 4);
  const NegotiatedMedia* audio = n->find(MediaKind::audio);
  REQUIRE(audio);
  CHECK(audio->opus_payload_type == 111);
  CHECK(audio->pcmu_payload_type == 0);
  REQUIRE(audio->remote_ssrcs.size() == 1);
  CHECK(audio->remote_ssrcs[0].ssrc == 1483067247u);
  CHECK(audio->remote_ssrcs[0].cname == "apcYTo3KRgVH88qO");
  const NegotiatedMedia* video = n->find(MediaKind::video);
  REQUIRE(video);
  CHECK(video->vp8_payload_type == 96);
  CHECK(video->codecs[0].rtcp_fb == std::vector<std::string>{"ccm fir", "nack", "nack pli"});
  REQUIRE(video->remote_ssrcs.size() == 1);
  CHECK(video->remote_ssrcs[0].ssrc == 1608456592u);
  REQUIRE(n->sctp);
  CHECK(n->sctp->remote_port == 5000);
  CHECK(n->sctp->remote_max_message_size == 262144);
}

TEST_CASE("sdp negotiate: the transport moves to the first bundled mid when the tagged one is rejected", "[sdp]") {
  const SessionDescription offer = parsed(fx::kOfferAudioVideoData2, SdpType::offer);
  const SessionDescription answer = parsed(fx::kTandemAnswerNoAudio, SdpType::answer);
  const auto n = negotiate(answer, offer);
  if (!n) FAIL(n.error().message);
  CHECK(n->transport_mid == "1");
  CHECK(n->bundle == std::vector<std::string>{"1", "2"});
  CHECK(n->remote_ice_ufrag == "hFwt");
  REQUIRE(n->remote_candidates.size() == 4);
  CHECK(n->remote_candidates[0] == "2328800288 1 udp 2122194687 192.0.2.2 59258 typ host generation 0 network-id 1");
  CHECK_FALSE(n->find(MediaKind::audio));
  REQUIRE(n->find(MediaKind::video));
  CHECK(n->find(MediaKind::video)->remote_ssrcs.size() == 2);
  CHECK(n->sctp);
}

TEST_CASE("sdp negotiate: what cannot be negotiated", "[sdp]") {
  const SessionDescription offer = chromium_offer();
  const SessionDescription answer = answer_to(offer, test::tandem_options());
  CHECK(negotiate(offer, offer).code() == Errc::invalid_argument);
  CHECK(negotiate(answer, answer).code() == Errc::invalid_argument);

  SessionDescription fewer = answer;
  fewer.media.pop_back();
  CHECK(negotiate(fewer, offer).code() == Errc::protocol_error);
  SessionDescription other_mid = answer;
  other_mid.media[2].mid = "x";
  CHECK(negotiate(other_mid, offer).code() == Errc::protocol_error);
  SessionDescription actpass = answer;
  for (auto& m : actpass.media) m.setup = Setup::actpass;
  CHECK(negotiate(actpass, offer).code() == Errc::protocol_error);
  SessionDescription no_fingerprint = offer;
  for (auto& m : no_fingerprint.media) m.fingerprints.clear();
  CHECK(negotiate(answer, no_fingerprint).code() == Errc::protocol_error);
  SessionDescription no_ice = offer;
  no_ice.media[0].ice_pwd.clear();
  CHECK(negotiate(answer, no_ice).code() == Errc::protocol_error);
  SessionDescription bundles_rejected = answer;
  bundles_rejected.media[1].port = 0;
  CHECK(negotiate(bundles_rejected, offer).code() == Errc::protocol_error);
  SessionDescription all_rejected = answer;
  all_rejected.groups.clear();
  for (auto& m : all_rejected.media) m.port = 0;
  CHECK(negotiate(all_rejected, offer).code() == Errc::protocol_error);
  // Session-level remote values are used when the section has none.
  SessionDescription session_level = offer;
  session_level.ice_ufrag = session_level.media[0].ice_ufrag;
  session_level.ice_pwd = session_level.media[0].ice_pwd;
  session_level.media[0].ice_ufrag.clear();
  session_level.media[0].ice_pwd.clear();
  session_level.ice_lite = true;
  const auto n = negotiate(answer, session_level);
  REQUIRE(n);
  CHECK(n->remote_ice_ufrag == "j9MX");
  CHECK(n->remote_ice_lite);
}
