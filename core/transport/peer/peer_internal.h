// What PeerConnection's two source files share: the negotiated session and the event helper.
#pragma once

#include <string>

#include "core/transport/peer/peer_connection.h"
#include "core/transport/sdp/offer_answer.h"
#include "core/transport/sdp/sdp.h"

namespace tandem::transport {

struct PeerConnection::Negotiated {
  sdp::SessionDescription local;
  sdp::SessionDescription remote;
  sdp::NegotiatedSession session;
};

namespace peer_detail {

inline PeerEvent make_event(PeerEventKind kind, std::string text = {}) {
  PeerEvent e;
  e.kind = kind;
  e.text = std::move(text);
  return e;
}

inline uint64_t since(uint64_t start, uint64_t now) { return now > start ? now - start : 0; }

}  // namespace peer_detail
}  // namespace tandem::transport
