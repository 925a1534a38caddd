#include "core/transport/ice/ice_candidate.h"

#include <catch2/catch.hpp>

#include <string>

#include "core/sim/rng.h"
#include "core/transport/net/address_text.h"

using namespace tandem;
using namespace tandem::transport;

TEST_CASE("ice candidate: Chromium lines parse and format back unchanged", "[ice]") {
  // Shapes copied from Chromium's onicecandidate output (addresses replaced by documentation ranges).
  const char* lines[] = {
      "candidate:1467250027 1 udp 2122260223 192.0.2.196 46243 typ host generation 0 ufrag EsAw network-id 1",
      "candidate:3561011476 1 udp 2122197247 2001:db8:85a3::8a2e:370:7334 50000 typ host generation 0 ufrag EsAw "
      "network-id 2",
      "candidate:2451267530 1 udp 2113937151 5ad1d3ab-b2f0-4f0a-8c7b-4e2e0c6f2f55.local 52342 typ host generation 0 "
      "ufrag Jt7n network-cost 999",
      "candidate:842163049 1 udp 1677729535 203.0.113.7 61665 typ srflx raddr 192.0.2.196 rport 61665 generation 0 "
      "ufrag EsAw network-id 1 network-cost 10",
      "candidate:842163049 1 udp 1677729535 203.0.113.7 61665 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag "
      "Jt7n network-cost 999",
      "candidate:1853887674 1 tcp 1518280447 192.0.2.196 9 typ host tcptype active generation 0 ufrag EsAw "
      "network-id 1",
      "candidate:3017234471 1 udp 41885439 198.51.100.5 3478 typ relay raddr 203.0.113.7 rport 61665 generation 0 "
      "ufrag EsAw network-id 1",
  };
  for (const char* line : lines) {
    INFO(line);
    const auto c = IceCandidate::parse(line);
    REQUIRE(c.ok());
    CHECK(c->format() == line);
  }
}

TEST_CASE("ice candidate: fields of a host, an mDNS, a srflx and a tcp candidate", "[ice]") {
  auto host = IceCandidate::parse(
      "a=candidate:1467250027 1 udp 2122260223 192.0.2.196 46243 typ host generation 0 ufrag EsAw network-id 1\r\n");
  REQUIRE(host.ok());
  CHECK(host->foundation == "1467250027");
  CHECK(host->component == 1);
  CHECK(host->protocol == IceProtocol::udp);
  CHECK(host->priority == 2122260223u);
  CHECK(to_string(host->address) == "192.0.2.196:46243");
  CHECK_FALSE(host->unresolved());
  CHECK(host->type == IceCandidateType::host);
  CHECK_FALSE(host->related);
  CHECK(host->extension("ufrag") == "EsAw");
  CHECK(host->extension("generation") == "0");
  CHECK(host->extension("network-id") == "1");
  CHECK_FALSE(host->extension("network-cost"));

  auto mdns = IceCandidate::parse(
      "1 1 UDP 2113937151 5ad1d3ab-b2f0-4f0a-8c7b-4e2e0c6f2f55.local 52342 typ host");  // no "candidate:"
  REQUIRE(mdns.ok());
  CHECK(mdns->unresolved());
  CHECK(mdns->hostname == "5ad1d3ab-b2f0-4f0a-8c7b-4e2e0c6f2f55.local");
  CHECK(mdns->port() == 52342);
  CHECK(mdns->protocol == IceProtocol::udp);  // transport is case-insensitive (Firefox writes UDP)

  auto srflx = IceCandidate::parse(
      "candidate:842163049 1 udp 1677729535 203.0.113.7 61665 typ srflx raddr 192.0.2.196 rport 61666");
  REQUIRE(srflx.ok());
  CHECK(srflx->type == IceCandidateType::srflx);
  REQUIRE(srflx->related);
  CHECK(to_string(*srflx->related) == "192.0.2.196:61666");

  auto tcp = IceCandidate::parse("candidate:1853887674 1 tcp 1518280447 192.0.2.196 9 typ host tcptype passive");
  REQUIRE(tcp.ok());
  CHECK(tcp->protocol == IceProtocol::tcp);
  CHECK(tcp->tcp_type == IceTcpType::passive);
  CHECK(tcp->extensions.empty());

  auto v6 = IceCandidate::parse("candidate:9 1 udp 1 ::1 5000 typ prflx");
  REQUIRE(v6.ok());
  CHECK(v6->address.ip.is_ipv6());
  CHECK(v6->type == IceCandidateType::prflx);
}

TEST_CASE("ice candidate: garbage is rejected with malformed_packet", "[ice]") {
  const char* bad[] = {
      "",
      "candidate:",
      "a=candidate:1 1 udp 2122260223 192.0.2.1 1 typ",
      "candidate:1 1 udp 2122260223 192.0.2.1 54321",
      "candidate:1 0 udp 2122260223 192.0.2.1 54321 typ host",    // component 0
      "candidate:1 257 udp 2122260223 192.0.2.1 54321 typ host",  // component > 256
      "candidate:1 1 sctp 2122260223 192.0.2.1 54321 typ host",
      "candidate:1 1 udp 4294967296 192.0.2.1 54321 typ host",  // priority > 2^32-1
      "candidate:1 1 udp 0 192.0.2.1 54321 typ host",
      "candidate:1 1 udp -5 192.0.2.1 54321 typ host",
      "candidate:1 1 udp 12x 192.0.2.1 54321 typ host",
      "candidate:1 1 udp 1 192.0.2.1 65536 typ host",
      "candidate:1 1 udp 1 256.0.2.1 5 typ host",
      "candidate:1 1 udp 1 192.0.2.1 5 typo host",
      "candidate:1 1 udp 1 192.0.2.1 5 typ lan",
      "candidate:1 1 udp 1 192.0.2.1 5 typ host generation",         // extension without value
      "candidate:1 1 udp 1 192.0.2.1 5 typ srflx raddr 192.0.2.2",    // raddr without rport
      "candidate:1 1 udp 1 192.0.2.1 5 typ srflx raddr 192.0.2.2 rport x",
      "candidate:1 1 tcp 1 192.0.2.1 9 typ host tcptype sideways",
      "candidate:123456789012345678901234567890123 1 udp 1 192.0.2.1 5 typ host",  // 33-char foundation
      "candidate:a-b 1 udp 1 192.0.2.1 5 typ host",                                 // '-' is not an ice-char
      "candidate:1 1 udp 1 -bad.local 5 typ host",
      "candidate:1 1 udp 1 192.0.2.1 5 typ host\x01 x",
      "not a candidate at all",
  };
  for (const char* line : bad) {
    INFO(line);
    const auto c = IceCandidate::parse(line);
    CHECK(c.code() == Errc::malformed_packet);
  }
}

TEST_CASE("ice candidate: fuzzed lines never crash", "[ice]") {
  const std::string base =
      "candidate:842163049 1 udp 1677729535 203.0.113.7 61665 typ srflx raddr 192.0.2.196 rport 61665 generation 0 "
      "ufrag EsAw network-id 1 network-cost 10";
  const char alphabet[] = " :.0123456789abcdefgtypudprflxhostlocal-\t";
  sim::Rng rng(7);
  int ok = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s = base;
    const int edits = 1 + static_cast<int>(rng.up_to(4));
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t at = rng.up_to(s.size() - 1);
      switch (rng.up_to(3)) {
        case 0: s[at] = alphabet[rng.up_to(sizeof alphabet - 2)]; break;
        case 1: s.erase(at, 1 + rng.up_to(5)); break;
        case 2: s.insert(at, 1, static_cast<char>(rng.up_to(255))); break;
        default: s.resize(at); break;
      }
    }
    const auto c = IceCandidate::parse(s);
    if (c.ok()) {
      ++ok;
      CHECK(IceCandidate::parse(c->format()).ok());  // whatever we accept, we can write and read back
    } else {
      CHECK(c.code() == Errc::malformed_packet);
    }
  }
  INFO("accepted " << ok);
  CHECK(ok > 100);
}

TEST_CASE("ice candidate: RFC 8445 priority, local preference and foundation", "[ice]") {
  CHECK(type_preference(IceCandidateType::host) == 126);
  CHECK(type_preference(IceCandidateType::prflx) == 110);
  CHECK(type_preference(IceCandidateType::srflx) == 100);
  CHECK(type_preference(IceCandidateType::relay) == 0);
  CHECK(candidate_priority(IceCandidateType::host, 65535, 1) == 0x7EFFFFFFu);
  CHECK(candidate_priority(IceCandidateType::relay, 0, 1) == 255u);
  CHECK(candidate_priority(IceCandidateType::srflx, 0x1234, 2) == (100u << 24) + (0x1234u << 8) + 254u);

  const auto v4 = *parse_ip("192.0.2.1");
  const auto v6 = *parse_ip("2001:db8::1");
  const auto ll = *parse_ip("fe80::1");
  // RFC 8421: IPv6 first; within a family, the order the interfaces were added.
  CHECK(local_preference(v6, 0) > local_preference(v6, 1));
  CHECK(local_preference(v6, 5) > local_preference(v4, 0));
  CHECK(local_preference(v4, 0) > local_preference(v4, 1));
  CHECK(local_preference(v4, 99) > local_preference(ll, 0));
  CHECK(candidate_priority(IceCandidateType::host, local_preference(v6, 0), 1) >
        candidate_priority(IceCandidateType::host, local_preference(v4, 0), 1));
  // Any host candidate beats any prflx one, whatever the address family.
  CHECK(candidate_priority(IceCandidateType::host, local_preference(ll, 100), 1) >
        candidate_priority(IceCandidateType::prflx, 65535, 1));

  const auto f1 = candidate_foundation(IceCandidateType::host, v4, IceProtocol::udp);
  CHECK(f1 == candidate_foundation(IceCandidateType::host, v4, IceProtocol::udp));
  CHECK(f1 != candidate_foundation(IceCandidateType::srflx, v4, IceProtocol::udp));
  CHECK(f1 != candidate_foundation(IceCandidateType::host, v6, IceProtocol::udp));
  CHECK(f1 != candidate_foundation(IceCandidateType::host, v4, IceProtocol::tcp));
  CHECK(IceCandidate::parse("candidate:" + f1 + " 1 udp 1 192.0.2.1 1 typ host").ok());  // valid ice-chars
}
