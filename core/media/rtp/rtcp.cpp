#include "core/media/rtp/rtcp.h"

#include <algorithm>
#include <cstring>

namespace tandem::media::rtp {
namespace {

[[gnu::cold, gnu::noinline]] Error malformed(const char* what) { return Error{Errc::malformed_packet, what}; }
[[gnu::cold, gnu::noinline]] Error invalid(const char* what) { return Error{Errc::invalid_argument, what}; }

size_t round_up_to_word(size_t n) { return (n + 3) & ~size_t{3}; }

constexpr size_t kSenderReportFixedSize = 28;   // header, SSRC, sender info
constexpr size_t kReceiverReportFixedSize = 8;  // header, SSRC
constexpr size_t kFeedbackFixedSize = 12;       // header, sender SSRC, media SSRC (RFC 4585 section 6.1)

// The kind of a packet whose common header is at `p`, or nullopt for the ones we skip.
std::optional<RtcpKind> classify(const uint8_t* p) {
  const uint8_t count_or_format = p[0] & 0x1F;
  switch (p[1]) {
    case kRtcpSenderReport: return RtcpKind::sender_report;
    case kRtcpReceiverReport: return RtcpKind::receiver_report;
    case kRtcpSdes: return RtcpKind::sdes;
    case kRtcpBye: return RtcpKind::bye;
    case kRtcpTransportFeedback:
      if (count_or_format == kFmtGenericNack) return RtcpKind::nack;
      return std::nullopt;
    case kRtcpPayloadFeedback:
      if (count_or_format == kFmtPictureLossIndication) return RtcpKind::pli;
      return std::nullopt;
    default: return std::nullopt;
  }
}

// One SDES chunk starting at `pos` of the packet `p` (of `size` bytes): 1 with `out` filled and `pos` moved to
// the next chunk, -1 when an item or the chunk's terminating null octet lies past the end.
int sdes_step(const uint8_t* p, size_t size, size_t& pos, SdesChunk& out) {
  if (pos + 4 > size) return -1;
  out.ssrc = load_be32(p + pos);
  out.cname = {};
  pos += 4;
  while (pos < size && p[pos] != 0) {
    if (pos + 2 > size) return -1;
    const size_t len = p[pos + 1];
    if (pos + 2 + len > size) return -1;
    if (p[pos] == kSdesCname && out.cname.empty())
      out.cname = std::string_view(reinterpret_cast<const char*>(p + pos + 2), len);
    pos += 2 + len;
  }
  if (pos >= size) return -1;  // no null item ends the list
  // The null item, then null octets up to the next 32-bit boundary (clipped: RTCP padding may end the packet).
  pos = std::min(round_up_to_word(pos + 1), size);
  return 1;
}

// Why the packet of a known kind is malformed, or nullptr. `size` excludes RTCP padding.
const char* check_packet(RtcpKind kind, const uint8_t* p, size_t size) {
  const size_t count = p[0] & 0x1F;
  switch (kind) {
    case RtcpKind::sender_report:
      if (size < kSenderReportFixedSize + count * kReportBlockSize) return "rtcp: SR shorter than its report blocks";
      return nullptr;
    case RtcpKind::receiver_report:
      if (size < kReceiverReportFixedSize + count * kReportBlockSize) return "rtcp: RR shorter than its report blocks";
      return nullptr;
    case RtcpKind::sdes: {
      size_t pos = kRtcpHeaderSize;
      SdesChunk chunk;
      for (size_t i = 0; i < count; ++i)
        if (sdes_step(p, size, pos, chunk) != 1) return "rtcp: SDES chunk or item runs past the end of the packet";
      return nullptr;
    }
    case RtcpKind::bye: {
      const size_t reason_at = kRtcpHeaderSize + 4 * count;
      if (size < reason_at) return "rtcp: BYE shorter than its SSRC list";
      if (size > reason_at && reason_at + 1 + p[reason_at] > size) return "rtcp: BYE reason runs past the end";
      return nullptr;
    }
    case RtcpKind::nack:
      if (size < kFeedbackFixedSize + 4) return "rtcp: generic NACK without a PID/BLP item";
      return nullptr;
    case RtcpKind::pli:
      if (size < kFeedbackFixedSize) return "rtcp: PLI shorter than its two SSRCs";
      return nullptr;
  }
  return nullptr;
}

// The common header of the packet at `p` (with `left` bytes from it to the end of the datagram): the packet's
// size per its length field, and its size without RTCP padding. nullptr on success, else what is wrong.
const char* read_header(const uint8_t* p, size_t left, size_t& size, size_t& unpadded) {
  if (left < kRtcpHeaderSize) return "rtcp: trailing bytes shorter than a common header";
  if ((p[0] >> 6) != 2) return "rtcp: version is not 2";
  size = (size_t{load_be16(p + 2)} + 1) * 4;
  if (size > left) return "rtcp: length field runs past the end of the datagram";
  unpadded = size;
  if (p[0] & 0x20) {
    const uint8_t padding = p[size - 1];
    if (padding == 0 || padding > size - kRtcpHeaderSize) return "rtcp: padding length is 0 or exceeds the packet";
    unpadded -= padding;
  }
  return nullptr;
}

ReportBlock read_report_block(const uint8_t* b) {
  ReportBlock r;
  r.ssrc = load_be32(b);
  r.fraction_lost = b[4];
  const uint32_t lost = load_be24(b + 5);
  r.cumulative_lost = (lost & 0x800000) ? static_cast<int32_t>(lost) - 0x1000000 : static_cast<int32_t>(lost);
  r.extended_highest_sequence = load_be32(b + 8);
  r.jitter = load_be32(b + 12);
  r.last_sr = load_be32(b + 16);
  r.delay_since_last_sr = load_be32(b + 20);
  return r;
}

void write_report_block(const ReportBlock& r, uint8_t* b) {
  store_be32(b, r.ssrc);
  b[4] = r.fraction_lost;
  const int32_t lost = std::clamp<int32_t>(r.cumulative_lost, -0x800000, 0x7FFFFF);
  store_be24(b + 5, static_cast<uint32_t>(lost) & 0xFFFFFF);
  store_be32(b + 8, r.extended_highest_sequence);
  store_be32(b + 12, r.jitter);
  store_be32(b + 16, r.last_sr);
  store_be32(b + 20, r.delay_since_last_sr);
}

// The common header; `size` is a multiple of 4.
void write_header(uint8_t* p, uint8_t count_or_format, uint8_t type, size_t size) {
  p[0] = static_cast<uint8_t>(0x80 | count_or_format);
  p[1] = type;
  store_be16(p + 2, static_cast<uint16_t>(size / 4 - 1));
}

// Calls emit(pid, blp) for each NACK item that names `lost` and returns how many there are.
template <class Emit>
size_t compress_nack(std::span<const uint16_t> lost, Emit&& emit) {
  size_t items = 0;
  for (size_t i = 0; i < lost.size();) {
    const uint16_t pid = lost[i++];
    uint16_t blp = 0;
    for (; i < lost.size(); ++i) {
      const uint16_t distance = static_cast<uint16_t>(lost[i] - pid);  // modulo 2^16: handles wrap-around
      if (distance > 16) break;
      if (distance > 0) blp = static_cast<uint16_t>(blp | (1u << (distance - 1)));
    }
    emit(pid, blp);
    ++items;
  }
  return items;
}

}  // namespace

ReportBlock SenderReportView::report_block(size_t i) const {
  return read_report_block(p_ + kSenderReportFixedSize + i * kReportBlockSize);
}
ReportBlock ReceiverReportView::report_block(size_t i) const {
  return read_report_block(p_ + kReceiverReportFixedSize + i * kReportBlockSize);
}

std::string_view ByeView::reason() const {
  const size_t at = kRtcpHeaderSize + 4 * ssrc_count();
  if (at >= size_) return {};
  return std::string_view(reinterpret_cast<const char*>(p_ + at + 1), p_[at]);
}

namespace detail {

bool SdesCursor::next(SdesChunk& out) {
  if (chunks_left == 0) return false;
  --chunks_left;
  return sdes_step(p, size, pos, out) == 1;
}

bool NackCursor::next(uint16_t& seq) {
  while (items_left > 0) {
    const uint16_t pid = load_be16(items);
    const uint16_t blp = load_be16(items + 2);
    if (bit < 0) {
      bit = 0;
      seq = pid;
      return true;
    }
    while (bit < 16) {
      const int b = bit++;
      if ((blp >> b) & 1) {
        seq = static_cast<uint16_t>(pid + b + 1);
        return true;
      }
    }
    items += 4;
    --items_left;
    bit = -1;
  }
  return false;
}

bool CompoundCursor::next(RtcpPacket& out) {
  size_t size = 0, unpadded = 0;
  while (pos < datagram.size()) {
    const uint8_t* p = datagram.data() + pos;
    if (read_header(p, datagram.size() - pos, size, unpadded)) return false;  // parse_rtcp() rejected this
    pos += size;
    if (const auto kind = classify(p)) {
      out = RtcpPacket(*kind, p, unpadded);
      return true;
    }
  }
  return false;
}

}  // namespace detail

Result<RtcpCompoundView> parse_rtcp(std::span<const uint8_t> datagram) {
  if (datagram.empty()) return malformed("rtcp: empty datagram");
  size_t known = 0, skipped = 0;
  for (size_t pos = 0; pos < datagram.size();) {
    const uint8_t* p = datagram.data() + pos;
    size_t size = 0, unpadded = 0;
    if (const char* why = read_header(p, datagram.size() - pos, size, unpadded)) return malformed(why);
    if (const auto kind = classify(p)) {
      if (const char* why = check_packet(*kind, p, unpadded)) return malformed(why);
      ++known;
    } else {
      ++skipped;
    }
    pos += size;
  }
  return RtcpCompoundView(datagram, known, skipped);
}

Result<size_t> write_sender_report(const SenderReport& r, std::span<uint8_t> out) {
  const size_t n = r.report_blocks.size();
  if (n > kMaxReportBlocks) return invalid("rtcp: at most 31 report blocks per SR");
  const size_t size = kSenderReportFixedSize + n * kReportBlockSize;
  if (size > out.size()) return invalid("rtcp: output buffer too small for the SR");
  uint8_t* p = out.data();
  write_header(p, static_cast<uint8_t>(n), kRtcpSenderReport, size);
  store_be32(p + 4, r.ssrc);
  store_be64(p + 8, r.info.ntp_timestamp);
  store_be32(p + 16, r.info.rtp_timestamp);
  store_be32(p + 20, r.info.packet_count);
  store_be32(p + 24, r.info.octet_count);
  for (size_t i = 0; i < n; ++i)
    write_report_block(r.report_blocks[i], p + kSenderReportFixedSize + i * kReportBlockSize);
  return size;
}

Result<size_t> write_receiver_report(const ReceiverReport& r, std::span<uint8_t> out) {
  const size_t n = r.report_blocks.size();
  if (n > kMaxReportBlocks) return invalid("rtcp: at most 31 report blocks per RR");
  const size_t size = kReceiverReportFixedSize + n * kReportBlockSize;
  if (size > out.size()) return invalid("rtcp: output buffer too small for the RR");
  uint8_t* p = out.data();
  write_header(p, static_cast<uint8_t>(n), kRtcpReceiverReport, size);
  store_be32(p + 4, r.ssrc);
  for (size_t i = 0; i < n; ++i)
    write_report_block(r.report_blocks[i], p + kReceiverReportFixedSize + i * kReportBlockSize);
  return size;
}

Result<size_t> write_sdes_cname(uint32_t ssrc, std::string_view cname, std::span<uint8_t> out) {
  if (cname.empty() || cname.size() > 255) return invalid("rtcp: CNAME must be 1..255 bytes");
  // One chunk: SSRC, the CNAME item (type, length, text), the null item, null octets to the word boundary.
  const size_t size = kRtcpHeaderSize + round_up_to_word(4 + 2 + cname.size() + 1);
  if (size > out.size()) return invalid("rtcp: output buffer too small for the SDES");
  uint8_t* p = out.data();
  std::memset(p, 0, size);
  write_header(p, 1, kRtcpSdes, size);
  store_be32(p + 4, ssrc);
  p[8] = kSdesCname;
  p[9] = static_cast<uint8_t>(cname.size());
  std::memcpy(p + 10, cname.data(), cname.size());
  return size;
}

Result<size_t> write_bye(std::span<const uint32_t> ssrcs, std::string_view reason, std::span<uint8_t> out) {
  if (ssrcs.size() > 31) return invalid("rtcp: at most 31 sources per BYE");
  if (reason.size() > 255) return invalid("rtcp: BYE reason must be at most 255 bytes");
  const size_t reason_at = kRtcpHeaderSize + 4 * ssrcs.size();
  const size_t size = reason_at + (reason.empty() ? 0 : round_up_to_word(1 + reason.size()));
  if (size > out.size()) return invalid("rtcp: output buffer too small for the BYE");
  uint8_t* p = out.data();
  write_header(p, static_cast<uint8_t>(ssrcs.size()), kRtcpBye, size);
  for (size_t i = 0; i < ssrcs.size(); ++i) store_be32(p + kRtcpHeaderSize + 4 * i, ssrcs[i]);
  if (!reason.empty()) {
    std::memset(p + reason_at, 0, size - reason_at);
    p[reason_at] = static_cast<uint8_t>(reason.size());
    std::memcpy(p + reason_at + 1, reason.data(), reason.size());
  }
  return size;
}

size_t nack_item_count(std::span<const uint16_t> lost) {
  return compress_nack(lost, [](uint16_t, uint16_t) {});
}

Result<size_t> write_nack(uint32_t sender_ssrc, uint32_t media_ssrc, std::span<const uint16_t> lost,
                          std::span<uint8_t> out) {
  if (lost.empty()) return invalid("rtcp: a NACK needs at least one lost sequence number");
  const size_t items = nack_item_count(lost);
  const size_t size = kFeedbackFixedSize + 4 * items;
  if (size / 4 - 1 > 0xFFFF) return invalid("rtcp: too many NACK items for one packet");
  if (size > out.size()) return invalid("rtcp: output buffer too small for the NACK");
  uint8_t* p = out.data();
  write_header(p, kFmtGenericNack, kRtcpTransportFeedback, size);
  store_be32(p + 4, sender_ssrc);
  store_be32(p + 8, media_ssrc);
  uint8_t* item = p + kFeedbackFixedSize;
  compress_nack(lost, [&item](uint16_t pid, uint16_t blp) {
    store_be16(item, pid);
    store_be16(item + 2, blp);
    item += 4;
  });
  return size;
}

Result<size_t> write_pli(uint32_t sender_ssrc, uint32_t media_ssrc, std::span<uint8_t> out) {
  if (kFeedbackFixedSize > out.size()) return invalid("rtcp: output buffer too small for the PLI");
  uint8_t* p = out.data();
  write_header(p, kFmtPictureLossIndication, kRtcpPayloadFeedback, kFeedbackFixedSize);
  store_be32(p + 4, sender_ssrc);
  store_be32(p + 8, media_ssrc);
  return kFeedbackFixedSize;
}

}  // namespace tandem::media::rtp
