// MediaSession on its own: SRTP both ways, demultiplexing, rejection counters and the RTCP loop, with scripted
// streams standing in for the codecs (the audio and video pipeline tests cover those).
#include <catch2/catch.hpp>

#include <map>

#include "core/media/rtp/receiver_stats.h"
#include "core/media/rtp/rtp_packet.h"
#include "support/alloc_counter.h"
#include "tests/core/media/pipeline/session_pair_support.h"

namespace tandem::media {
namespace {

using test::SessionPair;

class ScriptedSender final : public RtpSendStream {
 public:
  ScriptedSender(uint32_t ssrc, RtpPacketOutput& out) : ssrc_(ssrc), out_(out) {}
  MediaKind kind() const override { return MediaKind::video; }
  uint32_t ssrc() const override { return ssrc_; }
  bool has_sent() const override { return seq_ != 0; }
  rtp::SenderInfo sender_info(uint64_t now_ns, uint64_t ntp_offset_ns) const override {
    return {rtp::ntp_from_ns(now_ns + ntp_offset_ns), static_cast<uint32_t>(now_ns / 1000), seq_, seq_ * 100u};
  }
  void on_nack(const rtp::NackView& nack, uint64_t) override {
    for (uint16_t s : nack.lost_sequence_numbers()) nacked.push_back(s);
  }
  void on_pli(uint64_t) override { ++plis; }
  void on_report_block(const rtp::ReportBlock& block, std::optional<uint64_t> rtt, uint64_t) override {
    blocks.push_back(block);
    if (rtt) rtts.push_back(*rtt);
  }
  Result<size_t> send(uint64_t now_ns, size_t payload = 100) {
    std::fill(payload_.begin(), payload_.begin() + payload, static_cast<uint8_t>(seq_));
    rtp::RtpHeader h;
    h.payload_type = 96;
    h.sequence_number = seq_++;
    h.timestamp = seq_ * 3000;
    h.ssrc = ssrc_;
    auto n = rtp::write_rtp(h, std::span<const uint8_t>(payload_.data(), payload), buffer_);
    if (!n) return n.error();
    return out_.send_rtp(buffer_, n.value(), now_ns);
  }

  std::vector<uint16_t> nacked;
  int plis = 0;
  std::vector<rtp::ReportBlock> blocks;
  std::vector<uint64_t> rtts;

 private:
  uint32_t ssrc_;
  RtpPacketOutput& out_;
  uint16_t seq_ = 0;
  std::array<uint8_t, 1300> payload_{};
  std::array<uint8_t, kMaxDatagramSize> buffer_{};
};

class ScriptedReceiver final : public RtpReceiveStream {
 public:
  explicit ScriptedReceiver(uint32_t remote_ssrc) : ssrc_(remote_ssrc), stats_(remote_ssrc, 90000) {}
  MediaKind kind() const override { return MediaKind::video; }
  uint32_t remote_ssrc() const override { return ssrc_; }
  uint8_t payload_type() const override { return 96; }
  void on_rtp(const rtp::RtpPacketView& p, uint64_t now_ns) override {
    ++packets;
    if (!p.payload.empty() && p.payload[0] != static_cast<uint8_t>(p.sequence_number)) ++corrupt;
    stats_.on_packet(p, now_ns);
  }
  void on_sender_report(const rtp::SenderInfo& info, uint64_t now_ns) override {
    ++srs;
    stats_.on_sender_report(info.ntp_timestamp, now_ns);
  }
  void set_rtt(uint64_t rtt_ns) override { rtt = rtt_ns; }
  std::optional<rtp::ReportBlock> report_block(uint64_t now_ns) override {
    if (!stats_.has_packets()) return std::nullopt;
    return stats_.make_report_block(now_ns);
  }
  size_t take_nacks(uint64_t, std::span<uint16_t> out) override {
    const size_t n = std::min(out.size(), want_nacks.size());
    std::copy_n(want_nacks.begin(), n, out.begin());
    want_nacks.clear();
    return n;
  }
  bool take_keyframe_request() override { return std::exchange(want_pli, false); }
  void poll(uint64_t) override { ++polls; }
  std::optional<uint64_t> next_timeout() const override {
    if (!want_nacks.empty() || want_pli) return 0;  // feedback is due now
    return std::nullopt;
  }

  uint64_t packets = 0, corrupt = 0, srs = 0, polls = 0;
  std::optional<uint64_t> rtt;
  std::vector<uint16_t> want_nacks;
  bool want_pli = false;

 private:
  uint32_t ssrc_;
  rtp::ReceiverStats stats_;
};

constexpr uint64_t kMs = 1'000'000;

}  // namespace

TEST_CASE("media session: SRTP packets flow and decrypt for every profile", "[media-session]") {
  for (auto profile : {SrtpProfile::aes_cm_128_hmac_sha1_80, SrtpProfile::aes_cm_128_hmac_sha1_32,
                       SrtpProfile::aead_aes_128_gcm, SrtpProfile::aead_aes_256_gcm}) {
    CAPTURE(to_string(profile));
    SessionPair pair({}, profile);
    ScriptedSender tx(0x1111, *pair.a().session);
    ScriptedReceiver rx(0x1111);
    REQUIRE(pair.a().session->add_sender(tx).ok());
    REQUIRE(pair.b().session->add_receiver(rx).ok());
    for (int i = 0; i < 50; ++i) {
      REQUIRE(tx.send(pair.now(), 1000).ok());
      pair.run_for(10 * kMs);
    }
    CHECK(rx.packets == 50);
    CHECK(rx.corrupt == 0);
    CHECK(pair.b().session->stats().srtp_auth_failures == 0);
  }
}

TEST_CASE("media session: the RTCP loop reports, measures RTT and carries NACK and PLI", "[media-session]") {
  sim::Impairments path;
  path.delay_ns = 30 * kMs;  // one way: RTT 60 ms
  SessionPair pair(path);
  ScriptedSender tx(0x2222, *pair.a().session);
  ScriptedReceiver rx(0x2222);
  REQUIRE(pair.a().session->add_sender(tx).ok());
  REQUIRE(pair.b().session->add_receiver(rx).ok());
  for (int i = 0; i < 300; ++i) {  // 3 s
    REQUIRE(tx.send(pair.now()).ok());
    pair.run_for(10 * kMs);
  }
  CHECK(rx.srs >= 2);  // SRs from a's sender reached b's receiver
  REQUIRE_FALSE(tx.blocks.empty());  // RRs from b came back with a block about a's SSRC
  CHECK(tx.blocks.back().ssrc == 0x2222);
  CHECK(tx.blocks.back().extended_highest_sequence >= 250);
  REQUIRE_FALSE(tx.rtts.empty());
  CHECK(tx.rtts.back() >= 55 * kMs);
  CHECK(tx.rtts.back() <= 70 * kMs);
  // Both peers measured RTT only where they send; a hands it to its receivers (none here).
  CHECK(pair.a().session->stats().rtt_ns.has_value());
  CHECK(pair.a().metrics.rtcp_received.value() >= 2);
  CHECK(pair.b().metrics.rtcp_sent.value() >= 2);

  // Feedback goes out at once, not at the next report.
  const uint64_t rtcp_before = pair.b().session->stats().rtcp_sent;
  rx.want_nacks = {5, 6, 7, 40};
  rx.want_pli = true;
  pair.run_for(35 * kMs);  // one poll of b plus the one-way delay
  CHECK(pair.b().session->stats().rtcp_sent == rtcp_before + 1);
  CHECK(tx.nacked == std::vector<uint16_t>{5, 6, 7, 40});
  CHECK(tx.plis == 1);
  CHECK(pair.b().session->stats().nack_packets_sent == 1);
  CHECK(pair.b().session->stats().pli_sent == 1);
}

TEST_CASE("media session: garbage, forgeries, replays and strangers are rejected and counted", "[media-session]") {
  SessionPair pair;
  ScriptedSender tx(0x3333, *pair.a().session);
  ScriptedReceiver rx(0x3333);
  REQUIRE(pair.a().session->add_sender(tx).ok());
  REQUIRE(pair.b().session->add_receiver(rx).ok());
  pair.b().keep_received = true;
  for (int i = 0; i < 5; ++i) {
    REQUIRE(tx.send(pair.now()).ok());
    pair.run_for(5 * kMs);
  }
  REQUIRE(rx.packets == 5);
  REQUIRE_FALSE(pair.b().received.empty());
  MediaSession& b = *pair.b().session;
  const uint64_t now = pair.now();

  // Replay: the same SRTP packet again.
  std::vector<uint8_t> replay = pair.b().received.front();
  CHECK(b.receive(replay, now) == Errc::replayed);
  CHECK(pair.b().metrics.srtp_replays.value() == 1);

  // Forgery: one flipped payload bit in a fresh packet.
  REQUIRE(tx.send(now).ok());
  auto forged_datagram = pair.link_ab().poll_receive(now + 1);
  REQUIRE(forged_datagram);
  std::vector<uint8_t> forged(forged_datagram->bytes.begin(), forged_datagram->bytes.end());
  forged[20] ^= 0x01;
  CHECK(b.receive(forged, now) == Errc::authentication_failed);
  CHECK(pair.b().metrics.srtp_auth_failures.value() == 1);

  // Garbage: random bytes, truncated headers, empty, not version 2.
  uint64_t state = 99;
  uint64_t rejected = 0;
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> junk(static_cast<size_t>(i % 300));
    for (auto& x : junk) x = static_cast<uint8_t>((state = state * 6364136223846793005ull + 1442695040888963407ull) >> 56);
    if (i % 3 == 0 && !junk.empty()) junk[0] = 0x80;  // looks like RTP, so it reaches SRTP
    if (i % 7 == 0 && junk.size() > 1) junk[1] = 200;  // looks like SRTCP
    if (b.receive(junk, now) != Errc::ok) ++rejected;
  }
  CHECK(rejected == 2000);
  CHECK(rx.packets == 5);
  CHECK(pair.b().metrics.malformed_packets.value() + pair.b().metrics.srtp_auth_failures.value() +
            pair.b().metrics.srtp_replays.value() ==
        2000 + 2);

  // A stranger: valid SRTP from the right key but an SSRC nobody receives.
  ScriptedSender stranger(0x4444, *pair.a().session);
  REQUIRE(pair.a().session->add_sender(stranger).ok());
  REQUIRE(stranger.send(pair.now()).ok());
  pair.run_for(5 * kMs);
  CHECK(pair.b().metrics.unknown_ssrc.value() == 1);
  CHECK(rx.packets == 5);
}

TEST_CASE("media session: rejects duplicate streams and bad configuration", "[media-session]") {
  SessionPair pair;
  ScriptedSender tx(0x5555, *pair.a().session), twin(0x5555, *pair.a().session);
  REQUIRE(pair.a().session->add_sender(tx).ok());
  CHECK(pair.a().session->add_sender(tx).code() == Errc::invalid_argument);
  CHECK(pair.a().session->add_sender(twin).code() == Errc::invalid_argument);
  ScriptedReceiver rx(0x5555), rx_twin(0x5555);
  REQUIRE(pair.a().session->add_receiver(rx).ok());
  CHECK(pair.a().session->add_receiver(rx_twin).code() == Errc::invalid_argument);
  pair.a().session->remove_receiver(rx);
  CHECK(pair.a().session->add_receiver(rx_twin).ok());

  MediaSessionConfig bad;
  std::vector<uint8_t> short_key(5);
  bad.local_key = short_key;
  CHECK(MediaSession::create(bad, pair.fake.platform, pair.a().metrics, pair.a()).code() == Errc::invalid_argument);
}

TEST_CASE("media session: created without keys, it sends and accepts nothing until keyed", "[media-session]") {
  SessionPair pair;  // a and b keyed as usual; an unkeyed session replaces b's, as a peer before DTLS-SRTP
  MediaSessionConfig unkeyed;
  unkeyed.cname = "late";
  auto late = MediaSession::create(unkeyed, pair.fake.platform, pair.b().metrics, pair.b());
  REQUIRE(late.ok());
  pair.b().session = std::move(late.value());
  MediaSession& b = *pair.b().session;
  CHECK_FALSE(b.keyed());
  ScriptedSender from_b(0xb0b, b);
  REQUIRE(b.add_sender(from_b).ok());
  CHECK(from_b.send(pair.now()).code() == Errc::invalid_argument);
  CHECK(pair.b().sent == 0);  // nothing leaves unprotected
  ScriptedSender from_a(0xa0a, *pair.a().session);
  ScriptedReceiver at_b(0xa0a);
  REQUIRE(b.add_receiver(at_b).ok());
  REQUIRE(from_a.send(pair.now()).ok());
  pair.run_until(pair.now() + 50 * kMs);
  CHECK(at_b.packets == 0);
  CHECK(b.stats().unkeyed_drops == 2);

  // The keys b would have had (the same bytes SessionPair gives peer b), then traffic flows both ways.
  const auto key_a = test::test_key_bytes(16, 1), salt_a = test::test_key_bytes(14, 2);
  const auto key_b = test::test_key_bytes(16, 3), salt_b = test::test_key_bytes(14, 4);
  REQUIRE(b.set_keys(SrtpProfile::aes_cm_128_hmac_sha1_80, key_b, salt_b, key_a, salt_a).ok());
  CHECK(b.keyed());
  CHECK(b.set_keys(SrtpProfile::aes_cm_128_hmac_sha1_80, key_b, salt_b, key_a, salt_a).code() ==
        Errc::invalid_argument);
  REQUIRE(from_a.send(pair.now()).ok());
  ScriptedReceiver at_a(0xb0b);
  REQUIRE(pair.a().session->add_receiver(at_a).ok());
  REQUIRE(from_b.send(pair.now()).ok());
  pair.run_until(pair.now() + 50 * kMs);
  CHECK(at_b.packets == 1);
  CHECK(at_a.packets == 1);
  CHECK(at_b.corrupt + at_a.corrupt == 0);
}

TEST_CASE("media session: no allocation per packet on the send and receive paths", "[media-session]") {
  SessionPair pair;
  ScriptedSender tx(0x6666, *pair.a().session);
  ScriptedReceiver rx(0x6666);
  REQUIRE(pair.a().session->add_sender(tx).ok());
  REQUIRE(pair.b().session->add_receiver(rx).ok());
  for (int i = 0; i < 20; ++i) {
    REQUIRE(tx.send(pair.now(), 1200).ok());
    pair.run_for(2 * kMs);
  }
  // Direct calls, no simulated link (the link and the test's driver are not what we measure).
  std::array<uint8_t, kMaxDatagramSize> copy{};
  uint64_t allocations = 0;
  for (int i = 0; i < 200; ++i) {
    REQUIRE(tx.send(pair.now(), 1200).ok());
    auto d = pair.link_ab().poll_receive(pair.now() + 1);
    REQUIRE(d);
    std::copy(d->bytes.begin(), d->bytes.end(), copy.begin());
    const size_t size = d->bytes.size();
    test::AllocationScope scope;
    REQUIRE(tx.send(pair.now(), 1200).ok());
    CHECK(pair.b().session->receive(std::span<uint8_t>(copy.data(), size), pair.now()) == Errc::ok);
    allocations += scope.count();
    (void)pair.link_ab().poll_receive(pair.now() + 1);  // the second packet, unread
  }
  CHECK(allocations == 0);
  CHECK(rx.packets >= 220);
}

}  // namespace tandem::media
