#include "core/ffi/media_hub.h"

#include <algorithm>
#include <cstring>

#include "core/ffi/core.h"
#include "core/ffi/media_objects.h"
#include "core/ffi/media_request_helpers.h"
#include "core/ffi/wire.h"
#include "proto/tandem.pb.h"

namespace tandem::ffi {
using namespace media_api;
namespace {

Result<void> fail(Errc code, std::string message) { return Error{code, std::move(message)}; }

uint64_t random_u64(platform::Entropy& entropy) {
  uint8_t b[8] = {};
  entropy.fill(b);
  uint64_t v = 0;
  for (uint8_t x : b) v = (v << 8) | x;
  return v;
}

}  // namespace

MediaHub::MediaHub(Core& core) : core_(core) {}

MediaHub::~MediaHub() {
  // close() ran on the runtime (Core::shutdown); if the runtime never ran it, tear down here: nothing else
  // runs any more.
  close();
}

bool MediaHub::serves(int c) {
  return c >= api::FfiRequest::kCreateMediaSession && c <= api::FfiRequest::kGetMediaStats;
}

media::MediaMetrics& MediaHub::metrics() {
  if (!metrics_) metrics_.emplace(media::MediaMetrics::in(core_.metrics()));
  return *metrics_;
}

void MediaHub::post(std::function<void()> task) {
  core_.platform().runner.post([alive = alive_, task = std::move(task)] {
    if (alive->load()) task();
  });
}

void MediaHub::close() {
  if (closed_.exchange(true)) return;
  alive_->store(false);
  // Streams and sources first: they detach from their sessions.
  for (auto& o : objects_)
    if (o->type != HandleType::media_session) o->teardown();
  for (auto& o : objects_) o->teardown();
}

void MediaHub::on_handle_dropped(MediaObject* object) {
  if (closed_.load()) return;  // the hub frees it when it is destroyed
  post([this, object] { release(object); });
}

void MediaHub::release(MediaObject* object) {
  if (closed_.load()) return;
  if (object->type == HandleType::media_session) {
    auto* session = static_cast<SessionObject*>(object);
    session->handle_dropped = true;
    if (session->users > 0) return;  // the last source or stream to go releases it (AttachedObject::detach)
  }
  object->teardown();
  std::erase_if(objects_, [&](const auto& o) { return o.get() == object; });
}

// ---- timers and output --------------------------------------------------------------------------------------

void MediaHub::schedule(SessionObject& s) {
  if (s.torn_down) return;
  std::optional<uint64_t> t = s.session->next_timeout();
  if (s.link)
    if (auto l = s.link->next_timeout(); l && (!t || *l < *t)) t = l;
  auto& runner = core_.platform().runner;
  if (!t) {
    if (s.timer != 0) runner.cancel(s.timer);
    s.timer = 0;
    return;
  }
  if (s.timer != 0 && s.timer_deadline <= *t) return;  // armed early enough; on_timer re-arms
  if (s.timer != 0) runner.cancel(s.timer);
  const uint64_t now = core_.platform().clock.now_ns();
  s.timer_deadline = *t;
  s.timer = runner.post_delayed(*t > now ? *t - now : 0, [alive = alive_, this, &s] {
    if (alive->load()) on_timer(s);
  });
}

void MediaHub::on_timer(SessionObject& s) {
  s.timer = 0;
  if (s.torn_down) return;
  const uint64_t now = core_.platform().clock.now_ns();
  if (auto t = s.session->next_timeout(); t && *t <= now) s.session->poll(now);
  s.drain_link(now);
  schedule(s);
}

void MediaHub::request_flush(SessionObject& s) {
  if (s.flush_posted) return;
  s.flush_posted = true;
  post([this, &s] { flush(s); });
}

void MediaHub::flush(SessionObject& s) {
  s.flush_posted = false;
  if (s.torn_down || s.batch_sizes.empty()) return;
  // MediaPacketsEvent: 1 session, 2 packets (repeated bytes).
  size_t size = wire::uint_field_size(1, s.handle);
  for (uint32_t n : s.batch_sizes) size += wire::bytes_field_size(2, n);
  const auto kind = events::EventKind::media_packets;
  core_.bus().publish(kind, s.handle, [&](std::string& out) {
    out.clear();
    wire::put_uint_field(out, 1, s.handle);  // FfiEvent.key
    wire::put_length_header(out, static_cast<uint32_t>(kind), size);
    wire::put_uint_field(out, 1, s.handle);
    size_t offset = 0;
    for (uint32_t n : s.batch_sizes) {
      wire::put_bytes_field(out, 2, std::span<const uint8_t>(s.batch).subspan(offset, n));
      offset += n;
    }
  });
  s.batch.clear();
  s.batch_sizes.clear();
}

// ---- requests -----------------------------------------------------------------------------------------------

Result<void> MediaHub::handle(const api::FfiRequest& req, api::FfiResponse& resp) {
  if (closed_.load()) return fail(Errc::disposed, "the core was disposed");
  switch (req.message_case()) {
    case api::FfiRequest::kCreateMediaSession: return create_session(req, resp);
    case api::FfiRequest::kDeliverMediaPackets: return deliver(req, resp);
    case api::FfiRequest::kSetImpairment: return set_impairment(req, resp);
    case api::FfiRequest::kCreateAudioSource: return create_audio_source(req, resp);
    case api::FfiRequest::kCaptureAudioFrame: return capture_audio(req, resp);
    case api::FfiRequest::kCreateAudioStream: return create_audio_stream(req, resp);
    case api::FfiRequest::kCreateVideoSource: return create_video_source(req, resp);
    case api::FfiRequest::kCaptureVideoFrame: return capture_video(req, resp);
    case api::FfiRequest::kCreateVideoStream: return create_video_stream(req, resp);
    case api::FfiRequest::kGetMediaStats: return get_stats(req, resp);
    default: return fail(Errc::internal, "not a media request");
  }
}

Result<void> MediaHub::create_session(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& r = req.create_media_session();
  auto profile = to_profile(r.srtp_profile());
  if (!profile) return profile.error();
  media::MediaSessionConfig config;
  config.profile = profile.value();
  config.local_key = bytes_of(r.local_key());
  config.local_salt = bytes_of(r.local_salt());
  config.remote_key = bytes_of(r.remote_key());
  config.remote_salt = bytes_of(r.remote_salt());
  if (!r.cname().empty()) config.cname = r.cname();
  if (r.rtcp_interval_ms() != 0) config.rtcp_interval_ns = uint64_t{r.rtcp_interval_ms()} * 1'000'000;
  auto& platform = core_.platform();
  auto object = std::make_unique<SessionObject>(*this);
  if (impairment_set(r.outbound_impairment())) {
    auto impairments = to_impairments(r.outbound_impairment());
    if (!impairments) return impairments.error();
    sim::LinkConfig link;
    link.seed = r.outbound_impairment().seed() != 0 ? r.outbound_impairment().seed() : random_u64(platform.entropy);
    link.capacity = 4096;
    link.impairments = impairments.value();
    auto created = sim::NetworkLink::create(link);
    if (!created) return created.error();
    object->link.emplace(std::move(created.value()));
  }
  auto session = media::MediaSession::create(config, platform, metrics(), *object);
  if (!session) return session.error();
  object->session = std::move(session.value());
  object->batch.reserve(64 * 1024);
  object->batch_sizes.reserve(128);
  SessionObject& s = *object;
  auto handle = adopt(std::move(object), HandleType::media_session);
  if (!handle) return handle.error();
  schedule(s);
  resp.mutable_create_media_session()->set_session(handle.value());
  return {};
}

Result<SessionObject*> MediaHub::create_peer_session(const std::string& cname) {
  if (closed_.load()) return Error{Errc::disposed, "the core was disposed"};
  media::MediaSessionConfig config;  // no keys: DTLS-SRTP provides them after the handshake
  if (!cname.empty()) config.cname = cname;
  auto object = std::make_unique<SessionObject>(*this);
  auto session = media::MediaSession::create(config, core_.platform(), metrics(), *object);
  if (!session) return session.error();
  object->session = std::move(session.value());
  object->batch.reserve(64 * 1024);
  object->batch_sizes.reserve(128);
  SessionObject* s = object.get();
  auto handle = adopt(std::move(object), HandleType::media_session);
  if (!handle) return handle.error();
  ++s->users;
  schedule(*s);
  return s;
}

void MediaHub::detach_user(SessionObject& session) {
  --session.users;
  if (session.handle_dropped && session.users == 0) release(&session);
}

Result<void> MediaHub::deliver(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& r = req.deliver_media_packets();
  auto s = lookup<SessionObject>(r.session(), HandleType::media_session);
  if (!s) return s.error();
  SessionObject& session = *s.value();
  const uint64_t now = core_.platform().clock.now_ns();
  uint32_t accepted = 0, rejected = 0;
  for (const std::string& packet : r.packets()) {
    // The session decrypts in place: the parsed request's bytes are ours to overwrite.
    std::span<uint8_t> bytes(reinterpret_cast<uint8_t*>(const_cast<char*>(packet.data())), packet.size());
    if (session.session->receive(bytes, now) == Errc::ok) {
      ++accepted;
    } else {
      ++rejected;
    }
  }
  session.session->poll(now);
  schedule(session);
  auto* out = resp.mutable_deliver_media_packets();
  out->set_accepted(accepted);
  out->set_rejected(rejected);
  return {};
}

Result<void> MediaHub::set_impairment(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& r = req.set_impairment();
  auto s = lookup<SessionObject>(r.session(), HandleType::media_session);
  if (!s) return s.error();
  auto impairments = to_impairments(r.impairment());
  if (!impairments) return impairments.error();
  SessionObject& session = *s.value();
  if (!session.link) {
    sim::LinkConfig link;
    link.seed = r.impairment().seed() != 0 ? r.impairment().seed() : random_u64(core_.platform().entropy);
    link.capacity = 4096;
    auto created = sim::NetworkLink::create(link);
    if (!created) return created.error();
    session.link.emplace(std::move(created.value()));
  }
  if (auto set = session.link->set_impairments(impairments.value()); !set.ok()) return set.error();
  resp.mutable_set_impairment();
  return {};
}

}  // namespace tandem::ffi
