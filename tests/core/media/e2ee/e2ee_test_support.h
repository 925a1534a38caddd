// Helpers shared by the frame E2EE tests: hex, sample frames, a sink that records deliveries, and waiting on
// the target's real runtime while its crypto (WebCrypto in wasm) works asynchronously.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/media/e2ee/frame_cryptor.h"
#include "tandem/platform/platform.h"

namespace tandem::test::e2ee {

std::string to_hex(std::span<const uint8_t> bytes);
// (Emscripten 3.1.6's libc++ has no std::ranges::equal.)
inline bool same_bytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}
std::vector<uint8_t> from_hex(std::string_view hex);  // throws on bad input (tests only)

// A plausible encoded frame of `size` bytes: VP8 frames get a frame tag with the key-frame bit as asked
// (and a key frame's start code), Opus a TOC byte; the rest counts up from `seed`.
std::vector<uint8_t> sample_frame(media::e2ee::CodecKind codec, size_t size, uint8_t seed = 0, bool key_frame = true);

inline media::e2ee::FrameCryptorOptions cryptor_options(media::e2ee::CryptorRole role, size_t max_in_flight = 32) {
  media::e2ee::FrameCryptorOptions o;
  o.role = role;
  o.max_in_flight = max_in_flight;
  return o;
}

// Records what a FrameCryptor delivers.
struct RecordingSink final : media::e2ee::FrameSink {
  struct Delivery {
    uint64_t user_tag;
    Errc error;
    std::vector<uint8_t> bytes;
  };
  void on_frame(const media::e2ee::CryptedFrame& frame) override {
    deliveries.push_back({frame.user_tag, frame.error, {frame.frame.begin(), frame.frame.end()}});
    if (then) then(frame);
  }
  std::vector<Delivery> deliveries;
  std::function<void(const media::e2ee::CryptedFrame&)> then;  // optional: react inside the callback
};

// The real runtime of a host (native: its thread; wasm: the worker loop). run_on_runtime posts `fn` and
// waits until it ran. wait_for returns once `done()` holds or after `timeout_ms`. In wasm both also yield
// to the JS event loop (emscripten_sleep), which WebCrypto's promises need in order to settle.
bool run_on_runtime(platform::TaskRunner& runner, const std::function<void()>& fn, uint32_t timeout_ms = 5000);
bool wait_for(const std::function<bool()>& done, uint32_t timeout_ms = 5000);

}  // namespace tandem::test::e2ee
