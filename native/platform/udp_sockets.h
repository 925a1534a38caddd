// Non-blocking UDP sockets (IPv4 and IPv6) served by the runtime thread's epoll loop (native_host.cpp).
//
// Receiving drains a readable socket with recvmmsg in batches of kBatch datagrams into buffers allocated once,
// and hands each batch to the socket's receiver; sending a batch is one sendmmsg call. Called on the runtime
// thread only (the DatagramTransport contract), so nothing here locks.
#pragma once

#include <array>
#include <memory>
#include <unordered_map>

#include "tandem/platform/datagram.h"

namespace tandem::platform {

class UdpSockets final : public DatagramTransport {
 public:
  static constexpr size_t kBatch = 32;
  static constexpr size_t kMaxDatagram = 2048;  // larger datagrams are truncated by the kernel and dropped

  explicit UdpSockets(int epoll_fd);
  ~UdpSockets() override;
  UdpSockets(const UdpSockets&) = delete;
  UdpSockets& operator=(const UdpSockets&) = delete;

  SocketOpenResult open(const SocketAddress& local, DatagramReceiver& receiver) override;
  size_t send(SocketId socket, std::span<const OutgoingDatagram> datagrams) override;
  void close(SocketId socket) override;
  std::vector<IpAddress> interface_addresses(bool include_loopback) override;
  DatagramStats stats() const override { return stats_; }

  // The epoll loop calls this when the socket registered with `socket` as its data is readable.
  void on_readable(SocketId socket);
  void close_all();

 private:
  struct Socket {
    int fd = -1;
    DatagramReceiver* receiver = nullptr;
  };
  struct ReceiveBuffers;

  int epoll_fd_;
  SocketId next_id_ = 1;
  std::unordered_map<SocketId, Socket> sockets_;
  std::unique_ptr<ReceiveBuffers> rx_;
  DatagramStats stats_;
};

}  // namespace tandem::platform
