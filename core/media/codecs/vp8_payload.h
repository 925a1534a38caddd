// The VP8 RTP payload format (RFC 7741): the payload descriptor, a packetizer that splits one encoded frame
// into MTU-sized payloads, and the receive-side parse that finds frame starts and keyframes. Also the VP8
// frame header (RFC 6386 section 9.1), which both this and the decoder read.
//
// Payload descriptor (first bytes of every RTP payload):
//      +-+-+-+-+-+-+-+-+
//      |X|R|N|S|R| PID |  X: extensions follow, N: non-reference frame, S: start of a partition, PID: partition
//      +-+-+-+-+-+-+-+-+
//   X: |I|L|T|K| RSV   |  which of the following are present
//      +-+-+-+-+-+-+-+-+
//   I: |M| PictureID   |  M=1: a 15-bit PictureID (this byte and the next), else 7 bits
//      +-+-+-+-+-+-+-+-+
//   L: |   TL0PICIDX   |
//      +-+-+-+-+-+-+-+-+
//  T/K:|TID|Y| KEYIDX  |  present if T or K is set
//      +-+-+-+-+-+-+-+-+
// Everything here is allocation-free: parsing returns views into the packet, writing goes into caller buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/common/error.h"

namespace tandem::media {

inline constexpr uint32_t kVp8RtpClockRate = 90000;
inline constexpr size_t kVp8MaxDescriptorSize = 6;

enum class Vp8PictureIdSize : uint8_t { none, bits7, bits15 };

struct Vp8Descriptor {
  bool non_reference = false;    // N: may be discarded without hurting later frames
  bool start_of_partition = false;  // S
  uint8_t partition_index = 0;   // PID, 0..7
  Vp8PictureIdSize picture_id_size = Vp8PictureIdSize::none;
  uint16_t picture_id = 0;       // 0..127 or 0..32767 by picture_id_size
  std::optional<uint8_t> tl0_pic_idx = {};
  std::optional<uint8_t> temporal_id = {};  // TID, 0..3
  bool layer_sync = false;       // Y; only meaningful with temporal_id
  std::optional<uint8_t> key_idx = {};  // KEYIDX, 0..31

  // S=1 and PID=0: the payload starts a new frame.
  bool starts_frame() const { return start_of_partition && partition_index == 0; }
};

// Bytes write_vp8_descriptor() needs for `d`: 1..6.
size_t vp8_descriptor_size(const Vp8Descriptor& d);

// Writes the descriptor at the start of `out`; returns its size. Errc::invalid_argument if a field is out
// of range or `out` is too short. Reserved bits are written as zero.
Result<size_t> write_vp8_descriptor(const Vp8Descriptor& d, std::span<uint8_t> out);

// The VP8 frame header: the 3-byte frame tag, plus the start code and dimensions on keyframes.
struct Vp8FrameHeader {
  bool keyframe = false;
  uint8_t version = 0;   // 0..3 (profile)
  bool show_frame = false;
  uint32_t first_partition_size = 0;
  uint16_t width = 0;    // keyframes only: 14-bit size; the 2-bit upscaling hints are dropped
  uint16_t height = 0;
};

// Parses and checks a whole frame's header: tag, keyframe start code, non-zero dimensions, and a first
// partition that fits in the frame. Errc::malformed_packet otherwise.
Result<Vp8FrameHeader> parse_vp8_frame_header(std::span<const uint8_t> frame);

// One received RTP payload, parsed. Views into the packet.
struct Vp8PayloadView {
  Vp8Descriptor descriptor;
  std::span<const uint8_t> data;  // the VP8 bytes after the descriptor; never empty
  bool frame_start = false;       // descriptor.starts_frame()
  // On a frame start: whether the frame is a keyframe (the P bit of the VP8 payload header is 0), and for
  // keyframes whose first packet holds the dimensions, the picture size (else 0).
  bool keyframe = false;
  uint16_t width = 0;
  uint16_t height = 0;
};

// Parses an RTP payload: descriptor, then the VP8 payload header if this starts a frame. Truncated
// descriptors, an empty VP8 part, or a frame start whose keyframe header is broken are
// Errc::malformed_packet. Reassembling a frame (concatenating `data` up to the RTP marker) is the caller's.
Result<Vp8PayloadView> parse_vp8_payload(std::span<const uint8_t> payload);

struct Vp8PacketizerConfig {
  size_t max_payload_size = 1200;  // RTP payload budget per packet (MTU minus IP/UDP/RTP/SRTP overhead)
  Vp8PictureIdSize picture_id_size = Vp8PictureIdSize::bits15;
  uint16_t first_picture_id = 0;   // RFC 7741 suggests a random start; the caller draws it
};

struct Vp8Packet {
  size_t size = 0;     // bytes written into the caller's buffer
  bool marker = false;  // the frame's last packet: set the RTP marker bit
};

// Splits encoded frames into payloads of at most max_payload_size bytes, all of nearly equal size (so the
// last one is not a runt), one frame at a time. The first payload has S=1, PID=0 (the encoder emits one
// partition stream); every payload of a frame carries the same PictureID, which advances per frame.
// Holds a view of the frame: keep it alive until done().
class Vp8Packetizer {
 public:
  static Result<Vp8Packetizer> create(const Vp8PacketizerConfig& config);

  // Starts packetizing `frame`; returns how many packets it makes. An unfinished previous frame is dropped.
  Result<size_t> begin_frame(std::span<const uint8_t> frame, bool non_reference = false);
  bool done() const { return offset_ >= frame_.size(); }
  // Writes the next payload into `out` (max_payload_size bytes are always enough).
  Result<Vp8Packet> next(std::span<uint8_t> out);

  uint16_t picture_id() const { return picture_id_; }  // of the current (or next) frame

 private:
  explicit Vp8Packetizer(const Vp8PacketizerConfig& config)
      : config_(config), picture_id_(config.first_picture_id) {}

  Vp8PacketizerConfig config_;
  std::span<const uint8_t> frame_;
  size_t offset_ = 0;
  size_t packets_left_ = 0;
  bool non_reference_ = false;
  bool started_ = false;  // begin_frame() was called at least once (picture id advances from the second)
  uint16_t picture_id_ = 0;
};

}  // namespace tandem::media
