// CLIP image preprocessing, exactly as OpenAI's `clip.load(...)[1]` transform does it with
// Pillow 9.4 and torchvision 0.14:
//
//   Resize(S, bicubic)   shorter side → S, longer → int(S * long / short) (torchvision's
//                        arithmetic, in double); Pillow's separable bicubic (a = -0.5) with
//                        support scaled by the reduction factor, fixed-point coefficients
//                        (22 fraction bits), horizontal pass then vertical, each rounded and
//                        clamped to 8 bits, a pass skipped when its size is unchanged; LA/RGBA
//                        resized with premultiplied alpha (Pillow's RGBa/La round trip)
//   CenterCrop(S)        top = round((h - S) / 2), left = round((w - S) / 2), Python's round
//                        (half to even)
//   convert("RGB")       L replicated, alpha dropped
//   ToTensor+Normalize   (float(v) / 255 - mean[c]) / std[c] in float32, channel-first
//
// docs/IMAGING.md ("Decoding and CLIP preprocessing") has the details. Pillow resizes palette
// ("P") and "1" images with nearest-neighbour; decode_image never produces those (palettes are
// expanded to RGB/RGBA, 1-bit gray to L), so such files are resized bicubically here.
//
// Pure functions, safe from any thread; single-threaded (callers own parallelism).
#pragma once

#include <array>
#include <span>

#include "core/status.h"
#include "imaging/image.h"

namespace xrs {

struct ClipPreprocessConfig {
  int image_size = 224;
  std::array<float, 3> mean = {0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> std = {0.26862954f, 0.26130258f, 0.27577711f};
};

// Pillow's Image.resize((width, height), Image.BICUBIC) for any PixelFormat; same format out,
// bit-identical to Pillow. A size equal to the input's gives a copy (as Pillow).
// Precondition (asserted; an empty Image is returned in release builds): a non-empty image with
// pixels.size() == width * height * channels, and width, height >= 1.
Image resize_bicubic(const Image& image, int width, int height);

// A thumbnail: the image resized (bicubic) so that its longer side is `size` (>= 1), keeping the
// aspect ratio; an image that already fits is returned unchanged (never enlarged).
// Precondition as resize_bicubic.
Image shrink_to_fit(const Image& image, int size);

// The region [left, left + crop_width) x [top, top + crop_height) of resize_bicubic(image,
// width, height), computed without the rest: identical pixels, at the cost of the region only
// (a centre crop of a resize to 224 x 14,000,000 is cheap). Precondition as resize_bicubic, plus
// the region inside width x height.
Image resize_bicubic_crop(const Image& image, int width, int height, int left, int top,
                          int crop_width, int crop_height);

// Resize + CenterCrop + convert("RGB"): an S×S RGB image (what the fixtures' `pixels_u8` hold).
// Errors: kInvalidArgument for size < 1, an empty image or one whose pixels.size() does not
// match its size and format, or a resized long side above 2^31 - 1.
StatusOr<Image> clip_resize_crop(const Image& image, int size);

// ToTensor + Normalize of an RGB image into `out`: out[c * h * w + y * w + x] =
// (float(v) / 255 - mean[c]) / std[c] with v = rgb.row(y)[3 * x + c], all in float32 (the exact
// values torchvision computes). Precondition (asserted): rgb.format == kRGB and
// out.size() == 3 * rgb.width * rgb.height.
void clip_normalize(const Image& rgb, const ClipPreprocessConfig& config, std::span<float> out);

// All of the above: any decoded image → normalised CHW tensor (3 * S * S floats, S =
// config.image_size). Errors: those of clip_resize_crop; kInvalidArgument when out.size() is not
// 3 * S * S.
Status clip_preprocess(const Image& image, const ClipPreprocessConfig& config,
                       std::span<float> out);

}  // namespace xrs
