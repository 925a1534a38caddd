// The SDP parser and serializer on small hand-written descriptions: line endings, what is interpreted, what is
// kept, what is refused (with its line number). Chromium's own descriptions are in sdp_chromium_test.cpp.
#include <string>

#include <catch2/catch.hpp>

#include "core/transport/sdp/sdp.h"

using namespace tandem::transport::sdp;
using tandem::Errc;

namespace {

// A small audio + data offer in the shape WebRTC stacks send.
const char* const kSmall =
    "v=0\r\n"
    "o=- 123456789 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE a d\r\n"
    "a=msid-semantic: WMS s1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 101\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "b=AS:64\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:abcd\r\n"
    "a=ice-pwd:0123456789abcdefghijkl\r\n"
    "a=ice-options:trickle renomination\r\n"
    "a=fingerprint:sha-256 AB:CD:EF:01\r\n"
    "a=setup:actpass\r\n"
    "a=mid:a\r\n"
    "a=extmap:1/sendonly urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on\r\n"
    "a=sendonly\r\n"
    "a=msid:s1 t1\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=rtcp-fb:111 transport-cc\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=rtpmap:99 unlisted/90000\r\n"
    "a=rtcp-fb:* nack\r\n"
    "a=ssrc-group:FID 1 2\r\n"
    "a=ssrc:1 cname:c1\r\n"
    "a=ssrc:1 msid:s1 t1\r\n"
    "a=ssrc:2 cname:c1\r\n"
    "a=candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host generation 0\r\n"
    "a=end-of-candidates\r\n"
    "a=x-unknown:some value\r\n"
    "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=bundle-only\r\n"
    "a=mid:d\r\n"
    "a=sctp-port:5000\r\n"
    "a=max-message-size:262144\r\n";

std::string with_lf(std::string text) {
  std::string out;
  for (const char c : text) {
    if (c != '\r') out += c;
  }
  return out;
}

// Replaces the first occurrence of `from` (which must exist) by `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

Errc parse_code(const std::string& text) { return parse(text).code(); }

}  // namespace

TEST_CASE("sdp parse: session and media fields are interpreted", "[sdp]") {
  const auto parsed = parse(kSmall, SdpType::offer);
  REQUIRE(parsed);
  const SessionDescription& d = *parsed;
  CHECK(d.type == SdpType::offer);
  CHECK(d.origin.username == "-");
  CHECK(d.origin.session_id == 123456789);
  CHECK(d.origin.session_version == 2);
  CHECK(d.origin.address == "127.0.0.1");
  REQUIRE(d.bundle_group());
  CHECK(d.bundle_group()->mids == std::vector<std::string>{"a", "d"});
  REQUIRE(d.msid_semantic);
  CHECK(d.msid_semantic->semantic == "WMS");
  CHECK(d.msid_semantic->stream_ids == std::vector<std::string>{"s1"});
  REQUIRE(d.media.size() == 2);

  const MediaSection& a = d.media[0];
  CHECK(a.kind == MediaKind::audio);
  CHECK(a.port == 9);
  CHECK(a.protocol == "UDP/TLS/RTP/SAVPF");
  CHECK(a.formats == std::vector<std::string>{"111", "0", "101"});
  CHECK(a.is_rtp());
  CHECK_FALSE(a.rejected());
  REQUIRE(a.connection);
  CHECK(a.connection->address == "0.0.0.0");
  CHECK(a.mid == "a");
  CHECK(a.direction == Direction::sendonly);
  CHECK(a.ice_ufrag == "abcd");
  CHECK(a.ice_pwd == "0123456789abcdefghijkl");
  CHECK(a.ice_options == std::vector<std::string>{"trickle", "renomination"});
  REQUIRE(a.fingerprints.size() == 1);
  CHECK(a.fingerprints[0] == Fingerprint{"sha-256", "AB:CD:EF:01"});
  CHECK(a.setup == Setup::actpass);
  CHECK(a.rtcp_mux);
  CHECK_FALSE(a.rtcp_rsize);
  REQUIRE(a.codecs.size() == 3);  // one per listed payload type, in m= order
  const Codec& opus = a.codecs[0];
  CHECK(opus.payload_type == 111);
  CHECK(opus.name == "opus");
  CHECK(opus.clock_rate == 48000);
  CHECK(opus.channels == 2);
  CHECK(opus.fmtp.text == "minptime=10;useinbandfec=1");
  REQUIRE(opus.fmtp.parameters.size() == 2);
  CHECK(opus.fmtp.parameters[1] == FmtpParameter{"useinbandfec", "1"});
  CHECK(opus.fmtp.get("MINPTIME") == "10");
  CHECK_FALSE(opus.fmtp.get("stereo"));
  CHECK(opus.rtcp_fb == std::vector<std::string>{"transport-cc"});
  CHECK(a.codecs[1].payload_type == 0);
  CHECK(a.codecs[1].name.empty());  // static PCMU without a=rtpmap
  CHECK(a.codecs[2].name == "telephone-event");
  CHECK(a.codecs[2].channels == 0);
  CHECK(a.find_codec("OPUS", 48000) == &opus);
  REQUIRE(a.extmaps.size() == 1);
  CHECK(a.extmaps[0].id == 1);
  CHECK(a.extmaps[0].direction == Direction::sendonly);
  CHECK(a.extmaps[0].uri == "urn:ietf:params:rtp-hdrext:ssrc-audio-level");
  CHECK(a.extmaps[0].attributes == "vad=on");
  REQUIRE(a.msids.size() == 1);
  CHECK(a.msids[0] == Msid{"s1", "t1"});
  REQUIRE(a.ssrc_groups.size() == 1);
  CHECK(a.ssrc_groups[0] == SsrcGroup{"FID", {1, 2}});
  REQUIRE(a.ssrc_attributes.size() == 3);
  CHECK(a.ssrc_attributes[1] == SsrcAttribute{1, "msid", "s1 t1", true});
  const auto ssrcs = a.ssrcs();
  REQUIRE(ssrcs.size() == 2);
  CHECK(ssrcs[0].ssrc == 1);
  CHECK(ssrcs[0].cname == "c1");
  CHECK(ssrcs[0].msid == "s1 t1");
  CHECK(ssrcs[1].ssrc == 2);
  CHECK(ssrcs[1].msid.empty());
  CHECK(a.candidates == std::vector<std::string>{"1 1 udp 2122260223 192.0.2.1 50000 typ host generation 0"});
  CHECK(a.end_of_candidates);
  // Kept as they are: a=rtcp, an rtpmap for an unlisted payload type, rtcp-fb for "*", an unknown attribute.
  CHECK(a.attributes == std::vector<Attribute>{{"rtcp", "9 IN IP4 0.0.0.0", true},
                                               {"rtpmap", "99 unlisted/90000", true},
                                               {"rtcp-fb", "* nack", true},
                                               {"x-unknown", "some value", true}});
  CHECK(a.other_lines == std::vector<Line>{{'b', "AS:64"}});

  const MediaSection& app = d.media[1];
  CHECK(app.kind == MediaKind::application);
  CHECK(app.port == 0);
  CHECK(app.bundle_only);
  CHECK_FALSE(app.rejected());  // port 0 with bundle-only is not a rejection
  CHECK(app.is_sctp());
  CHECK(app.codecs.empty());
  CHECK(app.formats == std::vector<std::string>{"webrtc-datachannel"});
  CHECK(app.sctp_port == 5000);
  CHECK(app.max_message_size == 262144);
  CHECK(app.effective_direction() == Direction::sendrecv);
  CHECK(d.find_media("d") == &app);
  CHECK(d.find_media("x") == nullptr);
}

TEST_CASE("sdp parse: \\n and \\r\\n line endings give the same description", "[sdp]") {
  const auto crlf = parse(kSmall);
  const auto lf = parse(with_lf(kSmall));
  REQUIRE(crlf);
  REQUIRE(lf);
  CHECK(*crlf == *lf);
  // No final line break, and blank lines, are fine too.
  std::string trimmed = with_lf(kSmall);
  trimmed.pop_back();
  const auto unterminated = parse(replaced(trimmed, "s=-\n", "s=-\n\n"));
  REQUIRE(unterminated);
  CHECK(*unterminated == *crlf);
}

TEST_CASE("sdp serialize: round trip of the hand-written description is exact", "[sdp]") {
  const auto d = parse(kSmall);
  REQUIRE(d);
  const std::string text = serialize(*d);
  // The order of kSmall is the serializer's order, except that kept attributes come first in a section.
  const auto again = parse(text);
  REQUIRE(again);
  CHECK(*again == *d);
  CHECK(serialize(*again) == text);
  CHECK(text.find("\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0 101\r\nc=IN IP4 0.0.0.0\r\nb=AS:64\r\na=rtcp:9") !=
        std::string::npos);
  CHECK(text.find("a=extmap:1/sendonly urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on\r\n") != std::string::npos);
  CHECK(text.find("a=msid-semantic: WMS s1\r\n") != std::string::npos);
  CHECK(text.find("\n\n") == std::string::npos);
}

TEST_CASE("sdp parse: session attributes, session-level transport values, kept lines", "[sdp]") {
  const std::string text =
      "v=0\n"
      "o=alice 1 1 IN IP6 ::1\n"
      "s=call\n"
      "i=info\n"
      "c=IN IP4 203.0.113.1\n"
      "t=0 0\n"
      "t=10 20\n"
      "z=1 -1h\n"
      "a=ice-lite\n"
      "a=ice-ufrag:sess\n"
      "a=ice-pwd:sessionpasswordsession\n"
      "a=ice-options:trickle\n"
      "a=fingerprint:sha-1 00:11\n"
      "a=fingerprint:sha-256 22:33\n"
      "a=setup:passive\n"
      "a=extmap-allow-mixed\n"
      "a=tool:\n"
      "m=video 4000/2 RTP/AVP 31\n"
      "a=ice-ufrag:medi\n"
      "m=text 0 RTP/AVP 98\n"
      "y=unknown letter\n";
  const auto d = parse(text, SdpType::answer);
  REQUIRE(d);
  CHECK(d->type == SdpType::answer);
  CHECK(d->origin.username == "alice");
  CHECK(d->origin.address_type == "IP6");
  CHECK(d->session_name == "call");
  CHECK(d->timing == "0 0");
  REQUIRE(d->connection);
  CHECK(d->connection->address == "203.0.113.1");
  CHECK(d->other_lines == std::vector<Line>{{'i', "info"}, {'t', "10 20"}, {'z', "1 -1h"}});
  CHECK(d->ice_lite);
  CHECK(d->attributes == std::vector<Attribute>{{"extmap-allow-mixed", "", false}, {"tool", "", true}});
  REQUIRE(d->media.size() == 2);
  const MediaSection& v = d->media[0];
  CHECK(v.port == 4000);
  CHECK(v.port_count == 2);
  CHECK(effective_ice_ufrag(*d, v) == "medi");  // the section's own value wins
  CHECK(effective_ice_pwd(*d, v) == "sessionpasswordsession");
  CHECK(effective_ice_options(*d, v) == std::vector<std::string>{"trickle"});
  REQUIRE(effective_fingerprints(*d, v).size() == 2);
  CHECK(effective_fingerprints(*d, v)[1].algorithm == "sha-256");
  CHECK(effective_setup(*d, v) == Setup::passive);
  const MediaSection& t = d->media[1];
  CHECK(t.kind == MediaKind::other);
  CHECK(t.kind_text == "text");
  CHECK(t.rejected());
  CHECK(t.other_lines == std::vector<Line>{{'y', "unknown letter"}});

  const std::string out = serialize(*d);
  CHECK(out.find("s=call\r\ni=info\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\nt=10 20\r\nz=1 -1h\r\n") != std::string::npos);
  CHECK(out.find("m=video 4000/2 RTP/AVP 31\r\n") != std::string::npos);
  CHECK(out.find("a=tool:\r\n") != std::string::npos);
  CHECK(out.find("a=extmap-allow-mixed\r\n") != std::string::npos);
  const auto again = parse(out, SdpType::answer);
  REQUIRE(again);
  CHECK(*again == *d);
}

TEST_CASE("sdp parse: errors say which line and why", "[sdp]") {
  const auto bad_pt = parse(replaced(kSmall, "111 0 101", "111 0 300"));
  REQUIRE_FALSE(bad_pt);
  CHECK(bad_pt.code() == Errc::malformed_packet);
  CHECK(bad_pt.error().message.rfind("line 7: ", 0) == 0);  // the m= line

  const auto bad_rtpmap = parse(with_lf(replaced(kSmall, "a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus/x/2")));
  REQUIRE_FALSE(bad_rtpmap);
  CHECK(bad_rtpmap.error().message.rfind("line 21: ", 0) == 0);
  CHECK(bad_rtpmap.error().message.find("clock rate") != std::string::npos);

  CHECK(parse("").code() == Errc::malformed_packet);
  CHECK(parse("\r\n\r\n").code() == Errc::malformed_packet);
  CHECK(parse("hello world").code() == Errc::malformed_packet);
}

TEST_CASE("sdp parse: strict on the lines it interprets", "[sdp]") {
  const std::string s = kSmall;
  CHECK(parse_code(s) == Errc::ok);
  const std::vector<std::pair<std::string, std::string>> broken = {
      {"v=0", "v=1"},                                          // version
      {"o=- 123456789 2 IN IP4 127.0.0.1", "o=- 123456789 2 IN IP4"},   // o= fields
      {"o=- 123456789 2", "o=- 12345678x 2"},                  // session id
      {"o=- 123456789 2", "o=- 123456789 18446744073709551616"},  // version above 64 bits
      {"s=-\r\n", ""},                                         // no s=
      {"t=0 0\r\n", ""},                                       // no t=
      {"m=audio 9 UDP", "m=audio 70000 UDP"},                  // port
      {"m=audio 9 UDP", "m=audio 9/0 UDP"},                    // port count
      {" 111 0 101\r\n", "\r\n"},                              // m= without formats
      {"111 0 101", "111 0 111"},                              // a payload type twice
      {"111 0 101", "111 0 -1"},                               // negative payload type
      {"c=IN IP4 0.0.0.0\r\nb=", "c=IN IP4\r\nb="},            // c= fields
      {"b=AS:64", "c=IN IP4 0.0.0.0"},                         // a second c=
      {"a=ice-ufrag:abcd", "a=ice-ufrag:abc"},                 // ufrag too short
      {"a=ice-pwd:0123456789abcdefghijkl", "a=ice-pwd:0123456789abcdefghijk!"},  // not ice-chars
      {"a=ice-options:trickle renomination", "a=ice-options:"},
      {"a=fingerprint:sha-256 AB:CD:EF:01", "a=fingerprint:sha-256 AB:CD:EF:0"},
      {"a=fingerprint:sha-256 AB:CD:EF:01", "a=fingerprint:sha-256 AB:CD:EF:0G"},
      {"a=fingerprint:sha-256 AB:CD:EF:01", "a=fingerprint:AB:CD:EF:01"},
      {"a=setup:actpass", "a=setup:both"},
      {"a=mid:a\r\n", "a=mid:a\r\na=mid:b\r\n"},                // two mids
      {"a=mid:a", "a=mid:a b"},                                // not a token
      {"a=sendonly", "a=sendonly\r\na=recvonly"},              // two directions
      {"a=sendonly", "a=sendonly:yes"},
      {"a=rtcp-mux", "a=rtcp-mux\r\na=rtcp-mux"},
      {"a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus/48000/2\r\na=rtpmap:111 opus/48000/2"},
      {"a=rtpmap:111 opus/48000/2", "a=rtpmap:128 opus/48000/2"},
      {"a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus"},
      {"a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus/0"},
      {"a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus/48000/0"},
      {"a=rtpmap:111 opus/48000/2", "a=rtpmap:111 /48000"},
      {"a=fmtp:111 minptime=10;useinbandfec=1", "a=fmtp:abc minptime=10"},
      {"a=fmtp:111 minptime=10;useinbandfec=1", "a=fmtp:111 "},
      {"a=rtcp-fb:111 transport-cc", "a=rtcp-fb:1111 transport-cc"},
      {"a=extmap:1/sendonly", "a=extmap:0"},
      {"a=extmap:1/sendonly", "a=extmap:256"},
      {"a=extmap:1/sendonly", "a=extmap:1/sideways"},
      {"a=ssrc:1 cname:c1", "a=ssrc:4294967296 cname:c1"},
      {"a=ssrc:1 cname:c1", "a=ssrc:1"},
      {"a=ssrc-group:FID 1 2", "a=ssrc-group:FID 1 x"},
      {"a=msid:s1 t1", "a=msid:s1 t1 extra"},
      {"a=candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host generation 0", "a=candidate: "},
      {"a=sctp-port:5000", "a=sctp-port:port"},
      {"a=max-message-size:262144", "a=max-message-size:-1"},
      {"a=group:BUNDLE a d", "a=group:"},
      {"a=msid-semantic: WMS s1", "a=msid-semantic: "},
      {"a=mid:d", "s=second"},                                 // session-level line in a section
      {"a=mid:d", "a=mid:d\x01"},                              // control characters
      {"a=mid:d", "A=mid:d"},                                  // not a lower-case type letter
      {"a=mid:d", "amid:d"},
  };
  for (const auto& [from, to] : broken) {
    INFO(from << " -> " << to);
    const auto r = parse(replaced(s, from, to));
    CHECK(r.code() == Errc::malformed_packet);
  }
}

TEST_CASE("sdp parse: tolerant of what it does not interpret", "[sdp]") {
  const std::string s = kSmall;
  const std::vector<std::pair<std::string, std::string>> fine = {
      {"a=x-unknown:some value", "a=x-unknown"},               // unknown flag
      {"a=x-unknown:some value", "a=x-unknown:"},              // empty value
      {"a=x-unknown:some value", "q=anything goes"},           // unknown line type
      {"a=rtpmap:99 unlisted/90000", "a=rtpmap:99 other/8000/1"},  // rtpmap for an unlisted payload type
      {"a=rtcp-fb:* nack", "a=fmtp:98 x=y"},                   // fmtp for an unlisted payload type
      {"a=extmap:1/sendonly urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on", "a=extmap:4351 urn:x"},
      {"a=ssrc:2 cname:c1", "a=ssrc:2 x-flag"},                // ssrc attribute without a value
      {"m=application 0 UDP/DTLS/SCTP webrtc-datachannel", "m=application 0 DTLS/SCTP 5000"},  // legacy, kept
      {"a=sctp-port:5000", "a=sctpmap:5000 webrtc-datachannel 1024"},
      {"a=mid:d", "a=mid:d\r\na=fmtp:webrtc-datachannel max-message-size=100"},  // non-RTP fmtp is kept
  };
  for (const auto& [from, to] : fine) {
    INFO(from << " -> " << to);
    const auto r = parse(replaced(s, from, to));
    REQUIRE(r);
    const auto again = parse(serialize(*r));
    REQUIRE(again);
    CHECK(*again == *r);
  }
}
