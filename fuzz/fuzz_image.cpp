// Fuzz target: the image decoders (imaging/decode.h probe_image and decode_image_in_process): PNG,
// JPEG and DICOM, chosen by sniffing the content.
//
// Input: image file bytes. The window mode (4 choices) and whether multi-frame DICOM is accepted
// are taken from the input's length, so that every input is decoded one reproducible way.
// Limits are lowered to 4 Mpixels so that a legitimate large image is not mistaken for a memory
// bug. Checked:
//   - a decoded image is non-empty, within the limits, and has width * height * channels pixels;
//     its type was sniffed, and probe_image accepted it and agrees on type and size (so a header
//     that probe refuses, over the limits or not, never decodes);
//   - a probed header is within the limits and plausible (channels 1..4, frames >= 1);
//   - failures carry one of the codes decode.h documents.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "fuzz_support.h"
#include "imaging/decode.h"

namespace {

using xrs::StatusCode;

bool documented_code(StatusCode code) {
  return code == StatusCode::kInvalidArgument || code == StatusCode::kUnsupported ||
         code == StatusCode::kCorruption || code == StatusCode::kResourceExhausted;
}

std::string describe(const xrs::ImageInfo& info) {
  return std::string(xrs::image_file_type_name(info.type)) + " " + std::to_string(info.width) +
         "x" + std::to_string(info.height) + " bits " + std::to_string(info.bits_per_sample) +
         " channels " + std::to_string(info.channels) + " frames " + std::to_string(info.frames);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  xrs::DecodeOptions options;
  options.limits.max_pixels = uint64_t(1) << 22;
  options.limits.max_side = 1 << 14;
  switch (size % 4) {
    case 0:
      options.window.mode = xrs::WindowMode::kAuto;
      break;
    case 1:
      options.window.mode = xrs::WindowMode::kPercentile;
      break;
    case 2:
      options.window.mode = xrs::WindowMode::kMinMax;
      break;
    default:
      options.window.mode = xrs::WindowMode::kFixed;
      options.window.center = 2048;
      options.window.width = 4096;
  }
  options.dicom_first_frame = (size / 4) % 2 == 1;
  const xrs::DecodeLimits& limits = options.limits;

  const xrs::ImageFileType sniffed = xrs::sniff_image_type(bytes);
  const auto info = xrs::probe_image(bytes, limits);
  const auto image = xrs::decode_image_in_process(bytes, options);
  xrs::fuzz::note(
      "probe: " + (info.is_ok() ? describe(*info) : info.status().to_string()) + "; decode: " +
      (image.is_ok() ? std::to_string(image->width) + "x" + std::to_string(image->height) + " " +
                           std::string(xrs::pixel_format_name(image->format))
                     : image.status().to_string()));

  if (info.is_ok()) {
    XRS_FUZZ_CHECK(info->type == sniffed && sniffed != xrs::ImageFileType::kUnknown,
                   describe(*info));
    XRS_FUZZ_CHECK(info->width >= 1 && info->height >= 1 && info->width <= limits.max_side &&
                       info->height <= limits.max_side &&
                       uint64_t(info->width) * uint64_t(info->height) <= limits.max_pixels,
                   describe(*info));
    XRS_FUZZ_CHECK(info->channels >= 1 && info->channels <= 4 && info->frames >= 1,
                   describe(*info));
    XRS_FUZZ_CHECK(info->bits_per_sample >= 1 && info->bits_per_sample <= 16, describe(*info));
  } else {
    XRS_FUZZ_CHECK(documented_code(info.status().code()), info.status().to_string());
  }

  if (!image.is_ok()) {
    XRS_FUZZ_CHECK(documented_code(image.status().code()), image.status().to_string());
    return 0;
  }
  const xrs::Image& im = *image;
  XRS_FUZZ_CHECK(im.width >= 1 && im.height >= 1, "empty image decoded");
  XRS_FUZZ_CHECK(uint64_t(im.width) * uint64_t(im.height) <= limits.max_pixels &&
                     im.width <= limits.max_side && im.height <= limits.max_side,
                 "decoded image over the limits");
  XRS_FUZZ_CHECK(im.pixels.size() == size_t(im.width) * size_t(im.height) * size_t(im.channels()),
                 "pixel count");
  XRS_FUZZ_CHECK(sniffed != xrs::ImageFileType::kUnknown, "decoded an unrecognised format");
  XRS_FUZZ_CHECK(info.is_ok(), "decoded, but probe failed: " + info.status().to_string());
  XRS_FUZZ_CHECK(info->width == im.width && info->height == im.height,
                 "probe says " + describe(*info) + ", decode gives " + std::to_string(im.width) +
                     "x" + std::to_string(im.height));
  return 0;
}
