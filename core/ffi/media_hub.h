// The media objects behind the API's MEDIA_SESSION, AUDIO_SOURCE/STREAM and VIDEO_SOURCE/STREAM handles, and
// the requests that create and feed them.
//
// Threads: every media object lives on the runtime. Core hops there (TaskRunner::invoke) before calling
// handle(), so natively a request from another thread waits for the runtime and its bytes stay valid while the
// pipeline reads them: a captured frame is read in place from the parsed request, never queued as a copy.
//
// Lifetimes: the hub owns the objects; a handle names one. Dropping a handle (any thread) posts the object's
// teardown to the runtime. A session whose handle is dropped while sources or streams still use it lives on
// until the last of them is gone. close() (from Core::shutdown, while the platform still runs) tears everything
// down on the runtime; drops after that only release the handle.
//
// Output: a session's datagrams are batched per runtime task into one MEDIA_PACKETS event (key: the session
// handle); decoded frames become AUDIO_FRAME / VIDEO_FRAME events (key: the stream handle). These events are
// encoded by hand (core/ffi/wire.h) straight into the bus's buffers: one copy of each frame, no per-packet
// allocation.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/handle/handle_table.h"
#include "core/media/pipeline/media_metrics.h"

namespace tandem::api {
class FfiRequest;
class FfiResponse;
}  // namespace tandem::api

namespace tandem::ffi {

class Core;
class MediaObject;
class SessionObject;

class MediaHub {
 public:
  explicit MediaHub(Core& core);
  ~MediaHub();
  MediaHub(const MediaHub&) = delete;
  MediaHub& operator=(const MediaHub&) = delete;

  // True for the FfiRequest oneof cases handle() serves.
  static bool serves(int request_case);
  // Runtime only.
  Result<void> handle(const api::FfiRequest& req, api::FfiResponse& resp);
  // Runtime only. Idempotent.
  void close();

  // For the objects.
  Core& core() { return core_; }
  media::MediaMetrics& metrics();
  void schedule(SessionObject& session);    // re-arm the session's timer for its next_timeout()
  void request_flush(SessionObject& session);  // publish its pending datagrams at the end of this task
  void release(MediaObject* object);        // runtime: tear down and free (or keep a used session)
  void on_handle_dropped(MediaObject* object);  // any thread
  // A peer connection's session: unkeyed (DTLS-SRTP keys it), adopted under a MEDIA_SESSION handle, with the
  // peer counted as a user until detach_user().
  Result<SessionObject*> create_peer_session(const std::string& cname);
  void detach_user(SessionObject& session);

 private:
  template <class T>
  Result<T*> lookup(uint64_t handle, HandleType type);
  template <class T>
  Result<Handle> adopt(std::unique_ptr<T> object, HandleType type);
  void post(std::function<void()> task);
  void on_timer(SessionObject& session);
  void flush(SessionObject& session);

  Result<void> create_session(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> deliver(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> set_impairment(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> create_audio_source(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> capture_audio(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> create_audio_stream(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> create_video_source(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> capture_video(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> create_video_stream(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> get_stats(const api::FfiRequest& req, api::FfiResponse& resp);

  Core& core_;
  std::optional<media::MediaMetrics> metrics_;  // registered with the first session
  std::vector<std::unique_ptr<MediaObject>> objects_;
  std::atomic<bool> closed_{false};
  // Tasks and timers posted by the hub check this, so none runs on a closed hub.
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace tandem::ffi
