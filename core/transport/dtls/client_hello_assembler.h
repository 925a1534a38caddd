// Reassembles a DTLS ClientHello that arrives in fragments, for the server role.
//
// mbedTLS 2.28's DTLS server refuses a fragmented ClientHello ("we don't support fragmentation of
// ClientHello"). Browsers now send ClientHellos larger than one datagram: Chromium 156 offers DTLS 1.3 with an
// X25519MLKEM768 key share (1216 bytes), a 1413-byte ClientHello sent as two fragments. It still offers DTLS
// 1.2, which is what we speak, so the only obstacle is the fragmentation. The assembler collects the fragments
// of the first ClientHello (epoch 0, message_seq as it comes) and, once every byte is there, hands back one
// unfragmented record carrying the whole message: what the client would have sent with a larger MTU. The
// handshake transcript is the same either way (RFC 6347 section 4.2.6 hashes messages as if unfragmented).
//
// Sans-IO and allocation-bounded: the message is limited to kMaxClientHello bytes; garbage or anything that
// is not a ClientHello fragment is passed through for mbedTLS to judge.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tandem::transport::detail {

class ClientHelloAssembler {
 public:
  static constexpr size_t kMaxClientHello = 16 * 1024;

  enum class Outcome : uint8_t {
    pass,      // not a fragmented ClientHello (or done assembling): hand the datagram to mbedTLS unchanged
    buffered,  // fragments kept; nothing for mbedTLS yet
    complete,  // assembled(): the whole ClientHello as one record, for mbedTLS
  };

  Outcome add(std::span<const uint8_t> datagram);
  // Valid after add() returned complete, until the next add().
  std::span<const uint8_t> assembled() const { return record_; }
  bool done() const { return done_; }
  uint64_t fragments() const { return fragments_; }

 private:
  bool add_fragment(std::span<const uint8_t> record);

  bool started_ = false;
  bool done_ = false;
  uint64_t fragments_ = 0;
  uint8_t version_[2] = {0xfe, 0xfd};
  uint16_t message_seq_ = 0;
  uint32_t length_ = 0;
  std::vector<uint8_t> body_;
  std::vector<bool> have_;  // per byte of body_: received
  size_t have_count_ = 0;
  std::vector<uint8_t> record_;
};

}  // namespace tandem::transport::detail
