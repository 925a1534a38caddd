#include "core/media/codecs/opus_codec.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <vector>

#include "support/alloc_counter.h"
#include "tests/core/media/codecs/codec_signals.h"

using namespace tandem;
using namespace tandem::media;

namespace {

constexpr size_t kFrame = 960;  // 20 ms at 48 kHz

OpusAudioEncoder make_encoder(OpusEncoderConfig config = {}) {
  auto e = OpusAudioEncoder::create(config);
  REQUIRE(e.ok());
  return std::move(e).value();
}
OpusAudioDecoder make_decoder(int channels = 1) {
  auto d = OpusAudioDecoder::create(channels);
  REQUIRE(d.ok());
  return std::move(d).value();
}

// Encodes `pcm` (mono) frame by frame into packets.
std::vector<std::vector<uint8_t>> encode_all(OpusAudioEncoder& encoder, const std::vector<int16_t>& pcm) {
  std::vector<std::vector<uint8_t>> packets;
  std::vector<uint8_t> out(4000);
  const size_t step = encoder.frame_samples() * encoder.config().channels;
  for (size_t at = 0; at + step <= pcm.size(); at += step) {
    auto n = encoder.encode(std::span(pcm).subspan(at, step), out);
    REQUIRE(n.ok());
    packets.emplace_back(out.begin(), out.begin() + static_cast<long>(*n));
  }
  return packets;
}

}  // namespace

// The codec's delay as measured on the melody: the look-ahead the encoder reports, give or take a few
// samples of SILK's internal resampling (306 vs 312 with libopus 1.3.1).
static size_t measured_delay(OpusAudioEncoder& encoder, const std::vector<int16_t>& input) {
  auto decoder = make_decoder();
  std::vector<int16_t> output, pcm(kFrame);
  for (const auto& p : encode_all(encoder, input)) {
    REQUIRE(decoder.decode(p, pcm).ok());
    output.insert(output.end(), pcm.begin(), pcm.end());
  }
  const size_t lag = test::best_lag(std::span(input).subspan(4800, 24000), std::span(output).subspan(4800), 0, 1000);
  INFO("look-ahead " << encoder.lookahead_samples() << ", best lag " << lag);
  CHECK(std::abs(static_cast<long>(lag) - static_cast<long>(encoder.lookahead_samples())) <= 10);
  return lag;
}

TEST_CASE("Opus keeps a tone through encode and decode", "[codec][opus]") {
  struct Case {
    int channels;
    uint32_t frame_ms;
    int bitrate_bps;
    double min_snr_db;  // stereo at these rates codes the two channels jointly and much less exactly
  };
  for (const Case c : {Case{1, 20, 32000, 25.0}, Case{1, 10, 32000, 20.0}, Case{2, 20, 64000, 12.0},
                       Case{2, 10, 64000, 10.0}}) {
    INFO("channels " << c.channels << ", frame " << c.frame_ms << " ms, " << c.bitrate_bps << " bps");
    auto encoder = make_encoder({.channels = c.channels, .frame_ms = c.frame_ms, .bitrate_bps = c.bitrate_bps});
    auto decoder = make_decoder(c.channels);
    const auto input = test::tone(48000, 440.0, 8000.0, c.channels);  // 1 s
    const auto packets = encode_all(encoder, input);
    REQUIRE(packets.size() == 1000 / c.frame_ms);

    std::vector<int16_t> output, pcm(kOpusMaxPacketSamples * 2);
    for (const auto& p : packets) {
      CHECK(opus_toc_frame_samples(p[0]) == c.frame_ms * 48);
      CHECK(opus_packet_samples(p).value() == c.frame_ms * 48);
      CHECK(opus_toc_stereo(p[0]) == (c.channels == 2));
      auto n = decoder.decode(p, pcm);
      REQUIRE(n.ok());
      REQUIRE(*n == c.frame_ms * 48);
      output.insert(output.end(), pcm.begin(), pcm.begin() + static_cast<long>(*n * c.channels));
    }
    for (int ch = 0; ch < c.channels; ++ch) {
      std::vector<int16_t> ref, dec;
      for (size_t i = 0; i < input.size() / c.channels; ++i) {
        ref.push_back(input[i * c.channels + ch]);
        dec.push_back(output[i * c.channels + ch]);
      }
      // Align within +-20 samples of the look-ahead (less than half the tone's period, so the match is
      // unambiguous), then compare after a 100 ms warm-up.
      const size_t around = encoder.lookahead_samples();
      const size_t lag = test::best_lag(std::span(ref).subspan(4800, 9600), std::span(dec).subspan(4800),
                                        around - 20, around + 20);
      const double snr = test::snr_db(std::span(ref).subspan(4800, 40000), std::span(dec).subspan(4800 + lag, 40000));
      INFO("channel " << ch << ": lag " << lag << ", SNR " << snr << " dB");
      CHECK(snr > c.min_snr_db);
    }
  }
}

TEST_CASE("Opus PLC fills a lost frame with bounded, non-silent audio", "[codec][opus]") {
  auto encoder = make_encoder();
  auto decoder = make_decoder();
  const auto input = test::tone(48000, 300.0, 8000.0);
  const auto packets = encode_all(encoder, input);
  std::vector<int16_t> pcm(kFrame);
  for (size_t i = 0; i < 25; ++i) REQUIRE(decoder.decode(packets[i], pcm).ok());
  CHECK(decoder.last_packet_samples() == kFrame);

  auto n = decoder.decode_lost(decoder.last_packet_samples(), pcm);
  REQUIRE(n.ok());
  CHECK(*n == kFrame);
  const double rms = std::sqrt(test::energy(pcm) / kFrame);
  int peak = 0;
  for (int16_t s : pcm) peak = std::max(peak, std::abs(int(s)));
  INFO("concealed RMS " << rms << ", peak " << peak);
  CHECK(rms > 0.3 * 8000 / std::sqrt(2.0));  // most of the tone's level carries on through the gap
  CHECK(peak <= 12000);                     // and nothing blows up

  CHECK(decoder.decode_lost(100, pcm).code() == Errc::invalid_argument);   // not a 2.5 ms multiple
  CHECK(decoder.decode_lost(960, std::span(pcm).first(500)).code() == Errc::invalid_argument);
}

TEST_CASE("Opus in-band FEC rebuilds a lost frame better than PLC", "[codec][opus]") {
  auto encoder = make_encoder({.bitrate_bps = 32000, .inband_fec = true, .packet_loss_percent = 20});
  const auto input = test::melody(48000 * 3);
  const auto packets = encode_all(encoder, input);
  auto reference_encoder = make_encoder({.bitrate_bps = 32000, .inband_fec = true, .packet_loss_percent = 20});
  const size_t delay = measured_delay(reference_encoder, input);

  size_t with_fec = 0;
  for (size_t i = 1; i < packets.size(); ++i) with_fec += opus_packet_has_fec(packets[i]).value() ? 1 : 0;
  INFO(with_fec << " of " << packets.size() - 1 << " packets carry FEC");
  CHECK(with_fec > (packets.size() - 1) / 2);  // SILK adds LBRR only after active (voiced) frames

  // Lose one frame at a time at several places; recover each with PLC on one decoder and with FEC on another
  // that has the same history, and compare both to what was sent.
  double plc_error = 0, fec_error = 0, signal = 0;
  size_t fec_wins = 0, losses = 0;
  std::vector<int16_t> pcm(kFrame), plc(kFrame), fec(kFrame);
  for (size_t lost = 17; lost + 1 < packets.size(); lost += 13, ++losses) {
    auto a = make_decoder(), b = make_decoder();
    for (size_t i = 0; i < lost; ++i) {
      REQUIRE(a.decode(packets[i], pcm).ok());
      REQUIRE(b.decode(packets[i], pcm).ok());
    }
    REQUIRE(a.decode_lost(kFrame, plc).ok());
    REQUIRE(b.decode_fec(packets[lost + 1], kFrame, fec).value() == kFrame);
    // Output frame `lost` holds the input from lost * 960 - delay on.
    const auto sent = std::span(input).subspan(lost * kFrame - delay, kFrame);
    const double plc_e = test::squared_error(sent, plc), fec_e = test::squared_error(sent, fec);
    plc_error += plc_e;
    fec_error += fec_e;
    fec_wins += fec_e < plc_e ? 1 : 0;
    signal += test::energy(sent);
    // And the stream goes on: the next packet decodes normally after either recovery.
    CHECK(a.decode(packets[lost + 1], pcm).ok());
    CHECK(b.decode(packets[lost + 1], pcm).ok());
  }
  const double plc_snr = 10 * std::log10(signal / plc_error), fec_snr = 10 * std::log10(signal / fec_error);
  INFO("PLC SNR " << plc_snr << " dB, FEC SNR " << fec_snr << " dB; FEC closer in " << fec_wins << " of " << losses);
  CHECK(fec_snr > plc_snr + 4.0);  // measured: ~9.7 vs ~2.8 dB
  CHECK(fec_snr > 6.0);
  CHECK(fec_wins * 10 >= losses * 7);
}

TEST_CASE("opus_packet_has_fec agrees with what the decoder does with the packet", "[codec][opus]") {
  // With FEC data, decode_fec() rebuilds the lost frame from it; without, it conceals exactly as
  // decode_lost() does. So the flag must predict whether the two outputs differ.
  auto encoder = make_encoder({.bitrate_bps = 32000, .inband_fec = true, .packet_loss_percent = 20});
  const auto packets = encode_all(encoder, test::melody(960 * 60));
  std::vector<int16_t> pcm(kFrame), plc(kFrame), fec(kFrame);
  size_t flagged = 0;
  for (size_t lost = 20; lost + 1 < packets.size(); ++lost) {
    auto a = make_decoder(), b = make_decoder();
    for (size_t i = 0; i < lost; ++i) {
      REQUIRE(a.decode(packets[i], pcm).ok());
      REQUIRE(b.decode(packets[i], pcm).ok());
    }
    REQUIRE(a.decode_lost(kFrame, plc).ok());
    REQUIRE(b.decode_fec(packets[lost + 1], kFrame, fec).ok());
    const bool has_fec = opus_packet_has_fec(packets[lost + 1]).value();
    INFO("packet " << lost + 1);
    CHECK(has_fec == (plc != fec));
    flagged += has_fec ? 1 : 0;
  }
  CHECK(flagged > 0);
  CHECK(flagged < packets.size() - 21);  // the melody has both kinds of packet
}

TEST_CASE("Opus DTX sends tiny packets during silence", "[codec][opus]") {
  auto encoder = make_encoder({.dtx = true});
  std::vector<int16_t> silence(kFrame, 0);
  std::vector<uint8_t> out(4000);
  size_t tiny = 0;
  for (int i = 0; i < 50; ++i) tiny += encoder.encode(silence, out).value() <= 2 ? 1 : 0;
  CHECK(tiny > 30);
  auto no_dtx = make_encoder({.dtx = false});
  size_t tiny_without = 0;
  for (int i = 0; i < 50; ++i) tiny_without += no_dtx.encode(silence, out).value() <= 2 ? 1 : 0;
  CHECK(tiny_without == 0);
}

TEST_CASE("Opus encode and decode do not allocate", "[codec][opus]") {
  auto encoder = make_encoder({.channels = 2});
  auto decoder = make_decoder(2);
  const auto input = test::tone(kFrame * 10, 500.0, 6000.0, 2);
  std::vector<uint8_t> packet(1500), next(1500);
  std::vector<int16_t> pcm(kFrame * 2);
  test::AllocationScope scope;
  for (size_t f = 0; f + 1 < 10; ++f) {
    const size_t n = encoder.encode(std::span(input).subspan(f * kFrame * 2, kFrame * 2), packet).value();
    const size_t m = encoder.encode(std::span(input).subspan((f + 1) * kFrame * 2, kFrame * 2), next).value();
    REQUIRE(decoder.decode(std::span(packet).first(n), pcm).ok());
    REQUIRE(decoder.decode_lost(kFrame, pcm).ok());
    REQUIRE(decoder.decode_fec(std::span(next).first(m), kFrame, pcm).ok());
    REQUIRE(encoder.set_packet_loss_percent(static_cast<int>(f)).ok());
  }
  CHECK(scope.count() == 0);
}

TEST_CASE("Opus rejects bad settings, bad buffers and broken packets", "[codec][opus]") {
  CHECK(OpusAudioEncoder::create({.channels = 3}).code() == Errc::invalid_argument);
  CHECK(OpusAudioEncoder::create({.frame_ms = 30}).code() == Errc::invalid_argument);
  CHECK(OpusAudioEncoder::create({.bitrate_bps = 100}).code() == Errc::invalid_argument);
  CHECK(OpusAudioEncoder::create({.complexity = 11}).code() == Errc::invalid_argument);
  CHECK(OpusAudioDecoder::create(0).code() == Errc::invalid_argument);

  auto encoder = make_encoder();
  std::vector<int16_t> pcm(kFrame);
  std::vector<uint8_t> out(4000);
  CHECK(encoder.encode(std::span(pcm).first(900), out).code() == Errc::invalid_argument);
  CHECK(encoder.encode(pcm, {}).code() == Errc::invalid_argument);
  CHECK(encoder.set_bitrate(1).code() == Errc::invalid_argument);

  auto decoder = make_decoder();
  CHECK(decoder.decode({}, pcm).code() == Errc::malformed_packet);
  const uint8_t zero_frames[] = {0x03, 0x00};  // code 3 with a frame count of zero
  CHECK(decoder.decode(zero_frames, pcm).code() == Errc::malformed_packet);
  const uint8_t too_long[] = {0xFB, 0x07, 0, 0, 0, 0, 0, 0, 0, 0};  // 7 x 20 ms: over 120 ms
  CHECK(decoder.decode(too_long, pcm).code() == Errc::malformed_packet);
  const uint8_t code2_overrun[] = {0x02, 200, 1, 2};  // first frame claims 200 bytes of 3
  CHECK(decoder.decode(code2_overrun, pcm).code() == Errc::malformed_packet);

  // Random bytes: Opus accepts many of them as valid packets; whatever happens, it is a value, not a crash.
  uint32_t seed = 12345;
  std::vector<uint8_t> junk(200);
  for (int round = 0; round < 2000; ++round) {
    for (auto& b : junk) b = static_cast<uint8_t>((seed = seed * 1664525u + 1013904223u) >> 24);
    const size_t len = 1 + (seed >> 8) % junk.size();
    std::vector<int16_t> big(kOpusMaxPacketSamples);
    auto r = decoder.decode(std::span(junk).first(len), big);
    if (!r.ok()) CHECK(r.code() == Errc::malformed_packet);
    auto f = opus_packet_has_fec(std::span(junk).first(len));
    if (!f.ok()) CHECK(f.code() == Errc::malformed_packet);
  }
}
