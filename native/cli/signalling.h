// Where `tandem peer` exchanges its signalling: JSON lines (json_line.h) on stdin/stdout, or on a unix stream
// socket it connects to or listens on. The transport only moves lines; peer_session.cpp gives them meaning.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::cli {

class Signalling {
 public:
  enum class Mode { stdio, connect_unix, listen_unix };
  enum class ReadResult { ok, eof, error };
  static constexpr size_t kMaxLine = 4u << 20;  // an SDP is a few KB; anything this long is not ours

  // Opens the channel. connect_unix retries until PATH accepts (so the processes may start in any order);
  // listen_unix replaces a stale socket file at PATH and accepts one connection. Both give up at
  // `deadline_ns` (monotonic_ns()). On failure returns null with a reason in `error`.
  static std::unique_ptr<Signalling> open(Mode mode, const std::string& path, uint64_t deadline_ns, std::string& error);
  ~Signalling();
  Signalling(const Signalling&) = delete;
  Signalling& operator=(const Signalling&) = delete;

  int read_fd() const { return in_fd_; }
  bool is_stdio() const { return mode_ == Mode::stdio; }
  // Call when read_fd() is readable: appends the complete lines that arrived (without "\n" or "\r\n").
  ReadResult read_lines(std::vector<std::string>& lines, std::string& error);
  // Writes one line (which must end in "\n") completely. False once the other end has gone.
  bool write_line(std::string_view line);
  std::string describe() const;

 private:
  Signalling(Mode mode, int in_fd, int out_fd, std::string path);

  Mode mode_;
  int in_fd_;
  int out_fd_;
  std::string path_;
  std::string pending_;  // bytes of a line not yet complete
};

}  // namespace tandem::cli
