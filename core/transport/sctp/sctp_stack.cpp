#include "core/transport/sctp/sctp_stack.h"

#include <usrsctp.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace tandem::transport {
namespace {

constexpr size_t kCommonHeaderSize = 12;  // ports, verification tag, CRC32c (RFC 4960 section 3.1)
constexpr uint64_t kNsPerMs = 1'000'000;

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

// What usrsctp's callbacks deliver to one endpoint. They may run on another endpoint's thread (see the header),
// so everything here is guarded by `mutex`; the owning endpoint drains it.
struct Mailbox {
  std::mutex mutex;
  std::deque<std::vector<uint8_t>> outgoing;
  std::deque<SctpEvent> events;
  std::map<uint16_t, std::vector<uint8_t>> partial;  // per stream: a message usrsctp delivers in pieces
  bool connecting = false;
  bool connected = false;

  // --- called from usrsctp callbacks, with `mutex` held
  void on_packet(const void* buffer, size_t length) {
    const auto* p = static_cast<const uint8_t*>(buffer);
    outgoing.emplace_back(p, p + length);
  }
  void on_notification(const uint8_t* data, size_t len);
  void on_data(const uint8_t* data, size_t len, const sctp_rcvinfo& info, int flags);
  void on_closed(std::string reason) {
    if (!connecting && !connected) return;
    connecting = connected = false;
    events.push_back({SctpEventKind::closed, 0, 0, {}, std::move(reason)});
  }
};

}  // namespace

struct SctpEndpoint::Impl {
  SctpOptions options;
  uintptr_t token = 0;  // our AF_CONN address: an opaque number usrsctp hands back to the callbacks
  struct socket* sock = nullptr;
  uint64_t now_ns = 0;           // the latest time the caller gave this endpoint
  std::vector<uint8_t> scratch;  // reused for the CRC check, so steady-state input does not allocate
  Mailbox mailbox;
};

namespace {

// The one place that knows usrsctp is process-global: its lifetime (a count of live endpoints), its time
// (one timer wheel advanced by the newest time any endpoint was given) and the routing of its callbacks.
class UsrsctpStack {
 public:
  static UsrsctpStack& get() {
    static UsrsctpStack* stack = new UsrsctpStack;  // never destroyed: callbacks may run during exit
    return *stack;
  }

  uintptr_t attach(Mailbox* mailbox) {
    {
      std::lock_guard lock(lifetime_mutex_);
      if (users_++ == 0 && !initialized_) {
        usrsctp_init_nothreads(0, &UsrsctpStack::on_output, nullptr);
        // Packets travel inside DTLS over UDP, which does not carry ECN marks back to SCTP.
        usrsctp_sysctl_set_sctp_ecn_enable(0);
        initialized_ = true;
      }
    }
    std::lock_guard lock(routes_mutex_);
    const uintptr_t token = next_token_++;
    routes_[token] = mailbox;
    return token;
  }

  void detach(uintptr_t token) {
    {
      std::lock_guard lock(routes_mutex_);
      routes_.erase(token);
    }
    std::lock_guard lock(lifetime_mutex_);
    // usrsctp_finish() refuses (-1) while a closed association still lingers in its tables; then the stack
    // stays up and the next detach (or process exit) tries again.
    if (--users_ == 0 && usrsctp_finish() == 0) {
      initialized_ = false;
      have_time_ = false;
    }
  }

  // Brings usrsctp's timer wheel up to `now_ns`. Endpoints share one wheel, so it follows the newest time any
  // of them was given; a time earlier than that (another clock, e.g. a test's fake time starting over)
  // restarts the count from there instead of firing timers for a jump that never happened.
  void advance(uint64_t now_ns) {
    uint32_t elapsed_ms = 0;
    {
      std::lock_guard lock(lifetime_mutex_);
      if (!have_time_ || now_ns < last_ns_) {
        last_ns_ = now_ns;
        have_time_ = true;
        return;
      }
      const uint64_t ms = (now_ns - last_ns_) / kNsPerMs;
      if (ms == 0) return;
      elapsed_ms = ms > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(ms);
      last_ns_ += ms * kNsPerMs;
    }
    usrsctp_handle_timers(elapsed_ms);  // outside our locks: it calls back into on_output / on_receive
  }

  // Runs `f` on the endpoint owning `token` with its queues locked; unknown tokens (an endpoint already gone,
  // whose association usrsctp is still tearing down) are ignored.
  template <class F>
  void with_endpoint(uintptr_t token, F&& f) {
    std::lock_guard lock(routes_mutex_);
    auto it = routes_.find(token);
    if (it == routes_.end()) return;
    std::lock_guard mailbox_lock(it->second->mutex);
    f(*it->second);
  }

  static int on_output(void* addr, void* buffer, size_t length, uint8_t /*tos*/, uint8_t /*set_df*/) {
    get().with_endpoint(reinterpret_cast<uintptr_t>(addr),
                        [&](Mailbox& m) { m.on_packet(buffer, length); });
    return 0;
  }

  static int on_receive(struct socket* /*sock*/, union sctp_sockstore /*addr*/, void* data, size_t len,
                        struct sctp_rcvinfo info, int flags, void* ulp_info) {
    const auto token = reinterpret_cast<uintptr_t>(ulp_info);
    get().with_endpoint(token, [&](Mailbox& m) {
      if (data == nullptr) {
        m.on_closed("the socket was shut down");  // usrsctp's end-of-stream signal
      } else if (flags & MSG_NOTIFICATION) {
        m.on_notification(static_cast<const uint8_t*>(data), len);
      } else {
        m.on_data(static_cast<const uint8_t*>(data), len, info, flags);
      }
    });
    std::free(data);  // usrsctp hands ownership of the buffer to the receive callback
    return 1;
  }

 private:
  std::mutex lifetime_mutex_;  // users_, initialized_ and the timer wheel's time
  int users_ = 0;
  bool initialized_ = false;
  bool have_time_ = false;
  uint64_t last_ns_ = 0;

  std::mutex routes_mutex_;  // taken before a mailbox's mutex, never the other way round
  std::unordered_map<uintptr_t, Mailbox*> routes_;
  uintptr_t next_token_ = 1;
};

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

}  // namespace

void Mailbox::on_notification(const uint8_t* data, size_t len) {
  uint16_t type = 0;
  if (len < sizeof(type)) return;
  std::memcpy(&type, data, sizeof(type));
  if (type != SCTP_ASSOC_CHANGE || len < sizeof(sctp_assoc_change)) return;
  sctp_assoc_change change;
  std::memcpy(&change, data, sizeof(change));
  switch (change.sac_state) {
    case SCTP_COMM_UP:
      connecting = false;
      connected = true;
      events.push_back({SctpEventKind::connected, 0, 0, {}, {}});
      break;
    case SCTP_COMM_LOST: on_closed("the association was lost (peer abort or retransmissions exhausted)"); break;
    case SCTP_SHUTDOWN_COMP: on_closed("the association was shut down"); break;
    case SCTP_CANT_STR_ASSOC: on_closed("the association could not be established"); break;
    default: break;  // SCTP_RESTART: the peer restarted; the association continues
  }
}

void Mailbox::on_data(const uint8_t* data, size_t len, const sctp_rcvinfo& info, int flags) {
  std::vector<uint8_t>& buffer = partial[info.rcv_sid];
  buffer.insert(buffer.end(), data, data + len);
  if (!(flags & MSG_EOR)) return;  // more pieces of this message follow
  events.push_back({SctpEventKind::message, info.rcv_sid, from_network(info.rcv_ppid), std::move(buffer), {}});
  partial.erase(info.rcv_sid);
}

Result<SctpEndpoint> SctpEndpoint::create(const SctpOptions& options) {
  if (options.streams == 0) return Error{Errc::invalid_argument, "SctpOptions.streams must be positive"};
  if (options.mtu < 576) return Error{Errc::invalid_argument, "SctpOptions.mtu must be at least 576"};
  if (options.timer_granularity_ms == 0) return Error{Errc::invalid_argument, "timer_granularity_ms must be positive"};

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->token = UsrsctpStack::get().attach(&impl->mailbox);
  usrsctp_register_address(address_of(impl->token));
  SctpEndpoint endpoint(std::move(impl));  // from here on the destructor undoes the above
  Impl& e = *endpoint.impl_;

  e.sock = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, &UsrsctpStack::on_receive, nullptr, 0,
                          address_of(e.token));
  if (!e.sock) return errno_error("usrsctp_socket");
  if (usrsctp_set_non_blocking(e.sock, 1) != 0) return errno_error("usrsctp_set_non_blocking");

  // Closing aborts at once instead of lingering in a graceful shutdown nobody would drive.
  linger abort_on_close{1, 0};
  const int on = 1;
  sctp_initmsg init;
  std::memset(&init, 0, sizeof(init));
  init.sinit_num_ostreams = options.streams;
  init.sinit_max_instreams = options.streams;
  sctp_event assoc_events;
  std::memset(&assoc_events, 0, sizeof(assoc_events));
  assoc_events.se_assoc_id = SCTP_ALL_ASSOC;
  assoc_events.se_type = SCTP_ASSOC_CHANGE;
  assoc_events.se_on = 1;
  if (!set_option(e.sock, SOL_SOCKET, SO_LINGER, abort_on_close) ||
      !set_option(e.sock, IPPROTO_SCTP, SCTP_NODELAY, on) ||  // messages are latency-sensitive: no Nagle
      !set_option(e.sock, IPPROTO_SCTP, SCTP_RECVRCVINFO, on) ||  // we need each message's stream and PPID
      !set_option(e.sock, IPPROTO_SCTP, SCTP_INITMSG, init) ||
      !set_option(e.sock, IPPROTO_SCTP, SCTP_EVENT, assoc_events)) {
    return errno_error("usrsctp_setsockopt");
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
  UsrsctpStack::get().detach(impl_->token);              // after this no callback can reach the mailbox
}

Result<void> SctpEndpoint::connect(uint16_t remote_port, uint64_t now_ns) {
  if (!impl_ || !impl_->sock) return {Errc::invalid_argument, "the SCTP endpoint is closed"};
  Impl& e = *impl_;
  e.now_ns = std::max(e.now_ns, now_ns);
  UsrsctpStack::get().advance(now_ns);
  {
    std::lock_guard lock(e.mailbox.mutex);
    if (e.mailbox.connecting || e.mailbox.connected) return {Errc::invalid_argument, "connect() was already called"};
  }
  // With AF_CONN the peer is reached through our own address: usrsctp hands every packet to on_output with
  // it, and the caller carries the packet to the peer.
  sockaddr_conn remote = conn_address(e.token, remote_port);
  {
    std::lock_guard lock(e.mailbox.mutex);
    e.mailbox.connecting = true;  // before the INIT leaves, so an instant failure is reported as closed
  }
  if (usrsctp_connect(e.sock, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) != 0 && errno != EINPROGRESS) {
    std::lock_guard lock(e.mailbox.mutex);
    e.mailbox.connecting = false;
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
  {
    // First, so that a notification usrsctp raises while closing does not report our own close to us.
    std::lock_guard lock(impl_->mailbox.mutex);
    impl_->mailbox.connecting = impl_->mailbox.connected = false;
  }
  usrsctp_close(impl_->sock);  // with SO_LINGER 0 this queues an ABORT if an association exists
  impl_->sock = nullptr;
}

Result<void> SctpEndpoint::handle_datagram(std::span<const uint8_t> packet, uint64_t now_ns) {
  if (!impl_) return {Errc::invalid_argument, "moved-from SctpEndpoint"};
  Impl& e = *impl_;
  e.now_ns = std::max(e.now_ns, now_ns);
  UsrsctpStack::get().advance(now_ns);
  if (packet.size() < kCommonHeaderSize) return {Errc::malformed_packet, "shorter than an SCTP common header"};
  // usrsctp drops a packet with a bad checksum silently; check it here so the caller can count it. The CRC
  // covers the packet with its checksum field zeroed (RFC 4960 appendix B); usrsctp_crc32c returns it in the
  // byte order the header stores it in.
  e.scratch.assign(packet.begin(), packet.end());
  uint32_t stored;
  std::memcpy(&stored, e.scratch.data() + 8, sizeof(stored));
  std::memset(e.scratch.data() + 8, 0, sizeof(stored));
  if (usrsctp_crc32c(e.scratch.data(), e.scratch.size()) != stored) {
    return {Errc::malformed_packet, "SCTP checksum mismatch"};
  }
  if (!e.sock) return {};  // closed: nothing listens any more, like a port with no socket
  usrsctp_conninput(address_of(e.token), packet.data(), packet.size(), 0);
  return {};
}

std::optional<std::vector<uint8_t>> SctpEndpoint::poll_transmit() {
  if (!impl_) return std::nullopt;
  Mailbox& m = impl_->mailbox;
  std::lock_guard lock(m.mutex);
  if (m.outgoing.empty()) return std::nullopt;
  std::vector<uint8_t> p = std::move(m.outgoing.front());
  m.outgoing.pop_front();
  return p;
}

std::optional<SctpEvent> SctpEndpoint::poll_event() {
  if (!impl_) return std::nullopt;
  Mailbox& m = impl_->mailbox;
  std::lock_guard lock(m.mutex);
  if (m.events.empty()) return std::nullopt;
  SctpEvent ev = std::move(m.events.front());
  m.events.pop_front();
  return ev;
}

Result<void> SctpEndpoint::send(uint16_t stream, uint32_t ppid, std::span<const uint8_t> payload, uint64_t now_ns,
                                bool unordered) {
  if (!impl_ || !impl_->sock) return {Errc::invalid_argument, "the SCTP endpoint is closed"};
  Impl& e = *impl_;
  e.now_ns = std::max(e.now_ns, now_ns);
  UsrsctpStack::get().advance(now_ns);
  if (!is_connected()) return {Errc::invalid_argument, "the SCTP association is not established"};
  if (payload.empty()) return {Errc::invalid_argument, "SCTP cannot send an empty message"};
  if (stream >= e.options.streams) return {Errc::invalid_argument, "stream id out of range"};

  sctp_sndinfo info;
  std::memset(&info, 0, sizeof(info));
  info.snd_sid = stream;
  info.snd_flags = SCTP_EOR | (unordered ? SCTP_UNORDERED : 0);
  info.snd_ppid = to_network(ppid);
  const ssize_t n = usrsctp_sendv(e.sock, payload.data(), payload.size(), nullptr, 0, &info, sizeof(info),
                                  SCTP_SENDV_SNDINFO, 0);
  if (n >= 0) return {};
  if (errno == EWOULDBLOCK || errno == EAGAIN) return {Errc::resource_exhausted, "the SCTP send buffer is full"};
  if (errno == EMSGSIZE) return {Errc::invalid_argument, "message larger than the SCTP send buffer"};
  return errno_error("usrsctp_sendv");
}

std::optional<uint64_t> SctpEndpoint::next_timeout() const {
  if (!impl_ || !impl_->sock) return std::nullopt;
  {
    std::lock_guard lock(impl_->mailbox.mutex);
    if (!impl_->mailbox.connecting && !impl_->mailbox.connected) return std::nullopt;
  }
  return impl_->now_ns + impl_->options.timer_granularity_ms * kNsPerMs;
}

Result<void> SctpEndpoint::handle_timeout(uint64_t now_ns) {
  if (!impl_) return {Errc::invalid_argument, "moved-from SctpEndpoint"};
  impl_->now_ns = std::max(impl_->now_ns, now_ns);
  UsrsctpStack::get().advance(now_ns);
  return {};
}

bool SctpEndpoint::is_connected() const {
  if (!impl_) return false;
  std::lock_guard lock(impl_->mailbox.mutex);
  return impl_->mailbox.connected;
}

}  // namespace tandem::transport
