#include <chrono>
#include <thread>

#include "support/pump.h"

namespace tandem::test {

bool pump_until(const std::function<bool()>& done, uint32_t timeout_ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

}  // namespace tandem::test
