#include "core/log/logger.h"

#include <catch2/catch.hpp>

#include "support/fake_platform.h"

using namespace tandem;

TEST_CASE("log records are batched, filtered by level and bounded", "[log]") {
  test::FakePlatform p;
  std::vector<std::pair<size_t, uint64_t>> batches;  // (records, dropped)
  std::vector<std::string> messages;
  int wakeups = 0;
  log::Logger logger(
      p.clock, &p.sink,
      [&](std::span<const log::Record> records, uint64_t dropped) {
        batches.emplace_back(records.size(), dropped);
        for (auto& r : records) messages.push_back(r.message);
      },
      [&] { ++wakeups; });
  logger.set_batch_size(4);
  logger.set_level(log::LogLevel::info);

  logger.write(log::LogLevel::debug, "t", "hidden");
  for (int i = 0; i < 6; ++i) logger.write(log::LogLevel::info, "t", "m" + std::to_string(i));
  CHECK(wakeups == 1);
  CHECK(p.sink.lines.empty());  // platform echo is off by default
  logger.flush();
  REQUIRE(batches.size() == 2);
  CHECK(batches[0].first == 4);
  CHECK(batches[1].first == 2);
  CHECK(messages.front() == "m0");
  CHECK(messages.back() == "m5");

  SECTION("overflow is counted and reported with the next batch") {
    batches.clear();
    for (int i = 0; i < 4 * 16 + 5; ++i) logger.write(log::LogLevel::warn, "t", "x");
    logger.flush();
    CHECK(batches.front().second == 5);
  }
  SECTION("echo to the platform sink") {
    logger.set_platform_echo(true);
    logger.write(log::LogLevel::error, "core", "boom");
    REQUIRE(p.sink.lines.size() == 1);
    CHECK(p.sink.lines[0].message == "boom");
  }
  SECTION("off") {
    logger.set_level(log::LogLevel::off);
    logger.write(log::LogLevel::error, "t", "nothing");
    batches.clear();
    logger.flush();
    CHECK(batches.empty());
  }
}
