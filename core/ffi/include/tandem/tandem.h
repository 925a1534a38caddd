/* tandem's C ABI: four calls, protobuf-lite bytes in and out (messages in proto/tandem.proto).
 *
 * Ownership of buffers:
 *  - Bytes you pass in (options, requests) are borrowed for the duration of the call only.
 *  - The response of tandem_request() is owned by tandem and stays valid until the same thread calls
 *    tandem_request() again (on any core) or the core is disposed. Copy it if you need it longer. The buffer is
 *    reused per thread, so steady-state requests allocate no response buffer and no handle.
 *  - Event bytes passed to your callback are valid only during the callback.
 *
 * Threads: tandem_request() and tandem_drop_handle() may be called from any thread, concurrently. The event
 * callback runs on the core's runtime thread, one event at a time, never re-entrantly; it may call
 * tandem_request(). tandem_dispose() must not race with other calls on the same core and must not be called
 * from the event callback.
 */
#ifndef TANDEM_TANDEM_H
#define TANDEM_TANDEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define TANDEM_API __declspec(dllexport)
#else
#define TANDEM_API __attribute__((visibility("default")))
#endif

/* Return codes equal tandem.api.ErrorCode. */
#define TANDEM_OK 0
#define TANDEM_MALFORMED_REQUEST 1
#define TANDEM_INVALID_ARGUMENT 3
#define TANDEM_NULL_HANDLE 4
#define TANDEM_UNKNOWN_HANDLE 5
#define TANDEM_STALE_HANDLE 6
#define TANDEM_WRONG_HANDLE_TYPE 7
#define TANDEM_DISPOSED 8
#define TANDEM_INTERNAL 10

typedef struct tandem_core tandem_core;

/* subscription: the SUBSCRIPTION handle the event matched, or 0 for a request completion (FfiEvent.async_id
 * names the request). event/len: an encoded FfiEvent. */
typedef void (*tandem_event_fn)(void* user_data, uint64_t subscription, const uint8_t* event, size_t len);

/* Creates a core and its runtime. options: an encoded InitializeOptions (NULL/0 for defaults).
 * On success stores the core in *out and returns TANDEM_OK; else returns a code and *out is NULL. */
TANDEM_API int tandem_initialize(tandem_event_fn on_event, void* user_data, const uint8_t* options,
                                 size_t options_len, tandem_core** out);

/* Serves one encoded FfiRequest. The FfiResponse (which carries the request's own error, if any) is returned
 * through *response / *response_len. Returns TANDEM_OK, or TANDEM_INVALID_ARGUMENT for NULL arguments. */
TANDEM_API int tandem_request(tandem_core* core, const uint8_t* request, size_t request_len,
                              const uint8_t** response, size_t* response_len);

/* Drops a handle. Returns TANDEM_OK or TANDEM_NULL_HANDLE / UNKNOWN_HANDLE / STALE_HANDLE. */
TANDEM_API int tandem_drop_handle(tandem_core* core, uint64_t handle);

/* Stops the runtime (queued events are discarded; send a DisposeRequest first to flush them) and frees the
 * core. No callback runs after this returns. NULL is ignored. */
TANDEM_API void tandem_dispose(tandem_core* core);

/* "ok", "stale_handle", ... for a return or ErrorCode value. */
TANDEM_API const char* tandem_error_name(int code);

#ifdef __cplusplus
}
#endif

#endif /* TANDEM_TANDEM_H */
