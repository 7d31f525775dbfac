// CLIP image preprocessing, exactly as OpenAI's `clip.load(...)[1]` transform does it with
// Pillow 9.4 and torchvision 0.14:
//
//   Resize(S, bicubic)   shorter side → S, longer → int(S * long / short); Pillow's separable
//                        bicubic (a = -0.5) with support scaled by the reduction factor,
//                        fixed-point coefficients (22 fraction bits), horizontal pass then
//                        vertical, each rounded and clamped to 8 bits; LA/RGBA resized with
//                        premultiplied alpha
//   CenterCrop(S)        top = round((h - S) / 2), left = round((w - S) / 2), Python's round
//   convert("RGB")       L replicated, alpha dropped
//   ToTensor+Normalize   (v / 255 - mean[c]) / std[c], channel-first
//
// Pure functions, safe from any thread.
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

// Pillow's Image.resize(size, Image.BICUBIC) for any PixelFormat; same format out.
Image resize_bicubic(const Image& image, int width, int height);

// Resize + CenterCrop + convert("RGB"): an S×S RGB image (what `pixels_u8` holds).
StatusOr<Image> clip_resize_crop(const Image& image, int size);

// ToTensor + Normalize of an S×S RGB image into `out` (3 * S * S floats, CHW).
void clip_normalize(const Image& rgb, const ClipPreprocessConfig& config, std::span<float> out);

// All of the above: any decoded image → normalised CHW tensor (3 * S * S floats).
Status clip_preprocess(const Image& image, const ClipPreprocessConfig& config,
                       std::span<float> out);

}  // namespace xrs
