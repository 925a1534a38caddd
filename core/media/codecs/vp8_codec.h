// VP8 (RFC 6386) over libvpx: a real-time encoder (I420 in, one compressed frame out) and a decoder
// (compressed frame in, I420 view out), each single-threaded and owned by one runtime thread.
//
// Resolution changes follow one rule on both sides: the codec is re-initialised at the new size. The
// encoder does it when a picture of another size arrives (the next frame is then a keyframe); the decoder
// when a keyframe announces another size. Re-initialising allocates; steady-state frames allocate nothing in
// our code, and libvpx 1.12 was measured to make no heap calls per frame either (docs/building.md) -- a
// property of that library version, not something this wrapper can enforce.
//
// Determinism: the encoder runs libvpx at a fixed speed (a negative cpu_used), never the adaptive one that
// times itself with a clock, so the same pictures give the same bytes on every run and on both targets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "core/common/error.h"
#include "core/media/codecs/i420.h"

struct vpx_codec_ctx;  // libvpx's codec context; keeps <vpx/...> out of our headers

namespace tandem::media {

struct Vp8EncoderConfig {
  uint32_t width = 640;  // of the first picture; another size later re-initialises the encoder
  uint32_t height = 480;
  uint32_t max_width = 1280;  // larger pictures are refused (bounds memory and CPU)
  uint32_t max_height = 720;
  uint32_t bitrate_kbps = 800;
  uint32_t framerate = 30;         // expected frames per second: sets the per-frame bit budget
  uint32_t keyframe_interval = 0;  // frames between periodic keyframes; 0 = only on request (PLI) and start
  // libvpx real-time speed, 4..16: higher is faster and blurrier. Used as cpu_used = -speed (see above).
  int speed = 6;
  // Let rate control skip a frame when the buffer is overfull (encode() then returns an empty frame).
  bool allow_frame_drop = false;
};

struct Vp8EncodedFrame {
  std::span<const uint8_t> data;  // in the encoder's buffer, valid until the next encode(); empty if dropped
  bool keyframe = false;
};

class Vp8Encoder {
 public:
  static Result<Vp8Encoder> create(const Vp8EncoderConfig& config);

  Vp8Encoder(Vp8Encoder&&) noexcept;
  Vp8Encoder& operator=(Vp8Encoder&&) noexcept;
  ~Vp8Encoder();

  // Encodes one picture. `timestamp_90khz` is the capture time on the RTP video clock, unwrapped (it must
  // increase). A picture of a size other than the current one re-initialises the encoder first.
  Result<Vp8EncodedFrame> encode(const I420View& picture, uint64_t timestamp_90khz);

  // The next frame will be a keyframe (a receiver sent PLI or FIR).
  void request_keyframe() { keyframe_requested_ = true; }

  Result<void> set_bitrate(uint32_t kbps);

  uint32_t width() const { return config_.width; }
  uint32_t height() const { return config_.height; }
  // How many times the encoder was (re)initialised: 1 plus the resolution changes so far.
  uint32_t initializations() const { return initializations_; }

 private:
  explicit Vp8Encoder(const Vp8EncoderConfig& config);
  Result<void> initialize(uint32_t width, uint32_t height);
  void release();

  Vp8EncoderConfig config_;
  std::unique_ptr<vpx_codec_ctx> ctx_;
  bool ctx_live_ = false;
  bool keyframe_requested_ = false;
  uint32_t initializations_ = 0;
};

struct Vp8DecoderConfig {
  uint32_t max_width = 1920;  // keyframes announcing more are refused (Errc::resource_exhausted)
  uint32_t max_height = 1088;
};

struct Vp8DecodedFrame {
  I420View picture;  // in the decoder's buffers, valid until the next decode()
  bool keyframe = false;
  // libvpx decoded it but referenced something damaged (a loss the stream did not recover from): show it
  // or not, but ask the sender for a keyframe.
  bool corrupted = false;
};

class Vp8Decoder {
 public:
  static Result<Vp8Decoder> create(const Vp8DecoderConfig& config = {});

  Vp8Decoder(Vp8Decoder&&) noexcept;
  Vp8Decoder& operator=(Vp8Decoder&&) noexcept;
  ~Vp8Decoder();

  // Decodes one complete frame. Errors, after which the caller should request a keyframe:
  //   Errc::malformed_packet    the frame header or the frame is broken (later delta frames are refused too)
  //   Errc::protocol_error      a delta frame with no keyframe decoded before it
  //   Errc::resource_exhausted  a keyframe larger than the configured maximum
  // A frame with show_frame = 0 (never produced by real-time encoders) decodes but gives no picture:
  // Errc::ok with an empty (invalid) view.
  Result<Vp8DecodedFrame> decode(std::span<const uint8_t> frame);

  uint32_t width() const { return width_; }
  uint32_t height() const { return height_; }
  uint32_t initializations() const { return initializations_; }

 private:
  explicit Vp8Decoder(const Vp8DecoderConfig& config);
  Result<void> initialize();
  void release();

  Vp8DecoderConfig config_;
  std::unique_ptr<vpx_codec_ctx> ctx_;
  bool ctx_live_ = false;
  bool have_keyframe_ = false;  // a delta frame is only decodable after a keyframe (and no error since)
  uint32_t width_ = 0;
  uint32_t height_ = 0;
  uint32_t initializations_ = 0;
};

}  // namespace tandem::media
