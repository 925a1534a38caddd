// Range-for over a cursor: the parsers here walk already-validated bytes with small "cursor" structs that
// have `bool next(value_type&)`. This adapter gives them begin()/end() so callers write
// `for (auto ext : view.extensions())` without any allocation or virtual call.
#pragma once

#include <iterator>

namespace tandem::media::rtp {

template <class Cursor>
class CursorIterator {
 public:
  using value_type = typename Cursor::value_type;
  using difference_type = std::ptrdiff_t;

  explicit CursorIterator(Cursor cursor) : cursor_(cursor) { done_ = !cursor_.next(item_); }
  const value_type& operator*() const { return item_; }
  const value_type* operator->() const { return &item_; }
  CursorIterator& operator++() {
    done_ = !cursor_.next(item_);
    return *this;
  }
  bool operator==(std::default_sentinel_t) const { return done_; }

 private:
  Cursor cursor_;
  value_type item_{};
  bool done_ = true;
};

template <class Cursor>
class CursorRange {
 public:
  explicit CursorRange(Cursor cursor) : cursor_(cursor) {}
  CursorIterator<Cursor> begin() const { return CursorIterator<Cursor>(cursor_); }
  std::default_sentinel_t end() const { return {}; }

 private:
  Cursor cursor_;
};

}  // namespace tandem::media::rtp
