// RTCP (RFC 3550 section 6, RFC 4585 section 6): compound packets parsed into typed zero-copy views, and
// builders that write into a caller's buffer.
//
// parse_rtcp() validates a whole (already SRTCP-unprotected) datagram up front: every packet's common header
// and, for the types we understand, their inner structure (report blocks, SDES chunks and items, the BYE
// reason, NACK items). Anything inconsistent is Errc::malformed_packet. Packet types we do not understand
// (APP, XR, other feedback messages such as transport-cc or REMB) are skipped and counted, as RFC 3550
// asks receivers to do. After that, iterating and reading the views cannot fail and never reads outside the
// datagram; the views are only created by the parser, so they cannot be pointed at unchecked bytes.
//
// The first packet is not required to be an SR or RR: browsers negotiate reduced-size RTCP (RFC 5506) and send
// a lone PLI or NACK.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "core/common/error.h"
#include "core/media/rtp/byte_order.h"
#include "core/media/rtp/cursor_range.h"

namespace tandem::media::rtp {

inline constexpr uint8_t kRtcpSenderReport = 200;
inline constexpr uint8_t kRtcpReceiverReport = 201;
inline constexpr uint8_t kRtcpSdes = 202;
inline constexpr uint8_t kRtcpBye = 203;
inline constexpr uint8_t kRtcpTransportFeedback = 205;  // RTPFB
inline constexpr uint8_t kRtcpPayloadFeedback = 206;    // PSFB
inline constexpr uint8_t kFmtGenericNack = 1;           // RTPFB
inline constexpr uint8_t kFmtPictureLossIndication = 1;  // PSFB
inline constexpr uint8_t kSdesCname = 1;
inline constexpr size_t kRtcpHeaderSize = 4;
inline constexpr size_t kReportBlockSize = 24;
inline constexpr size_t kMaxReportBlocks = 31;  // the 5-bit count field

// RTP and RTCP multiplexed on one port (RFC 5761 section 4): the second byte of RTCP is its packet type,
// 192..223, a range RTP payload types (with the marker bit) avoid.
inline bool is_rtcp(std::span<const uint8_t> datagram) {
  return datagram.size() >= 2 && datagram[1] >= 192 && datagram[1] <= 223;
}

// The middle 32 bits of a 64-bit NTP timestamp: the LSR field of a report block (RFC 3550 section 6.4.1).
inline uint32_t ntp_mid32(uint64_t ntp) { return static_cast<uint32_t>(ntp >> 16); }

struct ReportBlock {
  uint32_t ssrc = 0;           // the source this block is about
  uint8_t fraction_lost = 0;   // lost / expected since the previous report, in 1/256
  int32_t cumulative_lost = 0;  // 24-bit signed on the wire (duplicates can make it negative); clamped when written
  uint32_t extended_highest_sequence = 0;  // cycles << 16 | highest sequence number
  uint32_t jitter = 0;                     // interarrival jitter in RTP timestamp units
  uint32_t last_sr = 0;                    // ntp_mid32() of the last SR from that source, 0 if none
  uint32_t delay_since_last_sr = 0;        // since that SR arrived, in 1/65536 s; 0 if none
  bool operator==(const ReportBlock&) const = default;
};

struct SenderInfo {
  uint64_t ntp_timestamp = 0;  // 32.32 fixed point seconds since 1900
  uint32_t rtp_timestamp = 0;  // the same instant on the RTP clock
  uint32_t packet_count = 0;
  uint32_t octet_count = 0;  // payload octets only (no headers, no padding)
  bool operator==(const SenderInfo&) const = default;
};

struct NackItem {
  uint16_t packet_id = 0;     // PID: a lost sequence number
  uint16_t lost_bitmask = 0;  // BLP: bit i set = PID + i + 1 lost too
};

// ---- views (created by parse_rtcp only) ----

class SenderReportView {
 public:
  uint32_t ssrc() const { return load_be32(p_ + 4); }
  SenderInfo info() const { return {load_be64(p_ + 8), load_be32(p_ + 16), load_be32(p_ + 20), load_be32(p_ + 24)}; }
  size_t report_block_count() const { return p_[0] & 0x1F; }
  ReportBlock report_block(size_t i) const;  // i < report_block_count()

 private:
  friend class RtcpPacket;
  explicit SenderReportView(const uint8_t* p) : p_(p) {}
  const uint8_t* p_;
};

class ReceiverReportView {
 public:
  uint32_t ssrc() const { return load_be32(p_ + 4); }
  size_t report_block_count() const { return p_[0] & 0x1F; }
  ReportBlock report_block(size_t i) const;  // i < report_block_count()

 private:
  friend class RtcpPacket;
  explicit ReceiverReportView(const uint8_t* p) : p_(p) {}
  const uint8_t* p_;
};

struct SdesChunk {
  uint32_t ssrc = 0;
  std::string_view cname;  // empty when the chunk has no CNAME item (other items are skipped)
};

namespace detail {
struct SdesCursor {
  using value_type = SdesChunk;
  const uint8_t* p = nullptr;  // the packet
  size_t size = 0;
  size_t pos = kRtcpHeaderSize;
  size_t chunks_left = 0;
  bool next(SdesChunk& out);
};
struct NackCursor {
  using value_type = uint16_t;
  const uint8_t* items = nullptr;
  size_t items_left = 0;
  int bit = -1;  // -1: the PID itself is next; 0..15: the BLP bit to look at
  bool next(uint16_t& seq);
};
}  // namespace detail

class SdesView {
 public:
  size_t chunk_count() const { return p_[0] & 0x1F; }
  CursorRange<detail::SdesCursor> chunks() const {
    return CursorRange<detail::SdesCursor>({p_, size_, kRtcpHeaderSize, chunk_count()});
  }

 private:
  friend class RtcpPacket;
  SdesView(const uint8_t* p, size_t size) : p_(p), size_(size) {}
  const uint8_t* p_;
  size_t size_;
};

class ByeView {
 public:
  size_t ssrc_count() const { return p_[0] & 0x1F; }
  uint32_t ssrc(size_t i) const { return load_be32(p_ + 4 + 4 * i); }  // i < ssrc_count()
  std::string_view reason() const;                                     // empty if none

 private:
  friend class RtcpPacket;
  ByeView(const uint8_t* p, size_t size) : p_(p), size_(size) {}
  const uint8_t* p_;
  size_t size_;
};

// Generic NACK (RFC 4585 section 6.2.1).
class NackView {
 public:
  uint32_t sender_ssrc() const { return load_be32(p_ + 4); }
  uint32_t media_ssrc() const { return load_be32(p_ + 8); }
  size_t item_count() const { return (size_ - 12) / 4; }
  NackItem item(size_t i) const { return {load_be16(p_ + 12 + 4 * i), load_be16(p_ + 14 + 4 * i)}; }
  // Every sequence number the items name, in item order (wraps past 65535 like the sequence space).
  CursorRange<detail::NackCursor> lost_sequence_numbers() const {
    return CursorRange<detail::NackCursor>({p_ + 12, item_count(), -1});
  }

 private:
  friend class RtcpPacket;
  NackView(const uint8_t* p, size_t size) : p_(p), size_(size) {}
  const uint8_t* p_;
  size_t size_;
};

// Picture Loss Indication (RFC 4585 section 6.3.1).
class PliView {
 public:
  uint32_t sender_ssrc() const { return load_be32(p_ + 4); }
  uint32_t media_ssrc() const { return load_be32(p_ + 8); }

 private:
  friend class RtcpPacket;
  explicit PliView(const uint8_t* p) : p_(p) {}
  const uint8_t* p_;
};

enum class RtcpKind : uint8_t { sender_report, receiver_report, sdes, bye, nack, pli };

namespace detail {
struct CompoundCursor;
}

// One validated packet of a compound datagram.
class RtcpPacket {
 public:
  RtcpKind kind() const { return kind_; }
  // The packet's bytes: common header and body, without RTCP padding.
  std::span<const uint8_t> bytes() const { return {p_, size_}; }

  // The typed view when kind() matches, else nullopt.
  std::optional<SenderReportView> sender_report() const { return is(RtcpKind::sender_report, SenderReportView(p_)); }
  std::optional<ReceiverReportView> receiver_report() const {
    return is(RtcpKind::receiver_report, ReceiverReportView(p_));
  }
  std::optional<SdesView> sdes() const { return is(RtcpKind::sdes, SdesView(p_, size_)); }
  std::optional<ByeView> bye() const { return is(RtcpKind::bye, ByeView(p_, size_)); }
  std::optional<NackView> nack() const { return is(RtcpKind::nack, NackView(p_, size_)); }
  std::optional<PliView> pli() const { return is(RtcpKind::pli, PliView(p_)); }


 private:
  friend struct detail::CompoundCursor;
  template <class>
  friend class CursorIterator;
  RtcpPacket() = default;  // only as the iterator's slot before the first packet is read
  RtcpPacket(RtcpKind kind, const uint8_t* p, size_t size) : kind_(kind), p_(p), size_(size) {}
  template <class View>
  std::optional<View> is(RtcpKind k, View v) const {
    return kind_ == k ? std::optional<View>(v) : std::nullopt;
  }
  RtcpKind kind_ = RtcpKind::sender_report;
  const uint8_t* p_ = nullptr;
  size_t size_ = 0;
};

namespace detail {
struct CompoundCursor {
  using value_type = RtcpPacket;
  std::span<const uint8_t> datagram;
  size_t pos = 0;
  bool next(RtcpPacket& out);
};
}  // namespace detail

// A validated compound datagram: range-for over it gives the packets of known kinds, in order.
class RtcpCompoundView {
 public:
  CursorIterator<detail::CompoundCursor> begin() const {
    return CursorIterator<detail::CompoundCursor>({datagram_, 0});
  }
  std::default_sentinel_t end() const { return {}; }
  size_t packet_count() const { return known_; }     // packets the iteration yields
  size_t skipped_count() const { return skipped_; }  // packets of unknown type or feedback format

 private:
  friend Result<RtcpCompoundView> parse_rtcp(std::span<const uint8_t> datagram);
  RtcpCompoundView(std::span<const uint8_t> d, size_t known, size_t skipped)
      : datagram_(d), known_(known), skipped_(skipped) {}
  std::span<const uint8_t> datagram_;
  size_t known_ = 0;
  size_t skipped_ = 0;
};

Result<RtcpCompoundView> parse_rtcp(std::span<const uint8_t> datagram);

// ---- builders: each writes one packet to the front of `out` and returns its size ----
// Errc::invalid_argument when the description is invalid or `out` is too small. A compound packet is the
// concatenation of such packets; RtcpCompoundWriter below keeps the offset.

struct SenderReport {
  uint32_t ssrc = 0;
  SenderInfo info;
  std::span<const ReportBlock> report_blocks;  // at most 31
};
struct ReceiverReport {
  uint32_t ssrc = 0;
  std::span<const ReportBlock> report_blocks;  // at most 31
};

Result<size_t> write_sender_report(const SenderReport& report, std::span<uint8_t> out);
Result<size_t> write_receiver_report(const ReceiverReport& report, std::span<uint8_t> out);
// An SDES packet with one chunk holding one CNAME item (1..255 bytes).
Result<size_t> write_sdes_cname(uint32_t ssrc, std::string_view cname, std::span<uint8_t> out);
// BYE for up to 31 sources, with an optional reason of up to 255 bytes.
Result<size_t> write_bye(std::span<const uint32_t> ssrcs, std::string_view reason, std::span<uint8_t> out);
// A generic NACK naming `lost`, which should be sorted in sequence order (wrap-around allowed: 65534, 65535,
// 0, 1): consecutive losses within 16 of an item's PID share its bitmask. Any order still names every number,
// just in more items. Duplicates are dropped. `lost` must not be empty.
Result<size_t> write_nack(uint32_t sender_ssrc, uint32_t media_ssrc, std::span<const uint16_t> lost,
                          std::span<uint8_t> out);
// How many PID/BLP items write_nack() produces for `lost` (the packet is 12 + 4 * items bytes).
size_t nack_item_count(std::span<const uint16_t> lost);
Result<size_t> write_pli(uint32_t sender_ssrc, uint32_t media_ssrc, std::span<uint8_t> out);

// Appends packets to one buffer: `w.append(write_pli(a, b, w.free_space()))`.
class RtcpCompoundWriter {
 public:
  explicit RtcpCompoundWriter(std::span<uint8_t> buffer) : buffer_(buffer) {}
  std::span<uint8_t> free_space() const { return buffer_.subspan(size_); }
  // Adds a packet that a builder wrote at free_space(); passes the builder's error on unchanged.
  Result<void> append(const Result<size_t>& written) {
    if (!written.ok()) return written.error();
    size_ += written.value();
    return {};
  }
  std::span<const uint8_t> bytes() const { return buffer_.first(size_); }
  size_t size() const { return size_; }

 private:
  std::span<uint8_t> buffer_;
  size_t size_ = 0;
};

}  // namespace tandem::media::rtp
