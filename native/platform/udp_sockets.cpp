#include "udp_sockets.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tandem::platform {
namespace {

socklen_t to_sockaddr(const SocketAddress& a, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof(out));
  if (a.ip.is_ipv6()) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&out);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(a.port);
    std::memcpy(&s6->sin6_addr, a.ip.bytes.data(), 16);
    return sizeof(sockaddr_in6);
  }
  auto* s4 = reinterpret_cast<sockaddr_in*>(&out);
  s4->sin_family = AF_INET;
  s4->sin_port = htons(a.port);
  std::memcpy(&s4->sin_addr, a.ip.bytes.data(), 4);
  return sizeof(sockaddr_in);
}

bool from_sockaddr(const sockaddr* s, SocketAddress& out) {
  if (s->sa_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(s);
    std::array<uint8_t, 16> bytes;
    std::memcpy(bytes.data(), &s6->sin6_addr, 16);
    out.ip = IpAddress::v6(bytes);
    out.port = ntohs(s6->sin6_port);
    return true;
  }
  if (s->sa_family == AF_INET) {
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(s);
    out.ip = IpAddress{};
    std::memcpy(out.ip.bytes.data(), &s4->sin_addr, 4);
    out.port = ntohs(s4->sin_port);
    return true;
  }
  return false;
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// 4 MiB each way: a data channel at 1 Gbit/s keeps ~2 MB in flight per 16 ms of scheduling delay, and the
// kernel default (212 KiB) drops bursts. The kernel caps this at net.core.{r,w}mem_max; we take what it gives.
constexpr int kSocketBufferBytes = 4 << 20;

}  // namespace

struct UdpSockets::ReceiveBuffers {
  std::array<std::array<uint8_t, kMaxDatagram>, kBatch> data;
  std::array<sockaddr_storage, kBatch> from;
  std::array<iovec, kBatch> iov;
  std::array<mmsghdr, kBatch> headers;
  std::array<ReceivedDatagram, kBatch> received;
};

UdpSockets::UdpSockets(int epoll_fd) : epoll_fd_(epoll_fd), rx_(std::make_unique<ReceiveBuffers>()) {}

UdpSockets::~UdpSockets() { close_all(); }

SocketOpenResult UdpSockets::open(const SocketAddress& local, DatagramReceiver& receiver) {
  SocketOpenResult result;
  const int family = local.ip.is_ipv6() ? AF_INET6 : AF_INET;
  const int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    result.error = errno_text("socket");
    return result;
  }
  const int one = 1;
  if (family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kSocketBufferBytes, sizeof(kSocketBufferBytes));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSocketBufferBytes, sizeof(kSocketBufferBytes));
  sockaddr_storage addr;
  const socklen_t length = to_sockaddr(local, addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), length) != 0) {
    result.error = errno_text("bind");
    ::close(fd);
    return result;
  }
  socklen_t bound_length = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &bound_length);
  from_sockaddr(reinterpret_cast<sockaddr*>(&addr), result.bound);

  const SocketId id = next_id_++;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = id;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    result.error = errno_text("epoll_ctl");
    ::close(fd);
    return result;
  }
  sockets_[id] = Socket{fd, &receiver};
  result.id = id;
  return result;
}

size_t UdpSockets::send(SocketId socket, std::span<const OutgoingDatagram> datagrams) {
  const auto it = sockets_.find(socket);
  if (it == sockets_.end()) {
    stats_.send_drops += datagrams.size();
    return 0;
  }
  size_t accepted = 0;  // the kernel took them
  size_t done = 0;      // accepted or dropped
  while (done < datagrams.size()) {
    const size_t count = std::min(kBatch, datagrams.size() - done);
    std::array<sockaddr_storage, kBatch> to;
    std::array<iovec, kBatch> iov;
    std::array<mmsghdr, kBatch> headers{};
    for (size_t i = 0; i < count; ++i) {
      const OutgoingDatagram& d = datagrams[done + i];
      headers[i].msg_hdr.msg_namelen = to_sockaddr(d.to, to[i]);
      headers[i].msg_hdr.msg_name = &to[i];
      iov[i] = {const_cast<uint8_t*>(d.bytes.data()), d.bytes.size()};
      headers[i].msg_hdr.msg_iov = &iov[i];
      headers[i].msg_hdr.msg_iovlen = 1;
    }
    const int sent = ::sendmmsg(it->second.fd, headers.data(), static_cast<unsigned>(count), 0);
    ++stats_.send_calls;
    if (sent <= 0) {
      if (sent < 0 && errno == EINTR) continue;
      // EAGAIN (send buffer full) or an error on the first datagram (e.g. unreachable): drop that one and go on,
      // as a lossy network would; the protocols above retransmit what matters.
      ++stats_.send_drops;
      ++done;
      continue;
    }
    accepted += static_cast<size_t>(sent);
    done += static_cast<size_t>(sent);
    stats_.datagrams_sent += static_cast<uint64_t>(sent);
  }
  return accepted;
}

void UdpSockets::close(SocketId socket) {
  const auto it = sockets_.find(socket);
  if (it == sockets_.end()) return;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.fd, nullptr);
  ::close(it->second.fd);
  sockets_.erase(it);
}

void UdpSockets::close_all() {
  while (!sockets_.empty()) close(sockets_.begin()->first);
}

void UdpSockets::on_readable(SocketId socket) {
  // Bounded: a flooded socket yields the runtime to tasks and timers after 8 batches (epoll is level
  // triggered, so it comes back at once).
  for (int round = 0; round < 8; ++round) {
    const auto it = sockets_.find(socket);
    if (it == sockets_.end()) return;  // the receiver closed it during the previous batch
    ReceiveBuffers& rx = *rx_;
    for (size_t i = 0; i < kBatch; ++i) {
      rx.iov[i] = {rx.data[i].data(), kMaxDatagram};
      rx.headers[i] = {};
      rx.headers[i].msg_hdr.msg_name = &rx.from[i];
      rx.headers[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      rx.headers[i].msg_hdr.msg_iov = &rx.iov[i];
      rx.headers[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(it->second.fd, rx.headers.data(), kBatch, MSG_DONTWAIT, nullptr);
    ++stats_.receive_calls;
    if (n <= 0) return;
    size_t kept = 0;
    for (int i = 0; i < n; ++i) {
      const mmsghdr& h = rx.headers[static_cast<size_t>(i)];
      if ((h.msg_hdr.msg_flags & MSG_TRUNC) != 0) continue;  // larger than any datagram we accept
      ReceivedDatagram& d = rx.received[kept];
      if (!from_sockaddr(reinterpret_cast<const sockaddr*>(&rx.from[static_cast<size_t>(i)]), d.from)) continue;
      d.bytes = {rx.data[static_cast<size_t>(i)].data(), h.msg_len};
      ++kept;
    }
    stats_.datagrams_received += kept;
    if (kept > 0) it->second.receiver->on_datagrams(socket, std::span(rx.received.data(), kept));
    if (static_cast<size_t>(n) < kBatch) return;
  }
}

std::vector<IpAddress> UdpSockets::interface_addresses(bool include_loopback) {
  std::vector<IpAddress> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || (i->ifa_flags & IFF_UP) == 0) continue;
    SocketAddress a;
    if (!from_sockaddr(i->ifa_addr, a)) continue;
    if (a.ip.is_link_local() || (a.ip.is_loopback() && !include_loopback)) continue;
    if ((i->ifa_flags & IFF_LOOPBACK) != 0 && !include_loopback) continue;
    bool seen = false;
    for (const IpAddress& o : out) seen = seen || o == a.ip;
    if (!seen) out.push_back(a.ip);
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace tandem::platform
