#include "core/media/codecs/vp8_codec.h"

#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vpx_encoder.h>

#include <string>
#include <utility>

#include "core/media/codecs/vp8_payload.h"

namespace tandem::media {
namespace {

Error vpx_error(Errc code, const char* what, vpx_codec_ctx_t* ctx) {
  std::string message = std::string(what) + ": " + vpx_codec_error(ctx);
  if (const char* detail = vpx_codec_error_detail(ctx)) message += std::string(" (") + detail + ")";
  return Error{code, std::move(message)};
}

// Rate control the way real-time senders use it: constant bitrate, no look-ahead, a small buffer so a burst
// drains within about a second, and error-resilient entropy coding so one lost frame does not damage the
// probabilities every later frame decodes with.
void apply_rate_control(vpx_codec_enc_cfg_t& cfg, const Vp8EncoderConfig& config) {
  cfg.g_timebase = {1, 90000};  // timestamps on the RTP video clock
  cfg.g_threads = 1;
  cfg.g_lag_in_frames = 0;
  cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
  cfg.g_pass = VPX_RC_ONE_PASS;
  cfg.rc_end_usage = VPX_CBR;
  cfg.rc_target_bitrate = config.bitrate_kbps;
  cfg.rc_min_quantizer = 2;
  cfg.rc_max_quantizer = 56;
  cfg.rc_undershoot_pct = 100;
  cfg.rc_overshoot_pct = 15;
  cfg.rc_buf_initial_sz = 500;
  cfg.rc_buf_optimal_sz = 600;
  cfg.rc_buf_sz = 1000;
  cfg.rc_dropframe_thresh = config.allow_frame_drop ? 30 : 0;
  cfg.rc_resize_allowed = 0;  // libvpx's own downscaling would change the decoded size behind our back
  cfg.kf_mode = config.keyframe_interval > 0 ? VPX_KF_AUTO : VPX_KF_DISABLED;
  cfg.kf_min_dist = 0;
  cfg.kf_max_dist = config.keyframe_interval;
}

// Dimensions VP8 can code (14 bits each) within the configured maximum.
bool encodable_size(uint32_t width, uint32_t height, const Vp8EncoderConfig& config) {
  return width > 0 && height > 0 && width <= config.max_width && height <= config.max_height && width < 16384 &&
         height < 16384;
}

}  // namespace

// --- encoder ----------------------------------------------------------------------------------------------

Vp8Encoder::Vp8Encoder(const Vp8EncoderConfig& config) : config_(config), ctx_(new vpx_codec_ctx_t{}) {}
Vp8Encoder::Vp8Encoder(Vp8Encoder&&) noexcept = default;
Vp8Encoder& Vp8Encoder::operator=(Vp8Encoder&& other) noexcept {
  if (this != &other) {
    release();
    config_ = other.config_;
    ctx_ = std::move(other.ctx_);
    ctx_live_ = std::exchange(other.ctx_live_, false);
    keyframe_requested_ = other.keyframe_requested_;
    initializations_ = other.initializations_;
  }
  return *this;
}
Vp8Encoder::~Vp8Encoder() { release(); }

void Vp8Encoder::release() {
  if (ctx_ && ctx_live_) vpx_codec_destroy(ctx_.get());
  ctx_live_ = false;
}

Result<Vp8Encoder> Vp8Encoder::create(const Vp8EncoderConfig& config) {
  if (!encodable_size(config.width, config.height, config))
    return Error{Errc::invalid_argument, "VP8: size outside 1x1 .. max_width x max_height"};
  if (config.bitrate_kbps == 0 || config.framerate == 0 || config.framerate > 240)
    return Error{Errc::invalid_argument, "VP8: bitrate and framerate (1..240) must be set"};
  if (config.speed < 4 || config.speed > 16) return Error{Errc::invalid_argument, "VP8: speed must be 4..16"};
  Vp8Encoder encoder(config);
  if (auto ok = encoder.initialize(config.width, config.height); !ok) return ok.error();
  return encoder;
}

Result<void> Vp8Encoder::initialize(uint32_t width, uint32_t height) {
  release();
  vpx_codec_enc_cfg_t cfg;
  if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK)
    return Error{Errc::internal, "VP8: no default encoder config"};
  cfg.g_w = width;
  cfg.g_h = height;
  apply_rate_control(cfg, config_);
  if (vpx_codec_enc_init(ctx_.get(), vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK)
    return vpx_error(Errc::internal, "vpx_codec_enc_init", ctx_.get());
  ctx_live_ = true;
  // A keyframe may use up to this percentage of the per-frame budget: half the optimal buffer in frames
  // (WebRTC's rule), so a keyframe costs a bounded burst instead of starving the frames after it.
  const unsigned max_intra_pct = cfg.rc_buf_optimal_sz / 2 * config_.framerate / 10;
  vpx_codec_control(ctx_.get(), VP8E_SET_CPUUSED, -config_.speed);
  vpx_codec_control(ctx_.get(), VP8E_SET_NOISE_SENSITIVITY, 0u);
  vpx_codec_control(ctx_.get(), VP8E_SET_STATIC_THRESHOLD, 1u);
  vpx_codec_control(ctx_.get(), VP8E_SET_TOKEN_PARTITIONS, static_cast<int>(VP8_ONE_TOKENPARTITION));
  vpx_codec_control(ctx_.get(), VP8E_SET_MAX_INTRA_BITRATE_PCT, max_intra_pct);
  config_.width = width;
  config_.height = height;
  ++initializations_;
  return {};
}

Result<Vp8EncodedFrame> Vp8Encoder::encode(const I420View& picture, uint64_t timestamp_90khz) {
  if (!picture.valid()) return Error{Errc::invalid_argument, "VP8: invalid I420 picture"};
  if (picture.width != config_.width || picture.height != config_.height || !ctx_live_) {
    if (!encodable_size(picture.width, picture.height, config_))
      return Error{Errc::invalid_argument, "VP8: picture larger than max_width x max_height"};
    if (auto ok = initialize(picture.width, picture.height); !ok) return ok.error();
  }

  // Wrap the caller's planes without copying: vpx_img_wrap fills in the format fields, then the planes and
  // strides are pointed at the view (which need not be one contiguous block).
  vpx_image_t image;
  uint8_t* y = const_cast<uint8_t*>(picture.y);  // libvpx's API is not const-correct; it only reads input
  if (vpx_img_wrap(&image, VPX_IMG_FMT_I420, picture.width, picture.height, 1, y) == nullptr)
    return Error{Errc::invalid_argument, "VP8: cannot wrap the picture"};
  image.planes[VPX_PLANE_Y] = y;
  image.planes[VPX_PLANE_U] = const_cast<uint8_t*>(picture.u);
  image.planes[VPX_PLANE_V] = const_cast<uint8_t*>(picture.v);
  image.stride[VPX_PLANE_Y] = static_cast<int>(picture.stride_y);
  image.stride[VPX_PLANE_U] = static_cast<int>(picture.stride_u);
  image.stride[VPX_PLANE_V] = static_cast<int>(picture.stride_v);

  const vpx_enc_frame_flags_t flags = keyframe_requested_ ? VPX_EFLAG_FORCE_KF : 0;
  const unsigned long duration = 90000 / config_.framerate;
  if (vpx_codec_encode(ctx_.get(), &image, static_cast<vpx_codec_pts_t>(timestamp_90khz), duration, flags,
                       VPX_DL_REALTIME) != VPX_CODEC_OK)
    return vpx_error(Errc::internal, "vpx_codec_encode", ctx_.get());
  keyframe_requested_ = false;

  Vp8EncodedFrame frame;
  vpx_codec_iter_t iter = nullptr;
  while (const vpx_codec_cx_pkt_t* packet = vpx_codec_get_cx_data(ctx_.get(), &iter)) {
    if (packet->kind != VPX_CODEC_CX_FRAME_PKT || !frame.data.empty()) continue;
    frame.data = {static_cast<const uint8_t*>(packet->data.frame.buf), packet->data.frame.sz};
    frame.keyframe = (packet->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
  }
  return frame;
}

Result<void> Vp8Encoder::set_bitrate(uint32_t kbps) {
  if (kbps == 0) return Error{Errc::invalid_argument, "VP8: bitrate must be positive"};
  config_.bitrate_kbps = kbps;
  if (!ctx_live_) return {};
  vpx_codec_enc_cfg_t cfg = *ctx_->config.enc;
  cfg.rc_target_bitrate = kbps;
  if (vpx_codec_enc_config_set(ctx_.get(), &cfg) != VPX_CODEC_OK)
    return vpx_error(Errc::internal, "vpx_codec_enc_config_set", ctx_.get());
  return {};
}

// --- decoder ----------------------------------------------------------------------------------------------

Vp8Decoder::Vp8Decoder(const Vp8DecoderConfig& config) : config_(config), ctx_(new vpx_codec_ctx_t{}) {}
Vp8Decoder::Vp8Decoder(Vp8Decoder&&) noexcept = default;
Vp8Decoder& Vp8Decoder::operator=(Vp8Decoder&& other) noexcept {
  if (this != &other) {
    release();
    config_ = other.config_;
    ctx_ = std::move(other.ctx_);
    ctx_live_ = std::exchange(other.ctx_live_, false);
    have_keyframe_ = other.have_keyframe_;
    width_ = other.width_;
    height_ = other.height_;
    initializations_ = other.initializations_;
  }
  return *this;
}
Vp8Decoder::~Vp8Decoder() { release(); }

void Vp8Decoder::release() {
  if (ctx_ && ctx_live_) vpx_codec_destroy(ctx_.get());
  ctx_live_ = false;
}

Result<Vp8Decoder> Vp8Decoder::create(const Vp8DecoderConfig& config) {
  if (config.max_width == 0 || config.max_height == 0 || config.max_width >= 16384 || config.max_height >= 16384)
    return Error{Errc::invalid_argument, "VP8: decoder maximum size must be 1..16383"};
  Vp8Decoder decoder(config);
  if (auto ok = decoder.initialize(); !ok) return ok.error();
  return decoder;
}

Result<void> Vp8Decoder::initialize() {
  release();
  vpx_codec_dec_cfg_t cfg{};
  cfg.threads = 1;
  if (vpx_codec_dec_init(ctx_.get(), vpx_codec_vp8_dx(), &cfg, 0) != VPX_CODEC_OK)
    return vpx_error(Errc::internal, "vpx_codec_dec_init", ctx_.get());
  ctx_live_ = true;
  have_keyframe_ = false;
  ++initializations_;
  return {};
}

Result<Vp8DecodedFrame> Vp8Decoder::decode(std::span<const uint8_t> frame) {
  // Our own header check first: it is cheap, it bounds the size libvpx would allocate for, and it keeps
  // obviously broken input away from the decoder.
  auto header = parse_vp8_frame_header(frame);
  if (!header) return header.error();
  if (header->keyframe) {
    if (header->width > config_.max_width || header->height > config_.max_height)
      return Error{Errc::resource_exhausted, "VP8: keyframe larger than the decoder's maximum"};
    // A fresh decoder takes any size; one that has decoded another size starts over.
    const bool resized = width_ != 0 && (header->width != width_ || header->height != height_);
    if (resized || !ctx_live_) {
      if (auto ok = initialize(); !ok) return ok.error();
    }
    width_ = header->width;
    height_ = header->height;
  } else if (!have_keyframe_) {
    return Error{Errc::protocol_error, "VP8: delta frame before a keyframe"};
  }

  if (vpx_codec_decode(ctx_.get(), frame.data(), static_cast<unsigned int>(frame.size()), nullptr, 0) !=
      VPX_CODEC_OK) {
    have_keyframe_ = false;  // the reference frames may be half-updated: wait for the next keyframe
    return vpx_error(Errc::malformed_packet, "vpx_codec_decode", ctx_.get());
  }
  have_keyframe_ = true;

  Vp8DecodedFrame out;
  out.keyframe = header->keyframe;
  int corrupted = 0;
  if (vpx_codec_control(ctx_.get(), VP8D_GET_FRAME_CORRUPTED, &corrupted) == VPX_CODEC_OK)
    out.corrupted = corrupted != 0;
  vpx_codec_iter_t iter = nullptr;
  if (const vpx_image_t* image = vpx_codec_get_frame(ctx_.get(), &iter)) {
    out.picture = {image->d_w,
                   image->d_h,
                   image->planes[VPX_PLANE_Y],
                   image->planes[VPX_PLANE_U],
                   image->planes[VPX_PLANE_V],
                   static_cast<uint32_t>(image->stride[VPX_PLANE_Y]),
                   static_cast<uint32_t>(image->stride[VPX_PLANE_U]),
                   static_cast<uint32_t>(image->stride[VPX_PLANE_V])};
  }
  return out;
}

}  // namespace tandem::media
