#include "core/media/pipeline/media_metrics.h"

namespace tandem::media {
namespace {

KindHistograms kind_histograms(metrics::Registry& r, std::string_view kind) {
  return {r.histogram("encode", kind), r.histogram("decode", kind), r.histogram("packetize", kind),
          r.histogram("jitter_wait", kind)};
}

KindCounters kind_counters(metrics::Registry& r, std::string_view kind) {
  return {r.counter("rtp_packets_sent", kind),   r.counter("rtp_packets_received", kind),
          r.counter("packets_lost", kind),       r.counter("nacks_sent", kind),
          r.counter("nacks_received", kind),     r.counter("retransmissions", kind),
          r.counter("late_packets", kind),       r.counter("duplicate_packets", kind),
          r.counter("frames_sent", kind),        r.counter("frames_received", kind),
          r.counter("frames_dropped", kind)};
}

}  // namespace

MediaMetrics MediaMetrics::in(metrics::Registry& r) {
  return {r.histogram("capture_audio_frame"),
          r.histogram("forward_audio_frame"),
          r.histogram("capture_video_frame"),
          r.histogram("forward_video_frame"),
          r.histogram("rtp_parse"),
          r.histogram("srtp_protect"),
          r.histogram("srtp_unprotect"),
          r.histogram("e2ee_encrypt"),
          r.histogram("e2ee_decrypt"),
          kind_histograms(r, "audio"),
          kind_histograms(r, "video"),
          kind_counters(r, "audio"),
          kind_counters(r, "video"),
          r.counter("audio_concealed"),
          r.counter("audio_fec_recovered"),
          r.counter("plis_sent"),
          r.counter("plis_received"),
          r.counter("keyframes_sent"),
          r.counter("rtcp_sent"),
          r.counter("rtcp_received"),
          r.counter("srtp_rejected", "authentication_failed"),
          r.counter("srtp_rejected", "replayed"),
          r.counter("malformed_packets"),
          r.counter("unknown_ssrc"),
          r.counter("e2ee_failures")};
}

}  // namespace tandem::media
