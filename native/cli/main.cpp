// `tandem`: a command-line WebRTC peer on tandem's public API (C ABI + protobuf-lite), for loopback tests,
// interop with browsers and quick experiments. See usage() and peer_session.h.
#include <signal.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "monotonic.h"
#include "peer_session.h"
#include "text_scan.h"

namespace {

using namespace tandem;
using namespace tandem::cli;

constexpr const char* kUsage = R"(usage: tandem peer --role offer|answer [options]

A WebRTC peer (ICE, DTLS-SRTP, SCTP data channels) on real UDP sockets, signalled with JSON lines:
  {"type":"offer"|"answer","sdp":"..."}  {"type":"candidate","candidate":"candidate:...","sdpMid":"0",
  "sdpMLineIndex":0}  {"type":"end-of-candidates"}  {"type":"bye"}   (a browser's toJSON() shapes)

  --signal stdio|unix:PATH|listen-unix:PATH
                        where signalling goes (default stdio: stdin/stdout). unix: connects (retrying until
                        PATH exists); listen-unix: listens on PATH and accepts one connection
  --bind ADDR           an address to bind a UDP socket on (any free port; each is a host candidate),
                        repeatable or comma-separated (default 127.0.0.1; ::1 for IPv6 loopback; "all" for a
                        socket on every interface, loopback included)
  --channel LABEL       the data channel the offerer creates (default "data"); the answerer takes any
  --send N              send N binary messages once the channel is open (format in generators.h:
                        "TDM1", u32 seq, u32 FNV-1a of the rest, xorshift filler; all big-endian)
  --size BYTES|MIN..MAX sizes of --send messages (default 1000; 12..262144)
  --echo                send every received message back on its channel, binary or text as it came
  --verify              check every received message is well-formed (implied by --send: echoes come back)
  --audio pcmu|opus     send a tone (440 Hz offerer, 660 Hz answerer) from an audio source
  --video vp8           send a moving 320x240 test pattern at 30 fps from a video source
  --expect-messages N   received (with --send/--verify: verified, distinct) messages needed
  --expect-audio-frames N  decoded (not concealed) audio frames of 20 ms needed
  --expect-video-frames N  decoded video frames needed
  --timeout-ms T        give up after T ms (default 30000)
  --stats               print the peer's stats, media stats and metrics as one JSON line on exit
                        (stdout, or stderr when signalling uses stdio)
  --verbose             core log at INFO, and one event line per received message

Progress and state changes are JSON lines on stderr ({"event":"connection_state","state":"connected",
"ms":12.3}); other stderr lines start with "tandem:". When its expectations are met a peer sends "bye" and
serves on until the other side is done too. Exit 0: done; 1: failure or timeout (reason on stderr);
2: bad input (arguments, JSON, SDP, candidates).
)";

bool parse_uint(std::string_view text, uint64_t& out) {
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() && !text.empty();
}

// Fills `o` from argv; returns an error message or "" on success.
std::string parse_args(int argc, char** argv, PeerOptions& o, bool& help) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return "missing command";
  if (args[0] == "--help" || args[0] == "-h") {
    help = true;
    return "";
  }
  if (args[0] != "peer") return "unknown command \"" + args[0] + "\" (the only command is \"peer\")";
  bool have_role = false, bind_given = false;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string flag = args[i], value;
    bool has_value = false;
    if (const size_t eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      has_value = true;
    }
    auto next = [&](std::string& out) {
      if (has_value) {
        out = value;
        return true;
      }
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    auto number = [&](uint64_t& out, uint64_t max) -> std::string {
      std::string v;
      if (!next(v)) return flag + " needs a value";
      if (!parse_uint(v, out) || out > max)
        return flag + ": \"" + v + "\" is not a number in 0.." + std::to_string(max);
      return "";
    };
    auto flag_only = [&]() -> std::string { return has_value ? flag + " takes no value" : ""; };
    std::string v, error;
    uint64_t n = 0;
    if (flag == "--help" || flag == "-h") {
      help = true;
      return "";
    } else if (flag == "--role") {
      if (!next(v) || (v != "offer" && v != "answer")) return "--role must be offer or answer";
      o.offerer = v == "offer";
      have_role = true;
    } else if (flag == "--signal") {
      if (!next(v)) return "--signal needs a value";
      if (v == "stdio") {
        o.signal_mode = Signalling::Mode::stdio;
      } else if (v.rfind("unix:", 0) == 0 && v.size() > 5) {
        o.signal_mode = Signalling::Mode::connect_unix;
        o.signal_path = v.substr(5);
      } else if (v.rfind("listen-unix:", 0) == 0 && v.size() > 12) {
        o.signal_mode = Signalling::Mode::listen_unix;
        o.signal_path = v.substr(12);
      } else {
        return "--signal must be stdio, unix:PATH or listen-unix:PATH";
      }
    } else if (flag == "--bind") {
      if (!next(v)) return "--bind needs a value";
      if (!bind_given) o.bind.clear();
      bind_given = true;
      for (size_t start = 0; start <= v.size();) {
        const size_t comma = std::min(v.find(',', start), v.size());
        const std::string address = v.substr(start, comma - start);
        if (address != "all" && !ip_bytes(address)) return "--bind: \"" + address + "\" is not an IPv4 or IPv6 address";
        o.bind.push_back(address);
        start = comma + 1;
      }
    } else if (flag == "--channel") {
      if (!next(o.channel)) return "--channel needs a value";
    } else if (flag == "--send") {
      if (!(error = number(n, kMaxSendCount)).empty()) return error;
      o.send_count = static_cast<uint32_t>(n);
    } else if (flag == "--size") {
      if (!next(v)) return "--size needs a value";
      const size_t dots = v.find("..");
      uint64_t lo = 0, hi = 0;
      const bool ok = dots == std::string::npos
                          ? parse_uint(v, lo) && (hi = lo, true)
                          : parse_uint(v.substr(0, dots), lo) && parse_uint(v.substr(dots + 2), hi);
      if (!ok || lo < kMessageHeader || hi < lo || hi > 262144)
        return "--size must be BYTES or MIN..MAX with " + std::to_string(kMessageHeader) + " <= MIN <= MAX <= 262144";
      o.size_min = lo;
      o.size_max = hi;
    } else if (flag == "--echo") {
      o.echo = true;
      if (!(error = flag_only()).empty()) return error;
    } else if (flag == "--verify") {
      o.verify = true;
      if (!(error = flag_only()).empty()) return error;
    } else if (flag == "--audio") {
      if (!next(v) || (v != "pcmu" && v != "opus")) return "--audio must be pcmu or opus";
      o.audio = v == "pcmu" ? api::PCMU : api::OPUS;
    } else if (flag == "--video") {
      if (!next(v) || v != "vp8") return "--video must be vp8";
      o.video = true;
    } else if (flag == "--expect-messages") {
      if (!(error = number(o.expect_messages, UINT32_MAX)).empty()) return error;
    } else if (flag == "--expect-audio-frames") {
      if (!(error = number(o.expect_audio_frames, UINT32_MAX)).empty()) return error;
    } else if (flag == "--expect-video-frames") {
      if (!(error = number(o.expect_video_frames, UINT32_MAX)).empty()) return error;
    } else if (flag == "--timeout-ms") {
      if (!(error = number(n, 24ull * 3600 * 1000)).empty()) return error;
      o.timeout_ms = static_cast<uint32_t>(n);
    } else if (flag == "--stats") {
      o.stats = true;
      if (!(error = flag_only()).empty()) return error;
    } else if (flag == "--verbose") {
      o.verbose = true;
      if (!(error = flag_only()).empty()) return error;
    } else {
      return "unknown option \"" + args[i] + "\"";
    }
  }
  if (!have_role) return "--role offer|answer is required";
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);  // a vanished signalling peer is a write error, handled where it happens
  PeerOptions options;
  bool help = false;
  if (const std::string error = parse_args(argc, argv, options, help); !error.empty()) {
    std::fprintf(stderr, "tandem: %s\n(tandem --help for usage)\n", error.c_str());
    return kExitBadInput;
  }
  if (help) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }

  const uint64_t started = monotonic_ns();
  const uint64_t deadline = started + static_cast<uint64_t>(options.timeout_ms) * 1'000'000;
  std::string error;
  auto signalling = Signalling::open(options.signal_mode, options.signal_path, deadline, error);
  if (!signalling) {
    std::fprintf(stderr, "tandem: error: signalling: %s\n", error.c_str());
    return kExitFailed;
  }
  api::InitializeOptions init;
  init.set_metrics_report_disabled(true);  // --stats asks for metrics on demand
  init.set_log_level(options.verbose ? api::INFO : api::WARN);
  init.set_log_to_platform(true);
  auto client = ApiClient::create(init, error);
  if (!client) {
    std::fprintf(stderr, "tandem: error: %s\n", error.c_str());
    return kExitFailed;
  }
  PeerSession session(options, *client, *signalling, started);
  return session.run();
}
