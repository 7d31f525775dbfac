#include "imaging/image.h"

namespace xrs {

int channel_count(PixelFormat format) {
  switch (format) {
    case PixelFormat::kL:
      return 1;
    case PixelFormat::kLA:
      return 2;
    case PixelFormat::kRGB:
      return 3;
    case PixelFormat::kRGBA:
      return 4;
  }
  return 1;
}

std::string_view pixel_format_name(PixelFormat format) {
  switch (format) {
    case PixelFormat::kL:
      return "L";
    case PixelFormat::kLA:
      return "LA";
    case PixelFormat::kRGB:
      return "RGB";
    case PixelFormat::kRGBA:
      return "RGBA";
  }
  return "?";
}

}  // namespace xrs
