// Not a test: the helper tests/browser/capture_chromium_sdp.mjs runs (hidden tag, native build) to get the
// offer and the answers our code makes, so that Chromium can be shown them.
//   TANDEM_SDP_CAPTURE_DIR=<dir> [TANDEM_SDP_REMOTE_OFFER_FILE=<file>] tandem_tests "[.sdp_capture]"
// writes <dir>/tandem_offer.sdp and, given a remote offer, <dir>/tandem_answer.sdp (everything accepted) and
// <dir>/tandem_answer_no_audio.sdp (audio rejected).
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "core/transport/sdp/offer_answer.h"
#include "tests/core/transport/sdp/sdp_test_options.h"

using namespace tandem::transport::sdp;

namespace {

void write_file(const std::string& path, const std::string& content) {
  std::ofstream file(path, std::ios::binary);
  file << content;
  REQUIRE(file.good());
}

}  // namespace

TEST_CASE("sdp capture: write our offer and answers for capture_chromium_sdp.mjs", "[.sdp_capture]") {
  const char* dir = std::getenv("TANDEM_SDP_CAPTURE_DIR");
  if (dir == nullptr) return;
  const auto offer = create_offer(test::tandem_options());
  REQUIRE(offer);
  write_file(std::string(dir) + "/tandem_offer.sdp", serialize(*offer));
  const char* remote_path = std::getenv("TANDEM_SDP_REMOTE_OFFER_FILE");
  if (remote_path == nullptr) return;
  std::ifstream file(remote_path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  const auto remote = parse(text.str(), SdpType::offer);
  if (!remote) FAIL(remote.error().message);
  auto options = test::tandem_options();
  const auto answer = create_answer(*remote, options);
  if (!answer) FAIL(answer.error().message);
  write_file(std::string(dir) + "/tandem_answer.sdp", serialize(*answer));
  options.audio.reset();
  const auto no_audio = create_answer(*remote, options);
  if (!no_audio) FAIL(no_audio.error().message);
  write_file(std::string(dir) + "/tandem_answer_no_audio.sdp", serialize(*no_audio));
}
