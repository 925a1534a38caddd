// Fuzzing the SDP parser with a fixed seed: random bytes, and Chromium's descriptions with lines deleted,
// duplicated, swapped and mutated. Nothing may crash (ASan/UBSan builds check the memory side); a rejection is
// Errc::malformed_packet with a line number; whatever parses must serialize to text that parses back to the
// same description, and create_answer / negotiate on it must return a value or an error code.
#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/transport/sdp/offer_answer.h"
#include "core/transport/sdp/sdp.h"
#include "tests/core/transport/sdp/chromium_sdp_fixtures.h"
#include "tests/core/transport/sdp/sdp_test_options.h"

using namespace tandem::transport::sdp;
using tandem::Errc;
namespace fx = tandem::transport::sdp::chromium_fixtures;

namespace {

// splitmix64: the same sequence on every platform (std:: distributions are not portable).
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }

 private:
  uint64_t state_;
};

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines, bool crlf) {
  std::string out;
  for (const auto& l : lines) out += l + (crlf ? "\r\n" : "\n");
  return out;
}

// Characters that matter to the grammar, and a few that should never be in SDP.
constexpr char kInteresting[] = {'0', '9', ' ', ':', '/', '=', ';', '*', '-', 'a', 'm', 'z', '\0', '\r', '\t',
                                 '\x7f', '\xff', '1', '2', '7', '8'};

void mutate_line(std::string& line, Random& rng) {
  switch (rng.below(6)) {
    case 0: {  // change one character (each draw in its own statement: argument order is unspecified)
      const size_t at = rng.below(line.size());
      if (!line.empty()) line[at] = kInteresting[rng.below(sizeof(kInteresting))];
      break;
    }
    case 1:  // cut it short
      line.resize(rng.below(line.size() + 1));
      break;
    case 2: {  // insert a character
      const size_t at = rng.below(line.size() + 1);
      line.insert(at, 1, kInteresting[rng.below(sizeof(kInteresting))]);
      break;
    }
    case 3: {  // replace a number by a huge or odd one
      const size_t digit = line.find_first_of("0123456789", rng.below(line.size() + 1));
      if (digit == std::string::npos) break;
      const size_t end = line.find_first_not_of("0123456789", digit);
      static const char* const kNumbers[] = {"0", "127", "128", "255", "256", "65535", "65536", "4294967295",
                                             "4294967296", "18446744073709551615", "18446744073709551616",
                                             "99999999999999999999999", ""};
      line.replace(digit, end == std::string::npos ? std::string::npos : end - digit,
                   kNumbers[rng.below(std::size(kNumbers))]);
      break;
    }
    case 4:  // drop the value
      line = line.substr(0, line.find(':') == std::string::npos ? 2 : line.find(':') + 1);
      break;
    default: {  // random bytes
      const size_t n = rng.below(12);
      for (size_t i = 0; i < n; ++i) {
        const size_t at = rng.below(line.size() + 1);
        line.insert(at, 1, static_cast<char>(rng.next()));
      }
      break;
    }
  }
}

std::string mutate(const std::string& text, Random& rng) {
  std::vector<std::string> lines = split_lines(text);
  const size_t edits = 1 + rng.below(4);
  for (size_t e = 0; e < edits && !lines.empty(); ++e) {
    const size_t at = rng.below(lines.size());
    switch (rng.below(5)) {
      case 0: lines.erase(lines.begin() + static_cast<ptrdiff_t>(at)); break;
      case 1: lines.insert(lines.begin() + static_cast<ptrdiff_t>(at), lines[at]); break;
      case 2: {
        const size_t other = rng.below(lines.size());
        std::swap(lines[at], lines[other]);
        break;
      }
      default: mutate_line(lines[at], rng); break;
    }
  }
  return join_lines(lines, rng.below(2) == 0);
}

struct Tally {
  int parsed = 0;
  int rejected = 0;
  int answered = 0;
  int negotiated = 0;
};

// One input through everything; checks the invariants.
void exercise(const std::string& input, Tally& tally) {
  const auto d = parse(input, SdpType::offer);
  if (!d) {
    ++tally.rejected;
    CHECK(d.code() == Errc::malformed_packet);
    CHECK(d.error().message.rfind("line ", 0) == 0);
    return;
  }
  ++tally.parsed;
  const std::string text = serialize(*d);
  const auto again = parse(text, SdpType::offer);
  if (!again) {
    FAIL_CHECK("serialized text does not parse: " << again.error().message << "\n" << text);
    return;
  }
  CHECK(*again == *d);
  const auto answer = create_answer(*d, test::tandem_options());
  if (!answer) {
    CHECK(answer.code() == Errc::protocol_error);
    return;
  }
  ++tally.answered;
  const auto reparsed_answer = parse(serialize(*answer), SdpType::answer);
  CHECK(reparsed_answer.ok());
  const auto n = negotiate(*answer, *d);
  if (n) {
    ++tally.negotiated;
  } else {
    CHECK(n.code() == Errc::protocol_error);
  }
}

}  // namespace

TEST_CASE("sdp fuzz: random bytes are rejected with a code", "[sdp]") {
  Random rng(0x5d9f00d);
  Tally tally;
  for (int i = 0; i < 3000; ++i) {
    std::string input;
    const size_t size = rng.below(300);
    // Half plain random bytes, half random attribute lines after a valid start, so the parser gets past the
    // session lines into the section it interprets.
    const bool text = i % 2 == 1;
    if (text) input = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0 96\r\na=";
    for (size_t k = 0; k < size; ++k) {
      input += text ? kInteresting[rng.below(sizeof(kInteresting))] : static_cast<char>(rng.next());
      if (text && rng.below(10) == 0) input += "\r\na=";
    }
    exercise(input, tally);
  }
  INFO("parsed " << tally.parsed << ", rejected " << tally.rejected);
  CHECK(tally.parsed + tally.rejected == 3000);
  CHECK(tally.rejected >= 1500);  // every plain random input, and most of the others
  CHECK(tally.parsed > 0);
}

TEST_CASE("sdp fuzz: Chromium's descriptions with lines deleted, duplicated, swapped, mutated", "[sdp]") {
  const char* const sources[] = {fx::kOfferAudioVideoData, fx::kOfferDataOnly, fx::kAnswerToTandemOffer,
                                 fx::kTandemOffer, fx::kOfferAudioVideoData2};
  Random rng(20240601);
  Tally tally;
  constexpr int kIterations = 6000;
  for (int i = 0; i < kIterations; ++i) {
    exercise(mutate(sources[i % std::size(sources)], rng), tally);
  }
  INFO("parsed " << tally.parsed << ", rejected " << tally.rejected << ", answered " << tally.answered
                 << ", negotiated " << tally.negotiated);
  // Both outcomes must be well represented, or the mutations are not reaching the interesting paths.
  CHECK(tally.parsed + tally.rejected == kIterations);
  CHECK(tally.parsed > kIterations / 5);
  CHECK(tally.rejected > kIterations / 10);
  CHECK(tally.negotiated > kIterations / 10);
}
