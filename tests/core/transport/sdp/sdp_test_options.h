// The fixed options our side uses in the SDP tests and in tests/browser/capture_chromium_sdp.mjs, so the offer
// and answers the fixtures record can be regenerated exactly.
#pragma once

#include "core/transport/sdp/offer_answer.h"

namespace tandem::transport::sdp::test {

inline LocalDescriptionOptions tandem_options() {
  LocalDescriptionOptions o;
  o.session_id = 4242424242424242424;
  o.session_version = 2;
  o.ice_ufrag = "tndm";
  o.ice_pwd = "tandemTandemTandem2024pw";
  o.fingerprint = {"sha-256",
                   "0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9"};
  o.audio = MediaOptions{Direction::sendrecv, LocalTrack{11111111, "tandemcname", "tandem-stream", "tandem-audio"}};
  o.video = MediaOptions{Direction::sendrecv, LocalTrack{22222222, "tandemcname", "tandem-stream", "tandem-video"}};
  o.data_channel = true;
  return o;
}

}  // namespace tandem::transport::sdp::test
