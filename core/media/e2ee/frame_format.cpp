#include "core/media/e2ee/frame_format.h"

#include <algorithm>
#include <cstring>

namespace tandem::media::e2ee {

std::string_view to_string(CodecKind codec) {
  switch (codec) {
    case CodecKind::opaque: return "opaque";
    case CodecKind::opus: return "opus";
    case CodecKind::vp8: return "vp8";
    case CodecKind::pcmu: return "pcmu";
    case CodecKind::pcma: return "pcma";
  }
  return "unknown";
}

size_t clear_prefix_size(CodecKind codec, std::span<const uint8_t> frame) {
  size_t header = 0;
  switch (codec) {
    case CodecKind::opus:
      header = 1;
      break;
    case CodecKind::vp8:
      if (frame.empty()) return 0;
      header = (frame[0] & 0x01) == 0 ? 10 : 3;  // P bit 0: key frame
      break;
    case CodecKind::opaque:
    case CodecKind::pcmu:
    case CodecKind::pcma:
      header = 0;
      break;
  }
  return std::min(header, frame.size());
}

Result<EncryptedFrameView> parse_encrypted_frame(std::span<const uint8_t> frame) {
  if (frame.size() < kFrameOverhead) return Error{Errc::malformed_packet, "frame too short"};
  const auto trailer = frame.last(kTrailerBytes);
  if (trailer[kIvBytes + 2] != kFrameMarker) return Error{Errc::malformed_packet, "no e2ee marker"};
  const size_t clear = trailer[kIvBytes];
  const size_t body = frame.size() - kTrailerBytes;  // clear prefix + ciphertext + tag
  if (clear + kTagBytes > body) return Error{Errc::malformed_packet, "bad clear size"};
  EncryptedFrameView view;
  view.clear = frame.first(clear);
  view.ciphertext_and_tag = frame.subspan(clear, body - clear);
  view.iv = trailer.first(kIvBytes);
  view.key_index = trailer[kIvBytes + 1];
  return view;
}

std::array<uint8_t, kIvBytes> make_iv(const std::array<uint8_t, kIvBytes>& salt, uint64_t counter) {
  std::array<uint8_t, kIvBytes> iv = salt;
  for (size_t i = 0; i < 8; ++i) iv[kIvBytes - 1 - i] ^= static_cast<uint8_t>(counter >> (8 * i));
  return iv;
}

void write_trailer(std::span<uint8_t, kTrailerBytes> out, std::span<const uint8_t, kIvBytes> iv, uint8_t clear_size,
                   uint8_t key_index) {
  std::memcpy(out.data(), iv.data(), kIvBytes);
  out[kIvBytes] = clear_size;
  out[kIvBytes + 1] = key_index;
  out[kIvBytes + 2] = kFrameMarker;
}

}  // namespace tandem::media::e2ee
