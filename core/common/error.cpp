#include "core/common/error.h"

namespace tandem {

std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::ok: return "ok";
    case Errc::malformed_request: return "malformed_request";
    case Errc::unknown_request: return "unknown_request";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::null_handle: return "null_handle";
    case Errc::unknown_handle: return "unknown_handle";
    case Errc::stale_handle: return "stale_handle";
    case Errc::wrong_handle_type: return "wrong_handle_type";
    case Errc::disposed: return "disposed";
    case Errc::resource_exhausted: return "resource_exhausted";
    case Errc::internal: return "internal";
    case Errc::authentication_failed: return "authentication_failed";
    case Errc::replayed: return "replayed";
    case Errc::malformed_packet: return "malformed_packet";
    case Errc::timed_out: return "timed_out";
    case Errc::protocol_error: return "protocol_error";
  }
  return "unknown_error_code";
}

}  // namespace tandem
