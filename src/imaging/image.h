// In-memory images: interleaved 8-bit pixels (and 16-bit gray for X-ray sources).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace xrs {

// Pixel layouts, named as Pillow names its modes.
enum class PixelFormat {
  kL,     // 8-bit gray, 1 channel
  kLA,    // 8-bit gray + alpha, 2 channels
  kRGB,   // 8-bit, 3 channels
  kRGBA,  // 8-bit, 4 channels
};

int channel_count(PixelFormat format);
std::string_view pixel_format_name(PixelFormat format);  // "L", "LA", "RGB", "RGBA"

// An 8-bit image, rows top to bottom, channels interleaved, no row padding:
// pixels.size() == width * height * channel_count(format).
struct Image {
  int width = 0;
  int height = 0;
  PixelFormat format = PixelFormat::kL;
  std::vector<uint8_t> pixels;

  int channels() const { return channel_count(format); }
  const uint8_t* row(int y) const { return pixels.data() + size_t(y) * width * channels(); }
  uint8_t* row(int y) { return pixels.data() + size_t(y) * width * channels(); }
};

// A single-channel image with more than 8 bits per sample (16-bit PNG, DICOM after the
// modality LUT), before an intensity window maps it to 8 bits. Values are stored as float so
// that rescale slope/intercept (which may be negative or fractional) survive.
struct GrayImageF {
  int width = 0;
  int height = 0;
  std::vector<float> pixels;  // width * height
};

}  // namespace xrs
