#include "core/transport/sctp/data_channel_transport.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/core/transport/sctp/data_channel_harness.h"

using namespace tandem;
using namespace tandem::transport;
using namespace tandem::test::dc;
using Kind = DataChannelEventKind;

namespace {

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

DataChannelInit labelled(std::string label, std::string protocol = {}) {
  DataChannelInit init;
  init.label = std::move(label);
  init.protocol = std::move(protocol);
  return init;
}

const Seen* message_on(const std::vector<Seen>& events, uint16_t id, size_t nth = 0) {
  for (const auto& e : events) {
    if (e.kind == Kind::message && e.id == id && nth-- == 0) return &e;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("Data channels: DCEP opens channels from both sides at once", "[datachannel]") {
  DataChannelTransport a = make_transport(true);
  DataChannelTransport b = make_transport(false);
  // Created before the association exists: they open once it is up.
  DataChannelInit from_a = labelled("from-a", "proto-a");
  from_a.ordered = false;
  from_a.max_retransmits = 3;
  DataChannelInit from_b = labelled("from-b", "proto-b");
  from_b.max_packet_lifetime_ms = 1500;
  auto ida = a.create_channel(from_a);
  auto idb = b.create_channel(from_b);
  REQUIRE(ida.ok());
  REQUIRE(idb.ok());
  CHECK(*ida == 0);  // RFC 8832 section 6: DTLS client even,
  CHECK(*idb == 1);  // server odd
  CHECK(a.channel(*ida)->state == DataChannelState::connecting);
  CHECK(a.send(*ida, bytes("early"), false, 0).code() == Errc::invalid_argument);

  Pair pair{a, b};
  pair.connect();
  REQUIRE(pair.run([&] { return Pair::count(pair.a_events, Kind::channel_open) == 2 &&
                                Pair::count(pair.b_events, Kind::channel_open) == 2; }, 5'000));
  CHECK(Pair::count(pair.a_events, Kind::connected) == 1);

  // Each side sees its own channel and the peer's, with the peer's label, protocol and options.
  const Seen* remote_on_a = Pair::find(pair.a_events, Kind::channel_open, *idb);
  REQUIRE(remote_on_a);
  CHECK(remote_on_a->remote);
  CHECK(remote_on_a->label == "from-b");
  CHECK(remote_on_a->protocol == "proto-b");
  CHECK(remote_on_a->ordered);
  CHECK(remote_on_a->max_packet_lifetime_ms == std::optional<uint32_t>(1500));
  const Seen* remote_on_b = Pair::find(pair.b_events, Kind::channel_open, *ida);
  REQUIRE(remote_on_b);
  CHECK(remote_on_b->remote);
  CHECK(remote_on_b->label == "from-a");
  CHECK(remote_on_b->protocol == "proto-a");
  CHECK_FALSE(remote_on_b->ordered);
  CHECK(remote_on_b->max_retransmits == std::optional<uint32_t>(3));
  CHECK_FALSE(Pair::find(pair.a_events, Kind::channel_open, *ida)->remote);

  // Messages both ways on both channels.
  for (uint16_t id : {*ida, *idb}) {
    REQUIRE(a.send(id, bytes("a says hi on " + std::to_string(id)), false, pair.now).ok());
    REQUIRE(b.send(id, bytes("b says hi on " + std::to_string(id)), true, pair.now).ok());
  }
  REQUIRE(pair.run([&] { return Pair::count(pair.a_events, Kind::message) == 2 &&
                                Pair::count(pair.b_events, Kind::message) == 2; }, 5'000));
  for (uint16_t id : {*ida, *idb}) {
    const Seen* on_b = message_on(pair.b_events, id);
    REQUIRE(on_b);
    CHECK(on_b->payload == bytes("a says hi on " + std::to_string(id)));
    CHECK_FALSE(on_b->binary);
    const Seen* on_a = message_on(pair.a_events, id);
    REQUIRE(on_a);
    CHECK(on_a->payload == bytes("b says hi on " + std::to_string(id)));
    CHECK(on_a->binary);
  }
  CHECK(a.stats().dcep_errors == 0);
  CHECK(b.stats().dcep_errors == 0);
  CHECK(a.stats().channels_opened == 2);
}

TEST_CASE("Data channels: empty string and binary messages", "[datachannel]") {
  DataChannelTransport a = make_transport(true);
  DataChannelTransport b = make_transport(false);
  Pair pair{a, b};
  pair.connect();
  auto id = a.create_channel(labelled("empties"));
  REQUIRE(id.ok());
  REQUIRE(a.send(*id, {}, false, pair.now).ok());
  REQUIRE(a.send(*id, {}, true, pair.now).ok());
  REQUIRE(a.send(*id, bytes("x"), true, pair.now).ok());
  REQUIRE(pair.run([&] { return Pair::count(pair.b_events, Kind::message) == 3; }, 5'000));
  const Seen* first = message_on(pair.b_events, *id, 0);
  const Seen* second = message_on(pair.b_events, *id, 1);
  const Seen* third = message_on(pair.b_events, *id, 2);
  CHECK(first->payload.empty());
  CHECK_FALSE(first->binary);  // PPID 56
  CHECK(second->payload.empty());
  CHECK(second->binary);  // PPID 57
  CHECK(third->payload == bytes("x"));
  CHECK(b.stats().messages_received == 3);
  CHECK(b.stats().bytes_received == 1);
  CHECK(a.channel(*id)->messages_sent == 3);
  CHECK(a.channel(*id)->bytes_sent == 1);
}

TEST_CASE("Data channels: negotiated ids need no DCEP", "[datachannel]") {
  DataChannelTransport a = make_transport(true);
  DataChannelTransport b = make_transport(false);
  DataChannelInit init = labelled("negotiated");
  init.negotiated_id = 7;  // odd: negotiated ids ignore the parity rule
  REQUIRE(a.create_channel(init).value() == 7);
  Pair pair{a, b};
  pair.connect();
  REQUIRE(b.create_channel(init).value() == 7);
  CHECK(a.create_channel(init).code() == Errc::invalid_argument);  // in use
  init.negotiated_id = 1024;
  CHECK(a.create_channel(init).code() == Errc::invalid_argument);  // beyond the streams

  REQUIRE(a.send(7, bytes("ping"), false, pair.now).ok());
  REQUIRE(pair.run([&] { return message_on(pair.b_events, 7) != nullptr; }, 5'000));
  REQUIRE(b.send(7, bytes("pong"), false, pair.now).ok());
  REQUIRE(pair.run([&] { return message_on(pair.a_events, 7) != nullptr; }, 5'000));
  CHECK(message_on(pair.b_events, 7)->payload == bytes("ping"));
  CHECK(message_on(pair.a_events, 7)->payload == bytes("pong"));
  // Each side announced only its own channel: nothing went over DCEP.
  for (const auto* events : {&pair.a_events, &pair.b_events}) {
    CHECK(Pair::count(*events, Kind::channel_open) == 1);
    CHECK(Pair::find(*events, Kind::channel_open, 7)->negotiated);
    CHECK_FALSE(Pair::find(*events, Kind::channel_open, 7)->remote);
  }
  CHECK(a.stats().dcep_errors + b.stats().dcep_errors == 0);
}

TEST_CASE("Data channels: close by stream reset, then the id is reused", "[datachannel]") {
  const bool closer_is_opener = GENERATE(true, false);
  INFO((closer_is_opener ? "the opener closes" : "the peer closes"));
  DataChannelTransport a = make_transport(true);
  DataChannelTransport b = make_transport(false);
  Pair pair{a, b};
  pair.connect();
  auto id = a.create_channel(labelled("first"));
  REQUIRE(id.ok());
  REQUIRE(pair.run([&] { return Pair::find(pair.b_events, Kind::channel_open, *id) != nullptr; }, 5'000));

  // Data queued before close() is delivered before the channel closes: more than usrsctp's send buffer.
  DataChannelTransport& closer = closer_is_opener ? a : b;
  std::vector<Seen>& closer_events = closer_is_opener ? pair.a_events : pair.b_events;
  std::vector<Seen>& other_events = closer_is_opener ? pair.b_events : pair.a_events;
  const std::vector<uint8_t> block(200 * 1024, 0x5a);
  for (int i = 0; i < 8; ++i) REQUIRE(closer.send(*id, block, true, pair.now).ok());
  CHECK(closer.buffered_amount(*id) > 0);
  REQUIRE(closer.close_channel(*id).ok());
  CHECK(closer.channel(*id)->state == DataChannelState::closing);
  CHECK(closer.send(*id, block, true, pair.now).code() == Errc::invalid_argument);
  CHECK(closer.close_channel(*id).ok());  // closing twice is harmless

  REQUIRE(pair.run([&] { return Pair::find(pair.a_events, Kind::channel_closed, *id) &&
                                Pair::find(pair.b_events, Kind::channel_closed, *id); }, 20'000));
  size_t delivered = 0;
  for (const auto& e : other_events) delivered += e.kind == Kind::message && e.payload == block;
  CHECK(delivered == 8);
  CHECK(Pair::count(closer_events, Kind::channel_closed) == 1);
  CHECK(a.channel(*id) == nullptr);
  CHECK(b.channel(*id) == nullptr);
  CHECK(a.send(*id, bytes("gone"), false, pair.now).code() == Errc::invalid_argument);

  // The id is free on both sides again: a new channel takes it, and its stream sequence starts afresh.
  auto again = a.create_channel(labelled("second"));
  REQUIRE(again.ok());
  CHECK(*again == *id);
  REQUIRE(a.send(*again, bytes("new life"), false, pair.now).ok());
  REQUIRE(pair.run([&] {
    for (const auto& e : pair.b_events) {
      if (e.kind == Kind::message && e.payload == bytes("new life")) return true;
    }
    return false;
  }, 5'000));
  size_t opens = 0;
  for (const auto& e : pair.b_events) opens += e.kind == Kind::channel_open && e.id == *id;
  CHECK(opens == 2);
  CHECK(b.channel(*again)->label == "second");
  REQUIRE(b.send(*again, bytes("back"), false, pair.now).ok());
  REQUIRE(pair.run([&] {
    for (const auto& e : pair.a_events) {
      if (e.kind == Kind::message && e.payload == bytes("back")) return true;
    }
    return false;
  }, 5'000));
  CHECK(a.stats().stream_reset_failures == 0);
}

TEST_CASE("Data channels: many channels", "[datachannel]") {
  DataChannelTransport a = make_transport(true);
  DataChannelTransport b = make_transport(false);
  Pair pair{a, b};
  pair.connect();
  constexpr int kPerSide = 150;
  std::vector<uint16_t> a_ids, b_ids;
  for (int i = 0; i < kPerSide; ++i) {
    a_ids.push_back(a.create_channel(labelled("a" + std::to_string(i))).value());
    b_ids.push_back(b.create_channel(labelled("b" + std::to_string(i))).value());
  }
  CHECK(a_ids.back() == 2 * (kPerSide - 1));
  CHECK(b_ids.back() == 2 * (kPerSide - 1) + 1);
  for (int i = 0; i < kPerSide; ++i) {
    REQUIRE(a.send(a_ids[i], bytes("to b via " + std::to_string(a_ids[i])), false, pair.now).ok());
    REQUIRE(b.send(b_ids[i], bytes("to a via " + std::to_string(b_ids[i])), false, pair.now).ok());
  }
  REQUIRE(pair.run([&] { return Pair::count(pair.a_events, Kind::message) == kPerSide &&
                                Pair::count(pair.b_events, Kind::message) == kPerSide; }, 10'000));
  for (int i = 0; i < kPerSide; ++i) {
    REQUIRE(message_on(pair.b_events, a_ids[i]));
    CHECK(message_on(pair.b_events, a_ids[i])->payload == bytes("to b via " + std::to_string(a_ids[i])));
    CHECK(b.channel(a_ids[i])->label == "a" + std::to_string(i));
    CHECK(message_on(pair.a_events, b_ids[i])->payload == bytes("to a via " + std::to_string(b_ids[i])));
  }
  for (uint16_t id : a_ids) REQUIRE(a.close_channel(id).ok());
  REQUIRE(pair.run([&] { return Pair::count(pair.b_events, Kind::channel_closed) == kPerSide; }, 20'000));
  CHECK(a.stats().channels_closed == kPerSide);
  for (uint16_t id : b_ids) CHECK(a.channel(id) != nullptr);  // the peer's channels stay open
}

TEST_CASE("Data channels: bufferedAmount and the low-threshold event", "[datachannel]") {
  DataChannelTransport a = make_transport(true);
  DataChannelTransport b = make_transport(false);
  Pair pair{a, b};
  pair.connect();
  auto id = a.create_channel(labelled("bulk"));
  REQUIRE(id.ok());
  pair.pump();

  constexpr uint64_t kThreshold = 100 * 1024;
  REQUIRE(a.set_buffered_amount_low_threshold(*id, kThreshold).ok());
  const std::vector<uint8_t> block(64 * 1024, 0x42);
  for (int i = 0; i < 40; ++i) REQUIRE(a.send(*id, block, true, pair.now).ok());  // 2.5 MiB, nothing moved yet
  const uint64_t buffered = a.buffered_amount(*id);
  // usrsctp's 1 MiB send buffer took what fits; the rest waits in our queue and counts.
  CHECK(buffered >= 40 * block.size() - 1024 * 1024);
  CHECK(buffered < 40 * block.size());
  CHECK(a.channel(*id)->buffered_amount == buffered);

  std::vector<uint64_t> at_event;
  size_t received = 0;
  pair.on_a = [&](const DataChannelEvent& e) {
    if (e.kind == Kind::buffered_amount_low) at_event.push_back(a.buffered_amount(e.id));
  };
  pair.on_b = [&](const DataChannelEvent& e) { received += e.kind == Kind::message && e.payload.size() == block.size(); };
  REQUIRE(pair.run([&] { return received == 40; }, 20'000));
  REQUIRE(at_event.size() == 1);  // one crossing, one event
  CHECK(at_event[0] <= kThreshold);
  CHECK(a.buffered_amount(*id) == 0);
  CHECK(a.buffered_amount(999) == 0);
  CHECK(a.set_buffered_amount_low_threshold(999, 1).code() == Errc::invalid_argument);
}

TEST_CASE("Data channels: 256 KiB messages, and larger ones refused", "[datachannel]") {
  DataChannelTransport a = make_transport(true);
  DataChannelTransport b = make_transport(false);
  Pair pair{a, b};
  pair.connect();
  auto id = a.create_channel(labelled("big"));
  REQUIRE(id.ok());
  std::vector<uint8_t> big(256 * 1024);
  for (size_t i = 0; i < big.size(); ++i) big[i] = content_byte(3, i);
  for (int i = 0; i < 6; ++i) REQUIRE(a.send(*id, big, true, pair.now).ok());
  std::vector<uint8_t> too_big(256 * 1024 + 1);
  CHECK(a.send(*id, too_big, true, pair.now).code() == Errc::invalid_argument);
  REQUIRE(pair.run([&] { return Pair::count(pair.b_events, Kind::message) == 6; }, 20'000));
  for (const auto& e : pair.b_events) {
    if (e.kind == Kind::message) CHECK(e.payload == big);
  }
  CHECK(b.stats().sctp.oversized_messages_dropped == 0);
}

TEST_CASE("Data channels: the peer's max-message-size is respected", "[datachannel]") {
  DataChannelTransportOptions options;
  options.remote_max_message_size = 1000;
  DataChannelTransport a = make_transport(true, options);
  DataChannelTransport b = make_transport(false);
  Pair pair{a, b};
  pair.connect();
  auto id = a.create_channel(labelled("small"));
  REQUIRE(id.ok());
  CHECK(a.send(*id, std::vector<uint8_t>(1000), true, pair.now).ok());
  CHECK(a.send(*id, std::vector<uint8_t>(1001), true, pair.now).code() == Errc::invalid_argument);
}

TEST_CASE("Data channels: misuse is an error", "[datachannel]") {
  DataChannelTransport a = make_transport(true);
  DataChannelInit both = labelled("x");
  both.max_retransmits = 1;
  both.max_packet_lifetime_ms = 1;
  CHECK(a.create_channel(both).code() == Errc::invalid_argument);
  DataChannelInit long_label = labelled(std::string(70'000, 'l'));
  CHECK(a.create_channel(long_label).code() == Errc::invalid_argument);
  CHECK(a.send(0, bytes("no channel"), false, 0).code() == Errc::invalid_argument);
  CHECK(a.close_channel(0).code() == Errc::invalid_argument);
  CHECK(a.channel(0) == nullptr);

  // Closing a channel before the association exists closes it at once.
  auto id = a.create_channel(labelled("never opened"));
  REQUIRE(id.ok());
  REQUIRE(a.close_channel(*id).ok());
  auto ev = a.poll_event();
  REQUIRE(ev);
  CHECK(ev->kind == Kind::channel_closed);
  CHECK(a.channel(*id) == nullptr);

  // Every id of our parity taken: resource_exhausted.
  DataChannelTransportOptions few;
  few.sctp.streams = 4;
  DataChannelTransport small = make_transport(true, few);
  CHECK(small.create_channel(labelled("0")).value() == 0);
  CHECK(small.create_channel(labelled("2")).value() == 2);
  CHECK(small.create_channel(labelled("4")).code() == Errc::resource_exhausted);

  CHECK(a.start(0).ok());
  CHECK(a.start(0).code() == Errc::invalid_argument);
}

TEST_CASE("Data channels: closing the transport closes every channel on both sides", "[datachannel]") {
  DataChannelTransport a = make_transport(true);
  DataChannelTransport b = make_transport(false);
  Pair pair{a, b};
  pair.connect();
  auto one = a.create_channel(labelled("one"));
  auto two = b.create_channel(labelled("two"));
  REQUIRE(pair.run([&] { return Pair::count(pair.b_events, Kind::channel_open) == 2; }, 5'000));
  a.close();
  pair.pump();
  CHECK(Pair::count(pair.a_events, Kind::channel_closed) == 2);
  CHECK(Pair::count(pair.a_events, Kind::closed) == 1);
  CHECK(Pair::count(pair.b_events, Kind::channel_closed) == 2);
  REQUIRE(Pair::count(pair.b_events, Kind::closed) == 1);
  CHECK(pair.b_events.back().kind == Kind::closed);  // after the channels
  CHECK_FALSE(b.is_connected());
  CHECK(b.send(*two, bytes("x"), false, pair.now).code() == Errc::invalid_argument);
  CHECK(a.create_channel(labelled("late")).code() == Errc::invalid_argument);
  (void)one;
}
