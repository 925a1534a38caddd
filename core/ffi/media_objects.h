// The objects MediaHub keeps behind media handles (see media_hub.h). Each wraps one pipeline engine from
// core/media/pipeline and adapts it to the API: events out, stats as name/value pairs.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ffi/core.h"
#include "core/ffi/media_hub.h"
#include "core/handle/handle_table.h"
#include "core/media/e2ee/key_ring.h"
#include "core/media/pipeline/audio_receiver.h"
#include "core/media/pipeline/audio_sender.h"
#include "core/media/pipeline/media_session.h"
#include "core/media/pipeline/video_receiver.h"
#include "core/media/pipeline/video_sender.h"
#include "core/sim/network.h"
#include "tandem/platform/platform.h"

namespace tandem::api {
class GetMediaStatsResponse;
}

namespace tandem::ffi {

class MediaHub;

class MediaObject {
 public:
  MediaObject(MediaHub& hub, HandleType type) : hub(hub), type(type) {}
  virtual ~MediaObject() = default;
  // Destroys the engine (runtime only). The object stays as an empty shell until freed.
  virtual void teardown() = 0;
  virtual void stats(api::GetMediaStatsResponse& out) const = 0;

  MediaHub& hub;
  const HandleType type;
  Handle handle = 0;
  bool torn_down = false;
};

class SessionObject final : public MediaObject, public media::DatagramSink, public media::StreamWakeup {
 public:
  explicit SessionObject(MediaHub& hub) : MediaObject(hub, HandleType::media_session) {}
  void teardown() override;
  void stats(api::GetMediaStatsResponse& out) const override;
  void send_datagram(std::span<const uint8_t> datagram) override;
  void wake() override;
  // Moves what the impairment link delivers by `now_ns` into the outgoing batch.
  void drain_link(uint64_t now_ns);

  std::unique_ptr<media::MediaSession> session;
  // A peer connection's session: datagrams go to the peer (which carries them over ICE) instead of a batch.
  media::DatagramSink* route = nullptr;
  std::optional<sim::NetworkLink> link;  // outbound impairment, if configured
  uint32_t users = 0;                    // sources and streams attached
  bool handle_dropped = false;
  // The outgoing batch: datagrams back to back, and their sizes.
  std::vector<uint8_t> batch;
  std::vector<uint32_t> batch_sizes;
  bool flush_posted = false;
  platform::TimerId timer = 0;
  uint64_t timer_deadline = 0;
};

// What sources and streams share: their session and optional E2EE keys.
class AttachedObject : public MediaObject {
 public:
  AttachedObject(MediaHub& hub, HandleType type, SessionObject& session) : MediaObject(hub, type), session(session) {
    ++session.users;
  }
  // An object that never got as far as teardown (creation failed half-way) still lets go of its session.
  ~AttachedObject() override {
    if (!torn_down) --session.users;
  }
  SessionObject& session;
  std::unique_ptr<media::e2ee::KeyRing> keys;

 protected:
  // The teardown every source (stream) does: leave the session, free the engine, let go of the session.
  template <class Sender>
  void teardown_sender(std::unique_ptr<Sender>& sender) {
    if (torn_down) return;
    torn_down = true;
    if (sender && session.session) session.session->remove_sender(*sender);
    sender.reset();
    detach();
  }
  template <class Receiver>
  void teardown_receiver(std::unique_ptr<Receiver>& receiver) {
    if (torn_down) return;
    torn_down = true;
    if (receiver && session.session) session.session->remove_receiver(*receiver);
    receiver.reset();
    detach();
  }

 private:
  void detach();
};

class AudioSourceObject final : public AttachedObject {
 public:
  using AttachedObject::AttachedObject;
  void teardown() override { teardown_sender(sender); }
  void stats(api::GetMediaStatsResponse& out) const override;
  std::unique_ptr<media::AudioSender> sender;
  std::vector<int16_t> pcm;  // the captured frame, decoded from little-endian bytes
  uint8_t payload_type = 0;
  std::string codec_name;  // as SDP names it: "opus", "PCMU", "PCMA"
};

class VideoSourceObject final : public AttachedObject {
 public:
  using AttachedObject::AttachedObject;
  void teardown() override { teardown_sender(sender); }
  void stats(api::GetMediaStatsResponse& out) const override;
  std::unique_ptr<media::VideoSender> sender;
  uint8_t payload_type = 0;
};

class AudioStreamObject final : public AttachedObject, public media::AudioFrameSink {
 public:
  using AttachedObject::AttachedObject;
  void teardown() override { teardown_receiver(receiver); }
  void stats(api::GetMediaStatsResponse& out) const override;
  void on_audio_frame(const media::AudioFrame& frame) override;
  std::unique_ptr<media::AudioReceiver> receiver;
};

class VideoStreamObject final : public AttachedObject, public media::VideoFrameSink {
 public:
  using AttachedObject::AttachedObject;
  void teardown() override { teardown_receiver(receiver); }
  void stats(api::GetMediaStatsResponse& out) const override;
  void on_video_frame(const media::VideoFrame& frame) override;
  std::unique_ptr<media::VideoReceiver> receiver;
};

// MediaHub's typed handle helpers (templates, so both of its source files can instantiate them).

template <class T>
Result<T*> MediaHub::lookup(uint64_t handle, HandleType type) {
  auto ref = core_.handles().retrieve(handle, type);
  if (!ref.ok()) return ref.error();
  // The table holds MediaObject pointers (see adopt), whatever the concrete type.
  auto* object = static_cast<T*>(ref.value().template as<MediaObject>());
  // Dropped but not yet released (the release task is queued behind this request): already gone to the caller.
  if (object->torn_down) return Error{Errc::stale_handle, "the handle was dropped"};
  return object;
}

template <class T>
Result<Handle> MediaHub::adopt(std::unique_ptr<T> object, HandleType type) {
  T* raw = object.get();
  MediaObject* base = raw;
  auto handle = core_.handles().store(type, base, [](void* p) {
    auto* o = static_cast<MediaObject*>(p);
    o->hub.on_handle_dropped(o);
  });
  if (!handle.ok()) {
    object->teardown();
    return handle.error();
  }
  raw->handle = handle.value();
  objects_.push_back(std::move(object));
  return handle;
}

}  // namespace tandem::ffi
