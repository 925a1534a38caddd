#include "udp_sockets.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
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

// How many of `datagrams`, from the first, can go as one GSO message: same address, the first one's size
// (the segment size) for all but the last, which may be shorter.
size_t gso_run(std::span<const OutgoingDatagram> datagrams, size_t max_segment) {
  const size_t segment = datagrams[0].bytes.size();
  if (segment == 0 || segment > max_segment) return 1;
  size_t run = 1, total = segment;
  while (run < datagrams.size() && run < UdpSockets::kMaxSegments) {
    const OutgoingDatagram& d = datagrams[run];
    if (d.bytes.empty() || d.bytes.size() > segment || total + d.bytes.size() > UdpSockets::kMaxGsoBytes ||
        !(d.to == datagrams[0].to)) {
      break;
    }
    total += d.bytes.size();
    ++run;
    if (d.bytes.size() < segment) break;  // a shorter datagram ends a run
  }
  return run;
}

// The kernel has no usable UDP GSO for this socket (too old, or the route's device lacks checksum offload).
bool gso_unsupported(int error) { return error == EIO || error == ENOPROTOOPT || error == EOPNOTSUPP; }

constexpr size_t kGroBuffer = 65536;  // a coalesced buffer holds at most 64 KiB
constexpr size_t kControl = CMSG_SPACE(sizeof(int));

}  // namespace

struct UdpSockets::SendBuffers {
  std::array<sockaddr_storage, kBatch> to;
  std::array<iovec, kBatch * kMaxSegments> iov;
  std::array<mmsghdr, kBatch> headers;
  std::array<size_t, kBatch> runs;  // datagrams in each message
  alignas(cmsghdr) std::array<std::array<uint8_t, kControl>, kBatch> control;
};

struct UdpSockets::ReceiveBuffers {
  std::unique_ptr<uint8_t[]> data{new uint8_t[kBatch * kGroBuffer]};  // 2 MiB, allocated once
  std::array<sockaddr_storage, kBatch> from;
  std::array<iovec, kBatch> iov;
  std::array<mmsghdr, kBatch> headers;
  alignas(cmsghdr) std::array<std::array<uint8_t, kControl>, kBatch> control;
  std::array<ReceivedDatagram, kBatch * kMaxSegments> received;
};

UdpSockets::UdpSockets(int epoll_fd)
    : epoll_fd_(epoll_fd), tx_(std::make_unique<SendBuffers>()), rx_(std::make_unique<ReceiveBuffers>()) {}

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
  ::setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));  // refused by old kernels: datagrams come one by one
  // Kernels before 4.18 ignore an unknown UDP_SEGMENT cmsg and would send a run as one huge datagram: use GSO
  // only where the kernel knows the option.
  int segment = 0;
  socklen_t segment_length = sizeof(segment);
  const bool gso = ::getsockopt(fd, SOL_UDP, UDP_SEGMENT, &segment, &segment_length) == 0;
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
  sockets_[id] = Socket{fd, &receiver, gso};
  result.id = id;
  return result;
}

size_t UdpSockets::send(SocketId socket, std::span<const OutgoingDatagram> datagrams) {
  const auto it = sockets_.find(socket);
  if (it == sockets_.end()) {
    stats_.send_drops += datagrams.size();
    return 0;
  }
  Socket& s = it->second;
  SendBuffers& tx = *tx_;
  size_t accepted = 0;     // the kernel took them
  size_t done = 0;         // accepted or dropped
  size_t plain_until = 0;  // datagrams before this index go one per message (the kernel refused them as a run)
  while (done < datagrams.size()) {
    size_t messages = 0, iovs = 0, next = done;
    while (messages < kBatch && next < datagrams.size()) {
      const size_t run = s.gso && next >= plain_until ? gso_run(datagrams.subspan(next), s.gso_max_segment) : 1;
      mmsghdr& h = tx.headers[messages];
      h = {};
      h.msg_hdr.msg_namelen = to_sockaddr(datagrams[next].to, tx.to[messages]);
      h.msg_hdr.msg_name = &tx.to[messages];
      for (size_t k = 0; k < run; ++k) {
        const std::span<const uint8_t> bytes = datagrams[next + k].bytes;
        tx.iov[iovs + k] = {const_cast<uint8_t*>(bytes.data()), bytes.size()};
      }
      h.msg_hdr.msg_iov = &tx.iov[iovs];
      h.msg_hdr.msg_iovlen = run;
      if (run > 1) {
        h.msg_hdr.msg_control = tx.control[messages].data();
        h.msg_hdr.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
        cmsghdr* c = CMSG_FIRSTHDR(&h.msg_hdr);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        const auto segment = static_cast<uint16_t>(datagrams[next].bytes.size());
        std::memcpy(CMSG_DATA(c), &segment, sizeof(segment));
      }
      tx.runs[messages] = run;
      iovs += run;
      next += run;
      ++messages;
    }
    const int sent = ::sendmmsg(s.fd, tx.headers.data(), static_cast<unsigned>(messages), 0);
    ++stats_.send_calls;
    if (sent <= 0) {
      if (sent < 0 && errno == EINTR) continue;
      if (sent < 0 && tx.runs[0] > 1 && (gso_unsupported(errno) || errno == EINVAL)) {
        // A run the kernel would not segment: no GSO on this socket at all, or not with segments this large
        // (EINVAL: a segment over the route's MTU), which is remembered. Resend it one datagram per message.
        if (gso_unsupported(errno)) s.gso = false;
        s.gso_max_segment = std::min(s.gso_max_segment, datagrams[done].bytes.size() - 1);
        plain_until = done + tx.runs[0];
        continue;
      }
      // EAGAIN (send buffer full) or an error on the first message (e.g. unreachable): drop its datagrams and
      // go on, as a lossy network would; the protocols above retransmit what matters.
      stats_.send_drops += tx.runs[0];
      done += tx.runs[0];
      continue;
    }
    for (size_t i = 0; i < static_cast<size_t>(sent); ++i) {
      accepted += tx.runs[i];
      done += tx.runs[i];
      if (tx.runs[i] > 1) ++stats_.coalesced_sends;
    }
  }
  stats_.datagrams_sent += accepted;
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
    auto it = sockets_.find(socket);
    if (it == sockets_.end()) return;  // the receiver closed it during the previous batch
    ReceiveBuffers& rx = *rx_;
    for (size_t i = 0; i < kBatch; ++i) {
      rx.iov[i] = {rx.data.get() + i * kGroBuffer, kGroBuffer};
      rx.headers[i] = {};
      rx.headers[i].msg_hdr.msg_name = &rx.from[i];
      rx.headers[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      rx.headers[i].msg_hdr.msg_iov = &rx.iov[i];
      rx.headers[i].msg_hdr.msg_iovlen = 1;
      rx.headers[i].msg_hdr.msg_control = rx.control[i].data();
      rx.headers[i].msg_hdr.msg_controllen = kControl;
    }
    const int n = ::recvmmsg(it->second.fd, rx.headers.data(), kBatch, MSG_DONTWAIT, nullptr);
    ++stats_.receive_calls;
    if (n <= 0) return;
    size_t kept = 0;
    // Hands what is kept to the receiver; false when the receiver closed the socket meanwhile.
    const auto deliver = [&] {
      stats_.datagrams_received += kept;
      if (kept > 0) it->second.receiver->on_datagrams(socket, std::span(rx.received.data(), kept));
      kept = 0;
      it = sockets_.find(socket);
      return it != sockets_.end();
    };
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      msghdr& h = rx.headers[i].msg_hdr;
      const size_t length = rx.headers[i].msg_len;
      if ((h.msg_flags & MSG_TRUNC) != 0) continue;  // larger than any datagram we accept
      SocketAddress from;
      if (!from_sockaddr(reinterpret_cast<const sockaddr*>(&rx.from[i]), from)) continue;
      // A GRO buffer is datagrams of `segment` bytes, the last one possibly shorter.
      size_t segment = length;
      for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
          int gro = 0;
          std::memcpy(&gro, CMSG_DATA(c), sizeof(gro));
          if (gro > 0) segment = static_cast<size_t>(gro);
        }
      }
      if (segment > kMaxDatagram || (segment == 0 && length > 0)) continue;
      const uint8_t* bytes = rx.data.get() + i * kGroBuffer;
      if (segment < length) ++stats_.coalesced_receives;
      size_t offset = 0;
      do {  // an empty datagram is one datagram too
        // Kernels may coalesce more segments than we planned for (UDP_MAX_SEGMENTS grew from 64 to 128).
        if (kept == rx.received.size() && !deliver()) return;
        const size_t size = std::min(segment, length - offset);
        rx.received[kept++] = ReceivedDatagram{from, {bytes + offset, size}};
        offset += size;
      } while (offset < length);
    }
    if (!deliver()) return;
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
