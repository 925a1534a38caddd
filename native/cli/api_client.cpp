#include "api_client.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tandem::cli {

ApiClient::ApiClient() : wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

ApiClient::~ApiClient() {
  tandem_dispose(core_);  // no callback runs after this returns
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

std::unique_ptr<ApiClient> ApiClient::create(const api::InitializeOptions& options, std::string& error) {
  std::unique_ptr<ApiClient> client(new ApiClient());
  if (client->wake_fd_ < 0) {
    error = std::string("eventfd: ") + std::strerror(errno);
    return nullptr;
  }
  const std::string bytes = options.SerializeAsString();
  const int rc = tandem_initialize(&ApiClient::on_event, client.get(), reinterpret_cast<const uint8_t*>(bytes.data()),
                                   bytes.size(), &client->core_);
  if (rc != TANDEM_OK) {
    error = std::string("tandem_initialize: ") + tandem_error_name(rc);
    return nullptr;
  }
  return client;
}

bool ApiClient::call(const api::FfiRequest& request, api::FfiResponse& response, std::string& error) {
  request.SerializeToString(&request_bytes_);
  const uint8_t* out = nullptr;
  size_t out_len = 0;
  const int rc = tandem_request(core_, reinterpret_cast<const uint8_t*>(request_bytes_.data()), request_bytes_.size(),
                                &out, &out_len);
  if (rc != TANDEM_OK) {
    error = std::string("tandem_request: ") + tandem_error_name(rc);
    return false;
  }
  if (!response.ParseFromArray(out, static_cast<int>(out_len))) {
    error = "tandem_request returned bytes that are not an FfiResponse";
    return false;
  }
  if (response.error() != api::OK) {
    error = std::string(tandem_error_name(response.error())) + ": " + response.error_message();
    return false;
  }
  return true;
}

void ApiClient::take_events(std::vector<std::string>& out) {
  uint64_t count = 0;
  (void)!::read(wake_fd_, &count, sizeof count);  // resets the eventfd; EAGAIN when nothing was signalled
  std::lock_guard lock(mutex_);
  for (auto& e : queue_) out.push_back(std::move(e));
  queue_.clear();
}

void ApiClient::on_event(void* self, uint64_t, const uint8_t* event, size_t len) {
  auto* client = static_cast<ApiClient*>(self);
  bool was_empty;
  {
    std::lock_guard lock(client->mutex_);
    was_empty = client->queue_.empty();
    client->queue_.emplace_back(reinterpret_cast<const char*>(event), len);
  }
  if (was_empty) {
    const uint64_t one = 1;
    (void)!::write(client->wake_fd_, &one, sizeof one);
  }
}

}  // namespace tandem::cli
