// Conversion of a metrics snapshot to its API message.
#pragma once

#include "core/metrics/registry.h"

namespace tandem::api {
class MetricsReport;
}

namespace tandem::ffi {

void to_proto(const metrics::Snapshot& snapshot, api::MetricsReport& out);

}  // namespace tandem::ffi
