#include "core/media/pipeline/media_session.h"

#include <algorithm>

#include "core/media/rtp/receiver_stats.h"
#include "core/metrics/timer.h"

namespace tandem::media {
namespace {

// Streams per direction. A room in an SFU would need more; one peer sends a handful.
constexpr size_t kMaxStreams = 32;
// NACKed sequence numbers per receiver per compound packet (each NACK item covers 17).
constexpr size_t kMaxNacksPerPacket = 256;
// SRTCP adds the E flag + index (4 bytes) and the tag (up to 16).
constexpr size_t kSrtcpTrailerRoom = 20;

uint32_t random_u32(platform::Entropy& entropy) {
  uint8_t b[4] = {};
  entropy.fill(b);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

// RFC 3550 section 5.2 / RFC 7983: RTP and RTCP start with version 2 (first byte 128..191).
bool looks_like_rtp_or_rtcp(std::span<const uint8_t> d) { return d.size() >= 8 && (d[0] >> 6) == 2; }

}  // namespace

Result<std::unique_ptr<MediaSession>> MediaSession::create(const MediaSessionConfig& config,
                                                           platform::Platform& platform, MediaMetrics& metrics,
                                                           DatagramSink& out) {
  if (config.rtcp_interval_ns == 0) return Error{Errc::invalid_argument, "rtcp_interval_ns must be positive"};
  if (config.cname.empty() || config.cname.size() > 255)
    return Error{Errc::invalid_argument, "cname must be 1..255 bytes"};
  std::optional<SrtpSession> outbound, inbound;
  const bool unkeyed = config.local_key.empty() && config.local_salt.empty() && config.remote_key.empty() &&
                       config.remote_salt.empty();
  if (!unkeyed) {
    auto keys = make_srtp_pair(config.profile, config.local_key, config.local_salt, config.remote_key,
                               config.remote_salt, config.replay_window);
    if (!keys) return keys.error();
    outbound = std::move(keys.value().first);
    inbound = std::move(keys.value().second);
  }
  uint32_t ssrc = config.rtcp_ssrc;
  while (ssrc == 0) ssrc = random_u32(platform.entropy);
  return std::unique_ptr<MediaSession>(
      new MediaSession(config, platform, metrics, out, std::move(outbound), std::move(inbound), ssrc));
}

MediaSession::MediaSession(const MediaSessionConfig& config, platform::Platform& platform, MediaMetrics& metrics,
                           DatagramSink& out, std::optional<SrtpSession> outbound,
                           std::optional<SrtpSession> inbound, uint32_t rtcp_ssrc)
    : config_(config),
      platform_(platform),
      metrics_(metrics),
      out_(out),
      outbound_(std::move(outbound)),
      inbound_(std::move(inbound)),
      rtcp_ssrc_(rtcp_ssrc) {
  // The key spans were copied into libsrtp; do not keep pointers to the caller's bytes.
  config_.local_key = config_.local_salt = config_.remote_key = config_.remote_salt = {};
  senders_.reserve(kMaxStreams);
  receivers_.reserve(kMaxStreams);
  rtcp_buffer_.resize(kMaxDatagramSize + kSrtcpTrailerRoom);
  nack_scratch_.resize(kMaxNacksPerPacket);
  blocks_scratch_.resize(rtp::kMaxReportBlocks);
}

MediaSession::~MediaSession() = default;

Result<std::pair<SrtpSession, SrtpSession>> MediaSession::make_srtp_pair(
    SrtpProfile profile, std::span<const uint8_t> local_key, std::span<const uint8_t> local_salt,
    std::span<const uint8_t> remote_key, std::span<const uint8_t> remote_salt, uint32_t replay_window) {
  auto outbound = SrtpSession::create({profile, SrtpDirection::outbound, local_key, local_salt, 128});
  if (!outbound) return outbound.error();
  auto inbound = SrtpSession::create({profile, SrtpDirection::inbound, remote_key, remote_salt, replay_window});
  if (!inbound) return inbound.error();
  return std::pair{std::move(outbound.value()), std::move(inbound.value())};
}

Result<void> MediaSession::set_keys(SrtpProfile profile, std::span<const uint8_t> local_key,
                                    std::span<const uint8_t> local_salt, std::span<const uint8_t> remote_key,
                                    std::span<const uint8_t> remote_salt) {
  if (outbound_) return Error{Errc::invalid_argument, "the session is keyed already"};
  auto keys = make_srtp_pair(profile, local_key, local_salt, remote_key, remote_salt, config_.replay_window);
  if (!keys) return keys.error();
  config_.profile = profile;
  outbound_ = std::move(keys.value().first);
  inbound_ = std::move(keys.value().second);
  return {};
}

Result<void> MediaSession::add_sender(RtpSendStream& stream) {
  if (std::find(senders_.begin(), senders_.end(), &stream) != senders_.end())
    return Error{Errc::invalid_argument, "sender already added"};
  if (sender_for(stream.ssrc())) return Error{Errc::invalid_argument, "another sender uses this SSRC"};
  if (senders_.size() == kMaxStreams) return Error{Errc::resource_exhausted, "too many senders in one session"};
  senders_.push_back(&stream);
  return {};
}

Result<void> MediaSession::add_receiver(RtpReceiveStream& stream) {
  if (std::find(receivers_.begin(), receivers_.end(), &stream) != receivers_.end())
    return Error{Errc::invalid_argument, "receiver already added"};
  if (receiver_for(stream.remote_ssrc())) return Error{Errc::invalid_argument, "another receiver has this SSRC"};
  if (receivers_.size() == kMaxStreams) return Error{Errc::resource_exhausted, "too many receivers in one session"};
  receivers_.push_back(&stream);
  if (stats_.rtt_ns) stream.set_rtt(*stats_.rtt_ns);
  return {};
}

void MediaSession::remove_sender(RtpSendStream& stream) { std::erase(senders_, &stream); }
void MediaSession::remove_receiver(RtpReceiveStream& stream) { std::erase(receivers_, &stream); }

RtpSendStream* MediaSession::sender_for(uint32_t ssrc) const {
  for (RtpSendStream* s : senders_)
    if (s->ssrc() == ssrc) return s;
  return nullptr;
}

RtpReceiveStream* MediaSession::receiver_for(uint32_t ssrc) const {
  for (RtpReceiveStream* r : receivers_)
    if (r->remote_ssrc() == ssrc) return r;
  return nullptr;
}

uint32_t MediaSession::local_ssrc() const { return senders_.empty() ? rtcp_ssrc_ : senders_.front()->ssrc(); }

// ---- sending ------------------------------------------------------------------------------------------------

Result<size_t> MediaSession::send_rtp(std::span<uint8_t> buffer, size_t size, uint64_t /*now_ns*/) {
  if (!outbound_) {
    ++stats_.unkeyed_drops;
    return Error{Errc::invalid_argument, "media session not keyed yet (DTLS-SRTP has not finished)"};
  }
  Result<size_t> protected_size = [&] {
    metrics::ScopedTimer timer(platform_.clock, metrics_.srtp_protect);
    return outbound_->protect(buffer, size);
  }();
  if (!protected_size) return protected_size;
  out_.send_datagram(buffer.first(protected_size.value()));
  ++stats_.datagrams_sent;
  return protected_size;
}

void MediaSession::resend_rtp(std::span<const uint8_t> protected_packet, uint64_t /*now_ns*/) {
  out_.send_datagram(protected_packet);
  ++stats_.datagrams_sent;
}

// ---- receiving ----------------------------------------------------------------------------------------------

Errc MediaSession::receive(std::span<uint8_t> datagram, uint64_t now_ns) {
  ++stats_.datagrams_received;
  if (!looks_like_rtp_or_rtcp(datagram)) {
    ++stats_.malformed;
    metrics_.malformed_packets.add();
    return Errc::malformed_packet;
  }
  if (!inbound_) {
    ++stats_.unkeyed_drops;
    return Errc::invalid_argument;
  }
  return rtp::is_rtcp(datagram) ? handle_rtcp(datagram, now_ns) : handle_rtp(datagram, now_ns);
}

Errc MediaSession::count_srtp_error(Errc error) {
  switch (error) {
    case Errc::authentication_failed:
      ++stats_.srtp_auth_failures;
      metrics_.srtp_auth_failures.add();
      break;
    case Errc::replayed:
      ++stats_.srtp_replays;
      metrics_.srtp_replays.add();
      break;
    default:
      ++stats_.malformed;
      metrics_.malformed_packets.add();
      error = Errc::malformed_packet;
      break;
  }
  return error;
}

Errc MediaSession::handle_rtp(std::span<uint8_t> datagram, uint64_t now_ns) {
  Result<size_t> plain = [&] {
    metrics::ScopedTimer timer(platform_.clock, metrics_.srtp_unprotect);
    return inbound_->unprotect(datagram);
  }();
  if (!plain) return count_srtp_error(plain.error().code);
  Result<rtp::RtpPacketView> packet = [&] {
    metrics::ScopedTimer timer(platform_.clock, metrics_.rtp_parse);
    return rtp::parse_rtp(datagram.first(plain.value()));
  }();
  if (!packet) {
    // Authenticated but not parseable: the peer's bug, not an attack; counted the same way.
    ++stats_.malformed;
    metrics_.malformed_packets.add();
    return Errc::malformed_packet;
  }
  RtpReceiveStream* stream = receiver_for(packet.value().ssrc);
  if (!stream || stream->payload_type() != packet.value().payload_type) {
    ++stats_.unknown_ssrc;
    metrics_.unknown_ssrc.add();
    return Errc::invalid_argument;
  }
  ++stats_.rtp_received;
  stream->on_rtp(packet.value(), now_ns);
  return Errc::ok;
}

Errc MediaSession::handle_rtcp(std::span<uint8_t> datagram, uint64_t now_ns) {
  Result<size_t> plain = [&] {
    metrics::ScopedTimer timer(platform_.clock, metrics_.srtp_unprotect);
    return inbound_->unprotect_rtcp(datagram);
  }();
  if (!plain) return count_srtp_error(plain.error().code);
  auto compound = rtp::parse_rtcp(datagram.first(plain.value()));
  if (!compound) {
    ++stats_.malformed;
    metrics_.malformed_packets.add();
    return Errc::malformed_packet;
  }
  ++stats_.rtcp_received;
  metrics_.rtcp_received.add();
  for (const rtp::RtcpPacket& p : compound.value()) {
    switch (p.kind()) {
      case rtp::RtcpKind::sender_report: {
        const auto sr = *p.sender_report();
        if (RtpReceiveStream* r = receiver_for(sr.ssrc())) r->on_sender_report(sr.info(), now_ns);
        for (size_t i = 0; i < sr.report_block_count(); ++i) on_report_block(sr.report_block(i), now_ns);
        break;
      }
      case rtp::RtcpKind::receiver_report: {
        const auto rr = *p.receiver_report();
        for (size_t i = 0; i < rr.report_block_count(); ++i) on_report_block(rr.report_block(i), now_ns);
        break;
      }
      case rtp::RtcpKind::nack: {
        const auto nack = *p.nack();
        if (RtpSendStream* s = sender_for(nack.media_ssrc())) s->on_nack(nack, now_ns);
        break;
      }
      case rtp::RtcpKind::pli: {
        const auto pli = *p.pli();
        if (RtpSendStream* s = sender_for(pli.media_ssrc())) s->on_pli(now_ns);
        break;
      }
      case rtp::RtcpKind::sdes:
      case rtp::RtcpKind::bye:
        // CNAMEs matter for lip sync across streams, BYE for SSRC lifetimes: neither is needed with one
        // configured stream per SSRC yet.
        break;
    }
  }
  return Errc::ok;
}

void MediaSession::on_report_block(const rtp::ReportBlock& block, uint64_t now_ns) {
  RtpSendStream* sender = sender_for(block.ssrc);
  if (!sender) return;
  const std::optional<uint64_t> rtt = rtp::SenderStats::round_trip_ns(block, now_ns, config_.ntp_offset_ns);
  if (rtt) {
    stats_.rtt_ns = rtt;
    for (RtpReceiveStream* r : receivers_) r->set_rtt(*rtt);
  }
  sender->on_report_block(block, rtt, now_ns);
}

// ---- timers and RTCP ----------------------------------------------------------------------------------------

uint64_t MediaSession::next_report_delay() {
  // RFC 3550 section 6.3.1: randomise the interval over [0.5, 1.5] x so that peers do not synchronise.
  const uint32_t r = random_u32(platform_.entropy);
  return config_.rtcp_interval_ns / 2 + static_cast<uint64_t>(config_.rtcp_interval_ns * (r / 4294967296.0));
}

void MediaSession::poll(uint64_t now_ns) {
  if (!started_) {
    started_ = true;
    next_report_ns_ = now_ns + next_report_delay() / 2;  // the first report comes early (RFC 3550 6.2)
  }
  for (RtpReceiveStream* r : receivers_) r->poll(now_ns);
  const bool report_due = now_ns >= next_report_ns_;
  if (report_due) next_report_ns_ = now_ns + next_report_delay();
  run_rtcp(now_ns, report_due, false);
}

std::optional<uint64_t> MediaSession::next_timeout() const {
  if (!started_) return 0;
  uint64_t t = next_report_ns_;
  for (const RtpReceiveStream* r : receivers_)
    if (auto rt = r->next_timeout()) t = std::min(t, *rt);
  return t;
}

void MediaSession::send_bye(uint64_t now_ns) { run_rtcp(now_ns, true, true); }

Result<void> MediaSession::begin_compound(rtp::RtcpCompoundWriter& writer, uint64_t now_ns) {
  size_t blocks = 0;
  for (RtpReceiveStream* r : receivers_) {
    if (blocks == blocks_scratch_.size()) break;
    if (auto block = r->report_block(now_ns)) blocks_scratch_[blocks++] = *block;
  }
  const std::span<const rtp::ReportBlock> block_span(blocks_scratch_.data(), blocks);
  bool first = true;
  for (RtpSendStream* s : senders_) {
    if (!s->has_sent()) continue;
    rtp::SenderReport sr{s->ssrc(), s->sender_info(now_ns, config_.ntp_offset_ns),
                         first ? block_span : std::span<const rtp::ReportBlock>{}};
    if (auto r = writer.append(rtp::write_sender_report(sr, writer.free_space())); !r) return r;
    first = false;
  }
  if (first) {
    // Nothing sent yet: an RR (RFC 3550 6.4.2), from the SSRC we will send with, or our RTCP-only SSRC.
    rtp::ReceiverReport rr{local_ssrc(), block_span};
    if (auto r = writer.append(rtp::write_receiver_report(rr, writer.free_space())); !r) return r;
  }
  return writer.append(rtp::write_sdes_cname(local_ssrc(), config_.cname, writer.free_space()));
}

void MediaSession::run_rtcp(uint64_t now_ns, bool report_due, bool bye) {
  if (!outbound_) return;  // nothing can be protected yet; reports resume once keyed
  // Leave room for the SRTCP trailer after the compound packet.
  rtp::RtcpCompoundWriter writer(std::span<uint8_t>(rtcp_buffer_).first(kMaxDatagramSize));
  bool begun = false;
  auto begin = [&]() -> bool {
    if (!begun) begun = begin_compound(writer, now_ns).ok();
    return begun;
  };
  if (report_due && !begin()) return;
  for (RtpReceiveStream* r : receivers_) {
    const size_t n = r->take_nacks(now_ns, nack_scratch_);
    const bool pli = r->take_keyframe_request();
    if (n == 0 && !pli) continue;
    if (!begin()) return;
    // A full packet drops the rest of the feedback; the receivers ask again at their next retry.
    if (n > 0 && writer.append(rtp::write_nack(local_ssrc(), r->remote_ssrc(),
                                               std::span<const uint16_t>(nack_scratch_.data(), n),
                                               writer.free_space()))) {
      ++stats_.nack_packets_sent;
    }
    if (pli && writer.append(rtp::write_pli(local_ssrc(), r->remote_ssrc(), writer.free_space()))) ++stats_.pli_sent;
  }
  if (bye) {
    if (!begin()) return;
    uint32_t ssrcs[kMaxStreams + 1];
    size_t count = 0;
    for (RtpSendStream* s : senders_) ssrcs[count++] = s->ssrc();
    if (count == 0) ssrcs[count++] = rtcp_ssrc_;
    (void)writer.append(rtp::write_bye(std::span<const uint32_t>(ssrcs, std::min<size_t>(count, 31)), {},
                                       writer.free_space()));
  }
  if (!begun) return;
  Result<size_t> protected_size = [&] {
    metrics::ScopedTimer timer(platform_.clock, metrics_.srtp_protect);
    return outbound_->protect_rtcp(rtcp_buffer_, writer.size());
  }();
  if (!protected_size) return;  // only a bug gets here (sizes are bounded); nothing to send
  out_.send_datagram(std::span<const uint8_t>(rtcp_buffer_).first(protected_size.value()));
  ++stats_.datagrams_sent;
  ++stats_.rtcp_sent;
  metrics_.rtcp_sent.add();
}

}  // namespace tandem::media
