// The platform's UDP (natively: non-blocking sockets in the runtime's epoll loop, recvmmsg/sendmmsg) on
// loopback only. Browsers have no UDP: the wasm platform says so by leaving Platform::net null.
#ifndef __EMSCRIPTEN__
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "support/pump.h"
#include "tandem/platform/platform.h"

using namespace tandem;
using platform::IpAddress;
using platform::SocketAddress;

namespace {

struct Collector final : platform::DatagramReceiver {
  std::mutex mutex;
  std::vector<std::vector<uint8_t>> received;
  std::vector<SocketAddress> senders;
  std::atomic<size_t> count{0};
  void on_datagrams(platform::SocketId, std::span<const platform::ReceivedDatagram> batch) override {
    std::lock_guard lock(mutex);
    for (const auto& d : batch) {
      received.emplace_back(d.bytes.begin(), d.bytes.end());
      senders.push_back(d.from);
    }
    count += batch.size();
  }
};

SocketAddress loopback(bool v6) {
  SocketAddress a;
  if (v6) {
    std::array<uint8_t, 16> bytes{};
    bytes[15] = 1;
    a.ip = IpAddress::v6(bytes);
  } else {
    a.ip = IpAddress::v4(127, 0, 0, 1);
  }
  return a;
}

}  // namespace

TEST_CASE("datagram transport: batches cross loopback on IPv4 and IPv6", "[platform][net][threads]") {
  auto host = platform::create_host();
  platform::Platform& p = host->platform();
  REQUIRE(p.net != nullptr);
  for (const bool v6 : {false, true}) {
    INFO((v6 ? "IPv6" : "IPv4"));
    Collector a_rx, b_rx;
    platform::SocketOpenResult a, b;
    REQUIRE(p.runner.invoke([&] {
      a = p.net->open(loopback(v6), a_rx);
      b = p.net->open(loopback(v6), b_rx);
    }));
    REQUIRE(a.id != 0);
    REQUIRE(b.id != 0);
    CHECK(a.bound.port != 0);
    CHECK(a.bound.ip == loopback(v6).ip);

    // 200 datagrams of different sizes in one call: sendmmsg batches of 32, all accepted on loopback.
    std::vector<std::vector<uint8_t>> payloads;
    for (size_t i = 0; i < 200; ++i) payloads.emplace_back(1 + i * 7, static_cast<uint8_t>(i));
    std::vector<platform::OutgoingDatagram> batch;
    for (const auto& payload : payloads) batch.push_back({b.bound, payload});
    size_t accepted = 0;
    REQUIRE(p.runner.invoke([&] { accepted = p.net->send(a.id, batch); }));
    CHECK(accepted == batch.size());
    REQUIRE(test::pump_until([&] { return b_rx.count.load() == payloads.size(); }));
    {
      std::lock_guard lock(b_rx.mutex);
      CHECK(b_rx.received == payloads);  // loopback keeps order and content
      CHECK(b_rx.senders.front() == a.bound);
    }
    platform::DatagramStats stats;
    REQUIRE(p.runner.invoke([&] {
      stats = p.net->stats();
      p.net->close(a.id);
      p.net->close(b.id);
    }));
    CHECK(stats.send_calls < 20);  // batched: 200 datagrams in far fewer system calls
    CHECK(stats.receive_calls < 200);
  }
}

TEST_CASE("datagram transport: runs of equal datagrams are segmented and coalesced by the kernel", "[platform][net][threads]") {
  // What a data channel sends: mostly full packets of one size, a shorter one now and then, to one or more
  // peers. Natively on Linux the runs go as UDP GSO messages and arrive as GRO buffers; the receivers must
  // still see every datagram, separately, in order, byte for byte.
  auto host = platform::create_host();
  platform::Platform& p = host->platform();
  REQUIRE(p.net != nullptr);
  Collector a_rx, b_rx, c_rx;
  platform::SocketOpenResult a, b, c;
  REQUIRE(p.runner.invoke([&] {
    a = p.net->open(loopback(false), a_rx);
    b = p.net->open(loopback(false), b_rx);
    c = p.net->open(loopback(false), c_rx);
  }));
  REQUIRE((a.id != 0 && b.id != 0 && c.id != 0));
  std::vector<std::vector<uint8_t>> payloads;
  std::vector<SocketAddress> to;
  std::vector<std::vector<uint8_t>> for_b, for_c;
  for (size_t i = 0; i < 600; ++i) {
    size_t size = 1197;
    if (i % 97 == 50) size = 300;   // a short one ends a run
    if (i % 150 == 149) size = 0;   // empty datagrams exist too
    if (i == 400) size = 1800;      // over the segment limit: goes alone
    std::vector<uint8_t> payload(size);
    for (size_t k = 0; k < size; ++k) payload[k] = static_cast<uint8_t>(i * 31 + k);
    const bool to_c = (i / 70) % 3 == 2;  // runs to b, then to c
    to.push_back(to_c ? c.bound : b.bound);
    (to_c ? for_c : for_b).push_back(payload);
    payloads.push_back(std::move(payload));
  }
  std::vector<platform::OutgoingDatagram> batch;
  for (size_t i = 0; i < payloads.size(); ++i) batch.push_back({to[i], payloads[i]});
  size_t accepted = 0;
  REQUIRE(p.runner.invoke([&] { accepted = p.net->send(a.id, batch); }));
  CHECK(accepted == batch.size());
  REQUIRE(test::pump_until([&] { return b_rx.count.load() == for_b.size() && c_rx.count.load() == for_c.size(); }));
  platform::DatagramStats stats;
  REQUIRE(p.runner.invoke([&] {
    stats = p.net->stats();
    for (const auto id : {a.id, b.id, c.id}) p.net->close(id);
  }));
  std::lock_guard lock_b(b_rx.mutex);
  std::lock_guard lock_c(c_rx.mutex);
  CHECK(b_rx.received == for_b);
  CHECK(c_rx.received == for_c);
  for (const auto& from : b_rx.senders) CHECK(from == a.bound);
  CHECK(stats.datagrams_sent == payloads.size());
  CHECK(stats.datagrams_received == payloads.size());
  CHECK(stats.send_drops == 0);
  CHECK(stats.coalesced_sends > 0);     // Linux >= 4.18 segments runs
  CHECK(stats.coalesced_receives > 0);  // Linux >= 5.0 coalesces, and loopback hands GSO messages over whole
  CHECK(stats.send_calls < 5);
}

TEST_CASE("datagram transport: errors are reported, not thrown", "[platform][net][threads]") {
  auto host = platform::create_host();
  platform::Platform& p = host->platform();
  REQUIRE(p.net != nullptr);
  Collector rx;
  platform::SocketOpenResult first, second;
  REQUIRE(p.runner.invoke([&] {
    first = p.net->open(loopback(false), rx);
    SocketAddress same = first.bound;
    second = p.net->open(same, rx);  // the port is taken
  }));
  REQUIRE(first.id != 0);
  CHECK(second.id == 0);
  CHECK(second.error.find("bind") != std::string::npos);
  // Sending on a closed or unknown socket drops and counts.
  std::vector<uint8_t> payload(10, 1);
  const platform::OutgoingDatagram d{first.bound, payload};
  size_t accepted = 1;
  platform::DatagramStats stats;
  REQUIRE(p.runner.invoke([&] {
    p.net->close(first.id);
    accepted = p.net->send(first.id, std::span(&d, 1));
    stats = p.net->stats();
  }));
  CHECK(accepted == 0);
  CHECK(stats.send_drops == 1);
  // The machine's interfaces: loopback when asked for, never link-local.
  std::vector<IpAddress> with, without;
  REQUIRE(p.runner.invoke([&] {
    with = p.net->interface_addresses(true);
    without = p.net->interface_addresses(false);
  }));
  bool has_loopback = false;
  for (const auto& ip : with) has_loopback = has_loopback || ip.is_loopback();
  CHECK(has_loopback);
  for (const auto& ip : without) CHECK_FALSE(ip.is_loopback());
  for (const auto& ip : with) CHECK_FALSE(ip.is_link_local());
}

TEST_CASE("datagram transport: a browser-like platform has none", "[platform][net]") {
  auto host = platform::create_host();
#ifdef __EMSCRIPTEN__
  CHECK(host->platform().net == nullptr);  // the application carries datagrams (MessagePort, WebSocket)
#else
  CHECK(host->platform().net != nullptr);
#endif
}

#ifndef __EMSCRIPTEN__
TEST_CASE("datagram transport: more coalesced datagrams than one receive batch holds all arrive",
          "[platform][net][threads]") {
  // Another sender's GSO messages may carry more segments than ours (kernels allow 128 since 2024), and on
  // loopback they reach a GRO socket whole: 32 buffers of 128 datagrams overflow one batch of 2048, which
  // must then be handed over in several parts, nothing lost or written out of bounds.
  auto host = platform::create_host();
  platform::Platform& p = host->platform();
  REQUIRE(p.net != nullptr);
  Collector rx;
  platform::SocketOpenResult b;
  REQUIRE(p.runner.invoke([&] { b = p.net->open(loopback(false), rx); }));
  REQUIRE(b.id != 0);
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(b.bound.port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  constexpr uint16_t kSegment = 8;
  size_t per_message = 128, sent = 0;
  std::string error;
  // Sent from the runtime thread, so that the socket cannot drain before everything is queued.
  REQUIRE(p.runner.invoke([&] {
    for (int m = 0; m < 40; ++m) {
      std::vector<uint8_t> payload(per_message * kSegment);
      for (size_t k = 0; k < per_message; ++k) {
        const auto index = static_cast<uint32_t>(sent + k);
        std::memcpy(payload.data() + k * kSegment, &index, sizeof(index));
      }
      iovec iov{payload.data(), payload.size()};
      alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(uint16_t))] = {};
      msghdr h{};
      h.msg_name = &to;
      h.msg_namelen = sizeof(to);
      h.msg_iov = &iov;
      h.msg_iovlen = 1;
      h.msg_control = control;
      h.msg_controllen = sizeof(control);
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      std::memcpy(CMSG_DATA(c), &kSegment, sizeof(kSegment));
      if (::sendmsg(fd, &h, 0) < 0) {
        if (errno == EINVAL && per_message == 128 && m == 0) {  // a kernel that allows 64 segments
          per_message = 64;
          --m;
          continue;
        }
        error = std::string("sendmsg: ") + std::strerror(errno);  // no Catch2 assertion off the test thread
        return;
      }
      sent += per_message;
    }
  }));
  REQUIRE(error.empty());
  INFO(per_message << " segments per message");
  REQUIRE(test::pump_until([&] { return rx.count.load() >= sent; }));
  ::close(fd);
  std::lock_guard lock(rx.mutex);
  REQUIRE(rx.received.size() == sent);
  for (size_t i = 0; i < sent; ++i) {
    uint32_t index = 0;
    REQUIRE(rx.received[i].size() == kSegment);
    std::memcpy(&index, rx.received[i].data(), sizeof(index));
    REQUIRE(index == i);  // loopback keeps order
  }
  REQUIRE(p.runner.invoke([&] { p.net->close(b.id); }));
}
#endif
