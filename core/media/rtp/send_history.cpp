#include "core/media/rtp/send_history.h"

#include <algorithm>
#include <cstring>

#include "core/media/rtp/rtp_packet.h"

namespace tandem::media::rtp {
namespace {

constexpr size_t kMaxCapacity = 32768;

size_t round_up_to_power_of_two(size_t n) {
  size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

SendHistory::SendHistory(const SendHistoryOptions& options)
    : slots_(round_up_to_power_of_two(std::clamp<size_t>(options.capacity, 1, kMaxCapacity))),
      bytes_(slots_.size() * std::max<size_t>(options.max_packet_size, kRtpFixedHeaderSize)),
      max_packet_size_(std::max<size_t>(options.max_packet_size, kRtpFixedHeaderSize)),
      mask_(slots_.size() - 1),
      max_age_ns_(options.max_age_ns) {}

Result<void> SendHistory::store(std::span<const uint8_t> packet, uint64_t now_ns) {
  if (packet.size() < kRtpFixedHeaderSize) return Error{Errc::invalid_argument, "send history: not an RTP packet"};
  if (packet.size() > max_packet_size_)
    return Error{Errc::invalid_argument, "send history: packet larger than max_packet_size"};
  const uint16_t seq = load_be16(packet.data() + 2);
  const size_t index = seq & mask_;
  std::memcpy(bytes_.data() + index * max_packet_size_, packet.data(), packet.size());
  slots_[index] = Slot{now_ns, static_cast<uint32_t>(packet.size()), seq};
  // "Newer" in sequence-number arithmetic: ahead by less than half the space.
  if (!any_stored_ || static_cast<uint16_t>(seq - newest_) < 0x8000) newest_ = seq;
  any_stored_ = true;
  ++stats_.stored;
  return {};
}

std::span<const uint8_t> SendHistory::find(uint16_t seq, uint64_t now_ns) const {
  if (!any_stored_) return {};
  // More than `capacity` behind the newest: its slot has been reused (or it is from a previous wrap).
  if (static_cast<uint16_t>(newest_ - seq) > mask_) return {};
  const size_t index = seq & mask_;
  const Slot& slot = slots_[index];
  if (slot.size == 0 || slot.sequence_number != seq) return {};
  if (max_age_ns_ != 0 && now_ns > slot.sent_ns && now_ns - slot.sent_ns > max_age_ns_) return {};
  return {bytes_.data() + index * max_packet_size_, slot.size};
}

std::span<const uint8_t> SendHistory::retransmit(uint16_t seq, uint64_t now_ns) {
  const std::span<const uint8_t> packet = find(seq, now_ns);
  if (packet.empty())
    ++stats_.missed;
  else
    ++stats_.retransmitted;
  return packet;
}

}  // namespace tandem::media::rtp
