// Seeded garbage and mutated packets through the RTP and RTCP parsers. Every result must be either a view that
// stays inside the datagram or Errc::malformed_packet; reading every field of every view makes ASan (in the
// sanitizer build) prove that nothing reads out of bounds. Each datagram lives in its own exactly-sized heap
// buffer so a one-byte overread is caught.
#include <array>
#include <catch2/catch.hpp>
#include <memory>
#include <random>
#include <vector>

#include "core/media/rtp/rtcp.h"
#include "core/media/rtp/rtp_packet.h"

using namespace tandem;
using namespace tandem::media::rtp;

namespace {

using Bytes = std::vector<uint8_t>;

struct Outcome {
  size_t ok = 0, malformed = 0, other = 0;
};

bool inside(std::span<const uint8_t> part, std::span<const uint8_t> whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// Parses, checks the view's invariants, reads everything, then writes the view back out and parses that again:
// the second parse must give the same packet.
// Walks an RFC 8285 block element by element, as iteration does: 0 at a clean end, -1 at a bad element.
int walk_extensions(RtpExtensionFormat format, std::span<const uint8_t> block) {
  size_t pos = 0;
  RtpExtension element;
  int step;
  while ((step = detail::next_extension(format, block, pos, element)) == 1) {
  }
  return step;
}

// parse_rtp() validates extension blocks with its own fast loops; they must agree with the element walk that
// iteration uses. A packet rejected for a bad element is parsed again with its profile made opaque, and the
// walk over that block must find the bad element too.
void check_extension_rejection(std::span<const uint8_t> d) {
  std::vector<uint8_t> copy(d.begin(), d.end());
  const size_t ext_at = 12 + 4 * size_t{copy[0] & 0x0Fu};
  const uint16_t profile = load_be16(copy.data() + ext_at);
  copy[ext_at] = copy[ext_at + 1] = 0;
  auto opaque = parse_rtp(copy);
  if (!opaque.ok()) return;  // also malformed after the extension (its padding): nothing to compare
  const auto format = profile == kOneByteExtensionProfile ? RtpExtensionFormat::one_byte : RtpExtensionFormat::two_byte;
  CHECK(walk_extensions(format, opaque->extension_data) == -1);
}

void exercise_rtp(std::span<const uint8_t> d, Outcome& outcome) {
  auto r = parse_rtp(d);
  if (!r.ok()) {
    (r.code() == Errc::malformed_packet ? outcome.malformed : outcome.other)++;
    if (r.error().message.rfind("rtp: bad RFC 8285", 0) == 0) check_extension_rejection(d);
    return;
  }
  ++outcome.ok;
  const RtpPacketView& v = *r;
  CHECK(inside(v.csrc_bytes, d));
  CHECK(inside(v.extension_data, d));
  CHECK(inside(v.payload, d));
  CHECK(v.header_size + v.payload.size() + v.padding_size == d.size());

  std::array<uint32_t, kMaxCsrcs> csrcs{};
  for (size_t i = 0; i < v.csrc_count(); ++i) csrcs[i] = v.csrc(i);
  std::array<RtpExtension, 256> ext{};
  size_t n_ext = 0;
  for (const RtpExtension& e : v.extensions()) {
    CHECK(inside(e.data, v.extension_data));
    if (n_ext < ext.size()) ext[n_ext++] = e;
  }
  if (v.extension_format == RtpExtensionFormat::other) return;  // opaque: write_rtp cannot reproduce it
  if (v.extension_format != RtpExtensionFormat::none) CHECK(walk_extensions(v.extension_format, v.extension_data) == 0);
  if (v.extension_format != RtpExtensionFormat::none && n_ext == 0) return;  // X=1 with no elements

  RtpHeader h;
  h.payload_type = v.payload_type;
  h.marker = v.marker;
  h.sequence_number = v.sequence_number;
  h.timestamp = v.timestamp;
  h.ssrc = v.ssrc;
  h.csrcs = std::span<const uint32_t>(csrcs.data(), v.csrc_count());
  h.extensions = std::span<const RtpExtension>(ext.data(), n_ext);
  h.two_byte_extensions = v.extension_format == RtpExtensionFormat::two_byte;
  h.padding_size = v.padding_size;
  std::vector<uint8_t> out(4096);
  auto written = write_rtp(h, v.payload, out);
  REQUIRE(written.ok());
  auto again = parse_rtp(std::span<const uint8_t>(out.data(), *written));
  REQUIRE(again.ok());
  CHECK(again->sequence_number == v.sequence_number);
  CHECK(again->timestamp == v.timestamp);
  CHECK(again->csrc_count() == v.csrc_count());
  CHECK(again->extension_format == v.extension_format);
  CHECK(std::equal(again->payload.begin(), again->payload.end(), v.payload.begin(), v.payload.end()));
  size_t i = 0;
  for (const RtpExtension& e : again->extensions()) {
    REQUIRE(i < n_ext);
    CHECK(e.id == ext[i].id);
    CHECK(std::equal(e.data.begin(), e.data.end(), ext[i].data.begin(), ext[i].data.end()));
    ++i;
  }
  CHECK(i == n_ext);
}

void exercise_rtcp(std::span<const uint8_t> d, Outcome& outcome) {
  auto r = parse_rtcp(d);
  if (!r.ok()) {
    (r.code() == Errc::malformed_packet ? outcome.malformed : outcome.other)++;
    return;
  }
  ++outcome.ok;
  uint64_t sink = 0;
  size_t packets = 0;
  for (const RtcpPacket& p : *r) {
    ++packets;
    CHECK(inside(p.bytes(), d));
    if (auto sr = p.sender_report()) {
      sink += sr->ssrc() + sr->info().octet_count;
      for (size_t i = 0; i < sr->report_block_count(); ++i) sink += sr->report_block(i).jitter;
    } else if (auto rr = p.receiver_report()) {
      for (size_t i = 0; i < rr->report_block_count(); ++i) sink += rr->report_block(i).last_sr;
    } else if (auto sdes = p.sdes()) {
      size_t chunks = 0;
      for (const SdesChunk& c : sdes->chunks()) {
        sink += c.ssrc + c.cname.size();
        for (char ch : c.cname) sink += static_cast<uint8_t>(ch);
        ++chunks;
      }
      CHECK(chunks == sdes->chunk_count());
    } else if (auto bye = p.bye()) {
      for (size_t i = 0; i < bye->ssrc_count(); ++i) sink += bye->ssrc(i);
      for (char ch : bye->reason()) sink += static_cast<uint8_t>(ch);
    } else if (auto nack = p.nack()) {
      CHECK(nack->item_count() >= 1);
      for (uint16_t seq : nack->lost_sequence_numbers()) sink += seq;
    } else if (auto pli = p.pli()) {
      sink += pli->media_ssrc();
    }
  }
  CHECK(packets == r->packet_count());
  (void)sink;
}

// A random datagram: random bytes, but often with a valid version (and for RTCP a known packet type and a
// plausible length) so the deeper checks see traffic too.
Bytes random_datagram(std::mt19937& rng, bool rtcp_like) {
  std::uniform_int_distribution<int> len_dist(0, 96), byte(0, 255), coin(0, 3);
  Bytes b(static_cast<size_t>(len_dist(rng)));
  for (auto& x : b) x = static_cast<uint8_t>(byte(rng));
  if (!b.empty() && coin(rng) != 0) b[0] = static_cast<uint8_t>((b[0] & 0x3F) | 0x80);
  if (rtcp_like) {
    static constexpr uint8_t kTypes[] = {200, 201, 202, 203, 204, 205, 206, 207};
    for (size_t pos = 0; pos + 4 <= b.size();) {
      b[pos] = static_cast<uint8_t>((b[pos] & 0x3F) | 0x80);
      if (coin(rng) != 0) b[pos + 1] = kTypes[byte(rng) % 8];
      const size_t words = static_cast<size_t>(coin(rng) + (b.size() - pos) / 4 / 2);
      b[pos + 2] = 0;
      b[pos + 3] = static_cast<uint8_t>(words > 0 ? words - 1 : 0);
      pos += words * 4 + 4;
    }
  }
  return b;
}

// Copies into an exactly-sized heap block (so ASan sees the end), then runs `f` on it.
template <class F>
void with_exact_copy(const Bytes& b, F&& f) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[b.size() ? b.size() : 1]);
  std::copy(b.begin(), b.end(), copy.get());
  f(std::span<const uint8_t>(copy.get(), b.size()));
}

Bytes mutate(const Bytes& valid, std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255), kind(0, 4);
  Bytes b = valid;
  const int edits = 1 + kind(rng);
  for (int e = 0; e < edits && !b.empty(); ++e) {
    const size_t at = static_cast<size_t>(byte(rng)) % b.size();
    switch (kind(rng)) {
      case 0: b[at] = static_cast<uint8_t>(byte(rng)); break;
      case 1: b[at] ^= static_cast<uint8_t>(1u << (byte(rng) % 8)); break;
      case 2: b.resize(at); break;  // truncate
      case 3: b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), static_cast<uint8_t>(byte(rng))); break;
      default: b.push_back(static_cast<uint8_t>(byte(rng))); break;
    }
  }
  return b;
}

std::vector<Bytes> valid_rtp_packets() {
  std::vector<Bytes> out;
  const Bytes a = {0xAA}, sixteen(16, 1), mid = {'m', 'i', 'd'}, empty;
  const RtpExtension one[] = {{1, a}, {14, sixteen}, {3, mid}};
  const RtpExtension two[] = {{200, mid}, {2, empty}};
  const uint32_t csrcs[] = {7, 8};
  const Bytes payload(40, 0x55);
  for (int variant = 0; variant < 4; ++variant) {
    RtpHeader h;
    h.payload_type = 96;
    h.sequence_number = static_cast<uint16_t>(variant);
    if (variant & 1) h.csrcs = csrcs;
    h.extensions = variant < 2 ? std::span<const RtpExtension>(one) : std::span<const RtpExtension>(two);
    h.padding_size = static_cast<uint8_t>(variant * 3);
    Bytes buf(200);
    auto n = write_rtp(h, payload, buf);
    REQUIRE(n.ok());
    buf.resize(*n);
    out.push_back(buf);
  }
  return out;
}

Bytes valid_compound() {
  Bytes buf(600);
  RtcpCompoundWriter w(buf);
  const ReportBlock blocks[] = {{1, 2, -3, 4, 5, 6, 7}, {8, 9, 10, 11, 12, 13, 14}};
  const uint16_t lost[] = {65530, 65531, 65535, 2, 40};
  const uint32_t bye_ssrcs[] = {1, 2};
  REQUIRE(w.append(write_sender_report({0x1111, {1, 2, 3, 4}, blocks}, w.free_space())).ok());
  REQUIRE(w.append(write_receiver_report({0x2222, blocks}, w.free_space())).ok());
  REQUIRE(w.append(write_sdes_cname(0x1111, "user@example", w.free_space())).ok());
  REQUIRE(w.append(write_nack(0x1111, 0x3333, lost, w.free_space())).ok());
  REQUIRE(w.append(write_pli(0x1111, 0x3333, w.free_space())).ok());
  REQUIRE(w.append(write_bye(bye_ssrcs, "done", w.free_space())).ok());
  return Bytes(w.bytes().begin(), w.bytes().end());
}

}  // namespace

TEST_CASE("RTP fuzz: random buffers never crash and only ever fail as malformed_packet", "[rtp][fuzz]") {
  std::mt19937 rng(20261121);
  Outcome outcome;
  for (int i = 0; i < 100000; ++i)
    with_exact_copy(random_datagram(rng, false), [&](std::span<const uint8_t> d) { exercise_rtp(d, outcome); });
  CHECK(outcome.other == 0);
  CHECK(outcome.malformed > 0);
  CHECK(outcome.ok > 1000);  // the valid-version ones mostly parse: the deep paths ran
}

TEST_CASE("RTP fuzz: mutated valid packets never crash and round trip when they parse", "[rtp][fuzz]") {
  std::mt19937 rng(8285);
  Outcome outcome;
  const auto valid = valid_rtp_packets();
  for (int i = 0; i < 50000; ++i)
    with_exact_copy(mutate(valid[static_cast<size_t>(i) % valid.size()], rng),
                    [&](std::span<const uint8_t> d) { exercise_rtp(d, outcome); });
  CHECK(outcome.other == 0);
  CHECK(outcome.malformed > 1000);
  CHECK(outcome.ok > 1000);
}

TEST_CASE("RTCP fuzz: random and mutated compounds never crash and only fail as malformed_packet", "[rtcp][fuzz]") {
  std::mt19937 rng(4585);
  Outcome outcome;
  for (int i = 0; i < 100000; ++i)
    with_exact_copy(random_datagram(rng, true), [&](std::span<const uint8_t> d) { exercise_rtcp(d, outcome); });
  const Bytes compound = valid_compound();
  for (int i = 0; i < 50000; ++i)
    with_exact_copy(mutate(compound, rng), [&](std::span<const uint8_t> d) { exercise_rtcp(d, outcome); });
  CHECK(outcome.other == 0);
  CHECK(outcome.malformed > 1000);
  CHECK(outcome.ok > 1000);
}
