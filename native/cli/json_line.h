// The JSON the CLI speaks: one flat object per line, for signalling ({"type":"offer","sdp":"..."}) and for the
// event log on stderr ({"event":"connection_state","state":"connected","ms":12.3}).
//
// The reader accepts any valid JSON object (RFC 8259) but keeps only its top-level scalar members: strings
// (escapes decoded to UTF-8, surrogate pairs joined), numbers, booleans and null. Nested objects and arrays are
// validated and skipped, so a relay may add fields without breaking us. The writer escapes what JSON requires.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tandem::cli {

class JsonObject {
 public:
  enum class Kind { string, number, boolean, null };
  struct Member {
    std::string name;
    Kind kind = Kind::null;
    std::string text;  // string: the decoded value; number: its literal; boolean: "true"/"false"
  };

  // Parses one object (surrounding whitespace allowed). On failure returns nothing and sets `error`.
  static std::optional<JsonObject> parse(std::string_view text, std::string& error);

  // The member's value if it is a string (the last one, if a name repeats).
  std::optional<std::string> string(std::string_view name) const;
  std::optional<double> number(std::string_view name) const;
  bool has(std::string_view name) const { return find(name) != nullptr; }

 private:
  const Member* find(std::string_view name) const;
  std::vector<Member> members_;
};

// Builds one line: JsonWriter().add("type", "offer").add("sdp", sdp).line() == "{\"type\":...}\n".
class JsonWriter {
 public:
  JsonWriter& add(std::string_view name, std::string_view value);
  JsonWriter& add(std::string_view name, const char* value) { return add(name, std::string_view(value)); }
  JsonWriter& add(std::string_view name, double value);
  JsonWriter& add(std::string_view name, int value) { return add(name, static_cast<double>(value)); }
  JsonWriter& add(std::string_view name, unsigned value) { return add(name, static_cast<double>(value)); }
  JsonWriter& add(std::string_view name, unsigned long value) { return add(name, static_cast<double>(value)); }
  JsonWriter& add(std::string_view name, unsigned long long value) { return add(name, static_cast<double>(value)); }
  JsonWriter& add(std::string_view name, bool value);
  // `json` is inserted as it is: an object or array built elsewhere.
  JsonWriter& add_raw(std::string_view name, std::string_view json);
  std::string line() const { return text_ + "}\n"; }
  std::string object() const { return text_ + "}"; }

 private:
  void key(std::string_view name);
  std::string text_ = "{";
};

// Appends `value` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view value);

}  // namespace tandem::cli
