#include "mini_json.h"

#include <stdexcept>

namespace tandem::test {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Json document() {
    Json v = value();
    skip_space();
    if (at_ != s_.size()) fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw std::runtime_error(std::string("json: ") + what + " at offset " + std::to_string(at_));
  }
  void skip_space() {
    while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\n' || s_[at_] == '\r' || s_[at_] == '\t')) ++at_;
  }
  char peek() {
    skip_space();
    if (at_ >= s_.size()) fail("unexpected end");
    return s_[at_];
  }
  void expect(char c) {
    if (peek() != c) fail("unexpected character");
    ++at_;
  }
  bool literal(std::string_view word) {
    if (s_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }

  Json value() {
    Json v;
    const char c = peek();
    if (c == '{') {
      v.kind = Json::Kind::object;
      ++at_;
      if (peek() == '}') return ++at_, v;
      do {
        std::string key = string();
        expect(':');
        v.members.emplace_back(std::move(key), value());
      } while (peek() == ',' && ++at_);
      expect('}');
    } else if (c == '[') {
      v.kind = Json::Kind::array;
      ++at_;
      if (peek() == ']') return ++at_, v;
      do {
        v.items.push_back(value());
      } while (peek() == ',' && ++at_);
      expect(']');
    } else if (c == '"') {
      v.kind = Json::Kind::string;
      v.string = string();
    } else if (c >= '0' && c <= '9') {
      v.kind = Json::Kind::integer;
      while (at_ < s_.size() && s_[at_] >= '0' && s_[at_] <= '9') v.integer = v.integer * 10 + (s_[at_++] - '0');
    } else if (literal("true")) {
      v.kind = Json::Kind::boolean;
      v.boolean = true;
    } else if (literal("false")) {
      v.kind = Json::Kind::boolean;
    } else if (!literal("null")) {
      fail("unexpected value");
    }
    return v;
  }

  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      if (at_ >= s_.size()) fail("unterminated string");
      const char c = s_[at_++];
      if (c == '"') return out;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (at_ >= s_.size()) fail("unterminated escape");
      const char e = s_[at_++];
      switch (e) {
        case '"': case '\\': case '/': out.push_back(e); break;
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'u': {
          if (at_ + 4 > s_.size()) fail("short \\u escape");
          const unsigned code = std::stoul(std::string(s_.substr(at_, 4)), nullptr, 16);
          if (code > 0x7F) fail("non-ASCII \\u escape");
          out.push_back(static_cast<char>(code));
          at_ += 4;
          break;
        }
        default: fail("unknown escape");
      }
    }
  }

  std::string_view s_;
  size_t at_ = 0;
};

}  // namespace

const Json& Json::operator[](std::string_view key) const {
  if (kind != Kind::object) throw std::runtime_error("json: not an object");
  for (const auto& [k, v] : members) {
    if (k == key) return v;
  }
  throw std::runtime_error("json: no member " + std::string(key));
}

const std::string& Json::str() const {
  if (kind != Kind::string) throw std::runtime_error("json: not a string");
  return string;
}

uint64_t Json::u64() const {
  if (kind != Kind::integer) throw std::runtime_error("json: not an integer");
  return integer;
}

Json parse_json(std::string_view text) { return Parser(text).document(); }

}  // namespace tandem::test
