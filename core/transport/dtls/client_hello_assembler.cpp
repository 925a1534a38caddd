#include "core/transport/dtls/client_hello_assembler.h"

#include <algorithm>

namespace tandem::transport::detail {
namespace {

constexpr size_t kRecordHeader = 13;     // type, version, epoch, sequence number (48 bits), length
constexpr size_t kHandshakeHeader = 12;  // type, length (24), message_seq (16), fragment offset (24), length (24)
constexpr uint8_t kHandshake = 22;
constexpr uint8_t kClientHello = 1;

uint32_t be24(const uint8_t* p) { return (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2]; }
uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
void put24(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 16);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v);
}

// One record holding exactly one ClientHello handshake fragment, in epoch 0: the only kind we assemble.
bool is_client_hello_fragment(std::span<const uint8_t> r) {
  if (r.size() < kRecordHeader + kHandshakeHeader || r[0] != kHandshake || r[1] != 0xfe) return false;
  if (be16(&r[3]) != 0) return false;  // epoch
  const size_t length = be16(&r[11]);
  if (length != r.size() - kRecordHeader) return false;
  const uint8_t* h = &r[kRecordHeader];
  return h[0] == kClientHello && kHandshakeHeader + be24(&h[9]) == length;
}

}  // namespace

ClientHelloAssembler::Outcome ClientHelloAssembler::add(std::span<const uint8_t> datagram) {
  if (done_) return Outcome::pass;
  // Every record of the datagram must be a ClientHello fragment; anything else goes to mbedTLS as it is.
  size_t off = 0;
  size_t records = 0;
  while (off < datagram.size()) {
    if (datagram.size() - off < kRecordHeader) return Outcome::pass;
    const size_t length = be16(&datagram[off + 11]);
    if (length > datagram.size() - off - kRecordHeader) return Outcome::pass;
    if (!is_client_hello_fragment(datagram.subspan(off, kRecordHeader + length))) return Outcome::pass;
    off += kRecordHeader + length;
    ++records;
  }
  if (records == 0) return Outcome::pass;
  // A ClientHello in one piece (the usual case) needs nothing from us.
  if (records == 1 && !started_) {
    const uint8_t* h = &datagram[kRecordHeader];
    if (be24(&h[6]) == 0 && be24(&h[9]) == be24(&h[1])) {
      done_ = true;
      return Outcome::pass;
    }
  }
  for (off = 0; off < datagram.size();) {
    const size_t length = be16(&datagram[off + 11]);
    if (!add_fragment(datagram.subspan(off, kRecordHeader + length))) return Outcome::pass;
    off += kRecordHeader + length;
  }
  if (have_count_ < length_) return Outcome::buffered;

  // The whole message: one record, its handshake header saying "offset 0, all of it".
  record_.resize(kRecordHeader + kHandshakeHeader + length_);
  uint8_t* r = record_.data();
  r[0] = kHandshake;
  r[1] = version_[0];
  r[2] = version_[1];
  std::fill(r + 3, r + 11, uint8_t{0});  // epoch 0, sequence number 0
  const size_t record_length = kHandshakeHeader + length_;
  r[11] = static_cast<uint8_t>(record_length >> 8);
  r[12] = static_cast<uint8_t>(record_length);
  uint8_t* h = r + kRecordHeader;
  h[0] = kClientHello;
  put24(h + 1, length_);
  h[4] = static_cast<uint8_t>(message_seq_ >> 8);
  h[5] = static_cast<uint8_t>(message_seq_);
  put24(h + 6, 0);
  put24(h + 9, length_);
  std::copy(body_.begin(), body_.end(), h + kHandshakeHeader);
  done_ = true;
  body_ = {};
  have_ = {};
  return Outcome::complete;
}

bool ClientHelloAssembler::add_fragment(std::span<const uint8_t> record) {
  const uint8_t* h = &record[kRecordHeader];
  const uint32_t length = be24(&h[1]);
  const uint16_t seq = be16(&h[4]);
  const uint32_t offset = be24(&h[6]);
  const uint32_t fragment = be24(&h[9]);
  if (length == 0 || length > kMaxClientHello || offset > length || fragment > length - offset) return false;
  if (!started_) {
    started_ = true;
    version_[0] = record[1];
    version_[1] = record[2];
    message_seq_ = seq;
    length_ = length;
    body_.assign(length, 0);
    have_.assign(length, false);
  } else if (seq != message_seq_ || length != length_) {
    return false;  // another message (or a different ClientHello): not ours to merge
  }
  ++fragments_;
  const uint8_t* data = h + kHandshakeHeader;
  for (uint32_t i = 0; i < fragment; ++i) {
    body_[offset + i] = data[i];  // a retransmitted fragment carries the same bytes
    if (!have_[offset + i]) {
      have_[offset + i] = true;
      ++have_count_;
    }
  }
  return true;
}

}  // namespace tandem::transport::detail
