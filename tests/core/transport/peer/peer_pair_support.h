// Two PeerConnections joined by two simulated links, signalling in-process (offer, answer and trickled
// candidates handed over as soon as they appear), driven from event to event on a fake clock.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/sim/network.h"
#include "core/transport/net/address_text.h"
#include "core/transport/peer/peer_connection.h"

namespace tandem::test {

class PeerPair {
 public:
  struct Side {
    std::unique_ptr<transport::PeerConnection> peer;
    platform::SocketAddress address;
    std::vector<transport::PeerEvent> events;  // everything but data channel messages (copied out below)
    struct Message {
      uint32_t channel = 0;
      bool binary = false;
      std::vector<uint8_t> data;
    };
    std::vector<Message> messages;
    std::vector<uint32_t> opened;  // channel keys, in open order
    std::vector<uint32_t> closed;
    std::vector<uint32_t> low;     // buffered_amount_low
    bool sctp_connected = false;
    std::string error;
    bool trickle = true;  // hand local candidates to the other side as they appear
    // Called for every data channel message before it is stored (return false to not store it).
    std::function<bool(const Message&)> on_message;
  };

  explicit PeerPair(const sim::Impairments& impairments = {}, uint64_t seed = 11,
                    std::function<void(transport::PeerConnectionConfig&)> tweak = {});

  Side& a() { return a_; }
  Side& b() { return b_; }
  uint64_t now() const { return now_ns_; }
  sim::NetworkLink& link_ab() { return ab_; }
  sim::NetworkLink& link_ba() { return ba_; }

  // a offers, b answers (text may be rewritten by `edit_answer`, e.g. to break the fingerprint).
  void negotiate(std::function<void(std::string&)> edit_answer = {});
  // Runs until `done` or `deadline_ns` of fake time; returns whether `done` became true.
  bool run_until(const std::function<bool()>& done, uint64_t deadline_ns);
  bool connected() const;
  // Runs everything due now and moves the clock to the next event (at most `max_step_ns` ahead).
  void step(uint64_t max_step_ns = 5'000'000);

 private:
  void drain(Side& side, Side& other, sim::NetworkLink& out);
  void deliver(sim::NetworkLink& in, Side& to, Side& from);

  sim::NetworkLink ab_, ba_;
  Side a_, b_;
  uint64_t now_ns_ = 1'000'000'000;
};

}  // namespace tandem::test
