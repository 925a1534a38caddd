#include "core/transport/peer/transport_metrics.h"

namespace tandem::transport {

TransportMetrics TransportMetrics::in(metrics::Registry& r, platform::Clock& clock) {
  TransportMetrics m;
  m.clock = &clock;
  m.gathering = &r.histogram("connect_phase", "gathering");
  m.ice_checks = &r.histogram("connect_phase", "ice_checks");
  m.dtls_handshake = &r.histogram("connect_phase", "dtls_handshake");
  m.sctp_association = &r.histogram("connect_phase", "sctp_association");
  m.channel_open = &r.histogram("connect_phase", "channel_open");
  m.connect_total = &r.histogram("connect_phase", "connect_total");
  m.dc_send = &r.histogram("dc_send");
  m.dc_receive = &r.histogram("dc_receive");
  m.stun_received = &r.counter("transport_datagrams_received", "stun");
  m.dtls_received = &r.counter("transport_datagrams_received", "dtls");
  m.srtp_received = &r.counter("transport_datagrams_received", "srtp");
  m.unknown_received = &r.counter("transport_datagrams_received", "unknown");
  m.datagrams_sent = &r.counter("transport_datagrams_sent");
  m.dc_messages_sent = &r.counter("dc_messages_sent");
  m.dc_messages_received = &r.counter("dc_messages_received");
  m.dc_bytes_sent = &r.counter("dc_bytes_sent");
  m.dc_bytes_received = &r.counter("dc_bytes_received");
  m.connections_failed = &r.counter("peer_connections_failed");
  return m;
}

}  // namespace tandem::transport
