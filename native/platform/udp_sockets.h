// Non-blocking UDP sockets (IPv4 and IPv6) served by the runtime thread's epoll loop (native_host.cpp).
//
// Receiving drains a readable socket with recvmmsg in batches of kBatch messages into buffers allocated once,
// and hands each batch to the socket's receiver; sending a batch is one sendmmsg call. Called on the runtime
// thread only (the DatagramTransport contract), so nothing here locks.
//
// Segmentation offload (Linux UDP GSO / GRO): a run of same-size datagrams to one address (a data channel's
// full SCTP packets) goes to the kernel as one message that it cuts into datagrams, and a receiving socket
// takes the kernel's coalesced buffers and cuts them here. Per-datagram system call and network stack costs
// were most of a loopback transfer's kernel time; on loopback a GSO message even reaches a GRO socket whole.
// Where the kernel lacks GSO (checked when a socket opens) or refuses it (a device without checksum offload,
// segments over the route's MTU) the socket falls back to one message per datagram; what goes on the wire is
// the same datagrams either way.
#pragma once

#include <array>
#include <memory>
#include <unordered_map>

#include "tandem/platform/datagram.h"

namespace tandem::platform {

class UdpSockets final : public DatagramTransport {
 public:
  static constexpr size_t kBatch = 32;           // messages per sendmmsg / recvmmsg
  static constexpr size_t kMaxDatagram = 2048;   // larger received datagrams are dropped
  static constexpr size_t kMaxSegments = 64;     // datagrams per GSO message (the kernel's UDP_MAX_SEGMENTS)
  static constexpr size_t kMaxGsoBytes = 65000;  // payload per GSO message: under IPv4's 65507
  static constexpr size_t kMaxGsoSegment = 1400; // larger datagrams go alone: a segment must fit the device MTU

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
    bool gso = true;  // the kernel knows UDP_SEGMENT; cleared when it refuses a segmented send
    size_t gso_max_segment = kMaxGsoSegment;  // lowered when a route refuses segments this large (EINVAL)
  };
  struct SendBuffers;
  struct ReceiveBuffers;

  int epoll_fd_;
  SocketId next_id_ = 1;
  std::unordered_map<SocketId, Socket> sockets_;
  std::unique_ptr<SendBuffers> tx_;
  std::unique_ptr<ReceiveBuffers> rx_;
  DatagramStats stats_;
};

}  // namespace tandem::platform
