// The sender's memory of recently sent RTP packets, so a generic NACK (RFC 4585) can be answered with the
// packet that was lost.
//
// All memory is allocated once, in the constructor: `capacity` slots of `max_packet_size` bytes. A packet lives
// in slot `sequence_number mod capacity` (capacity is a power of two, so consecutive sequence numbers use
// consecutive slots across the 65535 -> 0 wrap) until a packet `capacity` numbers newer replaces it. store()
// copies bytes and retransmit() returns a view of the slot: neither allocates.
//
// What is stored is the PLAIN RTP packet, before SRTP protection. A retransmission must be protected again:
// either sent as RTX (RFC 4588: its own SSRC and sequence numbers, the original sequence number in front of the
// payload), which needs the plain packet to rebuild, or resent on the original SSRC, which needs the outbound
// SrtpSession to allow re-protecting an index it has already used (libsrtp's allow_repeat_tx; ours refuses
// today). Keeping ciphertext instead would tie the history to one key and one way of retransmitting.
//
// Used by the one runtime thread that owns the stream; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/common/error.h"
#include "core/media/rtp/rtcp.h"

namespace tandem::media::rtp {

struct SendHistoryOptions {
  // Packets remembered; rounded up to a power of two, at most 32768 (half the sequence space, so "newer" and
  // "older" stay unambiguous). 512 is about 0.5 s of 8 Mbit/s video in 1200-byte packets.
  size_t capacity = 512;
  size_t max_packet_size = 1500;  // bytes per slot: an RTP packet of the path MTU
  // A packet sent longer ago than this is not retransmitted (the receiver's jitter buffer has given up on it).
  // 0: no age limit, only capacity.
  uint64_t max_age_ns = 0;
};

struct SendHistoryStats {
  uint64_t stored = 0;
  uint64_t retransmitted = 0;  // retransmit() calls that found the packet
  uint64_t missed = 0;         // retransmit() calls for a packet no longer (or never) held
};

class SendHistory {
 public:
  explicit SendHistory(const SendHistoryOptions& options = {});

  // Remembers a packet as sent at `now_ns`; its sequence number is read from its header. Replaces whatever
  // the slot held. Errc::invalid_argument if it is shorter than an RTP header or longer than max_packet_size.
  Result<void> store(std::span<const uint8_t> rtp_packet, uint64_t now_ns);

  // The stored bytes of `sequence_number`, or an empty span if that packet was replaced, is older than
  // max_age_ns, or was never stored. Counts a retransmission or a miss. The span stays valid until the next
  // store().
  std::span<const uint8_t> retransmit(uint16_t sequence_number, uint64_t now_ns);
  // The same lookup without counting.
  std::span<const uint8_t> find(uint16_t sequence_number, uint64_t now_ns) const;

  // Answers a NACK: calls send(std::span<const uint8_t>) with each packet it names that is still held, in the
  // NACK's order. Returns how many were sent. `send` must not store() into this history: the span it gets
  // points into a slot.
  template <class Send>
  size_t answer_nack(const NackView& nack, uint64_t now_ns, Send&& send) {
    size_t sent = 0;
    for (uint16_t seq : nack.lost_sequence_numbers()) {
      const std::span<const uint8_t> packet = retransmit(seq, now_ns);
      if (!packet.empty()) {
        send(packet);
        ++sent;
      }
    }
    return sent;
  }

  const SendHistoryStats& stats() const { return stats_; }
  size_t capacity() const { return slots_.size(); }
  size_t max_packet_size() const { return max_packet_size_; }

 private:
  struct Slot {
    uint64_t sent_ns = 0;
    uint32_t size = 0;  // 0: empty
    uint16_t sequence_number = 0;
  };

  std::vector<Slot> slots_;
  std::vector<uint8_t> bytes_;  // slot i owns [i * max_packet_size_, (i + 1) * max_packet_size_)
  size_t max_packet_size_;
  size_t mask_;
  uint64_t max_age_ns_;
  uint16_t newest_ = 0;
  bool any_stored_ = false;
  SendHistoryStats stats_;
};

}  // namespace tandem::media::rtp
