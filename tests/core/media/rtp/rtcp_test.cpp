#include "core/media/rtp/rtcp.h"

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "support/alloc_counter.h"
#include "support/bytes.h"

using namespace tandem;
using namespace tandem::media::rtp;

using test::Bytes;
using test::cat;

namespace {

std::vector<RtcpPacket> packets_of(const RtcpCompoundView& view) {
  std::vector<RtcpPacket> out;
  for (const RtcpPacket& p : view) out.push_back(p);
  return out;
}

std::vector<uint16_t> expand(const NackView& nack) {
  std::vector<uint16_t> out;
  for (uint16_t seq : nack.lost_sequence_numbers()) out.push_back(seq);
  return out;
}

// A NACK written for `lost` and parsed back.
std::vector<uint16_t> nack_round_trip(const std::vector<uint16_t>& lost, std::vector<NackItem>* items = nullptr) {
  Bytes buf(12 + 4 * lost.size());
  auto n = write_nack(1, 2, lost, buf);
  REQUIRE(n.ok());
  CHECK(*n == 12 + 4 * nack_item_count(lost));
  auto r = parse_rtcp(std::span<const uint8_t>(buf.data(), *n));
  REQUIRE(r.ok());
  auto packets = packets_of(*r);
  REQUIRE(packets.size() == 1);
  auto nack = packets[0].nack();
  REQUIRE(nack.has_value());
  if (items)
    for (size_t i = 0; i < nack->item_count(); ++i) items->push_back(nack->item(i));
  return expand(*nack);
}

void check_malformed(const Bytes& datagram, const char* why) {
  INFO(why);
  auto r = parse_rtcp(datagram);
  REQUIRE_FALSE(r.ok());
  CHECK(r.code() == Errc::malformed_packet);
  CHECK(r.error().message.rfind("rtcp: ", 0) == 0);
}

// Hand-written packets (RFC 3550 section 6.4 / 6.5 / 6.6, RFC 4585 section 6).
const Bytes kSenderReport = {
    0x81, 200, 0x00, 0x0C,                           // V=2 RC=1 SR, length 12 words
    0x11, 0x22, 0x33, 0x44,                          // SSRC of sender
    0xE8, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00,  // NTP 0xE8000000.80000000
    0x00, 0x01, 0x00, 0x00,                          // RTP timestamp 65536
    0x00, 0x00, 0x00, 0x0A,                          // packet count 10
    0x00, 0x00, 0x03, 0xE8,                          // octet count 1000
    0xAA, 0xBB, 0xCC, 0xDD,                          // report block: SSRC
    0x40, 0xFF, 0xFF, 0xFE,                          // fraction 64/256, cumulative lost -2
    0x00, 0x01, 0x00, 0x05,                          // extended highest 65541
    0x00, 0x00, 0x00, 0x20,                          // jitter 32
    0x12, 0x34, 0x56, 0x78,                          // LSR
    0x00, 0x01, 0x80, 0x00};                         // DLSR 1.5 s
const Bytes kReceiverReport = {0x80, 201, 0x00, 0x01, 0x55, 0x66, 0x77, 0x88};  // RC=0
const Bytes kSdes = {0x81, 202, 0x00, 0x05,                                      // SC=1, 6 words (length 5)
                     0x11, 0x22, 0x33, 0x44,                                     // SSRC
                     0x02, 0x03, 'B', 'o', 'b',                                  // NAME item (skipped)
                     0x01, 0x06, 'b', 'o', 'b', '@', 'h', 'q',                   // CNAME item
                     0x00, 0x00, 0x00};                                          // null item + padding
const Bytes kBye = {0x82, 203, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0x03, 'b', 'y', 'e'};
const Bytes kNack = {0x81, 205, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x64, 0x80, 0x05};  // PID 100
const Bytes kPli = {0x81, 206, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2};
const Bytes kApp = {0x80, 204, 0x00, 0x02, 0, 0, 0, 1, 'n', 'a', 'm', 'e'};
const Bytes kTransportCc = {0x8F, 205, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2};  // RTPFB FMT 15: not ours
const Bytes kFir = {0x84, 206, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 7, 0, 0, 0};  // PSFB FMT 4: not ours

}  // namespace

TEST_CASE("RTCP: hand-written SR with a report block", "[rtcp]") {
  auto r = parse_rtcp(kSenderReport);
  REQUIRE(r.ok());
  auto packets = packets_of(*r);
  REQUIRE(packets.size() == 1);
  CHECK(packets[0].kind() == RtcpKind::sender_report);
  CHECK_FALSE(packets[0].receiver_report().has_value());
  auto sr = packets[0].sender_report();
  REQUIRE(sr.has_value());
  CHECK(sr->ssrc() == 0x11223344);
  CHECK(sr->info() == SenderInfo{0xE800000080000000ull, 65536, 10, 1000});
  REQUIRE(sr->report_block_count() == 1);
  CHECK(sr->report_block(0) == ReportBlock{0xAABBCCDD, 64, -2, 65541, 32, 0x12345678, 0x18000});
}

TEST_CASE("RTCP: hand-written compound of every kind, with unknown packets skipped", "[rtcp]") {
  const Bytes datagram = cat({kReceiverReport, kSdes, kApp, kBye, kNack, kTransportCc, kFir, kPli});
  auto r = parse_rtcp(datagram);
  REQUIRE(r.ok());
  CHECK(r->packet_count() == 5);
  CHECK(r->skipped_count() == 3);
  auto packets = packets_of(*r);
  REQUIRE(packets.size() == 5);

  auto rr = packets[0].receiver_report();
  REQUIRE(rr.has_value());
  CHECK(rr->ssrc() == 0x55667788);
  CHECK(rr->report_block_count() == 0);

  auto sdes = packets[1].sdes();
  REQUIRE(sdes.has_value());
  std::vector<std::pair<uint32_t, std::string>> chunks;
  for (const SdesChunk& c : sdes->chunks()) chunks.emplace_back(c.ssrc, std::string(c.cname));
  CHECK(chunks == std::vector<std::pair<uint32_t, std::string>>{{0x11223344, "bob@hq"}});

  auto bye = packets[2].bye();
  REQUIRE(bye.has_value());
  REQUIRE(bye->ssrc_count() == 2);
  CHECK(bye->ssrc(0) == 1);
  CHECK(bye->ssrc(1) == 2);
  CHECK(bye->reason() == "bye");

  auto nack = packets[3].nack();
  REQUIRE(nack.has_value());
  CHECK(nack->sender_ssrc() == 1);
  CHECK(nack->media_ssrc() == 2);
  // BLP 0x8005: bits 0, 2 and 15 -> PID + 1, + 3, + 16.
  CHECK(expand(*nack) == std::vector<uint16_t>{100, 101, 103, 116});

  auto pli = packets[4].pli();
  REQUIRE(pli.has_value());
  CHECK(pli->sender_ssrc() == 1);
  CHECK(pli->media_ssrc() == 2);
  CHECK(packets[4].bytes().data() == datagram.data() + datagram.size() - 12);
}

TEST_CASE("RTCP: padding on the last packet is stripped; a BYE without reason has none", "[rtcp]") {
  // BYE with P=1: one SSRC then 4 bytes of padding (the last byte counts them).
  const Bytes padded_bye = {0xA1, 203, 0x00, 0x02, 0, 0, 0, 9, 0, 0, 0, 4};
  const Bytes datagram = cat({kReceiverReport, padded_bye});  // outlives the views into it
  auto r = parse_rtcp(datagram);
  REQUIRE(r.ok());
  auto packets = packets_of(*r);
  REQUIRE(packets.size() == 2);
  auto bye = packets[1].bye();
  REQUIRE(bye.has_value());
  CHECK(packets[1].bytes().size() == 8);
  CHECK(bye->ssrc(0) == 9);
  CHECK(bye->reason().empty());
}

TEST_CASE("RTCP: every kind of malformed compound is malformed_packet", "[rtcp]") {
  check_malformed({}, "empty");
  check_malformed({0x80, 201, 0x00}, "shorter than a common header");
  check_malformed(cat({kReceiverReport, {0x80, 201}}), "trailing bytes after a valid packet");
  check_malformed({0x40, 201, 0x00, 0x01, 0, 0, 0, 0}, "version 1");
  check_malformed({0x80, 201, 0x00, 0x02, 0, 0, 0, 0}, "length one word past the end");
  check_malformed({0x81, 201, 0x00, 0x01, 0, 0, 0, 0}, "RR with RC=1 and no block");
  Bytes short_sr(kSenderReport.begin(), kSenderReport.end() - 4);
  short_sr[3] = 0x0B;
  check_malformed(short_sr, "SR whose report block is cut");
  check_malformed({0x81, 202, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x02, 'a', 'b'}, "SDES without a null item");
  check_malformed({0x81, 202, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x09, 'a', 'b'}, "SDES item past the end");
  check_malformed({0x82, 202, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 0}, "SDES SC=2 with one chunk");
  check_malformed({0x81, 203, 0x00, 0x02, 0, 0, 0, 1, 0x09, 'b', 'y', 'e'}, "BYE reason past the end");
  check_malformed({0x82, 203, 0x00, 0x01, 0, 0, 0, 1}, "BYE SC=2 with one SSRC");
  check_malformed({0x81, 205, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2}, "NACK without an item");
  check_malformed({0x81, 206, 0x00, 0x01, 0, 0, 0, 1}, "PLI without a media SSRC");
  check_malformed({0xA0, 201, 0x00, 0x01, 0, 0, 0, 0}, "padding count 0");
  check_malformed({0xA0, 201, 0x00, 0x01, 0, 0, 0, 5}, "padding count past the body");
  check_malformed({0xA1, 201, 0x00, 0x07, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                   17, 18, 19, 20, 0, 0, 0, 4},
                  "padding that cuts into the report block");
}

TEST_CASE("RTCP: builders round trip through a compound writer", "[rtcp]") {
  const ReportBlock blocks[] = {{0xA, 12, 345, 0x00020010, 77, 0xDEADBEEF, 1234},
                                {0xB, 0, -8388608, 1, 0, 0, 0}};
  const uint32_t bye_ssrcs[] = {0xA, 0xB, 0xC};
  const uint16_t lost[] = {10, 11, 12, 30};
  std::array<uint8_t, 1200> buf{};
  RtcpCompoundWriter w(buf);
  REQUIRE(w.append(write_sender_report({0x5, {0x0102030405060708ull, 90000, 12, 3456}, blocks}, w.free_space())).ok());
  REQUIRE(w.append(write_receiver_report({0x6, blocks}, w.free_space())).ok());
  REQUIRE(w.append(write_sdes_cname(0x5, "a", w.free_space())).ok());  // shortest CNAME: 1 + padding
  REQUIRE(w.append(write_sdes_cname(0x6, std::string(255, 'x'), w.free_space())).ok());
  REQUIRE(w.append(write_nack(0x6, 0x5, lost, w.free_space())).ok());
  REQUIRE(w.append(write_pli(0x6, 0x5, w.free_space())).ok());
  REQUIRE(w.append(write_bye(bye_ssrcs, "shutting down", w.free_space())).ok());
  REQUIRE(w.append(write_bye({}, {}, w.free_space())).ok());
  CHECK(w.size() % 4 == 0);

  auto r = parse_rtcp(w.bytes());
  REQUIRE(r.ok());
  auto packets = packets_of(*r);
  REQUIRE(packets.size() == 8);
  CHECK(r->skipped_count() == 0);

  auto sr = packets[0].sender_report();
  REQUIRE(sr.has_value());
  CHECK(sr->ssrc() == 0x5);
  CHECK(sr->info() == SenderInfo{0x0102030405060708ull, 90000, 12, 3456});
  REQUIRE(sr->report_block_count() == 2);
  CHECK(sr->report_block(0) == blocks[0]);
  CHECK(sr->report_block(1) == blocks[1]);  // the most negative 24-bit cumulative loss

  auto rr = packets[1].receiver_report();
  REQUIRE(rr.has_value());
  CHECK(rr->ssrc() == 0x6);
  REQUIRE(rr->report_block_count() == 2);
  CHECK(rr->report_block(0) == blocks[0]);

  for (int i : {2, 3}) {
    auto sdes = packets[static_cast<size_t>(i)].sdes();
    REQUIRE(sdes.has_value());
    REQUIRE(sdes->chunk_count() == 1);
    for (const SdesChunk& c : sdes->chunks()) {
      CHECK(c.ssrc == (i == 2 ? 0x5u : 0x6u));
      CHECK(c.cname == (i == 2 ? std::string("a") : std::string(255, 'x')));
    }
  }
  auto nack = packets[4].nack();
  REQUIRE(nack.has_value());
  CHECK(nack->sender_ssrc() == 0x6);
  CHECK(nack->media_ssrc() == 0x5);
  CHECK(expand(*nack) == std::vector<uint16_t>{10, 11, 12, 30});
  CHECK(packets[5].pli().has_value());
  auto bye = packets[6].bye();
  REQUIRE(bye.has_value());
  CHECK(bye->ssrc_count() == 3);
  CHECK(bye->ssrc(2) == 0xC);
  CHECK(bye->reason() == "shutting down");
  CHECK(packets[7].bye()->ssrc_count() == 0);
}

TEST_CASE("RTCP: cumulative loss beyond 24 bits is clamped when written", "[rtcp]") {
  const ReportBlock blocks[] = {{1, 0, 10'000'000, 0, 0, 0, 0}, {2, 0, -10'000'000, 0, 0, 0, 0}};
  std::array<uint8_t, 64> buf{};
  auto n = write_receiver_report({7, blocks}, buf);
  REQUIRE(n.ok());
  auto r = parse_rtcp(std::span<const uint8_t>(buf.data(), *n));
  REQUIRE(r.ok());
  auto rr = packets_of(*r)[0].receiver_report();
  CHECK(rr->report_block(0).cumulative_lost == 0x7FFFFF);
  CHECK(rr->report_block(1).cumulative_lost == -0x800000);
}

TEST_CASE("RTCP: NACK compression into PID/BLP items and expansion back", "[rtcp]") {
  std::vector<NackItem> items;
  CHECK(nack_round_trip({1, 2, 3, 17, 18, 50}, &items) == std::vector<uint16_t>{1, 2, 3, 17, 18, 50});
  REQUIRE(items.size() == 3);
  CHECK(items[0].packet_id == 1);
  CHECK(items[0].lost_bitmask == 0x8003);  // 2, 3 and 17 (PID + 16, the last bit)
  CHECK(items[1].packet_id == 18);
  CHECK(items[1].lost_bitmask == 0);
  CHECK(items[2].packet_id == 50);

  // Across the wrap: 65534 + 1, 2, 3 = 65535, 0, 1 share the first item.
  items.clear();
  CHECK(nack_round_trip({65534, 65535, 0, 1, 20}, &items) == std::vector<uint16_t>{65534, 65535, 0, 1, 20});
  REQUIRE(items.size() == 2);
  CHECK(items[0].packet_id == 65534);
  CHECK(items[0].lost_bitmask == 0x0007);

  // Duplicates are merged; an unsorted list still names every number.
  CHECK(nack_round_trip({5, 5, 6, 6}) == std::vector<uint16_t>{5, 6});
  const std::vector<uint16_t> unsorted = {9, 3, 700, 4};
  const auto back = nack_round_trip(unsorted);
  CHECK(std::set<uint16_t>(back.begin(), back.end()) == std::set<uint16_t>(unsorted.begin(), unsorted.end()));

  // Random loss patterns starting anywhere in the sequence space (so many wrap).
  std::mt19937 rng(4585);
  for (int round = 0; round < 200; ++round) {
    const uint16_t start = static_cast<uint16_t>(rng());
    std::vector<uint16_t> lost;
    for (uint16_t i = 0; i < 300; ++i)
      if (rng() % 4 == 0) lost.push_back(static_cast<uint16_t>(start + i));
    if (lost.empty()) continue;
    REQUIRE(nack_round_trip(lost) == lost);
  }
}

TEST_CASE("RTCP: builders reject invalid input and short buffers", "[rtcp]") {
  std::array<uint8_t, 2048> buf{};
  std::vector<ReportBlock> blocks(32);
  CHECK(write_sender_report({1, {}, blocks}, buf).code() == Errc::invalid_argument);
  CHECK(write_receiver_report({1, blocks}, buf).code() == Errc::invalid_argument);
  CHECK(write_sdes_cname(1, "", buf).code() == Errc::invalid_argument);
  CHECK(write_sdes_cname(1, std::string(256, 'x'), buf).code() == Errc::invalid_argument);
  const std::vector<uint32_t> ssrcs(32, 1);
  CHECK(write_bye(ssrcs, "", buf).code() == Errc::invalid_argument);
  CHECK(write_bye({}, std::string(256, 'x'), buf).code() == Errc::invalid_argument);
  CHECK(write_nack(1, 2, {}, buf).code() == Errc::invalid_argument);

  const uint16_t lost[] = {1, 100};  // two items: 20 bytes
  CHECK(write_nack(1, 2, lost, std::span<uint8_t>(buf.data(), 19)).code() == Errc::invalid_argument);
  CHECK(write_nack(1, 2, lost, std::span<uint8_t>(buf.data(), 20)).ok());
  CHECK(write_pli(1, 2, std::span<uint8_t>(buf.data(), 11)).code() == Errc::invalid_argument);
  CHECK(write_sender_report({1, {}, {}}, std::span<uint8_t>(buf.data(), 27)).code() == Errc::invalid_argument);
  CHECK(write_sdes_cname(1, "abc", std::span<uint8_t>(buf.data(), 15)).code() == Errc::invalid_argument);
  CHECK(write_sdes_cname(1, "abc", std::span<uint8_t>(buf.data(), 16)).ok());

  RtcpCompoundWriter w(std::span<uint8_t>(buf.data(), 20));
  CHECK(w.append(write_pli(1, 2, w.free_space())).ok());
  CHECK(w.append(write_pli(1, 2, w.free_space())).code() == Errc::invalid_argument);
  CHECK(w.size() == 12);
}

TEST_CASE("RTCP: RTP/RTCP demultiplexing by packet type (RFC 5761)", "[rtcp]") {
  CHECK(is_rtcp(kSenderReport));
  CHECK(is_rtcp(kPli));
  const Bytes rtp = {0x80, 0xE0, 0, 1};  // marker + PT 96: 224, outside 192..223
  CHECK_FALSE(is_rtcp(rtp));
  CHECK_FALSE(is_rtcp(Bytes{0x80, 111}));
  CHECK_FALSE(is_rtcp(Bytes{0x80}));
}

TEST_CASE("RTCP: parse, iterate and build allocate nothing", "[rtcp]") {
  const Bytes datagram = cat({kSenderReport, kSdes, kBye, kNack, kPli});
  const ReportBlock blocks[] = {{1, 2, 3, 4, 5, 6, 7}};
  const uint16_t lost[] = {100, 101, 103, 200};
  std::array<uint8_t, 512> buf{};
  uint64_t sink = 0;
  test::AllocationScope scope;
  for (int i = 0; i < 1000; ++i) {
    auto r = parse_rtcp(datagram);
    if (!r.ok()) break;
    for (const RtcpPacket& p : *r) {
      if (auto sr = p.sender_report()) sink += sr->report_block(0).jitter;
      if (auto sdes = p.sdes())
        for (const SdesChunk& c : sdes->chunks()) sink += c.cname.size();
      if (auto nack = p.nack())
        for (uint16_t seq : nack->lost_sequence_numbers()) sink += seq;
    }
    RtcpCompoundWriter w(buf);
    (void)w.append(write_receiver_report({1, blocks}, w.free_space()));
    (void)w.append(write_sdes_cname(1, "cname", w.free_space()));
    (void)w.append(write_nack(1, 2, lost, w.free_space()));
    sink += w.size();
  }
  CHECK(scope.count() == 0);
  CHECK(sink == 1000ull * (32 + 6 + (100 + 101 + 103 + 116) + (32 + 16 + 20)));
}
