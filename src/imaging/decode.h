// Image decoding: bytes → 8-bit Image, for every format xray-search accepts.
//
//   PNG  8-bit (L, LA, RGB, RGBA; palette expanded)  → pixels exactly as Pillow decodes them
//   PNG  16-bit gray                                  → 8-bit L through an intensity window
//   JPEG baseline / progressive, gray or YCbCr        → pixels exactly as Pillow (libjpeg-turbo,
//                                                       accurate integer IDCT, fancy upsampling)
//   DICOM (via GDCM; JPEG 2000, JPEG-LS, JPEG lossless, RLE, uncompressed)
//                                                     → 8-bit L: modality LUT, VOI window or LUT,
//                                                       MONOCHROME1 inverted (see dicom.h)
//
// The format is taken from the content (magic bytes), never from the file name. Every failure
// is a Status naming what is wrong ("truncated PNG", "not an image (starts with 'GIF8')"), never a
// crash; the caller adds the file name. Pure functions: safe from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"
#include "imaging/image.h"
#include "imaging/window.h"

namespace xrs {

enum class ImageFileType { kUnknown, kPng, kJpeg, kDicom };

std::string_view image_file_type_name(ImageFileType type);  // "png", "jpeg", "dicom", "unknown"

// The type from the first bytes (PNG signature, JPEG SOI FF D8 FF, DICOM "DICM" at offset 128).
ImageFileType sniff_image_type(std::span<const uint8_t> head);

// Limits that protect against decompression bombs and absurd inputs.
struct DecodeLimits {
  // Width * height above this is rejected before any pixel is decoded (kResourceExhausted).
  // Pillow's own bomb guard errors at twice its MAX_IMAGE_PIXELS (2 * 89,478,485).
  uint64_t max_pixels = 178'956'970;
  // Width or height above this is rejected.
  int max_side = 65'535;
};

struct DecodeOptions {
  DecodeLimits limits;
  // For 16-bit PNG and DICOM: how stored values become 8-bit (see window.h).
  WindowOptions window;
  // DICOM multi-frame files are rejected unless this is true, in which case frame 0 is used.
  bool dicom_first_frame = false;
};

// What the header says, without decoding pixels (cheap: used by dataset validation).
struct ImageInfo {
  ImageFileType type = ImageFileType::kUnknown;
  int width = 0;
  int height = 0;
  int bits_per_sample = 8;  // 8 or 16 (PNG), BitsStored (DICOM)
  int channels = 1;
  int frames = 1;
};

StatusOr<ImageInfo> probe_image(std::span<const uint8_t> bytes, const DecodeLimits& limits = {});

StatusOr<Image> decode_image(std::span<const uint8_t> bytes, const DecodeOptions& options = {});

// Reads and decodes a file; error messages start with the path.
StatusOr<Image> decode_image_file(const std::string& path, const DecodeOptions& options = {});

}  // namespace xrs
