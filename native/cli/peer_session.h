// `tandem peer`: one peer connection driven through the public API, signalled over JSON lines.
//
// Lifecycle. The offerer creates its data channel and tracks, sends {"type":"offer"} and then its candidates;
// the answerer waits for the offer, adds tracks with the payload types the offer chose, answers, then sends its
// candidates (candidates wait until our description is out, because browsers reject candidates that precede
// the description). Once connected the peer captures a tone / pattern in real time, sends --send messages
// under flow control (bufferedAmount), echoes with --echo, and counts what arrives.
//
// Ending. When our own expectations are met (connected, channel open if we have one, every message sent and
// handed to SCTP, every --expect-* count reached) we send {"type":"bye"} and keep serving -- echoing, sending
// media -- until the other side is done too (its "bye", the end of signalling, or its closing the connection
// after its bye). Then exit 0. A timeout, a failed connection or a message that fails its check exits 1 with
// the reason on stderr; bad input (malformed JSON, bad SDP or candidates, a message of the wrong role) exits 2.
//
// Addresses: the core binds one UDP socket per --bind address (CreatePeerRequest.bind_addresses), or with
// --bind all one per interface; each socket is a host candidate.
//
// peer_session.cpp: setup, signalling, time-driven work, the end. peer_events.cpp: the core's events.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api_client.h"
#include "generators.h"
#include "json_line.h"
#include "signalling.h"

namespace tandem::cli {

enum ExitCode : int { kExitOk = 0, kExitFailed = 1, kExitBadInput = 2 };
// The most messages --send sends; a received sequence number at or above it is not one of anybody's.
inline constexpr uint32_t kMaxSendCount = 1'000'000;

struct PeerOptions {
  bool offerer = true;
  Signalling::Mode signal_mode = Signalling::Mode::stdio;
  std::string signal_path;
  std::vector<std::string> bind = {"127.0.0.1"};  // host candidate addresses; "all": every interface
  std::string channel = "data";
  uint32_t send_count = 0;
  size_t size_min = 1000, size_max = 1000;
  bool echo = false;
  bool verify = false;  // check every received message (implied by --send: what comes back are our echoes)
  std::optional<api::AudioCodec> audio;
  bool video = false;
  uint64_t expect_messages = 0, expect_audio_frames = 0, expect_video_frames = 0;
  uint32_t timeout_ms = 30000;
  bool stats = false;
  bool verbose = false;
};

class PeerSession {
 public:
  // `started_ns` (monotonic_ns()): when the program started; the timeout and event times count from there.
  PeerSession(const PeerOptions& options, ApiClient& api, Signalling& signalling, uint64_t started_ns);
  // Runs until done; returns the exit code.
  int run();

 private:
  bool start();
  bool call(const api::FfiRequest& request, api::FfiResponse& response, const char* what, int code = kExitFailed);
  void finish(int code, const std::string& reason);
  JsonWriter event(const char* name) const;  // {"event":name,"ms":<since start>, ...}
  void emit(const JsonWriter& event);        // an event line on stderr
  void say(const std::string& text);         // a human-readable line on stderr
  void signal(const JsonWriter& message);
  void signal_candidate(const std::string& candidate);  // "" = end of candidates

  // signalling
  void on_signal_line(const std::string& line);
  void on_remote_description(bool offer, const std::string& sdp);
  bool add_tracks(const std::string* remote_offer);
  void send_description(bool offer, const std::string& sdp);
  void on_remote_bye(const char* how);

  // events
  void on_event(const std::string& bytes);
  void on_peer_event(const api::PeerEvent& e);
  void on_remote_track(const api::RemoteTrack& track);
  void on_channel_open(uint64_t channel, const std::string& label);
  void on_message(const api::DataChannelMessageEvent& m);

  // time-driven work
  void tick(uint64_t now);
  void capture(uint64_t now);
  void send_messages();
  bool own_expectations_met() const;
  std::string progress() const;
  void print_stats();

  // Flow control of --send: stop above kHighWater buffered bytes, resume at kLowWater (BUFFERED_AMOUNT_LOW).
  static constexpr uint64_t kHighWater = 1u << 20;
  static constexpr uint64_t kLowWater = 256u << 10;

  bool verifying() const { return o_.verify || o_.send_count > 0; }

  const PeerOptions& o_;
  ApiClient& api_;
  Signalling& sig_;
  const uint64_t started_ns_;
  const uint64_t deadline_ns_;

  uint64_t peer_ = 0, session_ = 0;
  uint64_t audio_source_ = 0, video_source_ = 0, audio_stream_ = 0, video_stream_ = 0;
  std::string local_mid_ = "0";
  bool description_sent_ = false, have_remote_description_ = false;
  std::vector<std::string> pending_candidates_;  // held until our description is out ("" = end of them)
  bool signalling_open_ = true;

  uint64_t t0_ns_ = 0;  // offer created (offerer) / offer received (answerer)
  bool connected_ = false;
  std::optional<double> connect_ms_, dtls_ms_;
  std::map<uint64_t, std::string> labels_;  // DATA_CHANNEL handle -> label
  uint64_t channel_ = 0;                    // the channel we send on: ours, or the first the remote side opened
  bool channel_open_ = false;
  // From SendDataResponse and BUFFERED_AMOUNT_LOW events, so it may go stale: an event published before a send
  // can be read after that send's response. Hence drained_, set once an amount of 0 is seen after the last send
  // (a stale 0 can only make us report done early; the other side still counts what it receives).
  uint64_t buffered_ = 0;
  bool drained_ = false;
  bool waiting_low_ = false;

  uint32_t sent_ = 0;
  uint64_t bytes_sent_ = 0, received_ = 0, bytes_received_ = 0, verified_ = 0, echoed_ = 0;
  std::vector<bool> seen_;  // sequence numbers of verified messages
  uint64_t audio_decoded_ = 0, audio_concealed_ = 0, video_frames_ = 0;
  double audio_rms_sum_ = 0;
  uint32_t video_width_ = 0, video_height_ = 0;

  ToneGenerator tone_;
  PatternGenerator pattern_{320, 240};
  uint64_t next_audio_ns_ = 0, next_video_ns_ = 0, next_progress_ns_ = 0;
  std::string message_;  // reused for outgoing messages

  bool done_ = false, bye_sent_ = false, remote_done_ = false;
  bool finished_ = false;
  int exit_code_ = kExitOk;
};

}  // namespace tandem::cli
