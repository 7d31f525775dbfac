// Image encoding: 8-bit Image → PNG bytes (lossless) or JPEG bytes (for thumbnails).
// Pure functions, safe from any thread.
#pragma once

#include <string>

#include "core/status.h"
#include "imaging/image.h"

namespace xrs {

// PNG of the image in its own format (L, LA, RGB, RGBA), 8 bits per sample, no interlace.
StatusOr<std::string> encode_png(const Image& image);

// Baseline JPEG (quality 1–100) of an L or RGB image (alpha is dropped).
StatusOr<std::string> encode_jpeg(const Image& image, int quality = 85);

}  // namespace xrs
