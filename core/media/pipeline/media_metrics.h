// The pipeline's instruments, registered once per core in its metrics registry and shared by every stream
// and session of that core. Names are stable (the demo overlay and the benchmarks read them); labels say the
// media kind ("audio" / "video") where a stage exists for both.
//
// Histograms are nanoseconds of work on the runtime (not queueing), except jitter_wait, which is how long media
// waited in the receive buffer: packet arrival to playout (audio) or first packet to frame release (video).
// Counters only ever grow; streams keep their own per-stream stats too.
#pragma once

#include "core/metrics/registry.h"

namespace tandem::media {

enum class MediaKind : uint8_t { audio, video };

struct KindHistograms {
  metrics::Histogram& encode;
  metrics::Histogram& decode;
  metrics::Histogram& packetize;
  metrics::Histogram& jitter_wait;
};

struct KindCounters {
  metrics::Counter& packets_sent;       // RTP packets handed to SRTP (retransmissions excluded)
  metrics::Counter& packets_received;   // RTP packets accepted by a stream (after SRTP and parsing)
  metrics::Counter& packets_lost;       // RFC 3550 loss as the receiving stream sees it (increments)
  metrics::Counter& nacks_sent;         // sequence numbers requested
  metrics::Counter& nacks_received;     // sequence numbers asked of us
  metrics::Counter& retransmissions;    // packets resent from the send history
  metrics::Counter& late_packets;       // arrived after their frame was played or released
  metrics::Counter& duplicate_packets;
  metrics::Counter& frames_sent;
  metrics::Counter& frames_received;    // frames handed to the application
  metrics::Counter& frames_dropped;     // video: incomplete or undecodable; audio: decode failures
};

struct MediaMetrics {
  // Whole-frame stages across the API (capture: the capture call's synchronous work; forward: decode and
  // delivery of one frame to the application).
  metrics::Histogram& capture_audio_frame;
  metrics::Histogram& forward_audio_frame;
  metrics::Histogram& capture_video_frame;
  metrics::Histogram& forward_video_frame;
  // Packet stages, both kinds.
  metrics::Histogram& rtp_parse;
  metrics::Histogram& srtp_protect;
  metrics::Histogram& srtp_unprotect;
  metrics::Histogram& e2ee_encrypt;  // submission to completion (includes the platform's async latency)
  metrics::Histogram& e2ee_decrypt;
  KindHistograms audio;
  KindHistograms video;
  KindCounters audio_counters;
  KindCounters video_counters;
  metrics::Counter& audio_concealed;      // frames synthesised by PLC
  metrics::Counter& audio_fec_recovered;  // frames recovered from the next packet's in-band FEC
  metrics::Counter& plis_sent;
  metrics::Counter& plis_received;
  metrics::Counter& keyframes_sent;
  metrics::Counter& rtcp_sent;
  metrics::Counter& rtcp_received;
  metrics::Counter& srtp_auth_failures;   // srtp_rejected{authentication_failed}
  metrics::Counter& srtp_replays;         // srtp_rejected{replayed}
  metrics::Counter& malformed_packets;    // datagrams that are neither valid RTP nor RTCP
  metrics::Counter& unknown_ssrc;         // valid RTP for no stream of the session
  metrics::Counter& e2ee_failures;        // frames dropped because decryption failed

  static MediaMetrics in(metrics::Registry& registry);

  KindHistograms& histograms(MediaKind kind) { return kind == MediaKind::audio ? audio : video; }
  KindCounters& counters(MediaKind kind) { return kind == MediaKind::audio ? audio_counters : video_counters; }
};

}  // namespace tandem::media
