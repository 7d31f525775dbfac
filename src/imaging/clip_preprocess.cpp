#include "imaging/clip_preprocess.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <string>

namespace xrs {
namespace {

// Pillow's convert("RGB") from any of our formats: gray replicated, alpha dropped.
Image to_rgb(const Image& in) {
  if (in.format == PixelFormat::kRGB) return in;
  Image out;
  out.width = in.width;
  out.height = in.height;
  out.format = PixelFormat::kRGB;
  out.pixels.resize(size_t(in.width) * in.height * 3);
  const int c = in.channels();
  const bool gray = in.format == PixelFormat::kL || in.format == PixelFormat::kLA;
  const size_t n = size_t(in.width) * in.height;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* s = &in.pixels[i * c];
    uint8_t* d = &out.pixels[i * 3];
    d[0] = s[0];
    d[1] = gray ? s[0] : s[1];
    d[2] = gray ? s[0] : s[2];
  }
  return out;
}

}  // namespace

StatusOr<Image> clip_resize_crop(const Image& image, int size) {
  if (size < 1)
    return Status::invalid_argument("CLIP image size must be >= 1, got " + std::to_string(size));
  if (image.width < 1 || image.height < 1 ||
      image.pixels.size() != size_t(image.width) * image.height * image.channels()) {
    return Status::invalid_argument("empty or inconsistent image (" + std::to_string(image.width) +
                                    "x" + std::to_string(image.height) + ")");
  }
  // torchvision 0.14 _compute_resized_output_size: the long side is
  // int(size * long / short), a Python float division of exact integers.
  const int shorter = std::min(image.width, image.height);
  const int longer = std::max(image.width, image.height);
  const double resized_long = std::trunc(double(int64_t(size) * longer) / shorter);
  if (resized_long > 2147483647.0) {
    return Status::invalid_argument("image " + std::to_string(image.width) + "x" +
                                    std::to_string(image.height) + " is too elongated to resize");
  }
  const bool portrait = image.width <= image.height;
  const int width = portrait ? size : int(resized_long);
  const int height = portrait ? int(resized_long) : size;
  // CenterCrop: int(round((h - S) / 2.0)); nearbyint rounds half to even, as Python's round.
  const int top = int(std::nearbyint((height - size) / 2.0));
  const int left = int(std::nearbyint((width - size) / 2.0));
  return to_rgb(resize_bicubic_crop(image, width, height, left, top, size, size));
}

void clip_normalize(const Image& rgb, const ClipPreprocessConfig& config, std::span<float> out) {
  assert(rgb.format == PixelFormat::kRGB);
  const size_t plane = size_t(rgb.width) * rgb.height;
  assert(out.size() == 3 * plane);
  if (rgb.format != PixelFormat::kRGB || out.size() != 3 * plane) return;
  // Every value torchvision can produce, per channel: float32 v / 255, minus mean, divided by
  // std, each step rounded to float32 (no fused or reciprocal arithmetic).
  float table[3][256];
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      const float scaled = float(v) / 255.0f;
      const float centred = scaled - config.mean[c];
      table[c][v] = centred / config.std[c];
    }
  }
  const uint8_t* p = rgb.pixels.data();
  float* r = out.data();
  float* g = r + plane;
  float* b = g + plane;
  for (size_t i = 0; i < plane; ++i, p += 3) {
    r[i] = table[0][p[0]];
    g[i] = table[1][p[1]];
    b[i] = table[2][p[2]];
  }
}

Status clip_preprocess(const Image& image, const ClipPreprocessConfig& config,
                       std::span<float> out) {
  const size_t s = size_t(std::max(config.image_size, 0));
  if (out.size() != 3 * s * s) {
    return Status::invalid_argument("CLIP preprocess output holds " + std::to_string(out.size()) +
                                    " floats, expected 3 * " + std::to_string(s) + "^2");
  }
  XRS_ASSIGN_OR_RETURN(Image rgb, clip_resize_crop(image, config.image_size));
  clip_normalize(rgb, config, out);
  return Status::ok();
}

}  // namespace xrs
