#include "core/transport/sctp/sctp_stack.h"

#include "core/transport/sctp/crc32c.h"
#include "core/transport/sctp/usrsctp_runtime.h"

#include <usrsctp.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <utility>

namespace tandem::transport {
namespace {

constexpr size_t kCommonHeaderSize = detail::kSctpCommonHeaderSize;
constexpr uint64_t kNsPerMs = 1'000'000;
constexpr size_t kReadRoom = 64 * 1024;  // free space offered to each usrsctp_recvv
constexpr uint16_t kPrAll = 0x000f;      // SCTP_PR_SCTP_ALL: usrsctp's aggregate over PR policies

// usrsctp's structs carry ports and PPIDs in network byte order.
uint32_t to_network(uint32_t v) {
  const uint8_t b[4] = {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
  uint32_t out;
  std::memcpy(&out, b, 4);
  return out;
}
uint16_t to_network(uint16_t v) {
  const uint8_t b[2] = {uint8_t(v >> 8), uint8_t(v)};
  uint16_t out;
  std::memcpy(&out, b, 2);
  return out;
}
uint32_t from_network(uint32_t v) {
  uint8_t b[4];
  std::memcpy(b, &v, 4);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

void* address_of(uintptr_t token) { return reinterpret_cast<void*>(token); }

using detail::Outbox;
using detail::UsrsctpStack;

}  // namespace

struct SctpEndpoint::Impl {
  SctpOptions options;
  uintptr_t token = 0;  // our AF_CONN address: an opaque number usrsctp hands back to the output callback
  struct socket* sock = nullptr;
  uint64_t now_ns = 0;           // the latest time the caller gave this endpoint
  Outbox outbox;

  bool connecting = false;
  bool connected = false;
  uint16_t outbound_streams = 0;  // negotiated, once connected

  // Reading: rx[0, rx_len) is the message being assembled from pieces (usrsctp hands a message over in
  // pieces when it is larger than the room we offer or its partial delivery kicks in).
  std::vector<uint8_t> rx;
  size_t rx_len = 0;
  uint16_t rx_stream = 0;
  uint32_t rx_tsn = 0;  // the first TSN of the message being assembled, which every piece of it reports
  bool rx_discarding = false;  // skipping the rest of an oversized message
  std::vector<uint16_t> reset_streams;

  uint64_t packets_received = 0, bytes_received = 0, malformed = 0, oversized = 0, aborted_partial = 0, restarts = 0;

  std::optional<SctpEvent> read_one(bool& more);
  std::optional<SctpEvent> on_notification(const uint8_t* data, size_t len);
  std::optional<SctpEvent> closed(std::string_view reason) {
    if (!connecting && !connected) return std::nullopt;
    connecting = connected = false;
    SctpEvent ev;
    ev.kind = SctpEventKind::closed;
    ev.reason = reason;
    return ev;
  }
};

namespace {

template <class T>
bool set_option(struct socket* sock, int level, int name, const T& value) {
  return usrsctp_setsockopt(sock, level, name, &value, sizeof(value)) == 0;
}

sockaddr_conn conn_address(uintptr_t token, uint16_t port) {
  sockaddr_conn a;
  std::memset(&a, 0, sizeof(a));
  a.sconn_family = AF_CONN;
  a.sconn_port = to_network(port);
  a.sconn_addr = address_of(token);
  return a;
}

Error errno_error(const char* what) {
  return {Errc::internal, std::string(what) + " failed: " + std::strerror(errno)};
}

bool subscribe(struct socket* sock, uint16_t type) {
  sctp_event event;
  std::memset(&event, 0, sizeof(event));
  event.se_assoc_id = SCTP_ALL_ASSOC;
  event.se_type = type;
  event.se_on = 1;
  return set_option(sock, IPPROTO_SCTP, SCTP_EVENT, event);
}

// Per-socket tuning (see SctpTuning); all of it is inherited by the association connect() creates.
bool apply_tuning(struct socket* sock, const SctpTuning& t) {
  if (t.send_buffer_bytes && !set_option(sock, SOL_SOCKET, SO_SNDBUF, static_cast<int>(t.send_buffer_bytes))) {
    return false;
  }
  if (t.receive_buffer_bytes &&
      !set_option(sock, SOL_SOCKET, SO_RCVBUF, static_cast<int>(t.receive_buffer_bytes))) {
    return false;
  }
  if (t.max_burst && !set_option(sock, IPPROTO_SCTP, SCTP_MAX_BURST, sctp_assoc_value{SCTP_FUTURE_ASSOC, t.max_burst})) {
    return false;
  }
  if (t.delayed_sack_ms || t.sack_every_packets) {
    // usrsctp: a zero field keeps that setting's current value.
    sctp_sack_info sack{SCTP_FUTURE_ASSOC, t.delayed_sack_ms, t.sack_every_packets};
    if (!set_option(sock, IPPROTO_SCTP, SCTP_DELAYED_SACK, sack)) return false;
  }
  if (t.rto_initial_ms || t.rto_min_ms || t.rto_max_ms) {
    sctp_rtoinfo rto{SCTP_FUTURE_ASSOC, t.rto_initial_ms, t.rto_max_ms, t.rto_min_ms};  // 0: unchanged
    if (!set_option(sock, IPPROTO_SCTP, SCTP_RTOINFO, rto)) return false;
  }
  return true;
}

}  // namespace

std::optional<SctpEvent> SctpEndpoint::Impl::on_notification(const uint8_t* data, size_t len) {
  uint16_t type = 0;
  if (len < 8) return std::nullopt;
  std::memcpy(&type, data, sizeof(type));
  switch (type) {
    case SCTP_ASSOC_CHANGE: {
      if (len < sizeof(sctp_assoc_change)) return std::nullopt;
      sctp_assoc_change change;
      std::memcpy(&change, data, sizeof(change));
      switch (change.sac_state) {
        case SCTP_COMM_UP: {
          if (connected) return std::nullopt;
          connecting = false;
          connected = true;
          outbound_streams = std::min(change.sac_outbound_streams, options.streams);
          SctpEvent ev;
          ev.kind = SctpEventKind::connected;
          return ev;
        }
        case SCTP_COMM_LOST: return closed("the association was lost (peer abort or retransmissions exhausted)");
        case SCTP_SHUTDOWN_COMP: return closed("the association was shut down");
        case SCTP_CANT_STR_ASSOC: return closed("the association could not be established");
        case SCTP_RESTART:  // the association continues with fresh sequence numbers; counted for diagnosis
          ++restarts;
          return std::nullopt;
        default: return std::nullopt;
      }
    }
    case SCTP_STREAM_RESET_EVENT: {
      constexpr size_t kHeader = offsetof(sctp_stream_reset_event, strreset_stream_list);
      if (len < kHeader) return std::nullopt;
      uint16_t flags;
      std::memcpy(&flags, data + 2, sizeof(flags));
      const size_t n = (len - kHeader) / sizeof(uint16_t);
      reset_streams.resize(n);  // reserved for `streams` entries at creation; usrsctp lists at most ~1000
      std::memcpy(reset_streams.data(), data + kHeader, n * sizeof(uint16_t));
      SctpEvent ev;
      ev.kind = SctpEventKind::stream_reset;
      ev.streams = reset_streams;  // empty: every stream (usrsctp's convention)
      ev.incoming = flags & SCTP_STREAM_RESET_INCOMING_SSN;
      ev.outgoing = flags & SCTP_STREAM_RESET_OUTGOING_SSN;
      ev.failed = flags & (SCTP_STREAM_RESET_DENIED | SCTP_STREAM_RESET_FAILED);
      return ev;
    }
    case SCTP_PARTIAL_DELIVERY_EVENT: {
      // The sender abandoned (PR-SCTP) a message we had started to receive: its pieces must not be glued to
      // the next message's.
      if (rx_len > 0 || rx_discarding) ++aborted_partial;
      rx_len = 0;
      rx_discarding = false;
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

// Reads one item from the socket. Returns an event, or nothing with `more` saying whether to read again
// (a notification we keep to ourselves, or a piece of a message).
std::optional<SctpEvent> SctpEndpoint::Impl::read_one(bool& more) {
  more = false;
  if (rx.size() < rx_len + kReadRoom) rx.resize(rx_len + kReadRoom);  // grows once per larger message size
  sctp_rcvinfo info;
  std::memset(&info, 0, sizeof(info));
  socklen_t info_len = sizeof(info);
  unsigned int info_type = 0;
  int flags = 0;
  uint8_t* into = rx.data() + rx_len;
  const ssize_t n = usrsctp_recvv(sock, into, rx.size() - rx_len, nullptr, nullptr, &info, &info_len, &info_type,
                                  &flags);
  if (n < 0) return std::nullopt;  // EWOULDBLOCK: nothing to read (or the socket is gone)
  if (n == 0) return closed("the socket was shut down");  // end of stream
  more = true;
  if (flags & MSG_NOTIFICATION) {
    // Notifications are small and the room we offer is large, so they come whole; they never join rx_len.
    return on_notification(into, static_cast<size_t>(n));
  }
  if ((rx_len > 0 || rx_discarding) && (info.rcv_sid != rx_stream || info.rcv_tsn != rx_tsn)) {
    // A piece of another message (every piece of one message carries its first TSN) while one was half read:
    // the sender abandoned the first (PR-SCTP) and usrsctp said nothing, which it does for unordered messages.
    // Never glue the two together.
    if (rx_len > 0) ++aborted_partial;  // (an oversized one being skipped was counted already)
    std::memmove(rx.data(), into, static_cast<size_t>(n));
    rx_len = 0;
    rx_discarding = false;
    into = rx.data();
  }
  rx_stream = info.rcv_sid;
  rx_tsn = info.rcv_tsn;
  if (rx_discarding || rx_len + static_cast<size_t>(n) > options.max_message_size) {
    if (!rx_discarding) ++oversized;
    rx_discarding = !(flags & MSG_EOR);
    rx_len = 0;
    return std::nullopt;
  }
  rx_len += static_cast<size_t>(n);
  if (!(flags & MSG_EOR)) return std::nullopt;  // more pieces follow
  SctpEvent ev;
  ev.kind = SctpEventKind::message;
  ev.stream = info.rcv_sid;
  ev.ppid = from_network(info.rcv_ppid);
  ev.payload = std::span<const uint8_t>(rx.data(), rx_len);
  rx_len = 0;  // the view stays intact until the next read overwrites it
  return ev;
}

Result<SctpEndpoint> SctpEndpoint::create(const SctpOptions& options) {
  if (options.streams == 0) return Error{Errc::invalid_argument, "SctpOptions.streams must be positive"};
  if (options.mtu < 576) return Error{Errc::invalid_argument, "SctpOptions.mtu must be at least 576"};
  if (options.timer_granularity_ms == 0) return Error{Errc::invalid_argument, "timer_granularity_ms must be positive"};
  if (options.max_message_size == 0) return Error{Errc::invalid_argument, "max_message_size must be positive"};

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->reset_streams.reserve(options.streams);
  impl->token = UsrsctpStack::get().attach(&impl->outbox, options.tuning);
  usrsctp_register_address(address_of(impl->token));
  SctpEndpoint endpoint(std::move(impl));  // from here on the destructor undoes the above
  Impl& e = *endpoint.impl_;

  e.sock = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, nullptr, nullptr, 0, nullptr);
  if (!e.sock) return errno_error("usrsctp_socket");
  if (usrsctp_set_non_blocking(e.sock, 1) != 0) return errno_error("usrsctp_set_non_blocking");

  // Closing aborts at once instead of lingering in a graceful shutdown nobody would drive.
  linger abort_on_close{1, 0};
  const int on = 1;
  sctp_initmsg init;
  std::memset(&init, 0, sizeof(init));
  init.sinit_num_ostreams = options.streams;
  init.sinit_max_instreams = options.streams;
  // Accept the peer's requests to reset streams: that is how a data channel closes (RFC 8831 section 6.7).
  const sctp_assoc_value stream_reset{SCTP_FUTURE_ASSOC, SCTP_ENABLE_RESET_STREAM_REQ};
  if (!set_option(e.sock, SOL_SOCKET, SO_LINGER, abort_on_close) ||
      !set_option(e.sock, IPPROTO_SCTP, SCTP_NODELAY, on) ||      // messages are latency-sensitive: no Nagle
      !set_option(e.sock, IPPROTO_SCTP, SCTP_RECVRCVINFO, on) ||  // we need each message's stream and PPID
      !set_option(e.sock, IPPROTO_SCTP, SCTP_INITMSG, init) ||
      !set_option(e.sock, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, stream_reset) ||
      !subscribe(e.sock, SCTP_ASSOC_CHANGE) || !subscribe(e.sock, SCTP_STREAM_RESET_EVENT) ||
      !subscribe(e.sock, SCTP_PARTIAL_DELIVERY_EVENT)) {
    return errno_error("usrsctp_setsockopt");
  }
  if (!apply_tuning(e.sock, options.tuning)) return errno_error("usrsctp_setsockopt (tuning)");
  // usrsctp refuses (EMSGSIZE) a message its send buffer cannot hold whole: say so now, not on the first send.
  int send_buffer = 0;
  socklen_t send_buffer_size = sizeof(send_buffer);
  if (usrsctp_getsockopt(e.sock, SOL_SOCKET, SO_SNDBUF, &send_buffer, &send_buffer_size) != 0) {
    return errno_error("usrsctp_getsockopt(SO_SNDBUF)");
  }
  if (options.max_message_size > static_cast<uint32_t>(send_buffer)) {
    return Error{Errc::invalid_argument, "max_message_size is larger than the SCTP send buffer"};
  }
  sockaddr_conn local = conn_address(e.token, options.local_port);
  if (usrsctp_bind(e.sock, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) return errno_error("usrsctp_bind");
  return endpoint;
}

SctpEndpoint::SctpEndpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SctpEndpoint::SctpEndpoint(SctpEndpoint&&) noexcept = default;
SctpEndpoint& SctpEndpoint::operator=(SctpEndpoint&& other) noexcept {
  if (this != &other) {
    SctpEndpoint previous(std::move(*this));  // closed and detached when it goes out of scope
    impl_ = std::move(other.impl_);
  }
  return *this;
}

SctpEndpoint::~SctpEndpoint() {
  if (!impl_) return;
  close();
  usrsctp_deregister_address(address_of(impl_->token));  // before detach: the last detach finishes usrsctp
  UsrsctpStack::get().detach(impl_->token);              // after this no callback can reach the outbox
}

Result<void> SctpEndpoint::connect(uint16_t remote_port, uint64_t now_ns) {
  if (!impl_ || !impl_->sock) return {Errc::invalid_argument, "the SCTP endpoint is closed"};
  Impl& e = *impl_;
  e.now_ns = std::max(e.now_ns, now_ns);
  UsrsctpStack::get().advance(now_ns);
  if (e.connecting || e.connected) return {Errc::invalid_argument, "connect() was already called"};
  // With AF_CONN the peer is reached through our own address: usrsctp hands every packet to on_output with
  // it, and the caller carries the packet to the peer.
  sockaddr_conn remote = conn_address(e.token, remote_port);
  e.connecting = true;  // before the INIT leaves, so an instant failure is reported as closed
  // The association (and its path, whose congestion window is set from this sysctl) is created right here.
  UsrsctpStack::get().set_initial_cwnd(e.options.tuning.initial_cwnd_mtus);
  if (usrsctp_connect(e.sock, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) != 0 && errno != EINPROGRESS) {
    e.connecting = false;
    return errno_error("usrsctp_connect");
  }
  // A fixed path MTU: DTLS over UDP gives usrsctp no ICMP to discover one with.
  sctp_paddrparams params;
  std::memset(&params, 0, sizeof(params));
  std::memcpy(&params.spp_address, &remote, sizeof(remote));
  params.spp_flags = SPP_PMTUD_DISABLE;
  params.spp_pathmtu = e.options.mtu - kCommonHeaderSize;  // usrsctp means the room for chunks
  if (!set_option(e.sock, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, params)) return errno_error("SCTP_PEER_ADDR_PARAMS");
  return {};
}

void SctpEndpoint::close() {
  if (!impl_ || !impl_->sock) return;
  impl_->connecting = impl_->connected = false;  // our own close is not reported back to us
  usrsctp_close(impl_->sock);  // with SO_LINGER 0 this queues an ABORT if an association exists
  impl_->sock = nullptr;
}

Result<void> SctpEndpoint::handle_datagram(std::span<const uint8_t> packet, uint64_t now_ns) {
  if (!impl_) return {Errc::invalid_argument, "moved-from SctpEndpoint"};
  Impl& e = *impl_;
  e.now_ns = std::max(e.now_ns, now_ns);
  UsrsctpStack::get().advance(now_ns);
  if (packet.size() < kCommonHeaderSize) {
    ++e.malformed;
    return {Errc::malformed_packet, "shorter than an SCTP common header"};
  }
  // usrsctp checks no checksum (UsrsctpStack enables its "CRC32c offload"): either we do it here, so the
  // caller can count bad packets, or DTLS authenticated the packet (SctpOptions::verify_checksum).
  if (e.options.verify_checksum) {
    uint32_t stored;
    std::memcpy(&stored, packet.data() + 8, sizeof(stored));
    if (detail::sctp_checksum(packet) != stored) {
      ++e.malformed;
      return {Errc::malformed_packet, "SCTP checksum mismatch"};
    }
  }
  ++e.packets_received;
  e.bytes_received += packet.size();
  if (!e.sock) return {};  // closed: nothing listens any more, like a port with no socket
  usrsctp_conninput(address_of(e.token), packet.data(), packet.size(), 0);
  return {};
}

std::optional<std::span<const uint8_t>> SctpEndpoint::poll_transmit() {
  if (!impl_) return std::nullopt;
  Outbox& o = impl_->outbox;
  std::lock_guard lock(o.mutex);
  if (o.lent) {  // the previous view expires now
    o.head = (o.head + 1) % o.slots.size();
    --o.count;
    o.lent = false;
  }
  if (o.count == 0) return std::nullopt;
  o.lent = true;
  const std::vector<uint8_t>& packet = o.slots[o.head];
  return std::span<const uint8_t>(packet.data(), packet.size());
}

std::optional<SctpEvent> SctpEndpoint::poll_event() {
  if (!impl_) return std::nullopt;
  Impl& e = *impl_;
  for (bool more = true; more && e.sock;) {
    if (auto ev = e.read_one(more)) return ev;
  }
  return std::nullopt;
}

Result<void> SctpEndpoint::send(uint16_t stream, uint32_t ppid, std::span<const uint8_t> payload,
                                const SctpSendOptions& how, uint64_t now_ns) {
  if (!impl_ || !impl_->sock) return {Errc::invalid_argument, "the SCTP endpoint is closed"};
  Impl& e = *impl_;
  e.now_ns = std::max(e.now_ns, now_ns);
  UsrsctpStack::get().advance(now_ns);
  if (!e.connected) return {Errc::invalid_argument, "the SCTP association is not established"};
  if (payload.empty()) return {Errc::invalid_argument, "SCTP cannot send an empty message"};
  if (payload.size() > e.options.max_message_size) return {Errc::invalid_argument, "message too large"};
  if (stream >= e.outbound_streams) return {Errc::invalid_argument, "stream id out of range"};

  sctp_sendv_spa spa;
  std::memset(&spa, 0, sizeof(spa));
  spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
  spa.sendv_sndinfo.snd_sid = stream;
  spa.sendv_sndinfo.snd_flags = SCTP_EOR | (how.unordered ? SCTP_UNORDERED : 0);
  spa.sendv_sndinfo.snd_ppid = to_network(ppid);
  if (how.reliability != SctpReliability::reliable) {
    spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
    spa.sendv_prinfo.pr_policy =
        how.reliability == SctpReliability::max_retransmits ? SCTP_PR_SCTP_RTX : SCTP_PR_SCTP_TTL;
    spa.sendv_prinfo.pr_value = how.reliability_value;
  }
  const ssize_t n = usrsctp_sendv(e.sock, payload.data(), payload.size(), nullptr, 0, &spa, sizeof(spa),
                                  SCTP_SENDV_SPA, 0);
  if (n >= 0) return {};
  const int error = errno;  // before anything else can overwrite it
  // EAGAIN is also what usrsctp says for a stream whose outgoing reset is under way: retrying later is right
  // for both.
  // A short text (within std::string's inline buffer, 15 characters): this is flow control on the hot path (the
  // caller queues and retries); a longer one would allocate for every refused message.
  if (error == EWOULDBLOCK || error == EAGAIN) return {Errc::resource_exhausted, "sctp: no room"};
  if (error == EMSGSIZE) return {Errc::invalid_argument, "message larger than the SCTP send buffer"};
  if (error == ENOTCONN || error == ECONNRESET || error == EPIPE) {
    return {Errc::invalid_argument, "the SCTP association is gone"};
  }
  return {Errc::internal, std::string("usrsctp_sendv failed: ") + std::strerror(error)};
}

Result<void> SctpEndpoint::reset_outgoing_streams(std::span<const uint16_t> streams) {
  if (!impl_ || !impl_->sock) return {Errc::invalid_argument, "the SCTP endpoint is closed"};
  Impl& e = *impl_;
  if (!e.connected) return {Errc::invalid_argument, "the SCTP association is not established"};
  if (streams.empty()) return {};
  for (uint16_t s : streams) {
    if (s >= e.outbound_streams) return {Errc::invalid_argument, "stream id out of range"};
  }
  // struct sctp_reset_streams ends in a flexible array; build it in a small stack buffer for the usual case.
  const size_t size = sizeof(sctp_reset_streams) + streams.size() * sizeof(uint16_t);
  alignas(sctp_reset_streams) uint8_t small[sizeof(sctp_reset_streams) + 16 * sizeof(uint16_t)];
  std::vector<uint8_t> large;
  uint8_t* buffer = small;
  if (size > sizeof(small)) {
    large.resize(size + alignof(sctp_reset_streams));
    buffer = large.data();
  }
  sctp_reset_streams header;
  std::memset(&header, 0, sizeof(header));
  header.srs_assoc_id = SCTP_ALL_ASSOC;  // one-to-one socket: its only association
  header.srs_flags = SCTP_STREAM_RESET_OUTGOING;
  header.srs_number_streams = static_cast<uint16_t>(streams.size());
  std::memcpy(buffer, &header, sizeof(header));
  std::memcpy(buffer + offsetof(sctp_reset_streams, srs_stream_list), streams.data(), streams.size() * sizeof(uint16_t));
  if (usrsctp_setsockopt(e.sock, IPPROTO_SCTP, SCTP_RESET_STREAMS, buffer, static_cast<socklen_t>(size)) != 0) {
    return errno_error("SCTP_RESET_STREAMS");
  }
  return {};
}

std::optional<uint64_t> SctpEndpoint::next_timeout() const {
  if (!impl_ || !impl_->sock || (!impl_->connecting && !impl_->connected)) return std::nullopt;
  return impl_->now_ns + impl_->options.timer_granularity_ms * kNsPerMs;
}

Result<void> SctpEndpoint::handle_timeout(uint64_t now_ns) {
  if (!impl_) return {Errc::invalid_argument, "moved-from SctpEndpoint"};
  impl_->now_ns = std::max(impl_->now_ns, now_ns);
  UsrsctpStack::get().advance(now_ns);
  return {};
}

bool SctpEndpoint::is_connected() const { return impl_ && impl_->connected; }

uint16_t SctpEndpoint::outbound_streams() const {
  if (!impl_) return 0;
  return impl_->connected ? impl_->outbound_streams : impl_->options.streams;
}

SctpStats SctpEndpoint::stats() const {
  SctpStats s;
  if (!impl_) return s;
  const Impl& e = *impl_;
  {
    std::lock_guard lock(impl_->outbox.mutex);
    s.packets_sent = e.outbox.packets;
    s.bytes_sent = e.outbox.bytes;
    s.data_chunks_sent = e.outbox.data_chunks;
    s.retransmitted_data_chunks = e.outbox.retransmitted;
  }
  s.packets_received = e.packets_received;
  s.bytes_received = e.bytes_received;
  s.malformed_packets = e.malformed;
  s.oversized_messages_dropped = e.oversized;
  s.partial_messages_aborted = e.aborted_partial;
  s.association_restarts = e.restarts;
  if (e.sock && e.connected) {
    sctp_prstatus pr;
    std::memset(&pr, 0, sizeof(pr));
    pr.sprstat_assoc_id = SCTP_ALL_ASSOC;
    pr.sprstat_policy = kPrAll;
    socklen_t len = sizeof(pr);
    if (usrsctp_getsockopt(e.sock, IPPROTO_SCTP, SCTP_PR_ASSOC_STATUS, &pr, &len) == 0) {
      s.abandoned_data_chunks = pr.sprstat_abandoned_sent + pr.sprstat_abandoned_unsent;
    }
  }
  return s;
}

}  // namespace tandem::transport
