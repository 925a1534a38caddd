// The C ABI over Core. The same file serves both targets: the platform comes from platform::create_host(),
// which native/ and wasm/ each implement.
#include <memory>
#include <string>

#include "core/ffi/core.h"
#include "tandem/tandem.h"

struct tandem_core {
  std::unique_ptr<tandem::platform::Host> host;
  std::unique_ptr<tandem::ffi::Core> core;
};

namespace {
thread_local std::string t_response;  // see "Ownership of buffers" in tandem.h
}

extern "C" {

int tandem_initialize(tandem_event_fn on_event, void* user_data, const uint8_t* options, size_t options_len,
                      tandem_core** out) {
  if (out == nullptr) return TANDEM_INVALID_ARGUMENT;
  *out = nullptr;
  if (options == nullptr && options_len != 0) return TANDEM_INVALID_ARGUMENT;
  auto handle = std::make_unique<tandem_core>();
  handle->host = tandem::platform::create_host();
  tandem::ffi::EventCallback callback;
  if (on_event != nullptr) {
    callback = [on_event, user_data](uint64_t sub, std::span<const uint8_t> bytes) {
      on_event(user_data, sub, bytes.data(), bytes.size());
    };
  }
  auto core = tandem::ffi::Core::create(handle->host->platform(), {options, options_len}, std::move(callback));
  if (!core.ok()) return static_cast<int>(core.code());
  handle->core = std::move(core).value();
  *out = handle.release();
  return TANDEM_OK;
}

int tandem_request(tandem_core* core, const uint8_t* request, size_t request_len, const uint8_t** response,
                   size_t* response_len) {
  if (core == nullptr || response == nullptr || response_len == nullptr) return TANDEM_INVALID_ARGUMENT;
  if (request == nullptr && request_len != 0) return TANDEM_INVALID_ARGUMENT;
  core->core->request({request, request_len}, t_response);
  *response = reinterpret_cast<const uint8_t*>(t_response.data());
  *response_len = t_response.size();
  return TANDEM_OK;
}

int tandem_drop_handle(tandem_core* core, uint64_t handle) {
  if (core == nullptr) return TANDEM_INVALID_ARGUMENT;
  return static_cast<int>(core->core->drop_handle(handle).code());
}

void tandem_dispose(tandem_core* core) {
  if (core == nullptr) return;
  core->core->shutdown();
  core->host.reset();  // stops the runtime: no task or callback runs after this
  core->core.reset();
  delete core;
}

const char* tandem_error_name(int code) {
  return tandem::to_string(static_cast<tandem::Errc>(code)).data();  // views of NUL-terminated literals
}

}  // extern "C"
