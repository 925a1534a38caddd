// Just enough JSON to read tests/vectors/*.json: objects, arrays, strings (with the usual escapes, ASCII
// \u only), non-negative integers, true, false, null. Throws std::runtime_error on anything else.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tandem::test {

struct Json {
  enum class Kind { null, boolean, integer, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  uint64_t integer = 0;
  std::string string;
  std::vector<Json> items;                             // array
  std::vector<std::pair<std::string, Json>> members;  // object, in file order

  const Json& operator[](std::string_view key) const;  // throws if absent or not an object
  const std::string& str() const;                      // throws if not a string
  uint64_t u64() const;                                // throws if not an integer
};

Json parse_json(std::string_view text);

}  // namespace tandem::test
