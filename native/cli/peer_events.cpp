// PeerSession, part 2: what the core reports (PEER_EVENT, DATA_CHANNEL_STATE / _MESSAGE, AUDIO_FRAME,
// VIDEO_FRAME). Setup, signalling and the time-driven work are in peer_session.cpp.
#include <cstdio>

#include "monotonic.h"
#include "peer_session.h"
#include "text_scan.h"

namespace tandem::cli {
namespace {

const char* name_of(api::PeerConnectionState s) {
  static constexpr const char* kNames[] = {"new", "connecting", "connected", "disconnected", "failed", "closed"};
  return s >= 0 && s < 6 ? kNames[s] : "unknown";
}
const char* name_of(api::IceConnectionState s) {
  static constexpr const char* kNames[] = {"new",    "checking",     "connected", "completed",
                                           "failed", "disconnected", "closed"};
  return s >= 0 && s < 7 ? kNames[s] : "unknown";
}
const char* name_of(api::DtlsTransportState s) {
  static constexpr const char* kNames[] = {"new", "connecting", "connected", "closed", "failed"};
  return s >= 0 && s < 5 ? kNames[s] : "unknown";
}

}  // namespace

void PeerSession::on_event(const std::string& bytes) {
  api::FfiEvent ev;
  if (!ev.ParseFromString(bytes)) return finish(kExitFailed, "the core sent an event that does not decode");
  switch (ev.message_case()) {
    case api::FfiEvent::kPeerEvent: return on_peer_event(ev.peer_event());
    case api::FfiEvent::kDataChannelState: {
      const auto& s = ev.data_channel_state();
      if (s.state() == api::CHANNEL_OPEN) return on_channel_open(s.channel(), labels_[s.channel()]);
      if (s.state() == api::BUFFERED_AMOUNT_LOW && s.channel() == channel_) {
        if (o_.verbose) emit(event("buffered_amount_low").add("buffered", s.buffered_amount()));
        buffered_ = s.buffered_amount();
        if (sent_ == o_.send_count && buffered_ == 0) drained_ = true;
        waiting_low_ = false;
      }
      if (s.state() == api::CHANNEL_CLOSED) {
        emit(event("channel_closed").add("label", labels_[s.channel()]).add("error", s.error()));
        if (s.channel() == channel_) channel_open_ = false;
      }
      return;
    }
    case api::FfiEvent::kDataChannelMessage: return on_message(ev.data_channel_message());
    case api::FfiEvent::kAudioFrame: {
      const auto& f = ev.audio_frame();
      if (f.stream() != audio_stream_) return;
      if (f.origin() == api::CONCEALED) {
        ++audio_concealed_;
        return;
      }
      ++audio_decoded_;
      audio_rms_sum_ += rms({reinterpret_cast<const uint8_t*>(f.pcm().data()), f.pcm().size()});
      return;
    }
    case api::FfiEvent::kVideoFrame:
      if (ev.video_frame().stream() != video_stream_) return;
      ++video_frames_;
      video_width_ = ev.video_frame().width();
      video_height_ = ev.video_frame().height();
      return;
    default: return;
  }
}

void PeerSession::on_peer_event(const api::PeerEvent& e) {
  switch (e.event_case()) {
    case api::PeerEvent::kLocalCandidate: {
      const std::string& c = e.local_candidate();
      emit(event("local_candidate").add("candidate", c));
      if (description_sent_)
        signal_candidate(c);
      else
        pending_candidates_.push_back(c);
      return;
    }
    case api::PeerEvent::kGatheringComplete:
      if (description_sent_)
        signal_candidate("");
      else
        pending_candidates_.push_back("");
      return;
    case api::PeerEvent::kIceState: return emit(event("ice_state").add("state", name_of(e.ice_state())));
    case api::PeerEvent::kDtlsState:
      if (e.dtls_state() == api::DTLS_CONNECTED && t0_ns_ != 0)
        dtls_ms_ = static_cast<double>(monotonic_ns() - t0_ns_) / 1e6;
      emit(event("dtls_state").add("state", name_of(e.dtls_state())));
      // The other side's close_notify: after our bye it is how the other side says it is done as well.
      if (e.dtls_state() == api::DTLS_CLOSED) {
        if (done_) return on_remote_bye("DTLS closed");
        finish(kExitFailed, "the other side closed DTLS before we were done: " + progress());
      }
      return;
    case api::PeerEvent::kConnectionState: {
      const auto state = e.connection_state();
      emit(event("connection_state").add("state", name_of(state)));
      if (state == api::PEER_CONNECTED) connected_ = true;
      if (state == api::PEER_FAILED || state == api::PEER_CLOSED) {
        // After our bye, the other side closing is how it says it is done too (its bye may still be in flight).
        if (done_) return on_remote_bye("connection closed");
        finish(kExitFailed, std::string("the connection ") + (state == api::PEER_FAILED ? "failed" : "closed") +
                                " before we were done: " + progress());
      }
      return;
    }
    case api::PeerEvent::kRemoteTrack: return on_remote_track(e.remote_track());
    case api::PeerEvent::kDataChannel:
      labels_[e.data_channel().channel()] = e.data_channel().label();
      return emit(event("remote_channel")
                      .add("label", e.data_channel().label())
                      .add("id", e.data_channel().id())
                      .add("protocol", e.data_channel().protocol()));
    case api::PeerEvent::kError:
      emit(event("peer_error").add("error", e.error()));
      if (!done_) finish(kExitFailed, "peer error: " + e.error());
      return;
    default: return;
  }
}

void PeerSession::on_remote_track(const api::RemoteTrack& t) {
  emit(event("remote_track")
           .add("kind", t.kind())
           .add("codec", t.codec())
           .add("ssrc", t.ssrc())
           .add("payload_type", t.payload_type())
           .add("mid", t.mid()));
  api::FfiRequest req;
  api::FfiResponse resp;
  if (t.kind() == "audio" && audio_stream_ == 0) {
    api::AudioCodec codec;
    if (iequals(t.codec(), "opus"))
      codec = api::OPUS;
    else if (iequals(t.codec(), "PCMU"))
      codec = api::PCMU;
    else if (iequals(t.codec(), "PCMA"))
      codec = api::PCMA;
    else
      return say("not decoding remote audio in " + t.codec());
    auto* s = req.mutable_create_audio_stream();
    s->set_session(session_);
    s->set_codec(codec);
    s->set_payload_type(t.payload_type());
    s->set_remote_ssrc(t.ssrc());
    if (call(req, resp, "create_audio_stream")) audio_stream_ = resp.create_audio_stream().stream();
  } else if (t.kind() == "video" && video_stream_ == 0) {
    if (!iequals(t.codec(), "VP8")) return say("not decoding remote video in " + t.codec());
    auto* s = req.mutable_create_video_stream();
    s->set_session(session_);
    s->set_payload_type(t.payload_type());
    s->set_remote_ssrc(t.ssrc());
    if (call(req, resp, "create_video_stream")) video_stream_ = resp.create_video_stream().stream();
  }
}

void PeerSession::on_channel_open(uint64_t channel, const std::string& label) {
  emit(event("channel_open").add("label", label));
  if (channel_ == 0) channel_ = channel;  // the answerer sends on the first channel the offerer opened
  if (channel != channel_ || channel_open_) return;
  channel_open_ = true;
  api::FfiRequest req;
  api::FfiResponse resp;
  req.mutable_set_buffered_amount_low_threshold()->set_channel(channel_);
  req.mutable_set_buffered_amount_low_threshold()->set_threshold(kLowWater);
  if (!call(req, resp, "set_buffered_amount_low_threshold")) return;
  if (connect_ms_ || t0_ns_ == 0) return;
  connect_ms_ = static_cast<double>(monotonic_ns() - t0_ns_) / 1e6;
  const char* from = o_.offerer ? "offer created" : "offer received";
  emit(event("connect_time")
           .add("ms_to_channel_open", *connect_ms_)
           .add("ms_to_dtls", dtls_ms_.value_or(-1))
           .add("from", from));
  char text[128];
  std::snprintf(text, sizeof text, "connect time %.1f ms (%s -> channel open; DTLS connected at %.1f ms)", *connect_ms_,
                from, dtls_ms_.value_or(-1));
  say(text);
}

void PeerSession::on_message(const api::DataChannelMessageEvent& m) {
  ++received_;
  bytes_received_ += m.data().size();
  if (verifying()) {
    const auto seq = check_message({reinterpret_cast<const uint8_t*>(m.data().data()), m.data().size()});
    const std::string which =
        "message #" + std::to_string(received_) + " (" + std::to_string(m.data().size()) + " bytes";
    if (!seq) return finish(kExitFailed, which + ") failed its check (magic or FNV-1a checksum)");
    if (o_.send_count > 0 &&
        (*seq >= o_.send_count || m.data().size() != message_size(*seq, o_.send_count, o_.size_min, o_.size_max)))
      return finish(kExitFailed, which + ", seq " + std::to_string(*seq) + ") is not a message we sent");
    if (*seq >= kMaxSendCount)
      return finish(kExitFailed, which + ") has seq " + std::to_string(*seq) + ", out of range");
    if (*seq >= seen_.size()) seen_.resize(*seq + 1);
    if (seen_[*seq]) return finish(kExitFailed, which + ") repeats seq " + std::to_string(*seq));
    seen_[*seq] = true;
    ++verified_;
  }
  if (o_.verbose) emit(event("message").add("bytes", m.data().size()).add("binary", m.binary()));
  if (!o_.echo) return;
  api::FfiRequest req;
  api::FfiResponse resp;
  req.mutable_send_data()->set_channel(m.channel());
  req.mutable_send_data()->set_data(m.data());
  req.mutable_send_data()->set_binary(m.binary());
  if (call(req, resp, "send_data (echo)")) ++echoed_;
}

}  // namespace tandem::cli
