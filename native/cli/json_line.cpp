#include "json_line.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace tandem::cli {
namespace {

// A recursive-descent reader over one line. Depth is bounded so hostile input cannot exhaust the stack.
class Reader {
 public:
  explicit Reader(std::string_view text) : s_(text) {}

  bool fail(std::string message) {
    if (error_.empty()) error_ = message + " at offset " + std::to_string(i_);
    return false;
  }
  const std::string& error() const { return error_; }

  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool at_end() const { return i_ == s_.size(); }
  bool eat(char c) {
    skip_ws();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }

  // Top level: an object whose scalar members are collected.
  bool object(std::vector<JsonObject::Member>* out, int depth) {
    if (depth > 32) return fail("nested too deeply");
    if (!eat('{')) return fail("expected '{'");
    if (eat('}')) return true;
    do {
      skip_ws();
      JsonObject::Member m;
      if (!string(m.name)) return false;
      if (!eat(':')) return fail("expected ':'");
      if (!value(out ? &m : nullptr, depth)) return false;
      const bool nested = m.kind == JsonObject::Kind::null && m.text.empty();
      if (out && !nested) out->push_back(std::move(m));
    } while (eat(','));
    if (!eat('}')) return fail("expected ',' or '}'");
    return true;
  }

 private:
  // `m` is null when the value is nested (validated, not kept).
  bool value(JsonObject::Member* m, int depth) {
    skip_ws();
    if (i_ >= s_.size()) return fail("expected a value");
    const char c = s_[i_];
    if (c == '{') {
      if (m) m->kind = JsonObject::Kind::null;  // kept as nothing: see object()
      return object(nullptr, depth + 1);
    }
    if (c == '[') {
      ++i_;
      if (eat(']')) return true;
      do {
        if (!value(nullptr, depth + 1)) return false;
      } while (eat(','));
      if (!eat(']')) return fail("expected ',' or ']'");
      return true;
    }
    if (c == '"') {
      std::string text;
      if (!string(text)) return false;
      if (m) {
        m->kind = JsonObject::Kind::string;
        m->text = std::move(text);
      }
      return true;
    }
    for (const char* word : {"true", "false", "null"}) {
      const std::string_view w(word);
      if (s_.substr(i_, w.size()) == w) {
        i_ += w.size();
        if (m) {
          m->kind = w == "null" ? JsonObject::Kind::null : JsonObject::Kind::boolean;
          m->text = w;
        }
        return true;
      }
    }
    return number(m);
  }

  bool number(JsonObject::Member* m) {
    const size_t start = i_;
    auto digits = [&] {
      const size_t from = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      return i_ > from;
    };
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0') {
      ++i_;
    } else if (!digits()) {
      return fail("expected a value");
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digits()) return fail("expected digits after '.'");
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digits()) return fail("expected exponent digits");
    }
    if (m) {
      m->kind = JsonObject::Kind::number;
      m->text = std::string(s_.substr(start, i_ - start));
    }
    return true;
  }

  bool hex4(uint32_t& out) {
    if (i_ + 4 > s_.size()) return fail("truncated \\u escape");
    out = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      out <<= 4;
      if (c >= '0' && c <= '9')
        out |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        out |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        out |= static_cast<uint32_t>(c - 'A' + 10);
      else
        return fail("bad hex digit in \\u escape");
    }
    return true;
  }

  static void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool string(std::string& out) {
    if (i_ >= s_.size() || s_[i_] != '"') return fail("expected a string");
    ++i_;
    while (true) {
      if (i_ >= s_.size()) return fail("unterminated string");
      const char c = s_[i_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) return fail("unterminated escape");
      const char e = s_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // a high surrogate must be followed by a low one
            uint32_t low = 0;
            if (s_.substr(i_, 2) != "\\u") return fail("lone high surrogate");
            i_ += 2;
            if (!hex4(low)) return false;
            if (low < 0xDC00 || low > 0xDFFF) return fail("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail("lone low surrogate");
          }
          put_utf8(out, cp);
          break;
        }
        default: return fail(std::string("unknown escape \\") + e);
      }
    }
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string error_;
};

}  // namespace

std::optional<JsonObject> JsonObject::parse(std::string_view text, std::string& error) {
  Reader reader(text);
  JsonObject object;
  if (!reader.object(&object.members_, 0)) {
    error = reader.error();
    return std::nullopt;
  }
  reader.skip_ws();
  if (!reader.at_end()) {
    error = "text after the object";
    return std::nullopt;
  }
  return object;
}

const JsonObject::Member* JsonObject::find(std::string_view name) const {
  for (auto it = members_.rbegin(); it != members_.rend(); ++it) {
    if (it->name == name) return &*it;
  }
  return nullptr;
}

std::optional<std::string> JsonObject::string(std::string_view name) const {
  const Member* m = find(name);
  if (!m || m->kind != Kind::string) return std::nullopt;
  return m->text;
}

std::optional<double> JsonObject::number(std::string_view name) const {
  const Member* m = find(name);
  if (!m || m->kind != Kind::number) return std::nullopt;
  return std::strtod(m->text.c_str(), nullptr);
}

void append_json_string(std::string& out, std::string_view value) {
  out += '"';
  for (const char c : value) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;  // UTF-8 passes through as it is
        }
    }
  }
  out += '"';
}

void JsonWriter::key(std::string_view name) {
  if (text_.size() > 1) text_ += ',';
  append_json_string(text_, name);
  text_ += ':';
}

JsonWriter& JsonWriter::add(std::string_view name, std::string_view value) {
  key(name);
  append_json_string(text_, value);
  return *this;
}

JsonWriter& JsonWriter::add(std::string_view name, double value) {
  key(name);
  if (!std::isfinite(value)) {
    text_ += "null";  // JSON has no NaN or infinity
    return *this;
  }
  char buf[32];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", value);
  } else {
    std::snprintf(buf, sizeof buf, "%.6g", value);
  }
  text_ += buf;
  return *this;
}

JsonWriter& JsonWriter::add(std::string_view name, bool value) {
  key(name);
  text_ += value ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::add_raw(std::string_view name, std::string_view json) {
  key(name);
  text_ += json;
  return *this;
}

}  // namespace tandem::cli
