// tandem's public API as an SDK user holds it: the C ABI (tandem/tandem.h) with protobuf-lite messages.
//
// Events arrive on the core's runtime thread; this client copies them into a queue and wakes the owner's poll
// loop through an eventfd, so everything the CLI decides happens on its one main thread (requests are
// thread-safe and may come from there).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "proto/tandem.pb.h"
#include "tandem/tandem.h"

namespace tandem::cli {

class ApiClient {
 public:
  // Null with a reason in `error` if the core does not start.
  static std::unique_ptr<ApiClient> create(const api::InitializeOptions& options, std::string& error);
  ~ApiClient();  // disposes the core
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // Serves one request. False if the core answered with an error; `error` then says which and why.
  bool call(const api::FfiRequest& request, api::FfiResponse& response, std::string& error);

  // Readable when events are queued.
  int wake_fd() const { return wake_fd_; }
  // Moves the queued events (encoded FfiEvents) into `out`, in arrival order.
  void take_events(std::vector<std::string>& out);

 private:
  ApiClient();
  static void on_event(void* self, uint64_t subscription, const uint8_t* event, size_t len);

  tandem_core* core_ = nullptr;
  int wake_fd_ = -1;
  std::mutex mutex_;
  std::vector<std::string> queue_;
  std::string request_bytes_;  // reused: the encoded request
};

}  // namespace tandem::cli
