// JSEP offer/answer (RFC 8829, RFC 3264) for what this SDK sends and receives, and what a transport needs
// once both descriptions are known.
//
//   create_offer(options)            our offer: audio, video and/or a data channel, all in one BUNDLE group
//   create_answer(offer, options)    our answer to a remote offer (e.g. Chromium's)
//   negotiate(local, remote)         ICE credentials, DTLS fingerprint and role, SCTP ports, codec payload
//                                    types and remote SSRCs, whichever side offered
//
// What we support, and so offer and accept: Opus 48000/2 (fmtp minptime=10;useinbandfec=1) and PCMU/8000 for
// audio; VP8/90000 with rtcp-fb nack, nack pli, ccm fir (and goog-remb when asked) for video; SCTP data
// channels over DTLS ("UDP/DTLS/SCTP webrtc-datachannel"). rtcp-mux and BUNDLE are required. At most one
// audio, one video and one data section is accepted; further ones are rejected (port 0).
//
// Errors: Errc::invalid_argument for options that cannot make a valid description (missing ICE credentials,
// fingerprint, a sending track without an SSRC); Errc::protocol_error for a remote description that is
// syntactically fine but cannot be negotiated (no ICE credentials or fingerprint, mids that do not match, an
// answer that says actpass, ...). Parse errors (Errc::malformed_packet) come from parse() in sdp.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/transport/sdp/sdp.h"

namespace tandem::transport::sdp {

// Payload types we use when we offer (an answer keeps the offerer's). Chromium uses the same numbers.
inline constexpr uint8_t kOpusPayloadType = 111;
inline constexpr uint8_t kPcmuPayloadType = 0;
inline constexpr uint8_t kVp8PayloadType = 96;
inline constexpr uint16_t kDefaultSctpPort = 5000;
inline constexpr uint64_t kDefaultMaxMessageSize = 262144;
// RFC 8841 section 6.1: a peer that sends no a=max-message-size accepts 64 KiB.
inline constexpr uint64_t kImpliedMaxMessageSize = 65536;

// Our track on an audio or video section: the SSRC we send with and its a=ssrc / a=msid identity.
struct LocalTrack {
  uint32_t ssrc = 0;
  std::string cname;
  std::string stream_id;  // a=msid stream; "-" for none
  std::string track_id;
};

// An audio or video section we want. `direction` is what we would like; an answer narrows it to what the
// offer allows. A direction that sends needs `track`.
struct MediaOptions {
  Direction direction = Direction::sendrecv;
  std::optional<LocalTrack> track;
};

// What both create_offer and create_answer need.
struct LocalDescriptionOptions {
  uint64_t session_id = 0;        // o= session id: random, below 2^63 (RFC 8829 5.2.1); the caller draws it
  uint64_t session_version = 2;   // o= version: increase it for each new description of the session
  std::string ice_ufrag;          // 4-256 ice-chars
  std::string ice_pwd;            // 22-256 ice-chars
  Fingerprint fingerprint;        // of our DTLS certificate, e.g. {"sha-256", "AB:CD:..."}
  std::optional<MediaOptions> audio;  // nullopt: no audio (an answer rejects audio sections)
  std::optional<MediaOptions> video;
  bool data_channel = false;          // an SCTP section for data channels
  bool goog_remb = false;             // offer/accept rtcp-fb goog-remb on VP8
  uint16_t sctp_port = kDefaultSctpPort;
  uint64_t max_message_size = kDefaultMaxMessageSize;  // the largest message we can receive; 0 = no limit
  // Local candidates to include (a=candidate values without the "candidate:" prefix), for a description
  // that is not trickled; with end_of_candidates the section says gathering is complete.
  std::vector<std::string> candidates;
  bool end_of_candidates = false;
};

using OfferOptions = LocalDescriptionOptions;
using AnswerOptions = LocalDescriptionOptions;

// Sections in the order audio, video, application with mids "0", "1", "2" (as Chromium numbers them), all in
// one BUNDLE group, a=setup:actpass, a=ice-options:trickle, rtcp-mux and rtcp-rsize on RTP sections.
Result<SessionDescription> create_offer(const OfferOptions& options);

// The same mids in the same order; accepted sections keep the offerer's payload type numbers and fmtp (codecs
// intersected with ours, in the offerer's order; rtcp-fb narrowed to ours), header extensions are dropped,
// a=setup is active when the offer says actpass or passive (we are the DTLS client) and passive when it says
// active or nothing (RFC 4145 default); the direction is the complement of the offer's narrowed by ours, and our
// track's a=msid / a=ssrc lines appear only when we send. Rejected with port 0 (the offer's m= line and mid
// kept): sections we do not support (other kinds, other protocols than UDP/TLS/RTP/SAVPF and UDP/DTLS/SCTP
// webrtc-datachannel, no rtcp-mux), sections whose codecs have nothing in common with ours, a second section of
// a kind, sections the offer rejected, sections without ICE credentials or a fingerprint (at either level).
// We run one transport: with a BUNDLE group in the offer only its sections are accepted, without one only the
// first acceptable section. The answer's BUNDLE group lists the accepted sections of the offer's group, in its
// order. The data section carries our sctp-port and min(ours, the offer's) max-message-size (0 = no limit,
// absent = 65536).
// Errors: invalid_argument (bad options, `offer` is not an offer), protocol_error (a section without a=mid, or
// two with the same one).
Result<SessionDescription> create_answer(const SessionDescription& offer, const AnswerOptions& options);

enum class DtlsRole : uint8_t { client, server };

// What an audio or video section negotiated. Codec lists come from the answer (the negotiated set, with the
// offerer's payload type numbers).
struct NegotiatedMedia {
  std::string mid;
  MediaKind kind = MediaKind::audio;
  Direction direction = Direction::inactive;   // ours: sendonly means we send and do not receive
  std::vector<Codec> codecs;
  std::optional<uint8_t> opus_payload_type;
  std::optional<uint8_t> pcmu_payload_type;
  std::optional<uint8_t> vp8_payload_type;
  std::vector<SsrcInfo> remote_ssrcs;           // from the remote a=ssrc lines
  std::vector<SsrcGroup> remote_ssrc_groups;    // remote a=ssrc-group (FID: a stream and its RTX stream)
  std::vector<Extmap> extmaps;                  // header extensions of the answer
  bool rtcp_mux = false;
  bool rtcp_rsize = false;
};

// The data channel section, when one was accepted.
struct NegotiatedSctp {
  std::string mid;
  uint16_t local_port = kDefaultSctpPort;
  uint16_t remote_port = kDefaultSctpPort;
  // The largest message the remote accepts (what we may send): its a=max-message-size, 65536 when absent,
  // 0 for no limit (RFC 8841 section 6).
  uint64_t remote_max_message_size = kImpliedMaxMessageSize;
};

// What a transport needs once both descriptions are known. With BUNDLE the transport is the one of the first
// accepted mid in the group (RFC 8843 "offerer tagged" section), so ICE, DTLS and candidates come from that
// section of the remote description (or its session level).
struct NegotiatedSession {
  std::string transport_mid;        // the section whose transport everything shares
  std::vector<std::string> bundle;  // mids in the negotiated BUNDLE group (empty without BUNDLE)
  std::string remote_ice_ufrag;
  std::string remote_ice_pwd;
  bool remote_ice_lite = false;
  bool remote_trickle = false;      // the remote said a=ice-options:trickle
  Fingerprint remote_fingerprint;   // the first the remote listed
  std::vector<Fingerprint> remote_fingerprints;  // all of them, in order (RFC 8122 allows several)
  DtlsRole local_dtls_role = DtlsRole::client;
  std::vector<std::string> remote_candidates;  // a=candidate values of the transport section, in order
  bool remote_end_of_candidates = false;
  std::vector<NegotiatedMedia> media;  // accepted audio and video sections, in m= order
  std::optional<NegotiatedSctp> sctp;

  const NegotiatedMedia* find(MediaKind kind) const;  // the first accepted section of this kind
};

// `local` and `remote` must be one offer and one answer (either way round; a pranswer counts as an answer),
// with the same mids in the same order. Errors: Errc::invalid_argument (two offers or two answers), Errc::protocol_error.
Result<NegotiatedSession> negotiate(const SessionDescription& local, const SessionDescription& remote);

}  // namespace tandem::transport::sdp
