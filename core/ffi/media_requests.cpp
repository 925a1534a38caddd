// MediaHub's handlers for sources, streams and stats (sessions are in media_hub.cpp).
#include <cstring>

#include "core/ffi/core.h"
#include "core/ffi/media_hub.h"
#include "core/ffi/media_objects.h"
#include "core/ffi/media_request_helpers.h"
#include "proto/tandem.pb.h"

namespace tandem::ffi {
using namespace media_api;

namespace {
Result<void> fail(Errc code, std::string message) { return Error{code, std::move(message)}; }
}  // namespace

Result<void> MediaHub::create_audio_source(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& r = req.create_audio_source();
  auto s = lookup<SessionObject>(r.session(), HandleType::media_session);
  if (!s) return s.error();
  auto codec = to_codec(r.codec());
  if (!codec) return codec.error();
  auto pt = payload_type(r.payload_type(), default_payload_type(codec.value()));
  if (!pt) return pt.error();
  auto& platform = core_.platform();
  auto keys = make_keys(platform, r.e2ee());
  if (!keys) return keys.error();
  media::AudioSenderConfig config;
  config.codec = codec.value();
  config.payload_type = pt.value();
  config.ssrc = r.ssrc();
  config.channels = r.channels() == 0 ? 1 : static_cast<int>(r.channels());
  config.frame_ms = r.frame_ms() == 0 ? 20 : r.frame_ms();
  if (r.bitrate_bps() != 0) config.bitrate_bps = static_cast<int>(r.bitrate_bps());
  config.inband_fec = !r.disable_fec();
  config.e2ee_keys = keys.value().get();
  SessionObject& session = *s.value();
  auto sender = media::AudioSender::create(config, platform, metrics(), *session.session);
  if (!sender) return sender.error();
  if (auto added = session.session->add_sender(*sender.value()); !added.ok()) return added.error();
  auto object = std::make_unique<AudioSourceObject>(*this, HandleType::audio_source, session);
  object->keys = std::move(keys.value());
  object->sender = std::move(sender.value());
  object->pcm.resize(object->sender->samples_per_frame() * static_cast<size_t>(config.channels));
  object->payload_type = pt.value();
  object->codec_name = config.codec == media::AudioCodec::opus ? "opus"
                       : config.codec == media::AudioCodec::pcmu ? "PCMU" : "PCMA";
  const uint32_t ssrc = object->sender->ssrc();
  auto handle = adopt(std::move(object), HandleType::audio_source);
  if (!handle) return handle.error();
  auto* out = resp.mutable_create_audio_source();
  out->set_source(handle.value());
  out->set_ssrc(ssrc);
  out->set_payload_type(pt.value());
  return {};
}

Result<void> MediaHub::capture_audio(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& r = req.capture_audio_frame();
  auto source = lookup<AudioSourceObject>(r.source(), HandleType::audio_source);
  if (!source) return source.error();
  AudioSourceObject& o = *source.value();
  if (r.pcm().size() != o.pcm.size() * sizeof(int16_t)) {
    return fail(Errc::invalid_argument, "pcm must be " + std::to_string(o.pcm.size() * 2) +
                                            " bytes (one frame of s16 samples), got " + std::to_string(r.pcm().size()));
  }
  // The bytes of a parsed request have no alignment guarantee for int16_t; one 2-4 KB copy.
  std::memcpy(o.pcm.data(), r.pcm().data(), r.pcm().size());
  const uint64_t now = core_.platform().clock.now_ns();
  if (auto captured = o.sender->capture(o.pcm, now); !captured.ok()) return captured;
  schedule(o.session);
  resp.mutable_capture_audio_frame();
  return {};
}

Result<void> MediaHub::create_audio_stream(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& r = req.create_audio_stream();
  auto s = lookup<SessionObject>(r.session(), HandleType::media_session);
  if (!s) return s.error();
  auto codec = to_codec(r.codec());
  if (!codec) return codec.error();
  auto pt = payload_type(r.payload_type(), default_payload_type(codec.value()));
  if (!pt) return pt.error();
  if (r.remote_ssrc() == 0) return fail(Errc::invalid_argument, "remote_ssrc must be set");
  auto& platform = core_.platform();
  auto keys = make_keys(platform, r.e2ee());
  if (!keys) return keys.error();
  SessionObject& session = *s.value();
  auto object = std::make_unique<AudioStreamObject>(*this, HandleType::audio_stream, session);
  media::AudioReceiverConfig config;
  config.codec = codec.value();
  config.payload_type = pt.value();
  config.remote_ssrc = r.remote_ssrc();
  config.channels = r.channels() == 0 ? 1 : static_cast<int>(r.channels());
  config.frame_ms = r.frame_ms() == 0 ? 20 : r.frame_ms();
  config.nack = !r.disable_nack();
  config.e2ee_keys = keys.value().get();
  config.wakeup = &session;
  auto receiver = media::AudioReceiver::create(config, platform, metrics(), *object);
  if (!receiver) return receiver.error();
  if (auto added = session.session->add_receiver(*receiver.value()); !added.ok()) return added.error();
  object->keys = std::move(keys.value());
  object->receiver = std::move(receiver.value());
  auto handle = adopt(std::move(object), HandleType::audio_stream);
  if (!handle) return handle.error();
  schedule(session);
  resp.mutable_create_audio_stream()->set_stream(handle.value());
  return {};
}

Result<void> MediaHub::create_video_source(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& r = req.create_video_source();
  auto s = lookup<SessionObject>(r.session(), HandleType::media_session);
  if (!s) return s.error();
  auto pt = payload_type(r.payload_type(), 96);
  if (!pt) return pt.error();
  auto& platform = core_.platform();
  auto keys = make_keys(platform, r.e2ee());
  if (!keys) return keys.error();
  media::VideoSenderConfig config;
  config.payload_type = pt.value();
  config.ssrc = r.ssrc();
  if (r.bitrate_kbps() != 0) config.encoder.bitrate_kbps = r.bitrate_kbps();
  if (r.framerate() != 0) config.encoder.framerate = r.framerate();
  config.encoder.keyframe_interval = r.keyframe_interval();
  config.e2ee_keys = keys.value().get();
  SessionObject& session = *s.value();
  auto sender = media::VideoSender::create(config, platform, metrics(), *session.session);
  if (!sender) return sender.error();
  if (auto added = session.session->add_sender(*sender.value()); !added.ok()) return added.error();
  auto object = std::make_unique<VideoSourceObject>(*this, HandleType::video_source, session);
  object->keys = std::move(keys.value());
  object->sender = std::move(sender.value());
  object->payload_type = pt.value();
  const uint32_t ssrc = object->sender->ssrc();
  auto handle = adopt(std::move(object), HandleType::video_source);
  if (!handle) return handle.error();
  auto* out = resp.mutable_create_video_source();
  out->set_source(handle.value());
  out->set_ssrc(ssrc);
  out->set_payload_type(pt.value());
  return {};
}

Result<void> MediaHub::capture_video(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& r = req.capture_video_frame();
  auto source = lookup<VideoSourceObject>(r.source(), HandleType::video_source);
  if (!source) return source.error();
  if (r.width() == 0 || r.height() == 0 || r.width() > 1280 || r.height() > 720)
    return fail(Errc::invalid_argument, "width and height must be 1..1280 x 1..720");
  const size_t expected = media::i420_size(r.width(), r.height());
  if (r.i420().size() != expected) {
    return fail(Errc::invalid_argument, "i420 must be " + std::to_string(expected) + " bytes for " +
                                            std::to_string(r.width()) + "x" + std::to_string(r.height()));
  }
  // Read in place: the encoder takes the planes straight from the request's bytes.
  const media::I420View picture = media::i420_packed(bytes_of(r.i420()), r.width(), r.height());
  VideoSourceObject& o = *source.value();
  if (auto captured = o.sender->capture(picture, core_.platform().clock.now_ns()); !captured.ok()) return captured;
  schedule(o.session);
  resp.mutable_capture_video_frame();
  return {};
}

Result<void> MediaHub::create_video_stream(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& r = req.create_video_stream();
  auto s = lookup<SessionObject>(r.session(), HandleType::media_session);
  if (!s) return s.error();
  auto pt = payload_type(r.payload_type(), 96);
  if (!pt) return pt.error();
  if (r.remote_ssrc() == 0) return fail(Errc::invalid_argument, "remote_ssrc must be set");
  auto& platform = core_.platform();
  auto keys = make_keys(platform, r.e2ee());
  if (!keys) return keys.error();
  SessionObject& session = *s.value();
  auto object = std::make_unique<VideoStreamObject>(*this, HandleType::video_stream, session);
  media::VideoReceiverConfig config;
  config.payload_type = pt.value();
  config.remote_ssrc = r.remote_ssrc();
  config.nack_enabled = !r.disable_nack();
  config.e2ee_keys = keys.value().get();
  config.wakeup = &session;
  auto receiver = media::VideoReceiver::create(config, platform, metrics(), *object);
  if (!receiver) return receiver.error();
  if (auto added = session.session->add_receiver(*receiver.value()); !added.ok()) return added.error();
  object->keys = std::move(keys.value());
  object->receiver = std::move(receiver.value());
  auto handle = adopt(std::move(object), HandleType::video_stream);
  if (!handle) return handle.error();
  schedule(session);
  resp.mutable_create_video_stream()->set_stream(handle.value());
  return {};
}

Result<void> MediaHub::get_stats(const api::FfiRequest& req, api::FfiResponse& resp) {
  const uint64_t handle = req.get_media_stats().handle();
  const HandleType type = handle_type_of(handle);
  switch (type) {
    case HandleType::media_session:
    case HandleType::audio_source:
    case HandleType::audio_stream:
    case HandleType::video_source:
    case HandleType::video_stream: break;
    default:
      if (handle == 0) return fail(Errc::null_handle, "handle is 0");
      return fail(Errc::wrong_handle_type, "not a media handle");
  }
  auto object = lookup<MediaObject>(handle, type);
  if (!object) return object.error();
  auto* out = resp.mutable_get_media_stats();
  out->set_type(static_cast<api::HandleType>(type));
  object.value()->stats(*out);
  return {};
}

}  // namespace tandem::ffi
