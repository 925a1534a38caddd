// The transport's instruments, registered once per core and shared by its peer connections. Names are stable
// (benchmarks and the demo overlay read them).
//
// connect_phase{...} histograms are durations on the caller's clock (the `now` passed in), one value per
// connection: gathering (creation to end of local candidates), ice_checks (remote credentials known to the
// first valid pair), dtls_handshake, sctp_association (DTLS connected to SCTP up), channel_open (create to
// open, per channel) and connect_total (creation to connected). dc_send / dc_receive are nanoseconds of work
// per message on the runtime (send_data, and the delivery of a received message as an event).
#pragma once

#include "core/metrics/registry.h"
#include "tandem/platform/platform.h"

namespace tandem::transport {

struct TransportMetrics {
  platform::Clock* clock = nullptr;  // for dc_send/dc_receive; null: those are not recorded
  metrics::Histogram* gathering = nullptr;
  metrics::Histogram* ice_checks = nullptr;
  metrics::Histogram* dtls_handshake = nullptr;
  metrics::Histogram* sctp_association = nullptr;
  metrics::Histogram* channel_open = nullptr;
  metrics::Histogram* connect_total = nullptr;
  metrics::Histogram* dc_send = nullptr;
  metrics::Histogram* dc_receive = nullptr;
  metrics::Counter* stun_received = nullptr;
  metrics::Counter* dtls_received = nullptr;
  metrics::Counter* srtp_received = nullptr;
  metrics::Counter* unknown_received = nullptr;  // RFC 7983 classes we do not speak, or not from a valid pair
  metrics::Counter* datagrams_sent = nullptr;
  metrics::Counter* dc_messages_sent = nullptr;
  metrics::Counter* dc_messages_received = nullptr;
  metrics::Counter* dc_bytes_sent = nullptr;
  metrics::Counter* dc_bytes_received = nullptr;
  metrics::Counter* connections_failed = nullptr;

  // Every instrument registered in `registry`; `clock` times the per-message work.
  static TransportMetrics in(metrics::Registry& registry, platform::Clock& clock);
  // No instruments: the protocol objects run unmeasured (tests of the logic alone).
  static TransportMetrics none() { return {}; }
};

inline void record(metrics::Histogram* h, uint64_t value) {
  if (h != nullptr) h->record(value);
}
inline void count(metrics::Counter* c, uint64_t n = 1) {
  if (c != nullptr) c->add(n);
}

}  // namespace tandem::transport
