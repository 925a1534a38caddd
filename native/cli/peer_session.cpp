#include "peer_session.h"

#include <poll.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "monotonic.h"
#include "text_scan.h"

namespace tandem::cli {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kAudioPeriodNs = 20 * kMs;
constexpr uint64_t kVideoPeriodNs = 1'000'000'000 / 30;
constexpr uint64_t kProgressPeriodNs = 2000 * kMs;

std::string excerpt(const std::string& line) { return line.size() <= 120 ? line : line.substr(0, 117) + "..."; }

}  // namespace

PeerSession::PeerSession(const PeerOptions& options, ApiClient& api, Signalling& signalling, uint64_t started_ns)
    : o_(options),
      api_(api),
      sig_(signalling),
      started_ns_(started_ns),
      deadline_ns_(started_ns_ + options.timeout_ms * kMs),
      tone_(options.offerer ? 440.0 : 660.0) {}

// ---- output ---------------------------------------------------------------------------------------------------

JsonWriter PeerSession::event(const char* name) const {
  JsonWriter w;
  w.add("event", name);
  w.add("ms", std::round(static_cast<double>(monotonic_ns() - started_ns_) / 1e5) / 10);
  return w;
}

void PeerSession::emit(const JsonWriter& event) {
  const std::string line = event.line();
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void PeerSession::say(const std::string& text) { std::fprintf(stderr, "tandem: %s\n", text.c_str()); }

void PeerSession::signal(const JsonWriter& message) {
  if (signalling_open_ && !sig_.write_line(message.line())) {
    signalling_open_ = false;
    on_remote_bye("signalling closed");
  }
}

void PeerSession::signal_candidate(const std::string& candidate) {
  if (candidate.empty()) {
    signal(JsonWriter().add("type", "end-of-candidates"));
    return;
  }
  signal(JsonWriter()
             .add("type", "candidate")
             .add("candidate", candidate)
             .add("sdpMid", local_mid_)
             .add("sdpMLineIndex", 0));
}

void PeerSession::finish(int code, const std::string& reason) {
  if (finished_) return;
  finished_ = true;
  exit_code_ = code;
  if (!reason.empty()) {
    emit(event("failure").add("code", code).add("reason", reason));
    std::fprintf(stderr, "tandem: error: %s\n", reason.c_str());
  }
}

bool PeerSession::call(const api::FfiRequest& request, api::FfiResponse& response, const char* what, int code) {
  std::string error;
  if (api_.call(request, response, error)) return true;
  finish(code, std::string(what) + ": " + error);
  return false;
}

// ---- setup and signalling ------------------------------------------------------------------------------------

bool PeerSession::start() {
  api::FfiRequest req;
  api::FfiResponse resp;
  auto* filter = req.mutable_subscribe()->mutable_filter();
  for (auto kind :
       {api::PEER_EVENT, api::DATA_CHANNEL_STATE, api::DATA_CHANNEL_MESSAGE, api::AUDIO_FRAME, api::VIDEO_FRAME})
    filter->add_kinds(kind);
  req.mutable_subscribe()->set_queue_capacity(1u << 16);
  if (!call(req, resp, "subscribe")) return false;

  // Sockets: one per --bind address (any free port), or with --bind all one per interface, loopback included.
  const bool all = std::find(o_.bind.begin(), o_.bind.end(), "all") != o_.bind.end();
  req.Clear();
  auto* create = req.mutable_create_peer();
  create->set_use_platform_sockets(true);
  if (all) {
    create->set_include_loopback(true);
  } else {
    for (const auto& b : o_.bind) {  // "ip", "ipv6" or "[ipv6]" (main.cpp checked it) -> "ip:0" / "[ipv6]:0"
      const bool bare_v6 = b.find(':') != std::string::npos && b.front() != '[';
      create->add_bind_addresses(bare_v6 ? "[" + b + "]:0" : b + ":0");
    }
  }
  if (!call(req, resp, "create_peer", kExitBadInput)) return false;
  peer_ = resp.create_peer().peer();
  session_ = resp.create_peer().media_session();
  std::string addresses;
  for (const auto& a : resp.create_peer().local_addresses()) addresses += (addresses.empty() ? "" : " ") + a;
  emit(event("peer_created")
           .add("role", o_.offerer ? "offer" : "answer")
           .add("sockets", addresses)
           .add("fingerprint", resp.create_peer().fingerprint()));

  if (!o_.offerer) return true;  // the answerer waits for the offer
  if (!add_tracks(nullptr)) return false;
  req.Clear();
  req.mutable_create_data_channel()->set_peer(peer_);
  req.mutable_create_data_channel()->mutable_init()->set_label(o_.channel);
  if (!call(req, resp, "create_data_channel")) return false;
  channel_ = resp.create_data_channel().channel();
  labels_[channel_] = o_.channel;
  req.Clear();
  req.mutable_create_offer()->set_peer(peer_);
  t0_ns_ = monotonic_ns();
  if (!call(req, resp, "create_offer")) return false;
  send_description(true, resp.create_offer().sdp());
  return true;
}

// Sources for --audio / --video and their tracks. An answerer uses the payload types the offer chose.
bool PeerSession::add_tracks(const std::string* remote_offer) {
  api::FfiRequest req;
  api::FfiResponse resp;
  auto payload_type = [&](const char* codec, uint32_t& pt) {
    if (!remote_offer) return true;
    const auto offered = payload_type_in(*remote_offer, codec);
    if (!offered) finish(kExitFailed, std::string("the offer has no ") + codec + ": cannot send it");
    pt = offered.value_or(0);
    return offered.has_value();
  };
  if (o_.audio) {
    const char* codec = *o_.audio == api::PCMU ? "PCMU" : "opus";
    uint32_t pt = 0;
    if (!payload_type(codec, pt)) return false;
    req.mutable_create_audio_source()->set_session(session_);
    req.mutable_create_audio_source()->set_codec(*o_.audio);
    req.mutable_create_audio_source()->set_payload_type(pt);
    if (!call(req, resp, "create_audio_source")) return false;
    audio_source_ = resp.create_audio_source().source();
    req.Clear();
    req.mutable_add_track()->set_peer(peer_);
    req.mutable_add_track()->set_source(audio_source_);
    if (!call(req, resp, "add_track (audio)")) return false;
  }
  if (o_.video) {
    uint32_t pt = 0;
    if (!payload_type("VP8", pt)) return false;
    req.Clear();
    auto* v = req.mutable_create_video_source();
    v->set_session(session_);
    v->set_payload_type(pt);
    v->set_framerate(30);
    v->set_keyframe_interval(90);  // a keyframe every 3 s besides those PLI asks for
    if (!call(req, resp, "create_video_source")) return false;
    video_source_ = resp.create_video_source().source();
    req.Clear();
    req.mutable_add_track()->set_peer(peer_);
    req.mutable_add_track()->set_source(video_source_);
    if (!call(req, resp, "add_track (video)")) return false;
  }
  return true;
}

void PeerSession::send_description(bool offer, const std::string& sdp) {
  local_mid_ = first_mid(sdp);
  signal(JsonWriter().add("type", offer ? "offer" : "answer").add("sdp", sdp));
  description_sent_ = true;
  emit(event(offer ? "offer_sent" : "answer_sent").add("bytes", sdp.size()));
  for (const auto& c : pending_candidates_) signal_candidate(c);
  pending_candidates_.clear();
}

void PeerSession::on_signal_line(const std::string& line) {
  if (line.find_first_not_of(" \t") == std::string::npos) return;
  std::string error;
  const auto message = JsonObject::parse(line, error);
  if (!message) return finish(kExitBadInput, "malformed JSON on signalling (" + error + "): " + excerpt(line));
  // RTCIceCandidate.toJSON() has no "type": a message with a "candidate" string is a candidate, so a page may
  // relay toJSON() as it is.
  auto type = message->string("type");
  if (!type && message->string("candidate")) type = "candidate";
  if (!type) return finish(kExitBadInput, "signalling message without a string \"type\": " + excerpt(line));
  if (*type == "offer" || *type == "answer") {
    const bool offer = *type == "offer";
    if (offer == o_.offerer)
      return finish(kExitBadInput, "received an " + *type + " but we are the " + (o_.offerer ? "offerer" : "answerer"));
    if (have_remote_description_) return finish(kExitBadInput, "a second description: renegotiation is not supported");
    const auto sdp = message->string("sdp");
    if (!sdp) return finish(kExitBadInput, "an " + *type + " without a string \"sdp\"");
    return on_remote_description(offer, *sdp);
  }
  if (*type == "candidate" || *type == "end-of-candidates") {
    // A browser's end-of-candidates is a candidate with an empty "candidate" string.
    const std::string candidate = *type == "candidate" ? message->string("candidate").value_or("\x01") : "";
    if (candidate == "\x01") return finish(kExitBadInput, "a candidate without a string \"candidate\"");
    api::FfiRequest req;
    api::FfiResponse resp;
    req.mutable_add_ice_candidate()->set_peer(peer_);
    req.mutable_add_ice_candidate()->set_candidate(candidate);
    req.mutable_add_ice_candidate()->set_mid(message->string("sdpMid").value_or(""));
    emit(event(candidate.empty() ? "remote_end_of_candidates" : "remote_candidate").add("candidate", candidate));
    call(req, resp, "add_ice_candidate", kExitBadInput);
    return;
  }
  if (*type == "bye") return on_remote_bye("bye");
  say("ignoring a signalling message of type \"" + *type + "\"");
}

void PeerSession::on_remote_description(bool offer, const std::string& sdp) {
  if (offer) t0_ns_ = monotonic_ns();
  have_remote_description_ = true;
  emit(event(offer ? "offer_received" : "answer_received").add("bytes", sdp.size()));
  api::FfiRequest req;
  api::FfiResponse resp;
  req.mutable_set_remote_description()->set_peer(peer_);
  req.mutable_set_remote_description()->set_type(offer ? api::OFFER : api::ANSWER);
  req.mutable_set_remote_description()->set_sdp(sdp);
  if (!call(req, resp, offer ? "the remote offer" : "the remote answer", kExitBadInput)) return;
  if (!offer) return;
  if (!add_tracks(&sdp)) return;
  req.Clear();
  req.mutable_create_answer()->set_peer(peer_);
  if (!call(req, resp, "create_answer")) return;
  send_description(false, resp.create_answer().sdp());
}

void PeerSession::on_remote_bye(const char* how) {
  if (remote_done_) return;
  remote_done_ = true;
  emit(event("remote_done").add("how", how));
}

// ---- time-driven work -----------------------------------------------------------------------------------------

void PeerSession::capture(uint64_t now) {
  if (!connected_) return;  // the session is keyed when DTLS is done: capture from then on
  api::FfiRequest req;
  api::FfiResponse resp;
  auto pace = [now](uint64_t& next, uint64_t period) {
    if (next == 0 || now > next + 10 * period) next = now;  // start, or resume after a stall without a burst
    if (now < next) return false;
    next += period;
    return true;
  };
  while (audio_source_ != 0 && pace(next_audio_ns_, kAudioPeriodNs)) {
    req.mutable_capture_audio_frame()->set_source(audio_source_);
    req.mutable_capture_audio_frame()->set_pcm(tone_.next_frame());
    if (!call(req, resp, "capture_audio_frame")) return;
  }
  while (video_source_ != 0 && pace(next_video_ns_, kVideoPeriodNs)) {
    auto* v = req.mutable_capture_video_frame();
    v->set_source(video_source_);
    v->set_i420(pattern_.next_frame());
    v->set_width(pattern_.width());
    v->set_height(pattern_.height());
    if (!call(req, resp, "capture_video_frame")) return;
  }
}

void PeerSession::send_messages() {
  if (!channel_open_ || waiting_low_ || sent_ >= o_.send_count) return;
  api::FfiRequest req;
  api::FfiResponse resp;
  while (sent_ < o_.send_count && buffered_ < kHighWater) {
    if (sent_ + 1 == o_.send_count) {
      // Before the last message (not after it: the queue may drain first): from now on the amount reaching 0
      // is reported, and that report says every message went to SCTP.
      req.mutable_set_buffered_amount_low_threshold()->set_channel(channel_);
      req.mutable_set_buffered_amount_low_threshold()->set_threshold(0);
      if (!call(req, resp, "set_buffered_amount_low_threshold")) return;
      req.Clear();
    }
    make_message(sent_, message_size(sent_, o_.send_count, o_.size_min, o_.size_max), message_);
    req.mutable_send_data()->set_channel(channel_);
    req.mutable_send_data()->set_data(message_);
    req.mutable_send_data()->set_binary(true);
    if (!call(req, resp, "send_data")) return;
    buffered_ = resp.send_data().buffered_amount();
    ++sent_;
    bytes_sent_ += message_.size();
  }
  waiting_low_ = buffered_ >= kHighWater;  // BUFFERED_AMOUNT_LOW (at kLowWater) resumes
  if (sent_ == o_.send_count && buffered_ == 0) drained_ = true;
}

bool PeerSession::own_expectations_met() const {
  if (!connected_) return false;
  if ((o_.offerer || o_.send_count > 0) && !channel_open_) return false;
  if (sent_ < o_.send_count || (o_.send_count > 0 && !drained_)) return false;
  const uint64_t messages = verifying() ? verified_ : received_;
  return messages >= o_.expect_messages && audio_decoded_ >= o_.expect_audio_frames &&
         video_frames_ >= o_.expect_video_frames;
}

std::string PeerSession::progress() const {
  const uint64_t messages = verifying() ? verified_ : received_;
  std::string s =
      std::string("connected ") + (connected_ ? "yes" : "no") + ", channel " + (channel_open_ ? "open" : "not open");
  s += ", sent " + std::to_string(sent_) + "/" + std::to_string(o_.send_count);
  if (o_.send_count > 0) s += " (buffered " + std::to_string(buffered_) + " B)";
  s += ", messages " + std::to_string(messages) + "/" + std::to_string(o_.expect_messages);
  s += ", audio frames " + std::to_string(audio_decoded_) + "/" + std::to_string(o_.expect_audio_frames);
  s += ", video frames " + std::to_string(video_frames_) + "/" + std::to_string(o_.expect_video_frames);
  return s;
}

void PeerSession::tick(uint64_t now) {
  if (now >= deadline_ns_)
    return finish(kExitFailed, "timed out after " + std::to_string(o_.timeout_ms) + " ms: " + progress());
  capture(now);
  send_messages();
  if (finished_) return;
  if (next_progress_ns_ == 0) next_progress_ns_ = now + kProgressPeriodNs;
  if (now >= next_progress_ns_) {
    next_progress_ns_ = now + kProgressPeriodNs;
    emit(event("progress")
             .add("sent", sent_)
             .add("received", received_)
             .add("verified", verified_)
             .add("echoed", echoed_)
             .add("audio_frames", audio_decoded_)
             .add("video_frames", video_frames_));
  }
  if (!done_ && own_expectations_met()) {
    done_ = true;
    emit(event("done"));
    signal(JsonWriter().add("type", "bye"));
    bye_sent_ = true;
  }
  if (done_ && remote_done_) finish(kExitOk, "");
}

int PeerSession::run() {
  say(std::string(o_.offerer ? "offerer" : "answerer") + ", signalling on " + sig_.describe());
  if (start()) {
    std::vector<std::string> items;
    int read_fd = sig_.read_fd();
    while (!finished_) {
      const uint64_t now = monotonic_ns();
      tick(now);
      if (finished_) break;
      uint64_t wake = std::min(deadline_ns_, next_progress_ns_);
      if (connected_ && audio_source_ != 0) wake = std::min(wake, next_audio_ns_);
      if (connected_ && video_source_ != 0) wake = std::min(wake, next_video_ns_);
      const int wait_ms = wake <= now ? 0 : static_cast<int>((wake - now + kMs - 1) / kMs);
      pollfd fds[2] = {{api_.wake_fd(), POLLIN, 0}, {read_fd, POLLIN, 0}};
      if (::poll(fds, 2, wait_ms) < 0) continue;  // EINTR
      if (fds[0].revents != 0) {
        items.clear();
        api_.take_events(items);
        for (const auto& e : items) {
          if (!finished_) on_event(e);
        }
      }
      if (fds[1].revents != 0 && !finished_) {
        items.clear();
        std::string error;
        const auto r = sig_.read_lines(items, error);
        for (const auto& line : items) {
          if (!finished_) on_signal_line(line);
        }
        if (r == Signalling::ReadResult::error) finish(kExitFailed, error);
        if (r == Signalling::ReadResult::eof) {
          read_fd = -1;  // poll ignores it from now on
          on_remote_bye("end of signalling");
        }
      }
    }
  }
  const double rms_mean = audio_decoded_ ? audio_rms_sum_ / static_cast<double>(audio_decoded_) : 0;
  emit(event("summary")
           .add("exit_code", exit_code_)
           .add("connect_ms", connect_ms_.value_or(-1))
           .add("messages_sent", sent_)
           .add("bytes_sent", bytes_sent_)
           .add("messages_received", received_)
           .add("bytes_received", bytes_received_)
           .add("messages_verified", verified_)
           .add("messages_echoed", echoed_)
           .add("audio_frames_decoded", audio_decoded_)
           .add("audio_frames_concealed", audio_concealed_)
           .add("audio_rms", std::round(rms_mean * 1e4) / 1e4)
           .add("video_frames", video_frames_)
           .add("video_size", std::to_string(video_width_) + "x" + std::to_string(video_height_)));
  if (o_.stats && peer_ != 0) print_stats();
  if (!bye_sent_) signal(JsonWriter().add("type", "bye"));
  if (peer_ != 0) {
    api::FfiRequest req;
    api::FfiResponse resp;
    std::string ignored;
    req.mutable_close_peer()->set_peer(peer_);
    api_.call(req, resp, ignored);  // DTLS close_notify: the other side learns we left
  }
  if (exit_code_ == kExitOk) say("done: " + progress());
  return exit_code_;
}

void PeerSession::print_stats() {
  api::FfiRequest req;
  api::FfiResponse resp;
  std::string error;
  JsonWriter out = event("stats");
  req.mutable_get_peer_stats()->set_peer(peer_);
  if (api_.call(req, resp, error)) {
    JsonWriter peer;
    for (const auto& s : resp.get_peer_stats().stats()) peer.add(s.name(), s.value());
    out.add_raw("peer", peer.object());
  }
  JsonWriter media;
  for (auto [name, handle] : {std::pair{"session", session_},
                              {"audio_source", audio_source_},
                              {"audio_stream", audio_stream_},
                              {"video_source", video_source_},
                              {"video_stream", video_stream_}}) {
    if (handle == 0) continue;
    req.Clear();
    req.mutable_get_media_stats()->set_handle(handle);
    if (!api_.call(req, resp, error)) continue;
    JsonWriter one;
    for (const auto& s : resp.get_media_stats().stats()) one.add(s.name(), s.value());
    media.add_raw(name, one.object());
  }
  out.add_raw("media", media.object());
  req.Clear();
  req.mutable_get_metrics()->set_format(api::JSON);
  if (api_.call(req, resp, error)) {
    std::string metrics = resp.get_metrics().text();
    std::replace(metrics.begin(), metrics.end(), '\n', ' ');  // outside strings JSON newlines are whitespace
    out.add_raw("metrics", metrics);
  }
  const std::string line = out.line();
  std::fwrite(line.data(), 1, line.size(), sig_.is_stdio() ? stderr : stdout);
  std::fflush(stdout);
}

}  // namespace tandem::cli
