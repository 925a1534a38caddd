#include "signalling.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

#include "monotonic.h"

namespace tandem::cli {
namespace {

bool make_address(const std::string& path, sockaddr_un& out, std::string& error) {
  out = {};
  out.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof out.sun_path) {
    error = "unix socket path must be 1.." + std::to_string(sizeof out.sun_path - 1) + " bytes: \"" + path + "\"";
    return false;
  }
  std::memcpy(out.sun_path, path.c_str(), path.size() + 1);
  return true;
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

int remaining_ms(uint64_t deadline_ns) {
  const uint64_t now = monotonic_ns();
  return now >= deadline_ns ? 0 : static_cast<int>((deadline_ns - now + 999'999) / 1'000'000);
}

int connect_unix(const std::string& path, uint64_t deadline_ns, std::string& error) {
  sockaddr_un address;
  if (!make_address(path, address, error)) return -1;
  while (true) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = errno_text("socket");
      return -1;
    }
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) return fd;
    const int e = errno;
    ::close(fd);
    // Not there yet (ENOENT) or not listening yet (ECONNREFUSED): the other process is still starting.
    if (e != ENOENT && e != ECONNREFUSED) {
      errno = e;
      error = errno_text(("connect " + path).c_str());
      return -1;
    }
    if (remaining_ms(deadline_ns) == 0) {
      error = "timed out connecting to " + path + " (" + std::strerror(e) + ")";
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int accept_unix(const std::string& path, uint64_t deadline_ns, std::string& error) {
  sockaddr_un address;
  if (!make_address(path, address, error)) return -1;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      error = path + " exists and is not a socket";
      return -1;
    }
    ::unlink(path.c_str());  // a stale socket of an earlier run
  }
  const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) {
    error = errno_text("socket");
    return -1;
  }
  if (::bind(listener, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, 1) != 0) {
    error = errno_text(("listen on " + path).c_str());
    ::close(listener);
    return -1;
  }
  int fd = -1;
  while (fd < 0) {
    pollfd p{listener, POLLIN, 0};
    const int ready = ::poll(&p, 1, remaining_ms(deadline_ns));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      error = ready == 0 ? "timed out waiting for a connection on " + path : errno_text("poll");
      break;
    }
    fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0 && errno != EINTR && errno != EAGAIN) {
      error = errno_text("accept");
      break;
    }
  }
  ::close(listener);
  ::unlink(path.c_str());  // one connection only; nothing else should find the path
  return fd;
}

}  // namespace

Signalling::Signalling(Mode mode, int in_fd, int out_fd, std::string path)
    : mode_(mode), in_fd_(in_fd), out_fd_(out_fd), path_(std::move(path)) {}

Signalling::~Signalling() {
  if (mode_ != Mode::stdio) ::close(in_fd_);
}

std::unique_ptr<Signalling> Signalling::open(Mode mode, const std::string& path, uint64_t deadline_ns,
                                             std::string& error) {
  if (mode == Mode::stdio) return std::unique_ptr<Signalling>(new Signalling(mode, 0, 1, ""));
  const int fd =
      mode == Mode::connect_unix ? connect_unix(path, deadline_ns, error) : accept_unix(path, deadline_ns, error);
  if (fd < 0) return nullptr;
  return std::unique_ptr<Signalling>(new Signalling(mode, fd, fd, path));
}

Signalling::ReadResult Signalling::read_lines(std::vector<std::string>& lines, std::string& error) {
  char buffer[65536];
  const ssize_t n = ::read(in_fd_, buffer, sizeof buffer);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN) return ReadResult::ok;
    error = errno_text("reading signalling");
    return ReadResult::error;
  }
  if (n == 0) {
    if (!pending_.empty()) lines.push_back(std::exchange(pending_, {}));  // a last line without "\n"
    return ReadResult::eof;
  }
  pending_.append(buffer, static_cast<size_t>(n));
  size_t start = 0;
  for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
    size_t end = nl;
    if (end > start && pending_[end - 1] == '\r') --end;
    lines.emplace_back(pending_, start, end - start);
  }
  pending_.erase(0, start);
  if (pending_.size() > kMaxLine) {
    error = "a signalling line is longer than " + std::to_string(kMaxLine) + " bytes";
    return ReadResult::error;
  }
  return ReadResult::ok;
}

bool Signalling::write_line(std::string_view line) {
  while (!line.empty()) {
    // send() with MSG_NOSIGNAL on sockets so a vanished peer is an error, not SIGPIPE (stdio: main ignores it).
    const ssize_t n = mode_ == Mode::stdio ? ::write(out_fd_, line.data(), line.size())
                                           : ::send(out_fd_, line.data(), line.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    line.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string Signalling::describe() const {
  switch (mode_) {
    case Mode::stdio: return "stdio";
    case Mode::connect_unix: return "unix:" + path_;
    case Mode::listen_unix: return "listen-unix:" + path_;
  }
  return "?";
}

}  // namespace tandem::cli
