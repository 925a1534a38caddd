// UDP for the core: the platform's datagram transport (natively non-blocking sockets on the runtime thread).
//
// Browsers have no UDP, so a platform may not provide one (Platform::net is null); the core then hands
// datagrams to the application, which carries them (MessagePort, WebSocket, a test's simulated network).
// Every call, and every callback, happens on the runtime thread: sockets belong to the core's runtime like
// every other core object, so nothing here locks.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tandem/platform/net.h"

namespace tandem::platform {

using SocketId = uint32_t;  // 0 is never a valid socket

struct ReceivedDatagram {
  SocketAddress from;
  std::span<const uint8_t> bytes;  // valid during the callback only
};

struct OutgoingDatagram {
  SocketAddress to;
  std::span<const uint8_t> bytes;
};

// Receives what arrived on one socket, in batches (natively one recvmmsg call's worth).
class DatagramReceiver {
 public:
  virtual ~DatagramReceiver() = default;
  virtual void on_datagrams(SocketId socket, std::span<const ReceivedDatagram> datagrams) = 0;
};

struct SocketOpenResult {
  SocketId id = 0;      // 0 when opening failed, `error` says why
  SocketAddress bound;  // the local address with the port the system chose
  std::string error;
};

struct DatagramStats {
  uint64_t datagrams_sent = 0;
  uint64_t datagrams_received = 0;
  uint64_t send_drops = 0;  // the kernel refused a datagram (buffer full, unreachable): UDP semantics, counted
  uint64_t send_calls = 0;  // system calls used to send, to see what batching buys
  uint64_t receive_calls = 0;
  // Natively on Linux: sent messages that carried a run of datagrams segmented by the kernel (UDP GSO), and
  // received buffers that held several datagrams coalesced by the kernel (UDP GRO). 0 where unsupported.
  uint64_t coalesced_sends = 0;
  uint64_t coalesced_receives = 0;
};

class DatagramTransport {
 public:
  virtual ~DatagramTransport() = default;
  // Binds a UDP socket to `local` (port 0: any free port). `receiver` must outlive the socket (close it first).
  virtual SocketOpenResult open(const SocketAddress& local, DatagramReceiver& receiver) = 0;
  // Sends a batch from one socket; returns how many the kernel accepted (the rest are dropped and counted).
  virtual size_t send(SocketId socket, std::span<const OutgoingDatagram> datagrams) = 0;
  virtual void close(SocketId socket) = 0;
  // The addresses of the machine's interfaces that are up; link-local IPv6 is left out (a candidate cannot
  // carry its scope). Loopback only when asked for: tests and same-machine peers use it.
  virtual std::vector<IpAddress> interface_addresses(bool include_loopback) = 0;
  virtual DatagramStats stats() const = 0;
};

}  // namespace tandem::platform
