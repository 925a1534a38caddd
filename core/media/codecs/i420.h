// A view of one I420 picture (8-bit Y plane, then U and V at half width and half height, rounded up): what
// cameras and WebCodecs hand over most often, and what VP8 codes natively. The view owns nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tandem::media {

struct I420View {
  uint32_t width = 0;
  uint32_t height = 0;
  const uint8_t* y = nullptr;
  const uint8_t* u = nullptr;
  const uint8_t* v = nullptr;
  uint32_t stride_y = 0;
  uint32_t stride_u = 0;
  uint32_t stride_v = 0;

  uint32_t chroma_width() const { return (width + 1) / 2; }
  uint32_t chroma_height() const { return (height + 1) / 2; }

  // Non-empty, planes present, strides at least the plane widths.
  bool valid() const {
    return width > 0 && height > 0 && y && u && v && stride_y >= width && stride_u >= chroma_width() &&
           stride_v >= chroma_width();
  }
};

// Bytes of a tightly packed I420 picture (no row padding).
constexpr size_t i420_size(uint32_t width, uint32_t height) {
  const size_t chroma = size_t{(width + 1) / 2} * ((height + 1) / 2);
  return size_t{width} * height + 2 * chroma;
}

// A view over a tightly packed I420 buffer; an invalid (empty) view if the buffer is too small.
inline I420View i420_packed(std::span<const uint8_t> buffer, uint32_t width, uint32_t height) {
  if (width == 0 || height == 0 || buffer.size() < i420_size(width, height)) return {};
  const uint32_t cw = (width + 1) / 2;
  const size_t luma = size_t{width} * height;
  const size_t chroma = size_t{cw} * ((height + 1) / 2);
  const uint8_t* base = buffer.data();
  return {width, height, base, base + luma, base + luma + chroma, width, cw, cw};
}

}  // namespace tandem::media
