#include "core/ffi/load_generator.h"

#include <algorithm>
#include <string>

#include "core/ffi/core.h"

namespace tandem::ffi {

LoadGenerator::LoadGenerator(Core& core, const api::LoadGeneratorRequest& request, uint64_t async_id)
    : core_(core),
      async_id_(async_id),
      events_(request.events()),
      keys_(request.keys().begin(), request.keys().end()),
      rate_(request.events_per_second()),
      churn_(request.handle_churn()),
      batch_(request.batch() == 0 ? 256 : request.batch()) {
  // A paced run steps at least every ~10 ms, so dropping its handle stops it within about that long
  // (a step is where the stop request is seen).
  if (rate_ > 0) batch_ = std::clamp<uint32_t>(static_cast<uint32_t>(rate_ / 100), 1, batch_);
  event_.mutable_synthetic()->mutable_payload()->assign(request.payload_bytes(), '\x5a');
}

Result<LoadGenerator::Started> LoadGenerator::start(Core& core, const api::LoadGeneratorRequest& request,
                                                    uint64_t async_id) {
  if (request.payload_bytes() > 65536) return Error{Errc::invalid_argument, "payload_bytes must be <= 65536"};
  if (!(request.events_per_second() >= 0) || request.events_per_second() > 1e9) {
    return Error{Errc::invalid_argument, "events_per_second must be in [0, 1e9]"};
  }
  if (request.batch() > 1'000'000) return Error{Errc::invalid_argument, "batch must be <= 1000000"};
  auto gen = std::make_shared<LoadGenerator>(core, request, async_id);
  // The handle owns a shared_ptr; dropping it (by the host, or by the run when it ends) asks the run to stop.
  auto* owner = new std::shared_ptr<LoadGenerator>(gen);
  auto handle = core.handles().store(HandleType::load_generator, owner, [](void* p) {
    auto* sp = static_cast<std::shared_ptr<LoadGenerator>*>(p);
    (*sp)->stop();
    delete sp;
  });
  if (!handle.ok()) {
    delete owner;
    return handle.error();
  }
  gen->handle_ = *handle;
  gen->event_.mutable_synthetic()->set_generator(*handle);
  gen->start_ns_ = core.platform().clock.now_ns();
  core.post_guarded([gen] { gen->step(); });
  return Started{gen, *handle};
}

void LoadGenerator::step() {
  if (stop_.load(std::memory_order_relaxed)) return finish(true);
  const uint64_t n = std::min<uint64_t>(batch_, events_ - published_);
  auto* synthetic = event_.mutable_synthetic();
  for (uint64_t i = 0; i < n; ++i, ++published_) {
    const uint64_t key = keys_.empty() ? 0 : keys_[published_ % keys_.size()];
    synthetic->set_sequence(published_);
    event_.set_key(key);
    core_.bus().publish(events::EventKind::synthetic, key, [this](std::string& out) {
      event_.SerializeToString(&out);
    });
  }
  // Churn in step with the events (all at once, batch by batch, if there are no events).
  const uint64_t churn_due =
      events_ == 0 ? std::min<uint64_t>(churn_, churned_ + batch_) : churn_ * published_ / events_;
  for (; churned_ < churn_due; ++churned_) {
    auto h = core_.handles().store(HandleType::synthetic, &churn_object_, nullptr);
    if (!h.ok()) break;
    { auto ref = core_.handles().retrieve(*h, HandleType::synthetic); }
    (void)core_.handles().drop(*h);
  }
  if (published_ >= events_ && churned_ >= churn_) return finish(false);
  schedule_next();
}

void LoadGenerator::schedule_next() {
  auto self = shared_from_this();
  if (rate_ <= 0) {
    core_.post_guarded([self] { self->step(); });
    return;
  }
  const uint64_t due = start_ns_ + static_cast<uint64_t>(static_cast<double>(published_) * 1e9 / rate_);
  const uint64_t now = core_.platform().clock.now_ns();
  core_.platform().runner.post_delayed(due > now ? due - now : 0, [self, alive = core_.alive_] {
    if (*alive) self->step();
  });
}

void LoadGenerator::finish(bool early) {
  const uint64_t duration = core_.platform().clock.now_ns() - start_ns_;
  (void)core_.handles().drop(handle_);  // stale if the host dropped it first: fine
  core_.bus().complete(async_id_, [&](std::string& out) {
    api::FfiEvent ev;
    ev.set_async_id(async_id_);
    ev.set_key(async_id_);
    auto* result = ev.mutable_request_complete()->mutable_load_generator();
    result->set_events_published(published_);
    result->set_handles_churned(churned_);
    result->set_duration_ns(duration);
    result->set_stopped_early(early);
    ev.SerializeToString(&out);
  });
}

}  // namespace tandem::ffi
