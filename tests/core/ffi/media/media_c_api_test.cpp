// Media through the C ABI on the target's real platform: natively every media request hops from this thread
// to the core's runtime thread (TaskRunner::invoke) and events come back from there; in wasm it all runs on
// the worker loop. Two cores, the test thread moving MEDIA_PACKETS between them.
#include <catch2/catch.hpp>

#include <cmath>
#include <mutex>

#include "proto/tandem.pb.h"
#include "support/pump.h"
#include "tandem/tandem.h"

using namespace tandem;

namespace {

struct Peer {
  tandem_core* core = nullptr;
  std::mutex mutex;
  std::vector<api::FfiEvent> events;

  static void on_event(void* user, uint64_t, const uint8_t* bytes, size_t len) {
    auto* peer = static_cast<Peer*>(user);
    api::FfiEvent ev;
    if (!ev.ParseFromArray(bytes, static_cast<int>(len))) return;
    std::lock_guard lock(peer->mutex);
    peer->events.push_back(std::move(ev));
  }
  std::vector<api::FfiEvent> take(api::FfiEvent::MessageCase kind) {
    std::lock_guard lock(mutex);
    std::vector<api::FfiEvent> out, rest;
    for (auto& e : events) (e.message_case() == kind ? out : rest).push_back(std::move(e));
    events = std::move(rest);
    return out;
  }
  api::FfiResponse call(const api::FfiRequest& req) {
    const std::string bytes = req.SerializeAsString();
    const uint8_t* out = nullptr;
    size_t len = 0;
    api::FfiResponse resp;
    if (tandem_request(core, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &out, &len) != TANDEM_OK)
      return resp;
    CHECK(resp.ParseFromArray(out, static_cast<int>(len)));
    return resp;
  }
  void subscribe(api::EventKind kind, uint64_t key) {
    api::FfiRequest req;
    auto* f = req.mutable_subscribe()->mutable_filter();
    f->add_kinds(kind);
    f->set_has_key(true);
    f->set_key(key);
    req.mutable_subscribe()->set_queue_capacity(10000);
    CHECK(call(req).error() == api::OK);
  }
};

uint64_t session_of(Peer& peer, char local, char remote) {
  api::FfiRequest req;
  auto* s = req.mutable_create_media_session();
  s->set_local_key(std::string(16, local));
  s->set_local_salt(std::string(14, local));
  s->set_remote_key(std::string(16, remote));
  s->set_remote_salt(std::string(14, remote));
  auto resp = peer.call(req);
  CHECK(resp.error() == api::OK);
  return resp.create_media_session().session();
}

void forward(Peer& from, Peer& to, uint64_t to_session) {
  for (auto& ev : from.take(api::FfiEvent::kMediaPackets)) {
    api::FfiRequest req;
    req.mutable_deliver_media_packets()->set_session(to_session);
    for (const auto& p : ev.media_packets().packets()) req.mutable_deliver_media_packets()->add_packets(p);
    CHECK(to.call(req).error() == api::OK);
  }
}

}  // namespace

TEST_CASE("media api over the C ABI: Opus frames from one core play out of another", "[media-api][c_api]") {
  Peer a, b;
  REQUIRE(tandem_initialize(Peer::on_event, &a, nullptr, 0, &a.core) == TANDEM_OK);
  REQUIRE(tandem_initialize(Peer::on_event, &b, nullptr, 0, &b.core) == TANDEM_OK);
  const uint64_t session_a = session_of(a, 'a', 'b');
  const uint64_t session_b = session_of(b, 'b', 'a');
  a.subscribe(api::MEDIA_PACKETS, session_a);
  b.subscribe(api::MEDIA_PACKETS, session_b);

  api::FfiRequest src;
  src.mutable_create_audio_source()->set_session(session_a);
  auto source = a.call(src);
  REQUIRE(source.error() == api::OK);
  api::FfiRequest st;
  st.mutable_create_audio_stream()->set_session(session_b);
  st.mutable_create_audio_stream()->set_remote_ssrc(source.create_audio_source().ssrc());
  auto stream = b.call(st);
  REQUIRE(stream.error() == api::OK);
  b.subscribe(api::AUDIO_FRAME, stream.create_audio_stream().stream());

  // 30 frames of a 440 Hz tone, captured as fast as the test can (the receiver plays them out at 20 ms).
  std::string pcm(1920, '\0');
  for (int frame = 0; frame < 30; ++frame) {
    for (int i = 0; i < 960; ++i) {
      const auto v = static_cast<int16_t>(6000 * std::sin(2 * M_PI * 440.0 * (frame * 960 + i) / 48000.0));
      pcm[2 * i] = static_cast<char>(v & 0xFF);
      pcm[2 * i + 1] = static_cast<char>((v >> 8) & 0xFF);
    }
    api::FfiRequest cap;
    cap.mutable_capture_audio_frame()->set_source(source.create_audio_source().source());
    cap.mutable_capture_audio_frame()->set_pcm(pcm);
    REQUIRE(a.call(cap).error() == api::OK);
  }
  size_t frames = 0;
  CHECK(test::pump_until(
      [&] {
        forward(a, b, session_b);
        forward(b, a, session_a);
        frames += b.take(api::FfiEvent::kAudioFrame).size();
        return frames >= 25;
      },
      10000));
  CHECK(frames >= 25);
  tandem_dispose(a.core);
  tandem_dispose(b.core);
}
