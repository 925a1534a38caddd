#include "core/ffi/media_objects.h"

#include <bit>
#include <cstring>

#include "core/ffi/core.h"
#include "core/ffi/media_hub.h"
#include "core/ffi/wire.h"
#include "proto/tandem.pb.h"

namespace tandem::ffi {
namespace {

// FfiEvent fields (proto/tandem.proto).
constexpr uint32_t kEventKey = 1;

void add(api::GetMediaStatsResponse& out, std::string_view name, double value) {
  auto* s = out.add_stats();
  s->set_name(std::string(name));
  s->set_value(value);
}

// The FfiEvent envelope around a payload of `payload_size` bytes that the caller appends next.
void begin_event(std::string& out, uint64_t key, uint32_t kind_field, size_t payload_size) {
  out.clear();
  out.reserve(wire::uint_field_size(kEventKey, key) + wire::tag_size(kind_field) + wire::varint_size(payload_size) +
              payload_size);
  wire::put_uint_field(out, kEventKey, key);
  wire::put_length_header(out, kind_field, payload_size);
}

}  // namespace

// ---- session ------------------------------------------------------------------------------------------------

void SessionObject::teardown() {
  if (torn_down) return;
  torn_down = true;
  if (timer != 0) hub.core().platform().runner.cancel(timer);
  timer = 0;
  session.reset();
  link.reset();
}

void SessionObject::send_datagram(std::span<const uint8_t> datagram) {
  if (route) {
    route->send_datagram(datagram);
    return;
  }
  auto& clock = hub.core().platform().clock;
  if (link) {
    // The simulated network holds it; the hub's timer moves it to the batch when it "arrives".
    (void)link->send(datagram, clock.now_ns());  // a refusal is the link's overflow loss, counted there
    hub.schedule(*this);
    return;
  }
  batch.insert(batch.end(), datagram.begin(), datagram.end());
  batch_sizes.push_back(static_cast<uint32_t>(datagram.size()));
  hub.request_flush(*this);
}

void SessionObject::drain_link(uint64_t now_ns) {
  if (!link) return;
  bool any = false;
  while (auto d = link->poll_receive(now_ns)) {
    batch.insert(batch.end(), d->bytes.begin(), d->bytes.end());
    batch_sizes.push_back(static_cast<uint32_t>(d->bytes.size()));
    any = true;
  }
  if (any) hub.request_flush(*this);
}

void SessionObject::wake() { hub.schedule(*this); }

void SessionObject::stats(api::GetMediaStatsResponse& out) const {
  if (!session) return;
  const auto& s = session->stats();
  add(out, "datagrams_sent", static_cast<double>(s.datagrams_sent));
  add(out, "datagrams_received", static_cast<double>(s.datagrams_received));
  add(out, "rtp_received", static_cast<double>(s.rtp_received));
  add(out, "rtcp_sent", static_cast<double>(s.rtcp_sent));
  add(out, "rtcp_received", static_cast<double>(s.rtcp_received));
  add(out, "srtp_auth_failures", static_cast<double>(s.srtp_auth_failures));
  add(out, "srtp_replays", static_cast<double>(s.srtp_replays));
  add(out, "malformed", static_cast<double>(s.malformed));
  add(out, "unknown_ssrc", static_cast<double>(s.unknown_ssrc));
  add(out, "nack_packets_sent", static_cast<double>(s.nack_packets_sent));
  add(out, "pli_sent", static_cast<double>(s.pli_sent));
  if (s.rtt_ns) add(out, "rtt_ms", static_cast<double>(*s.rtt_ns) / 1e6);
  if (link) {
    const auto& l = link->stats();
    add(out, "impairment_dropped", static_cast<double>(l.dropped()));
  }
}

// ---- sources and streams ------------------------------------------------------------------------------------

void AttachedObject::detach() {
  keys.reset();
  hub.detach_user(session);
}

void AudioSourceObject::stats(api::GetMediaStatsResponse& out) const {
  if (!sender) return;
  const auto s = sender->stats();
  add(out, "ssrc", sender->ssrc());
  add(out, "frames_captured", static_cast<double>(s.frames_captured));
  add(out, "frames_sent", static_cast<double>(s.frames_sent));
  add(out, "frames_dropped", static_cast<double>(s.frames_dropped));
  add(out, "packets_sent", static_cast<double>(s.packets_sent));
  add(out, "bytes_sent", static_cast<double>(s.bytes_sent));
  add(out, "retransmissions", static_cast<double>(s.retransmissions));
  add(out, "fraction_lost", s.last_fraction_lost / 256.0);
}

void VideoSourceObject::stats(api::GetMediaStatsResponse& out) const {
  if (!sender) return;
  const auto s = sender->stats();
  add(out, "ssrc", sender->ssrc());
  add(out, "frames_captured", static_cast<double>(s.frames_captured));
  add(out, "frames_sent", static_cast<double>(s.frames_sent));
  add(out, "frames_dropped", static_cast<double>(s.frames_dropped));
  add(out, "keyframes_sent", static_cast<double>(s.keyframes_sent));
  add(out, "plis_received", static_cast<double>(s.plis_received));
  add(out, "packets_sent", static_cast<double>(s.packets_sent));
  add(out, "bytes_sent", static_cast<double>(s.bytes_sent));
  add(out, "nacks_received", static_cast<double>(s.nacks_received));
  add(out, "retransmissions", static_cast<double>(s.retransmissions));
}

void AudioStreamObject::stats(api::GetMediaStatsResponse& out) const {
  if (!receiver) return;
  const auto s = receiver->stats();
  add(out, "packets_received", static_cast<double>(s.jitter.packets_received));
  add(out, "packets_lost", static_cast<double>(s.jitter.lost));
  add(out, "late", static_cast<double>(s.jitter.late));
  add(out, "duplicates", static_cast<double>(s.jitter.duplicates));
  add(out, "frames_decoded", static_cast<double>(s.frames_decoded));
  add(out, "frames_fec", static_cast<double>(s.frames_fec));
  add(out, "frames_concealed", static_cast<double>(s.frames_concealed));
  add(out, "decode_errors", static_cast<double>(s.decode_errors));
  add(out, "nacks_sent", static_cast<double>(s.nacks_sent));
  add(out, "e2ee_failures", static_cast<double>(s.e2ee_failures));
  add(out, "jitter_ms", static_cast<double>(s.jitter.jitter_ns) / 1e6);
  add(out, "playout_delay_ms", static_cast<double>(s.jitter.current_delay_ns) / 1e6);
  add(out, "target_delay_ms", static_cast<double>(s.jitter.target_delay_ns) / 1e6);
  add(out, "buffered", static_cast<double>(s.jitter.buffered));
}

void AudioStreamObject::on_audio_frame(const media::AudioFrame& frame) {
  // AudioFrameEvent fields (proto/tandem.proto).
  const size_t pcm_bytes = frame.pcm.size() * sizeof(int16_t);
  const size_t size = wire::uint_field_size(1, handle) + wire::bytes_field_size(2, pcm_bytes) +
                      wire::uint_field_size(3, frame.sample_rate) + wire::uint_field_size(4, frame.channels) +
                      wire::uint_field_size(5, frame.samples_per_channel) +
                      wire::uint_field_size(6, frame.rtp_timestamp) +
                      wire::uint_field_size(7, static_cast<uint64_t>(frame.origin)) +
                      wire::uint_field_size(8, frame.playout_ns);
  hub.core().bus().publish(events::EventKind::audio_frame, handle, [&](std::string& out) {
    begin_event(out, handle, static_cast<uint32_t>(events::EventKind::audio_frame), size);
    wire::put_uint_field(out, 1, handle);
    // s16 little-endian on the wire; both targets are little-endian, so the samples go as they are.
    static_assert(std::endian::native == std::endian::little);
    wire::put_bytes_field(out, 2, {reinterpret_cast<const uint8_t*>(frame.pcm.data()), pcm_bytes});
    wire::put_uint_field(out, 3, frame.sample_rate);
    wire::put_uint_field(out, 4, static_cast<uint64_t>(frame.channels));
    wire::put_uint_field(out, 5, frame.samples_per_channel);
    wire::put_uint_field(out, 6, frame.rtp_timestamp);
    wire::put_uint_field(out, 7, static_cast<uint64_t>(frame.origin));
    wire::put_uint_field(out, 8, frame.playout_ns);
  });
}

void VideoStreamObject::stats(api::GetMediaStatsResponse& out) const {
  if (!receiver) return;
  const auto s = receiver->stats();
  add(out, "packets_received", static_cast<double>(s.assembler.packets_received));
  add(out, "duplicates", static_cast<double>(s.assembler.duplicates));
  add(out, "late", static_cast<double>(s.assembler.late));
  add(out, "frames_complete", static_cast<double>(s.assembler.frames_complete));
  add(out, "frames_dropped", static_cast<double>(s.assembler.frames_dropped()));
  add(out, "frames_decoded", static_cast<double>(s.frames_decoded));
  add(out, "keyframes_decoded", static_cast<double>(s.keyframes_decoded));
  add(out, "decode_errors", static_cast<double>(s.decode_errors));
  add(out, "nacks_sent", static_cast<double>(s.nack.nacks_sent));
  add(out, "plis_requested", static_cast<double>(s.plis_requested));
  add(out, "e2ee_failures", static_cast<double>(s.e2ee_failures));
  add(out, "width", s.width);
  add(out, "height", s.height);
}

void VideoStreamObject::on_video_frame(const media::VideoFrame& frame) {
  const media::I420View& p = frame.picture;
  const size_t pixels = media::i420_size(p.width, p.height);
  // VideoFrameEvent fields (proto/tandem.proto).
  const size_t size = wire::uint_field_size(1, handle) + wire::uint_field_size(2, p.width) +
                      wire::uint_field_size(3, p.height) + wire::bytes_field_size(4, pixels) +
                      wire::uint_field_size(5, frame.rtp_timestamp) + wire::uint_field_size(6, frame.keyframe) +
                      wire::uint_field_size(7, frame.decoded_ns);
  hub.core().bus().publish(events::EventKind::video_frame, handle, [&](std::string& out) {
    begin_event(out, handle, static_cast<uint32_t>(events::EventKind::video_frame), size);
    wire::put_uint_field(out, 1, handle);
    wire::put_uint_field(out, 2, p.width);
    wire::put_uint_field(out, 3, p.height);
    // The decoder's planes have row padding; the event's are packed, so copy row by row (the one copy).
    wire::put_length_header(out, 4, pixels);
    auto plane = [&](const uint8_t* src, uint32_t stride, uint32_t w, uint32_t h) {
      for (uint32_t row = 0; row < h; ++row) out.append(reinterpret_cast<const char*>(src + size_t{row} * stride), w);
    };
    plane(p.y, p.stride_y, p.width, p.height);
    plane(p.u, p.stride_u, p.chroma_width(), p.chroma_height());
    plane(p.v, p.stride_v, p.chroma_width(), p.chroma_height());
    wire::put_uint_field(out, 5, frame.rtp_timestamp);
    wire::put_uint_field(out, 6, frame.keyframe);
    wire::put_uint_field(out, 7, frame.decoded_ns);
  });
}

}  // namespace tandem::ffi
