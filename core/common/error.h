// Errors are values (DESIGN principle 8): an enum-class code plus a message, never an exception across the
// API boundary. The numeric values equal tandem.api.ErrorCode so they pass through the FFI unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tandem {

enum class Errc : uint16_t {
  ok = 0,
  malformed_request = 1,
  unknown_request = 2,
  invalid_argument = 3,
  null_handle = 4,
  unknown_handle = 5,
  stale_handle = 6,
  wrong_handle_type = 7,
  disposed = 8,
  resource_exhausted = 9,
  internal = 10,
  // Network input (values 11-15): returned by protocol objects, counted by callers, never fatal to the core.
  authentication_failed = 11,
  replayed = 12,
  malformed_packet = 13,
  timed_out = 14,
  protocol_error = 15,
};

// Stable snake_case name of a code, e.g. "stale_handle".
std::string_view to_string(Errc code);

struct Error {
  Errc code = Errc::internal;
  std::string message;
};

// A value or an Error. Small on purpose: C++20 has no std::expected.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}
  Result(Errc code, std::string message) : v_(Error{code, std::move(message)}) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<1>(v_); }
  Errc code() const { return ok() ? Errc::ok : error().code; }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: ok, or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}
  Result(Errc code, std::string message) : error_{code, std::move(message)}, ok_(false) {}
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }
  Errc code() const { return ok_ ? Errc::ok : error_.code; }

 private:
  Error error_{Errc::ok, {}};
  bool ok_ = true;
};

}  // namespace tandem
