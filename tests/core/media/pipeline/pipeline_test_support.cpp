#include "pipeline_test_support.h"

#include <algorithm>

#include "core/media/rtp/rtcp.h"

namespace tandem::test {
namespace {

constexpr uint32_t kFeedbackSsrc = 0x0FEEDBAC;  // the receiving side's RTCP SSRC

sim::NetworkLink make_link(const sim::Impairments& impairments, uint64_t seed) {
  sim::LinkConfig config;
  config.seed = seed;
  config.impairments = impairments;
  return std::move(sim::NetworkLink::create(config)).value();
}

}  // namespace

LoopbackOutput::LoopbackOutput(const sim::Impairments& impairments, uint64_t seed)
    : link_(make_link(impairments, seed)) {}

Result<size_t> LoopbackOutput::send_rtp(std::span<uint8_t> buffer, size_t size, uint64_t now_ns) {
  const std::span<const uint8_t> packet = buffer.first(size);
  last_size_ = std::min(size, last_.size());
  std::copy_n(packet.begin(), last_size_, last_.begin());
  const uint64_t lost_before = link_.stats().dropped();
  if (Result<void> sent = link_.send(packet, now_ns); !sent.ok()) return sent.error();
  ++originals_;
  originals_lost_ += link_.stats().dropped() - lost_before;
  return size;
}

void LoopbackOutput::resend_rtp(std::span<const uint8_t> protected_packet, uint64_t now_ns) {
  ++resends_;
  (void)link_.send(protected_packet, now_ns);
}

size_t LoopbackOutput::deliver(uint64_t now_ns) {
  size_t delivered = 0;
  while (const std::optional<sim::Datagram> d = link_.poll_receive(now_ns)) {
    const Result<media::rtp::RtpPacketView> packet = media::rtp::parse_rtp(d->bytes);
    if (!packet.ok()) {
      ++malformed_;
      continue;
    }
    if (receiver_ != nullptr) receiver_->on_rtp(packet.value(), now_ns);
    ++delivered;
  }
  return delivered;
}

FeedbackLoop::FeedbackLoop(media::RtpReceiveStream& receiver, media::RtpSendStream& sender,
                           const sim::Impairments& impairments, uint64_t seed, uint64_t report_interval_ns)
    : receiver_(receiver),
      sender_(sender),
      link_(make_link(impairments, seed)),
      report_interval_ns_(report_interval_ns) {}

void FeedbackLoop::send(std::span<const uint8_t> rtcp, uint64_t now_ns) { (void)link_.send(rtcp, now_ns); }

void FeedbackLoop::pump(uint64_t now_ns) {
  namespace rtp = media::rtp;
  for (size_t n = nacks_.size(); n == nacks_.size();) {
    n = receiver_.take_nacks(now_ns, nacks_);
    if (n == 0) break;
    Result<size_t> size =
        rtp::write_nack(kFeedbackSsrc, sender_.ssrc(), std::span<const uint16_t>(nacks_).first(n), buffer_);
    if (size.ok()) {
      send(std::span<const uint8_t>(buffer_).first(*size), now_ns);
      ++nack_packets_;
    }
  }
  if (receiver_.take_keyframe_request()) {
    if (Result<size_t> size = rtp::write_pli(kFeedbackSsrc, sender_.ssrc(), buffer_); size.ok()) {
      send(std::span<const uint8_t>(buffer_).first(*size), now_ns);
      ++plis_;
    }
  }
  if (!next_report_ns_) next_report_ns_ = now_ns + report_interval_ns_;
  if (now_ns >= *next_report_ns_) {
    *next_report_ns_ += report_interval_ns_;
    if (const std::optional<rtp::ReportBlock> block = receiver_.report_block(now_ns)) {
      const rtp::ReceiverReport report{kFeedbackSsrc, std::span<const rtp::ReportBlock>(&*block, 1)};
      if (Result<size_t> size = rtp::write_receiver_report(report, buffer_); size.ok()) {
        send(std::span<const uint8_t>(buffer_).first(*size), now_ns);
        ++reports_;
      }
    }
  }

  while (const std::optional<sim::Datagram> d = link_.poll_receive(now_ns)) {
    const Result<rtp::RtcpCompoundView> compound = rtp::parse_rtcp(d->bytes);
    if (!compound.ok()) continue;
    for (const rtp::RtcpPacket& packet : compound.value()) {
      if (const auto nack = packet.nack()) {
        sender_.on_nack(*nack, now_ns);
      } else if (packet.pli()) {
        sender_.on_pli(now_ns);
      } else if (const auto rr = packet.receiver_report()) {
        for (size_t i = 0; i < rr->report_block_count(); ++i)
          if (rr->report_block(i).ssrc == sender_.ssrc()) sender_.on_report_block(rr->report_block(i), {}, now_ns);
      }
    }
  }
}

}  // namespace tandem::test
