// One tandem core instance: the handle table, the event bus, metrics and logging, and the dispatcher that
// serves FfiRequests. Both the C ABI (native) and Embind (wasm) are thin layers over this class, and C++
// programs may use it directly.
//
// Threads: request() and drop_handle() may be called from any thread. Events are delivered to the callback on
// the platform's runtime (the runtime thread natively, the worker in wasm), one at a time, never re-entrantly.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/events/event_bus.h"
#include "core/handle/handle_table.h"
#include "core/log/logger.h"
#include "core/metrics/registry.h"
#include "core/metrics/reporter.h"
#include "tandem/platform/platform.h"

namespace tandem::api {
class FfiRequest;
class FfiResponse;
class InitializeOptions;
}  // namespace tandem::api

namespace tandem::ffi {

class LoadGenerator;
class MediaHub;
class PeerHub;

// subscription: the SUBSCRIPTION handle the event was delivered for, or 0 for a request completion (the
// event's async_id names the request). The bytes are an encoded FfiEvent, valid only during the call.
using EventCallback = std::function<void(uint64_t subscription, std::span<const uint8_t> event)>;

class Core {
 public:
  // `options` is an encoded InitializeOptions (empty: defaults). Fails with malformed_request or
  // invalid_argument for bad options.
  static Result<std::unique_ptr<Core>> create(platform::Platform& platform, std::span<const uint8_t> options,
                                              EventCallback on_event);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // Serves one encoded FfiRequest; writes the encoded FfiResponse into `response` (its capacity is reused, so
  // a caller that keeps the string allocates nothing per call in steady state). Never throws.
  void request(std::span<const uint8_t> request, std::string& response);
  // The same operation as a DropHandleRequest, without encoding.
  Result<HandleType> drop_handle(Handle handle);
  // Stops timers and generators and marks the core disposed. Call before the runtime stops, on any thread.
  void shutdown();

  platform::Platform& platform() { return platform_; }
  metrics::Registry& metrics() { return registry_; }
  HandleTable& handles() { return handles_; }
  events::EventBus& bus() { return bus_; }
  log::Logger& logger() { return logger_; }
  void log(log::LogLevel level, std::string_view target, std::string_view message) {
    logger_.write(level, target, message);
  }
  uint64_t next_async_id() { return next_async_id_.fetch_add(1, std::memory_order_relaxed); }

 private:
  Core(platform::Platform& platform, EventCallback on_event);
  Result<void> apply_options(const api::InitializeOptions& options);
  void dispatch(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> handle_subscribe(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> handle_unsubscribe(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> handle_get_metrics(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> handle_configure_metrics(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> handle_load_generator(const api::FfiRequest& req, api::FfiResponse& resp);
  Result<void> handle_dispose(api::FfiResponse& resp);
  Result<void> handle_media(const api::FfiRequest& req, api::FfiResponse& resp);
  void publish_report(const metrics::Snapshot& snapshot);
  void deliver_logs(std::span<const log::Record> records, uint64_t dropped);
  void post_guarded(platform::Task task);

  platform::Platform& platform_;
  EventCallback on_event_;
  // Declaration order is destruction order in reverse: the handle table's remaining objects (subscriptions)
  // call into the bus when destroyed, so the bus must outlive the table.
  metrics::Registry registry_;
  events::EventBus bus_;
  // Media objects are named by handles whose deleters call into the hub: it must outlive the table.
  std::unique_ptr<MediaHub> media_;
  std::unique_ptr<PeerHub> peers_;  // after media_: a peer's session lives in the media hub
  HandleTable handles_;
  log::Logger logger_;
  metrics::Reporter reporter_;
  std::atomic<uint64_t> next_async_id_{1};
  std::atomic<bool> disposed_{false};
  // Tasks posted to the runtime check this token so none runs after the core is gone.
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);

  std::mutex generators_mutex_;
  std::vector<std::weak_ptr<LoadGenerator>> generators_;

  // ffi_request{kind=...} by FfiRequest oneof case (index 0: unknown / malformed).
  static constexpr size_t kRequestKinds = 32;
  std::array<metrics::Histogram*, kRequestKinds> request_hist_{};
  metrics::Counter& request_errors_;
  friend class LoadGenerator;
};

}  // namespace tandem::ffi
