// What `tandem peer` sends: a sine tone, a moving test pattern, and self-checking data channel messages.
//
// Message format (--send), so any receiver (the other CLI, a browser page) can check content without knowing
// what was sent. All integers big-endian; minimum size 12 bytes:
//   bytes 0..3    "TDM1"
//   bytes 4..7    sequence number (0, 1, 2, ...)
//   bytes 8..11   FNV-1a 32 (offset basis 0x811c9dc5, prime 0x01000193) of bytes 12..end
//   bytes 12..    filler: xorshift32 (x ^= x << 13; x ^= x >> 17; x ^= x << 5) seeded with seq + 1,
//                 each step's low byte
// Sizes for --size MIN..MAX: message 0 has MIN bytes, message N-1 has MAX, the others a size spread over the
// range by a hash of the sequence number (deterministic, so runs repeat).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tandem::cli {

inline constexpr size_t kMessageHeader = 12;

// Builds message `seq` of `size` bytes (size >= kMessageHeader) into `out`.
void make_message(uint32_t seq, size_t size, std::string& out);
// The sequence number of a well-formed message (magic and checksum right), or nothing.
std::optional<uint32_t> check_message(std::span<const uint8_t> bytes);
// The size of message `seq` of `count` for sizes in [min, max].
size_t message_size(uint32_t seq, uint32_t count, size_t min, size_t max);

// A sine tone, s16 mono at 48 kHz, in frames of 20 ms; the phase continues across frames.
class ToneGenerator {
 public:
  explicit ToneGenerator(double hz, double amplitude = 0.3) : hz_(hz), amplitude_(amplitude) {}
  static constexpr size_t kSamples = 960;  // 20 ms at 48 kHz
  // Little-endian s16 bytes, as CaptureAudioFrameRequest.pcm wants them.
  const std::string& next_frame();

 private:
  double hz_, amplitude_;
  uint64_t sample_ = 0;
  std::string pcm_;
};

// A moving I420 pattern: vertical colour bars scrolling one step a frame, plus a frame-count band.
class PatternGenerator {
 public:
  PatternGenerator(uint32_t width, uint32_t height) : width_(width), height_(height) {}
  const std::string& next_frame();
  uint32_t width() const { return width_; }
  uint32_t height() const { return height_; }

 private:
  uint32_t width_, height_;
  uint32_t frame_ = 0;
  std::string i420_;
};

// Root mean square of s16 little-endian samples, 0..1 of full scale.
double rms(std::span<const uint8_t> pcm);

}  // namespace tandem::cli
