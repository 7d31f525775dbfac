#include "imaging/jpeg_decode.h"

#include <turbojpeg.h>

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace xrs {
namespace {

struct JpegFrame {
  int marker = 0;  // the SOFn marker byte (0xC0..0xCF)
  int precision = 0;
  int height = 0;
  int width = 0;
  int components = 0;
};

// Finds the first frame header the way libjpeg's marker reader does: bytes between segments
// that are not 0xFF are skipped (libjpeg warns and continues), fill bytes 0xFF are skipped, and
// the first SOFn wins (libjpeg refuses a second one).
StatusOr<JpegFrame> find_frame(std::span<const uint8_t> b) {
  if (b.size() < 2 || b[0] != 0xFF || b[1] != 0xD8) {
    return Status::corruption("not a JPEG file (no SOI marker)");
  }
  size_t pos = 2;
  for (;;) {
    while (pos < b.size() && b[pos] != 0xFF) ++pos;
    while (pos < b.size() && b[pos] == 0xFF) ++pos;
    if (pos >= b.size()) return Status::corruption("truncated JPEG: no frame header (SOF)");
    const int marker = b[pos++];
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (marker == 0xD8) return Status::corruption("corrupt JPEG: second SOI marker");
    if (marker == 0xD9 || marker == 0xDA) {
      return Status::corruption("corrupt JPEG: image data before the frame header (SOF)");
    }
    if (pos + 2 > b.size()) return Status::corruption("truncated JPEG header");
    const size_t length = (size_t(b[pos]) << 8) | b[pos + 1];
    if (length < 2) return Status::corruption("corrupt JPEG: marker segment length < 2");
    if (pos + length > b.size()) return Status::corruption("truncated JPEG header");
    const bool is_sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
                        marker != 0xCC;  // DHT, JPG and DAC share the range
    if (!is_sof) {
      pos += length;
      continue;
    }
    const uint8_t* s = b.data() + pos + 2;
    if (length < 8 || length != 8 + 3 * size_t(s[5])) {
      return Status::corruption("corrupt JPEG: bad frame header (SOF) length");
    }
    JpegFrame frame;
    frame.marker = marker;
    frame.precision = s[0];
    frame.height = (s[1] << 8) | s[2];
    frame.width = (s[3] << 8) | s[4];
    frame.components = s[5];
    return frame;
  }
}

Status check_frame(const JpegFrame& f) {
  // libjpeg-turbo decodes baseline, extended sequential and progressive, Huffman or arithmetic.
  const bool decodable = f.marker == 0xC0 || f.marker == 0xC1 || f.marker == 0xC2 ||
                         f.marker == 0xC9 || f.marker == 0xCA;
  if (!decodable) {
    char marker[8];
    std::snprintf(marker, sizeof marker, "0x%02X", f.marker);
    return Status::unsupported(std::string("lossless or hierarchical JPEG (frame marker ") +
                               marker + ") is not supported");
  }
  if (f.precision != 8) {
    return Status::unsupported(std::to_string(f.precision) + "-bit JPEG is not supported");
  }
  if (f.components != 1 && f.components != 3 && f.components != 4) {
    return Status::unsupported(std::to_string(f.components) + "-component JPEG is not supported");
  }
  if (f.width == 0 || f.height == 0) {
    return Status::corruption("corrupt JPEG: frame size " + std::to_string(f.width) + "x" +
                              std::to_string(f.height));
  }
  return Status::ok();
}

// Warnings after which libjpeg's output is still the whole, intact image.
bool is_harmless_warning(std::string_view message) {
  for (std::string_view phrase :
       {"extraneous bytes before marker", "Unknown Adobe color transform code",
        "unknown JFIF revision number", "bad ICC marker", "Inconsistent progression sequence"}) {
    if (message.find(phrase) != std::string_view::npos) return true;
  }
  return false;
}

// Pillow's "CMYK;I" unpacking (inversion) followed by its cmyk2rgb with MULDIV255 rounding.
void cmyk_to_rgb(const uint8_t* cmyk, size_t pixels, uint8_t* rgb) {
  for (size_t i = 0; i < pixels; ++i, cmyk += 4, rgb += 3) {
    const int nk = cmyk[3];  // 255 - (255 - raw k)
    for (int c = 0; c < 3; ++c) {
      const int tmp = (255 - cmyk[c]) * nk + 128;
      const int v = nk - (((tmp >> 8) + tmp) >> 8);
      rgb[c] = uint8_t(v < 0 ? 0 : v);
    }
  }
}

struct TjDeleter {
  void operator()(void* handle) const { tjDestroy(handle); }
};

}  // namespace

StatusOr<ImageInfo> probe_jpeg(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  XRS_ASSIGN_OR_RETURN(JpegFrame frame, find_frame(bytes));
  XRS_RETURN_IF_ERROR(check_frame(frame));
  XRS_RETURN_IF_ERROR(check_decode_limits(uint64_t(frame.width), uint64_t(frame.height), limits));
  ImageInfo info;
  info.type = ImageFileType::kJpeg;
  info.width = frame.width;
  info.height = frame.height;
  info.bits_per_sample = frame.precision;
  info.channels = frame.components;
  return info;
}

StatusOr<Image> decode_jpeg(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  XRS_ASSIGN_OR_RETURN(ImageInfo info, probe_jpeg(bytes, limits));
  std::unique_ptr<void, TjDeleter> handle(tjInitDecompress());
  if (!handle) return Status::internal(std::string("tjInitDecompress: ") + tjGetErrorStr2(nullptr));

  const int pixel_format = info.channels == 1   ? TJPF_GRAY
                           : info.channels == 3 ? TJPF_RGB
                                                : TJPF_CMYK;
  const int pixel_size = tjPixelSize[pixel_format];
  std::vector<uint8_t> decoded(size_t(info.width) * info.height * pixel_size);
  // Passing the frame size we allocated for means libjpeg can never write past `decoded`: were
  // its idea of the size larger, TurboJPEG would scale down instead.
  const int rc = tjDecompress2(handle.get(), bytes.data(), bytes.size(), decoded.data(), info.width,
                               info.width * pixel_size, info.height, pixel_format,
                               TJFLAG_ACCURATEDCT | TJFLAG_LIMITSCANS);
  if (rc != 0) {
    // For a warning TurboJPEG reports the first one; a later fatal error replaces it.
    const std::string message = tjGetErrorStr2(handle.get());
    if (message.find("Premature end of JPEG file") != std::string::npos) {
      return Status::corruption("truncated JPEG: data ends before the end-of-image marker");
    }
    if (tjGetErrorCode(handle.get()) != TJERR_WARNING || !is_harmless_warning(message)) {
      return Status::corruption("corrupt JPEG: " + message);
    }
  }

  Image image;
  image.width = info.width;
  image.height = info.height;
  if (info.channels == 4) {
    image.format = PixelFormat::kRGB;
    image.pixels.resize(size_t(info.width) * info.height * 3);
    cmyk_to_rgb(decoded.data(), size_t(info.width) * info.height, image.pixels.data());
  } else {
    image.format = info.channels == 1 ? PixelFormat::kL : PixelFormat::kRGB;
    image.pixels = std::move(decoded);
  }
  return image;
}

}  // namespace xrs
