#include "e2ee_test_support.h"

#include <atomic>
#include <stdexcept>

#ifdef __EMSCRIPTEN__
#include <emscripten.h>

#include "wasm/platform/wasm_host.h"
#else
#include "support/pump.h"
#endif

namespace tandem::test::e2ee {

std::string to_hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

std::vector<uint8_t> from_hex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::invalid_argument("bad hex digit");
  };
  if (hex.size() % 2 != 0) throw std::invalid_argument("odd hex length");
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  return out;
}

std::vector<uint8_t> sample_frame(media::e2ee::CodecKind codec, size_t size, uint8_t seed, bool key_frame) {
  std::vector<uint8_t> f(size);
  for (size_t i = 0; i < size; ++i) f[i] = static_cast<uint8_t>(seed + i * 13);
  if (codec == media::e2ee::CodecKind::vp8 && size > 0) {
    // Frame tag: bit 0 = inverse key-frame flag, bits 1-3 version 0, bit 4 show_frame.
    f[0] = static_cast<uint8_t>((key_frame ? 0x00 : 0x01) | 0x10 | (f[0] & 0xE0));
    if (key_frame && size >= 10) {
      f[3] = 0x9d, f[4] = 0x01, f[5] = 0x2a;           // start code
      f[6] = 0x80, f[7] = 0x02, f[8] = 0xe0, f[9] = 0x01;  // 640 x 480
    }
  } else if (codec == media::e2ee::CodecKind::opus && size > 0) {
    f[0] = 0x78;  // TOC: config 15 (hybrid FB 20 ms), mono, one frame
  }
  return f;
}

#ifdef __EMSCRIPTEN__
// Lets the JS event loop turn once, so that settled WebCrypto promises run (needs the test binary linked
// with -sASYNCIFY). setImmediate, not emscripten_sleep's setTimeout: node dates a timer from the start of
// the current event-loop turn, so the first setTimeout(0) after the long synchronous run of the tests would
// wait as long as the tests have run so far.
EM_ASYNC_JS(void, tandem_test_yield_to_event_loop, (), {
  await new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate : setTimeout)(resolve));
});

bool wait_for(const std::function<bool()>& done, uint32_t timeout_ms) {
  const double end = emscripten_get_now() + timeout_ms;
  while (true) {
    platform::wasm_run_pending();
    if (done()) return true;
    if (emscripten_get_now() > end) return false;
    tandem_test_yield_to_event_loop();
  }
}
#else
bool wait_for(const std::function<bool()>& done, uint32_t timeout_ms) { return pump_until(done, timeout_ms); }
#endif

bool run_on_runtime(platform::TaskRunner& runner, const std::function<void()>& fn, uint32_t timeout_ms) {
  std::atomic<bool> ran{false};
  runner.post([&] {
    fn();
    ran = true;
  });
  return wait_for([&] { return ran.load(); }, timeout_ms);
}

}  // namespace tandem::test::e2ee
