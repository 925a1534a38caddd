#include "core/transport/net/address_text.h"

#include <catch2/catch.hpp>

using namespace tandem::transport;

TEST_CASE("address text: IPv4 and IPv6 round trip in canonical form", "[net]") {
  for (const char* text : {"0.0.0.0", "127.0.0.1", "192.0.2.255", "::", "::1", "2001:db8::1", "fe80::1:2",
                           "2001:db8:0:1:1:1:1:1", "2001:0:0:1::1", "1::", "::ffff:c000:201"}) {
    const auto ip = parse_ip(text);
    INFO(text);
    REQUIRE(ip);
    CHECK(to_string(*ip) == text);
  }
  // RFC 5952: lower case, no leading zeros, the longest run (first on a tie) compressed, a lone zero kept.
  CHECK(to_string(*parse_ip("2001:0DB8:0000:0000:0001:0000:0000:0001")) == "2001:db8::1:0:0:1");
  CHECK(to_string(*parse_ip("2001:db8:0:0:0:0:2:1")) == "2001:db8::2:1");
  CHECK(to_string(*parse_ip("2001:db8:0:1:1:1:1:1")) == "2001:db8:0:1:1:1:1:1");
  CHECK(to_string(*parse_ip("::ffff:192.0.2.1")) == "::ffff:c000:201");
  CHECK(parse_ip("::1")->is_loopback());
  CHECK(parse_ip("127.3.4.5")->is_loopback());
  CHECK(parse_ip("fe80::1")->is_link_local());
  CHECK_FALSE(parse_ip("2001:db8::1")->is_loopback());
}

TEST_CASE("address text: socket addresses", "[net]") {
  const auto v4 = parse_socket_address("192.0.2.1:3478");
  REQUIRE(v4);
  CHECK(v4->port == 3478);
  CHECK(to_string(*v4) == "192.0.2.1:3478");
  const auto v6 = parse_socket_address("[::1]:65535");
  REQUIRE(v6);
  CHECK(v6->ip.is_ipv6());
  CHECK(to_string(*v6) == "[::1]:65535");
  for (const char* bad : {"", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "::1:80", "[1.2.3.4]:80", "[::1]80",
                          "1.2.3.4:-1", "1.2.3.4:8x"}) {
    INFO(bad);
    CHECK_FALSE(parse_socket_address(bad));
  }
}

TEST_CASE("address text: malformed addresses are refused", "[net]") {
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1..2.3", "a.b.c.d", "1.2.3.4 ",
                          ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "g::1", "::1%eth0",
                          ":1::", "1:2:3:4:5:6:7::8", "::1.2.3", "1.2.3.4::"}) {
    INFO(bad);
    CHECK_FALSE(parse_ip(bad));
  }
}
