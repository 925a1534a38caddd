// The end-to-end encrypted frame: what a sender's FrameCryptor makes of an encoded frame, and what every
// receiver (and, for the clear part, every SFU) sees.
//
//   +----------------+---------------------+-------------+--------+-------+-----------+--------+
//   | clear prefix   | ciphertext          | GCM tag     | IV     | P     | key index | marker |
//   | P bytes        | frame size - P      | 16 bytes    | 12     | 1     | 1         | 0xE1   |
//   +----------------+---------------------+-------------+--------+-------+-----------+--------+
//   <- AAD ---------><- AES-GCM ----------------------->< trailer: 15 bytes --------------------->
//
// Why this shape:
//  - The clear prefix is the codec header a forwarding server reads (keyframe flag, Opus TOC). It stays at
//    the front, where packetizers and SFUs look, unchanged; it is the GCM additional data, so it cannot be
//    altered without the frame failing authentication.
//  - Everything the receiver needs comes last, so the front of the frame keeps its codec layout. P is
//    written down (rather than recomputed from the codec) so receivers need not know the codec and a
//    keyframe flag flipped in transit cannot make the receiver split the frame differently unnoticed.
//  - None of the trailer needs to be in the AAD: the IV is a GCM input, a different key index selects a
//    different key, and a different P moves the AAD/ciphertext boundary, which GCM's length block covers.
//    Each of them therefore fails authentication when altered.
//  - The IV travels whole (12 bytes), so receivers keep no per-sender IV state and a sender may restart.
//  - The marker (format version 1) lets a receiver tell an encrypted frame from a clear one (for example
//    while a call switches encryption on) without spending decryption attempts; 1 in 256 clear frames end in
//    0xE1 by chance and then simply fail authentication.
//
// The IV is the sender's random 96-bit salt XOR its frame counter (big-endian, in the low 64 bits),
// counting from 0. Counters never repeat for one salt, and two senders that share a key collide only if
// their salts agree in the top 32 bits and their XOR in the low 64 bits is below the frame counts: for 2^24
// frames about 2^-72 per pair of senders.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/common/error.h"

namespace tandem::media::e2ee {

inline constexpr size_t kIvBytes = 12;
inline constexpr size_t kTagBytes = 16;
inline constexpr size_t kTrailerBytes = kIvBytes + 3;  // IV, P, key index, marker
inline constexpr size_t kFrameOverhead = kTagBytes + kTrailerBytes;  // 31 bytes added to every frame
inline constexpr uint8_t kFrameMarker = 0xE1;

// What an encoded frame carries, for choosing the clear prefix.
enum class CodecKind : uint8_t {
  opaque = 0,  // anything else: the whole frame is encrypted
  opus = 1,    // the TOC byte stays clear (RFC 6716 section 3.1): SFUs read frame sizes, DTX, bandwidth
  vp8 = 2,     // the VP8 payload header stays clear (RFC 7741 section 4.3, RFC 6386 section 9.1)
  pcmu = 3,    // G.711 has no header: nothing is clear
  pcma = 4,
};
std::string_view to_string(CodecKind codec);

// Bytes at the front of `frame` that stay clear. VP8: the 3-byte frame tag of every frame plus, for a key
// frame (bit 0 of the first byte is 0), the 7 bytes of start code and dimensions: 10 bytes. The RTP payload
// descriptor (RFC 7741 section 4.2) is added later by the packetizer and is not part of the frame. Frames
// shorter than their header are left entirely clear.
size_t clear_prefix_size(CodecKind codec, std::span<const uint8_t> frame);

// The parts of an encrypted frame (views into it).
struct EncryptedFrameView {
  std::span<const uint8_t> clear;              // the AAD
  std::span<const uint8_t> ciphertext_and_tag;  // what AES-GCM open takes
  std::span<const uint8_t> iv;
  uint8_t key_index = 0;
};

// Splits an encrypted frame. Errc::malformed_packet if it is too short, its P does not fit, or the marker
// is missing (a clear frame, most likely).
Result<EncryptedFrameView> parse_encrypted_frame(std::span<const uint8_t> frame);

// The IV for frame `counter` of a sender with `salt`.
std::array<uint8_t, kIvBytes> make_iv(const std::array<uint8_t, kIvBytes>& salt, uint64_t counter);

// Writes the trailer at `out` (kTrailerBytes).
void write_trailer(std::span<uint8_t, kTrailerBytes> out, std::span<const uint8_t, kIvBytes> iv, uint8_t clear_size,
                   uint8_t key_index);

}  // namespace tandem::media::e2ee
