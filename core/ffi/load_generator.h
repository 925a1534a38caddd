// Synthetic load for the demo and the benchmarks: publishes SYNTHETIC_EVENTs in batches on the runtime (paced
// to a rate, or as fast as possible), churns SYNTHETIC handles (store, retrieve, drop) spread over the run,
// and finishes with a REQUEST_COMPLETE event for its waiter. The event it publishes is one reused message, so
// a run allocates nothing per event.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/common/error.h"
#include "core/handle/handle_table.h"
#include "proto/tandem.pb.h"

namespace tandem::ffi {

class Core;

class LoadGenerator : public std::enable_shared_from_this<LoadGenerator> {
 public:
  struct Started {
    std::shared_ptr<LoadGenerator> generator;
    Handle handle = 0;
  };
  // Validates the request, stores a LOAD_GENERATOR handle and posts the first step.
  static Result<Started> start(Core& core, const api::LoadGeneratorRequest& request, uint64_t async_id);
  // Asks the run to end at its next step (any thread).
  void stop() { stop_.store(true, std::memory_order_relaxed); }

  LoadGenerator(Core& core, const api::LoadGeneratorRequest& request, uint64_t async_id);

 private:
  void step();
  void schedule_next();
  void finish(bool early);

  Core& core_;
  uint64_t async_id_;
  Handle handle_ = 0;
  uint64_t events_;
  std::vector<uint64_t> keys_;
  double rate_;
  uint64_t churn_;
  uint32_t batch_;
  std::atomic<bool> stop_{false};
  uint64_t start_ns_ = 0;
  uint64_t published_ = 0;
  uint64_t churned_ = 0;
  api::FfiEvent event_;  // reused for every event
  int churn_object_ = 0;   // what the churned handles point at (they own nothing)
};

}  // namespace tandem::ffi
