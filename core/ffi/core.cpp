#include "core/ffi/core.h"

#include <google/protobuf/arena.h>

#include "core/ffi/load_generator.h"
#include "core/ffi/media_hub.h"
#include "core/ffi/peer_hub.h"
#include "core/ffi/metrics_proto.h"
#include "core/metrics/timer.h"
#include "proto/tandem.pb.h"

namespace tandem::ffi {
namespace {

// Indexed by FfiRequest's oneof field number (0: invalid or unknown).
constexpr const char* kRequestKindNames[] = {
    "invalid",          "dispose",          "get_metrics",           "configure_metrics",   "subscribe",
    "unsubscribe",      "ping",             "drop_handle",           "load_generator",      "create_media_session",
    "deliver_media_packets", "set_impairment", "create_audio_source", "capture_audio_frame", "create_audio_stream",
    "create_video_source", "capture_video_frame", "create_video_stream", "get_media_stats", "create_peer",
    "create_offer", "create_answer", "set_remote_description", "add_ice_candidate", "add_track",
    "create_data_channel", "send_data", "set_buffered_amount_low_threshold", "close_data_channel", "close_peer",
    "deliver_peer_datagrams", "get_peer_stats"};

// Requests are parsed into a per-thread arena whose first block is reused, so parsing a typical request and
// building its response allocate nothing from the heap in steady state (bytes/strings longer than the
// small-string buffer are the exception: protobuf 3.21 gives arena strings heap storage).
struct RequestArena {
  static constexpr size_t kBlock = 16 * 1024;
  alignas(16) char block[kBlock];
  google::protobuf::Arena arena;
  static google::protobuf::ArenaOptions options(char* block) {
    google::protobuf::ArenaOptions o;
    o.initial_block = block;
    o.initial_block_size = kBlock;
    return o;
  }
  RequestArena() : arena(options(block)) {}
};

RequestArena& request_arena() {
  thread_local RequestArena a;
  return a;
}

Result<void> fail(Errc code, std::string message) { return Error{code, std::move(message)}; }

log::LogLevel to_level(api::LogLevel l) {
  return l == api::LOG_LEVEL_UNSPECIFIED ? log::LogLevel::info : static_cast<log::LogLevel>(l);
}

}  // namespace

Core::Core(platform::Platform& platform, EventCallback on_event)
    : platform_(platform),
      on_event_(std::move(on_event)),
      registry_(platform.clock.now_ns()),
      bus_(
          registry_, platform.clock,
          [this](uint64_t sub, std::span<const uint8_t> bytes) {
            if (on_event_) on_event_(sub, bytes);
          },
          [this] { post_guarded([this] { bus_.drain(); }); }),
      media_(std::make_unique<MediaHub>(*this)),
      peers_(std::make_unique<PeerHub>(*this, *media_)),
      handles_(&registry_, &platform.clock),
      logger_(
          platform.clock, &platform.log_sink,
          [this](std::span<const log::Record> records, uint64_t dropped) { deliver_logs(records, dropped); },
          [this] { post_guarded([this] { logger_.flush(); }); }),
      reporter_(platform.runner, platform.clock, registry_,
                [this](const metrics::Snapshot& s) { publish_report(s); }),
      request_errors_(registry_.counter("ffi_request_errors")) {
  static_assert(std::size(kRequestKindNames) == kRequestKinds);
  for (size_t k = 0; k < kRequestKinds; ++k) {
    request_hist_[k] = &registry_.histogram("ffi_request", std::string("kind=") + kRequestKindNames[k]);
  }
}

Result<std::unique_ptr<Core>> Core::create(platform::Platform& platform, std::span<const uint8_t> options,
                                           EventCallback on_event) {
  api::InitializeOptions opts;
  if (!opts.ParseFromArray(options.data(), static_cast<int>(options.size()))) {
    return Error{Errc::malformed_request, "initialize options are not a valid InitializeOptions message"};
  }
  std::unique_ptr<Core> core(new Core(platform, std::move(on_event)));
  if (auto r = core->apply_options(opts); !r.ok()) return r.error();
  core->log(log::LogLevel::info, "core", "initialized");
  return core;
}

Core::~Core() {
  alive_->store(false);
  shutdown();
}

Result<void> Core::apply_options(const api::InitializeOptions& o) {
  if (!api::LogLevel_IsValid(o.log_level())) return fail(Errc::invalid_argument, "unknown log_level");
  if (o.log_batch_size() > 65536) return fail(Errc::invalid_argument, "log_batch_size must be <= 65536");
  if (o.metrics_report_interval_ms() != 0 && o.metrics_report_interval_ms() < 10) {
    return fail(Errc::invalid_argument, "metrics_report_interval_ms must be 0 (default) or >= 10");
  }
  logger_.set_level(to_level(o.log_level()));
  logger_.set_batch_size(o.log_batch_size());
  logger_.set_platform_echo(o.log_to_platform());
  metrics::ReportSettings s;
  s.interval_ms = o.metrics_report_interval_ms() == 0 ? 10'000 : o.metrics_report_interval_ms();
  s.disabled = o.metrics_report_disabled();
  s.reset_on_report = o.metrics_reset_on_report();
  reporter_.configure(s);
  return {};
}

void Core::post_guarded(platform::Task task) {
  platform_.runner.post([alive = alive_, task = std::move(task)] {
    if (alive->load()) task();
  });
}

Result<void> Core::handle_media(const api::FfiRequest& req, api::FfiResponse& resp) {
  // Media and peer objects live on the runtime: hop there (natively this caller waits; in wasm we are
  // already there).
  Result<void> r = fail(Errc::disposed, "the runtime is stopping");
  if (PeerHub::serves(req.message_case())) {
    platform_.runner.invoke([&] { r = peers_->handle(req, resp); });
  } else {
    platform_.runner.invoke([&] { r = media_->handle(req, resp); });
  }
  return r;
}

void Core::shutdown() {
  const bool first = !disposed_.exchange(true);
  // Tear the media objects down on the runtime while it still runs (their crypto and timers belong to it).
  // Peers first: they detach from their media sessions.
  if (first) platform_.runner.invoke([this] {
    peers_->close();
    media_->close();
  });
  reporter_.stop();
  std::lock_guard lock(generators_mutex_);
  for (auto& weak : generators_) {
    if (auto g = weak.lock()) g->stop();
  }
  generators_.clear();
}

void Core::request(std::span<const uint8_t> bytes, std::string& response) {
  const uint64_t start = platform_.clock.now_ns();
  auto& scratch = request_arena();
  scratch.arena.Reset();
  auto* req = google::protobuf::Arena::CreateMessage<api::FfiRequest>(&scratch.arena);
  auto* resp = google::protobuf::Arena::CreateMessage<api::FfiResponse>(&scratch.arena);
  size_t kind = 0;
  if (!req->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    resp->set_error(api::MALFORMED_REQUEST);
    resp->set_error_message("request bytes are not a valid FfiRequest");
  } else {
    kind = static_cast<size_t>(req->message_case());
    if (kind >= kRequestKinds) kind = 0;
    dispatch(*req, *resp);
  }
  if (resp->error() != api::OK) request_errors_.add();
  resp->SerializeToString(&response);
  request_hist_[kind]->record(platform_.clock.now_ns() - start);
}

void Core::dispatch(const api::FfiRequest& req, api::FfiResponse& resp) {
  Result<void> r;
  if (disposed_.load() && req.message_case() != api::FfiRequest::MESSAGE_NOT_SET) {
    r = fail(Errc::disposed, "the core was disposed");
  } else {
    switch (req.message_case()) {
      case api::FfiRequest::kDispose: r = handle_dispose(resp); break;
      case api::FfiRequest::kGetMetrics: r = handle_get_metrics(req, resp); break;
      case api::FfiRequest::kConfigureMetrics: r = handle_configure_metrics(req, resp); break;
      case api::FfiRequest::kSubscribe: r = handle_subscribe(req, resp); break;
      case api::FfiRequest::kUnsubscribe: r = handle_unsubscribe(req, resp); break;
      case api::FfiRequest::kPing: {
        auto* p = resp.mutable_ping();
        p->set_payload(req.ping().payload());
        p->set_sent_ns(req.ping().sent_ns());
        p->set_core_now_ns(platform_.clock.now_ns());
        break;
      }
      case api::FfiRequest::kDropHandle: {
        auto dropped = drop_handle(req.drop_handle().handle());
        if (dropped.ok()) {
          resp.mutable_drop_handle()->set_type(static_cast<api::HandleType>(*dropped));
        } else {
          r = dropped.error();
        }
        break;
      }
      case api::FfiRequest::kLoadGenerator: r = handle_load_generator(req, resp); break;
      case api::FfiRequest::kCreateMediaSession:
      case api::FfiRequest::kDeliverMediaPackets:
      case api::FfiRequest::kSetImpairment:
      case api::FfiRequest::kCreateAudioSource:
      case api::FfiRequest::kCaptureAudioFrame:
      case api::FfiRequest::kCreateAudioStream:
      case api::FfiRequest::kCreateVideoSource:
      case api::FfiRequest::kCaptureVideoFrame:
      case api::FfiRequest::kCreateVideoStream:
      case api::FfiRequest::kGetMediaStats:
      case api::FfiRequest::kCreatePeer:
      case api::FfiRequest::kCreateOffer:
      case api::FfiRequest::kCreateAnswer:
      case api::FfiRequest::kSetRemoteDescription:
      case api::FfiRequest::kAddIceCandidate:
      case api::FfiRequest::kAddTrack:
      case api::FfiRequest::kCreateDataChannel:
      case api::FfiRequest::kSendData:
      case api::FfiRequest::kSetBufferedAmountLowThreshold:
      case api::FfiRequest::kCloseDataChannel:
      case api::FfiRequest::kClosePeer:
      case api::FfiRequest::kDeliverPeerDatagrams:
      case api::FfiRequest::kGetPeerStats: r = handle_media(req, resp); break;
      case api::FfiRequest::MESSAGE_NOT_SET:
        r = fail(Errc::unknown_request, "the request names no kind this build knows");
        break;
    }
  }
  if (!r.ok()) {
    resp.clear_message();
    resp.set_async_id(0);
    resp.set_error(static_cast<api::ErrorCode>(r.error().code));
    resp.set_error_message(r.error().message);
  }
}

Result<HandleType> Core::drop_handle(Handle handle) { return handles_.drop(handle); }

namespace {
struct Subscription {
  events::EventBus* bus;
  uint64_t id = 0;
  ~Subscription() {
    if (id != 0) bus->unsubscribe(id);
  }
};
}  // namespace

Result<void> Core::handle_subscribe(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& sub = req.subscribe();
  events::Filter filter;
  if (sub.filter().kinds_size() == 0) return fail(Errc::invalid_argument, "filter.kinds must not be empty");
  for (int k : sub.filter().kinds()) {
    const auto kind = static_cast<events::EventKind>(k);
    if (k <= 0 || k >= static_cast<int>(events::kMaxEventKinds) || !events::is_known(kind)) {
      return fail(Errc::invalid_argument, "filter names unknown event kind " + std::to_string(k));
    }
    filter.add(kind);
  }
  filter.has_key = sub.filter().has_key();
  filter.key = sub.filter().key();
  if (!api::OverflowPolicy_IsValid(sub.overflow())) return fail(Errc::invalid_argument, "unknown overflow policy");
  const size_t capacity = sub.queue_capacity() == 0 ? 1024 : sub.queue_capacity();
  auto handle = handles_.store(HandleType::subscription, std::make_unique<Subscription>(Subscription{&bus_}));
  if (!handle.ok()) return handle.error();
  auto r = bus_.subscribe(*handle, filter, capacity, static_cast<events::Overflow>(sub.overflow()));
  if (!r.ok()) {
    (void)handles_.drop(*handle);
    return r;
  }
  // Only now may the handle's destruction unsubscribe (the id was not subscribed before).
  if (auto ref = handles_.retrieve(*handle, HandleType::subscription); ref.ok()) {
    ref->as<Subscription>()->id = *handle;
  }
  resp.mutable_subscribe()->set_subscription(*handle);
  return {};
}

Result<void> Core::handle_unsubscribe(const api::FfiRequest& req, api::FfiResponse& resp) {
  const Handle h = req.unsubscribe().subscription();
  {
    auto ref = handles_.retrieve(h, HandleType::subscription);  // typed check before dropping
    if (!ref.ok()) return ref.error();
  }
  auto dropped = handles_.drop(h);
  if (!dropped.ok()) return dropped.error();
  resp.mutable_unsubscribe();
  return {};
}

Result<void> Core::handle_get_metrics(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& g = req.get_metrics();
  if (!api::MetricsFormat_IsValid(g.format())) return fail(Errc::invalid_argument, "unknown metrics format");
  const uint64_t now = platform_.clock.now_ns();
  const metrics::Snapshot snap = registry_.snapshot(now);
  if (g.reset()) registry_.reset(now);
  auto* out = resp.mutable_get_metrics();
  switch (g.format()) {
    case api::JSON: out->set_text(metrics::to_json(snap)); break;
    case api::PROMETHEUS: out->set_text(metrics::to_prometheus(snap)); break;
    default: to_proto(snap, *out->mutable_report()); break;
  }
  return {};
}

Result<void> Core::handle_configure_metrics(const api::FfiRequest& req, api::FfiResponse& resp) {
  const auto& c = req.configure_metrics();
  if (c.report_interval_ms() != 0 && c.report_interval_ms() < 10) {
    return fail(Errc::invalid_argument, "report_interval_ms must be 0 (unchanged) or >= 10");
  }
  const auto applied = reporter_.configure({c.report_interval_ms(), c.report_disabled(), c.reset_on_report()});
  auto* out = resp.mutable_configure_metrics();
  out->set_report_interval_ms(applied.interval_ms);
  out->set_report_disabled(applied.disabled);
  out->set_reset_on_report(applied.reset_on_report);
  return {};
}

Result<void> Core::handle_load_generator(const api::FfiRequest& req, api::FfiResponse& resp) {
  const uint64_t async_id = next_async_id();
  if (auto w = bus_.add_waiter(async_id); !w.ok()) return w;
  auto started = LoadGenerator::start(*this, req.load_generator(), async_id);
  if (!started.ok()) {
    bus_.remove_waiter(async_id);  // nothing will complete this id
    return started.error();
  }
  {
    std::lock_guard lock(generators_mutex_);
    std::erase_if(generators_, [](const auto& w) { return w.expired(); });
    generators_.push_back(started->generator);
  }
  resp.set_async_id(async_id);
  resp.mutable_load_generator()->set_generator(started->handle);
  return {};
}

Result<void> Core::handle_dispose(api::FfiResponse& resp) {
  const uint64_t async_id = next_async_id();
  if (auto w = bus_.add_waiter(async_id); !w.ok()) return w;
  shutdown();
  log(log::LogLevel::info, "core", "disposing");
  // On the runtime: a final report to subscribers, the pending logs, then the completion, in that order.
  post_guarded([this, async_id] {
    publish_report(registry_.snapshot(platform_.clock.now_ns()));
    logger_.flush();
    bus_.complete(async_id, [async_id](std::string& out) {
      api::FfiEvent ev;
      ev.set_async_id(async_id);
      ev.set_key(async_id);
      ev.mutable_request_complete();
      ev.SerializeToString(&out);
    });
    bus_.drain();
  });
  resp.set_async_id(async_id);
  resp.mutable_dispose();
  return {};
}

void Core::publish_report(const metrics::Snapshot& snapshot) {
  log(log::LogLevel::info, "metrics", metrics::summary_line(snapshot));
  bus_.publish(events::EventKind::metrics_report, 0, [&](std::string& out) {
    api::FfiEvent ev;
    to_proto(snapshot, *ev.mutable_metrics_report());
    ev.SerializeToString(&out);
  });
}

void Core::deliver_logs(std::span<const log::Record> records, uint64_t dropped) {
  bus_.publish(events::EventKind::log_batch, 0, [&](std::string& out) {
    api::FfiEvent ev;
    auto* batch = ev.mutable_log_batch();
    batch->set_dropped(dropped);
    for (const auto& r : records) {
      auto* rec = batch->add_records();
      rec->set_level(static_cast<api::LogLevel>(r.level));
      rec->set_time_ns(r.time_ns);
      rec->set_target(r.target);
      rec->set_message(r.message);
    }
    ev.SerializeToString(&out);
  });
}

}  // namespace tandem::ffi
