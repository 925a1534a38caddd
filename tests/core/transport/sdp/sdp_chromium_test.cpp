// SDP that Chromium generated (chromium_sdp_fixtures.h, written by tests/browser/capture_chromium_sdp.mjs):
// it parses, the interpreted values are the ones in the text, and serializing keeps every line.
// The expected values below were read off the fixture texts; re-capturing changes the random ones (ICE
// credentials, fingerprints, SSRCs, session ids), so update them together with the fixtures.
#include <algorithm>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/transport/sdp/offer_answer.h"
#include "core/transport/sdp/sdp.h"
#include "tests/core/transport/sdp/chromium_sdp_fixtures.h"
#include "tests/core/transport/sdp/sdp_test_options.h"

using namespace tandem::transport::sdp;
namespace fx = tandem::transport::sdp::chromium_fixtures;

namespace {

struct Fixture {
  const char* name;
  const char* text;
  SdpType type;
};

const Fixture kFixtures[] = {
    {"kOfferAudioVideoData", fx::kOfferAudioVideoData, SdpType::offer},
    {"kOfferDataOnly", fx::kOfferDataOnly, SdpType::offer},
    {"kTandemOffer", fx::kTandemOffer, SdpType::offer},
    {"kAnswerToTandemOffer", fx::kAnswerToTandemOffer, SdpType::answer},
    {"kTandemAnswer", fx::kTandemAnswer, SdpType::answer},
    {"kOfferAudioVideoData2", fx::kOfferAudioVideoData2, SdpType::offer},
    {"kTandemAnswerNoAudio", fx::kTandemAnswerNoAudio, SdpType::answer},
};

// As Chromium sent it: the literals have \n only.
std::string with_crlf(const char* text) {
  std::string out;
  for (const char* p = text; *p != '\0'; ++p) {
    if (*p == '\n') out += '\r';
    out += *p;
  }
  return out;
}

// The lines of a description, sorted (a multiset: a duplicated line counts twice).
std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(std::move(line));
    start = end + 1;
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

SessionDescription parsed(const char* text, SdpType type) {
  auto r = parse(with_crlf(text), type);
  if (!r) FAIL(r.error().message);
  return std::move(r).value();
}

}  // namespace

TEST_CASE("sdp chromium: every fixture parses and serializes back to the same lines", "[sdp]") {
  for (const Fixture& f : kFixtures) {
    INFO(f.name);
    const std::string text = with_crlf(f.text);
    const auto d = parse(text, f.type);
    if (!d) FAIL(d.error().message);
    const std::string out = serialize(*d);
    CHECK(sorted_lines(out) == sorted_lines(text));
    CHECK(out.find("\r\n") != std::string::npos);
    CHECK(std::count(out.begin(), out.end(), '\n') == std::count(out.begin(), out.end(), '\r'));
    const auto again = parse(out, f.type);
    REQUIRE(again);
    CHECK(*again == *d);
    CHECK(serialize(*again) == out);
    // \n-only text gives the same description.
    const auto lf = parse(f.text, f.type);
    REQUIRE(lf);
    CHECK(*lf == *d);
  }
}

TEST_CASE("sdp chromium: the audio + video + data channel offer", "[sdp]") {
  const SessionDescription d = parsed(fx::kOfferAudioVideoData, SdpType::offer);
  CHECK(d.origin.session_id == 4212091616875925488u);
  CHECK(d.origin.session_version == 2);
  REQUIRE(d.bundle_group());
  CHECK(d.bundle_group()->mids == std::vector<std::string>{"0", "1", "2"});
  CHECK(d.attributes == std::vector<Attribute>{{"extmap-allow-mixed", "", false}});
  REQUIRE(d.msid_semantic);
  CHECK(d.msid_semantic->stream_ids == std::vector<std::string>{"9cb5c967-8352-45aa-a272-859feb9b8c5f"});
  CHECK_FALSE(d.ice_lite);
  CHECK(d.ice_ufrag.empty());  // Chromium puts transport attributes in every section, none at session level
  REQUIRE(d.media.size() == 3);
  const std::string fingerprint =
      "8D:EE:E6:06:47:D7:4B:4D:EA:33:6A:04:07:4A:F1:5F:95:7A:3B:6C:68:84:C5:3C:D3:AB:DC:18:7B:0C:1A:99";
  for (const MediaSection& m : d.media) {
    INFO(m.mid);
    CHECK(m.ice_ufrag == "j9MX");
    CHECK(m.ice_pwd == "G1bH5Awd9DFSmtypqyVt54WU");
    CHECK(m.ice_options == std::vector<std::string>{"trickle"});
    CHECK(m.fingerprints == std::vector<Fingerprint>{{"sha-256", fingerprint}});
    CHECK(m.setup == Setup::actpass);
    REQUIRE(m.connection);
    CHECK(m.connection->address == "192.0.2.2");
    REQUIRE(m.candidates.size() == 4);
    CHECK(m.candidates[2] == "1929180622 1 tcp 1518214911 192.0.2.2 9 typ host tcptype active generation 0 "
                             "network-id 1");
    CHECK_FALSE(m.end_of_candidates);
  }

  const MediaSection& audio = d.media[0];
  CHECK(audio.kind == MediaKind::audio);
  CHECK(audio.port == 60109);
  CHECK(audio.protocol == "UDP/TLS/RTP/SAVPF");
  CHECK(audio.mid == "0");
  CHECK(audio.direction == Direction::sendrecv);
  CHECK(audio.rtcp_mux);
  CHECK(audio.rtcp_rsize);
  CHECK(audio.candidates[0] == "2354454874 1 udp 2122194687 192.0.2.2 60109 typ host generation 0 network-id 1");
  CHECK(audio.candidates[1] == "1194385594 1 udp 2122265343 fd00::2 47171 typ host generation 0 network-id 2");
  std::vector<int> pts;
  for (const Codec& c : audio.codecs) pts.push_back(c.payload_type);
  CHECK(pts == std::vector<int>{111, 63, 9, 0, 8, 13, 110, 126});
  const Codec& opus = audio.codecs[0];
  CHECK(opus.name == "opus");
  CHECK(opus.clock_rate == 48000);
  CHECK(opus.channels == 2);
  CHECK(opus.rtcp_fb == std::vector<std::string>{"transport-cc"});
  CHECK(opus.fmtp.parameters == std::vector<FmtpParameter>{{"minptime", "10"}, {"useinbandfec", "1"}});
  CHECK(audio.codecs[1].name == "red");
  CHECK(audio.codecs[1].fmtp.text == "111/111");
  CHECK(audio.codecs[3].name == "PCMU");
  CHECK(audio.codecs[3].clock_rate == 8000);
  CHECK(audio.codecs[3].channels == 0);
  CHECK(audio.codecs[6].name == "telephone-event");
  CHECK(audio.codecs[6].clock_rate == 48000);
  REQUIRE(audio.extmaps.size() == 4);
  CHECK(audio.extmaps[3].id == 4);
  CHECK(audio.extmaps[3].uri == "urn:ietf:params:rtp-hdrext:sdes:mid");
  CHECK(audio.msids == std::vector<Msid>{{"9cb5c967-8352-45aa-a272-859feb9b8c5f",
                                          "6214678e-bb4d-4c3b-a04e-63ca4d467123"}});
  const auto audio_ssrcs = audio.ssrcs();
  REQUIRE(audio_ssrcs.size() == 1);
  CHECK(audio_ssrcs[0].ssrc == 627878897u);
  CHECK(audio_ssrcs[0].cname == "xez1Tggc0t3OoEg8");
  CHECK(audio.attributes == std::vector<Attribute>{{"rtcp", "9 IN IP4 0.0.0.0", true},
                                                   {"rtcp-xr", "rcvr-rtt=all", true}});

  const MediaSection& video = d.media[1];
  CHECK(video.kind == MediaKind::video);
  CHECK(video.port == 45201);
  CHECK(video.mid == "1");
  REQUIRE(video.codecs.size() == 23);
  const Codec* vp8 = video.find_codec("VP8", 90000);
  REQUIRE(vp8);
  CHECK(vp8->payload_type == 96);
  CHECK(vp8->rtcp_fb == std::vector<std::string>{"goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"});
  const Codec* rtx = video.find_codec(97);
  REQUIRE(rtx);
  CHECK(rtx->name == "rtx");
  CHECK(rtx->fmtp.get("apt") == "96");
  const Codec* h264 = video.find_codec(102);
  REQUIRE(h264);
  CHECK(h264->name == "H264");
  CHECK(h264->fmtp.get("profile-level-id") == "42001f");
  CHECK(h264->fmtp.get("packetization-mode") == "1");
  CHECK(video.find_codec(45)->name == "AV1");
  CHECK(video.find_codec(120)->name == "ulpfec");
  REQUIRE(video.extmaps.size() == 11);
  CHECK(video.extmaps[0].id == 14);
  CHECK(video.extmaps[0].uri == "urn:ietf:params:rtp-hdrext:toffset");
  REQUIRE(video.ssrc_groups.size() == 1);
  CHECK(video.ssrc_groups[0] == SsrcGroup{"FID", {3729724417u, 842173130u}});
  const auto video_ssrcs = video.ssrcs();
  REQUIRE(video_ssrcs.size() == 2);
  CHECK(video_ssrcs[1].ssrc == 842173130u);
  CHECK(video_ssrcs[1].msid ==
        "9cb5c967-8352-45aa-a272-859feb9b8c5f 2b581ddf-cdef-4357-a399-1dfaae672cca");

  const MediaSection& data = d.media[2];
  CHECK(data.kind == MediaKind::application);
  CHECK(data.port == 47315);
  CHECK(data.protocol == "UDP/DTLS/SCTP");
  CHECK(data.formats == std::vector<std::string>{"webrtc-datachannel"});
  CHECK(data.is_sctp());
  CHECK_FALSE(data.is_rtp());
  CHECK(data.mid == "2");
  CHECK_FALSE(data.direction);
  CHECK(data.sctp_port == 5000);
  CHECK(data.max_message_size == 262144);
  CHECK(data.codecs.empty());
}

TEST_CASE("sdp chromium: the data-channel-only offer", "[sdp]") {
  const SessionDescription d = parsed(fx::kOfferDataOnly, SdpType::offer);
  CHECK(d.origin.session_id == 3950457893621661628u);
  REQUIRE(d.bundle_group());
  CHECK(d.bundle_group()->mids == std::vector<std::string>{"0"});
  REQUIRE(d.msid_semantic);
  CHECK(d.msid_semantic->semantic == "WMS");
  CHECK(d.msid_semantic->stream_ids.empty());
  REQUIRE(d.media.size() == 1);
  const MediaSection& m = d.media[0];
  CHECK(m.kind == MediaKind::application);
  CHECK(m.port == 39179);
  CHECK(m.ice_ufrag == "F9aV");
  CHECK(m.ice_pwd == "OH59z75DoytH0ZmpSkeoS9s5");
  CHECK(m.candidates.size() == 4);
  CHECK(m.sctp_port == 5000);
  CHECK(m.max_message_size == 262144);
  CHECK(m.attributes.empty());
}

TEST_CASE("sdp chromium: its answer to our offer", "[sdp]") {
  const SessionDescription d = parsed(fx::kAnswerToTandemOffer, SdpType::answer);
  REQUIRE(d.bundle_group());
  CHECK(d.bundle_group()->mids == std::vector<std::string>{"0", "1", "2"});
  REQUIRE(d.media.size() == 3);
  for (const MediaSection& m : d.media) {
    INFO(m.mid);
    CHECK_FALSE(m.rejected());
    CHECK(m.setup == Setup::active);  // Chromium takes the DTLS client role
    CHECK(m.ice_ufrag == "WUSH");
  }
  // Only the BUNDLE-tagged section carries candidates in Chromium's answer.
  CHECK(d.media[0].candidates.size() == 4);
  CHECK(d.media[1].candidates.empty());
  const MediaSection& audio = d.media[0];
  REQUIRE(audio.codecs.size() == 2);
  CHECK(audio.codecs[0].payload_type == 111);
  CHECK(audio.codecs[0].fmtp.text == "minptime=10;useinbandfec=1");
  CHECK(audio.codecs[1].name == "PCMU");
  CHECK(audio.direction == Direction::sendrecv);
  REQUIRE(audio.ssrcs().size() == 1);
  CHECK(audio.ssrcs()[0].ssrc == 1483067247u);
  CHECK(audio.ssrcs()[0].msid.empty());  // this Chromium signals the track by a=msid only
  const MediaSection& video = d.media[1];
  REQUIRE(video.codecs.size() == 1);
  CHECK(video.codecs[0].name == "VP8");
  CHECK(video.codecs[0].rtcp_fb == std::vector<std::string>{"ccm fir", "nack", "nack pli"});
  CHECK(d.media[2].sctp_port == 5000);
  CHECK(d.media[2].max_message_size == 262144);
}

// The fixtures recorded what Chromium said to our descriptions; they only prove something about today's code
// if today's code still makes exactly those descriptions.
TEST_CASE("sdp chromium: Chromium accepted the offer and answers our code still makes", "[sdp]") {
  CHECK(fx::kChromiumAcceptedTandemOffer);
  CHECK(fx::kChromiumAcceptedTandemAnswer);
  CHECK(fx::kChromiumAcceptedTandemAnswerNoAudio);
  const auto offer = create_offer(test::tandem_options());
  REQUIRE(offer);
  INFO("create_offer changed: run tests/browser/capture_chromium_sdp.mjs again");
  CHECK(serialize(*offer) == with_crlf(fx::kTandemOffer));

  const auto answer = create_answer(parsed(fx::kOfferAudioVideoData, SdpType::offer), test::tandem_options());
  REQUIRE(answer);
  CHECK(serialize(*answer) == with_crlf(fx::kTandemAnswer));
  auto no_audio_options = test::tandem_options();
  no_audio_options.audio.reset();
  const auto no_audio = create_answer(parsed(fx::kOfferAudioVideoData2, SdpType::offer), no_audio_options);
  REQUIRE(no_audio);
  CHECK(serialize(*no_audio) == with_crlf(fx::kTandemAnswerNoAudio));
}
