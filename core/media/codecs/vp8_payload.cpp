#include "core/media/codecs/vp8_payload.h"

#include <algorithm>

namespace tandem::media {
namespace {

constexpr uint8_t kX = 0x80, kN = 0x20, kS = 0x10;            // first byte
constexpr uint8_t kI = 0x80, kL = 0x40, kT = 0x20, kK = 0x10;  // extension byte
constexpr uint8_t kM = 0x80;                                  // PictureID: 15-bit form
constexpr uint8_t kStartCode[3] = {0x9d, 0x01, 0x2a};
constexpr size_t kKeyframeHeaderSize = 10;  // frame tag (3) + start code (3) + width (2) + height (2)
constexpr size_t kMinMaxPayloadSize = 32;   // leaves a keyframe's whole header in its first packet

bool has_extension(const Vp8Descriptor& d) {
  return d.picture_id_size != Vp8PictureIdSize::none || d.tl0_pic_idx || d.temporal_id || d.key_idx;
}

uint16_t picture_id_mask(Vp8PictureIdSize size) { return size == Vp8PictureIdSize::bits7 ? 0x7F : 0x7FFF; }

// Keyframe-only fields after the tag: start code, then 16-bit little-endian width and height whose top two
// bits are upscaling hints.
Result<Vp8FrameHeader> parse_keyframe_fields(std::span<const uint8_t> frame, Vp8FrameHeader header) {
  if (!std::equal(std::begin(kStartCode), std::end(kStartCode), frame.begin() + 3))
    return Error{Errc::malformed_packet, "VP8 keyframe without start code"};
  header.width = static_cast<uint16_t>((frame[6] | frame[7] << 8) & 0x3FFF);
  header.height = static_cast<uint16_t>((frame[8] | frame[9] << 8) & 0x3FFF);
  if (header.width == 0 || header.height == 0) return Error{Errc::malformed_packet, "VP8 keyframe of size zero"};
  return header;
}

}  // namespace

size_t vp8_descriptor_size(const Vp8Descriptor& d) {
  if (!has_extension(d)) return 1;
  size_t n = 2;
  if (d.picture_id_size == Vp8PictureIdSize::bits7) n += 1;
  if (d.picture_id_size == Vp8PictureIdSize::bits15) n += 2;
  if (d.tl0_pic_idx) n += 1;
  if (d.temporal_id || d.key_idx) n += 1;
  return n;
}

Result<size_t> write_vp8_descriptor(const Vp8Descriptor& d, std::span<uint8_t> out) {
  if (d.partition_index > 7 || (d.temporal_id && *d.temporal_id > 3) || (d.key_idx && *d.key_idx > 31) ||
      (d.picture_id_size != Vp8PictureIdSize::none && d.picture_id > picture_id_mask(d.picture_id_size)))
    return Error{Errc::invalid_argument, "VP8 descriptor field out of range"};
  const size_t size = vp8_descriptor_size(d);
  if (out.size() < size) return Error{Errc::invalid_argument, "VP8 descriptor does not fit"};

  size_t i = 0;
  out[i++] = static_cast<uint8_t>((size > 1 ? kX : 0) | (d.non_reference ? kN : 0) |
                                  (d.start_of_partition ? kS : 0) | d.partition_index);
  if (size == 1) return size;
  const bool tk = d.temporal_id || d.key_idx;
  out[i++] = static_cast<uint8_t>((d.picture_id_size != Vp8PictureIdSize::none ? kI : 0) |
                                  (d.tl0_pic_idx ? kL : 0) | (d.temporal_id ? kT : 0) | (d.key_idx ? kK : 0));
  if (d.picture_id_size == Vp8PictureIdSize::bits7) out[i++] = static_cast<uint8_t>(d.picture_id);
  if (d.picture_id_size == Vp8PictureIdSize::bits15) {
    out[i++] = static_cast<uint8_t>(kM | d.picture_id >> 8);
    out[i++] = static_cast<uint8_t>(d.picture_id);
  }
  if (d.tl0_pic_idx) out[i++] = *d.tl0_pic_idx;
  if (tk) {
    out[i++] = static_cast<uint8_t>((d.temporal_id.value_or(0) << 6) | (d.temporal_id && d.layer_sync ? 0x20 : 0) |
                                    d.key_idx.value_or(0));
  }
  return size;
}

Result<Vp8FrameHeader> parse_vp8_frame_header(std::span<const uint8_t> frame) {
  if (frame.size() < 3) return Error{Errc::malformed_packet, "VP8 frame shorter than its tag"};
  const uint32_t tag = frame[0] | frame[1] << 8 | static_cast<uint32_t>(frame[2]) << 16;
  Vp8FrameHeader header;
  header.keyframe = (tag & 1) == 0;  // the P bit: 0 means key (intra) frame
  header.version = static_cast<uint8_t>((tag >> 1) & 7);
  header.show_frame = (tag >> 4) & 1;
  header.first_partition_size = tag >> 5;
  if (header.version > 3) return Error{Errc::malformed_packet, "VP8 frame of unknown version"};
  const size_t header_size = header.keyframe ? kKeyframeHeaderSize : 3;
  if (frame.size() < header_size) return Error{Errc::malformed_packet, "VP8 keyframe header truncated"};
  if (header.first_partition_size > frame.size() - header_size)
    return Error{Errc::malformed_packet, "VP8 first partition overruns the frame"};
  if (!header.keyframe) return header;
  return parse_keyframe_fields(frame, header);
}

Result<Vp8PayloadView> parse_vp8_payload(std::span<const uint8_t> payload) {
  auto truncated = [] { return Error{Errc::malformed_packet, "VP8 payload descriptor truncated"}; };
  if (payload.empty()) return truncated();
  Vp8PayloadView view;
  Vp8Descriptor& d = view.descriptor;
  size_t i = 0;
  const uint8_t first = payload[i++];
  d.non_reference = first & kN;
  d.start_of_partition = first & kS;
  d.partition_index = first & 0x07;  // reserved bits (0x40, 0x08) are ignored, as RFC 7741 says
  if (first & kX) {
    if (i >= payload.size()) return truncated();
    const uint8_t ext = payload[i++];
    if (ext & kI) {
      if (i >= payload.size()) return truncated();
      if (payload[i] & kM) {
        if (i + 1 >= payload.size()) return truncated();
        d.picture_id_size = Vp8PictureIdSize::bits15;
        d.picture_id = static_cast<uint16_t>((payload[i] & 0x7F) << 8 | payload[i + 1]);
        i += 2;
      } else {
        d.picture_id_size = Vp8PictureIdSize::bits7;
        d.picture_id = payload[i++];
      }
    }
    if (ext & kL) {
      if (i >= payload.size()) return truncated();
      d.tl0_pic_idx = payload[i++];
    }
    if (ext & (kT | kK)) {
      if (i >= payload.size()) return truncated();
      const uint8_t tk = payload[i++];
      if (ext & kT) {
        d.temporal_id = static_cast<uint8_t>(tk >> 6);
        d.layer_sync = tk & 0x20;
      }
      if (ext & kK) d.key_idx = static_cast<uint8_t>(tk & 0x1F);
    }
  }
  if (i >= payload.size()) return Error{Errc::malformed_packet, "VP8 payload without VP8 data"};
  view.data = payload.subspan(i);
  view.frame_start = d.starts_frame();
  if (!view.frame_start) return view;

  view.keyframe = (view.data[0] & 1) == 0;
  if (view.keyframe && view.data.size() >= kKeyframeHeaderSize) {
    auto fields = parse_keyframe_fields(view.data, Vp8FrameHeader{});
    if (!fields) return fields.error();
    view.width = fields->width;
    view.height = fields->height;
  }
  return view;
}

Result<Vp8Packetizer> Vp8Packetizer::create(const Vp8PacketizerConfig& config) {
  if (config.max_payload_size < kMinMaxPayloadSize)
    return Error{Errc::invalid_argument, "VP8 packetizer: max_payload_size below 32 bytes"};
  if (config.picture_id_size != Vp8PictureIdSize::none &&
      config.first_picture_id > picture_id_mask(config.picture_id_size))
    return Error{Errc::invalid_argument, "VP8 packetizer: first_picture_id does not fit its size"};
  return Vp8Packetizer(config);
}

Result<size_t> Vp8Packetizer::begin_frame(std::span<const uint8_t> frame, bool non_reference) {
  if (frame.empty()) return Error{Errc::invalid_argument, "VP8 packetizer: empty frame"};
  if (started_ && config_.picture_id_size != Vp8PictureIdSize::none)
    picture_id_ = static_cast<uint16_t>((picture_id_ + 1) & picture_id_mask(config_.picture_id_size));
  started_ = true;
  frame_ = frame;
  offset_ = 0;
  non_reference_ = non_reference;
  Vp8Descriptor d;
  d.picture_id_size = config_.picture_id_size;
  const size_t room = config_.max_payload_size - vp8_descriptor_size(d);
  packets_left_ = (frame.size() + room - 1) / room;
  return packets_left_;
}

Result<Vp8Packet> Vp8Packetizer::next(std::span<uint8_t> out) {
  if (done()) return Error{Errc::invalid_argument, "VP8 packetizer: no frame data left"};
  Vp8Descriptor d;
  d.non_reference = non_reference_;
  d.start_of_partition = offset_ == 0;
  d.picture_id_size = config_.picture_id_size;
  d.picture_id = picture_id_;
  // Spread the bytes evenly: each packet takes its share of what is left, rounded up.
  const size_t remaining = frame_.size() - offset_;
  const size_t chunk = (remaining + packets_left_ - 1) / packets_left_;
  const size_t descriptor_size = vp8_descriptor_size(d);
  if (out.size() < descriptor_size + chunk) return Error{Errc::invalid_argument, "VP8 packetizer: buffer too small"};
  auto written = write_vp8_descriptor(d, out);
  if (!written) return written.error();
  std::copy_n(frame_.begin() + static_cast<std::ptrdiff_t>(offset_), chunk, out.begin() + *written);
  offset_ += chunk;
  --packets_left_;
  return Vp8Packet{*written + chunk, done()};
}

}  // namespace tandem::media
