#include "imaging/decode.h"

#include <cstring>
#include <utility>
#include <variant>

#include "core/file_util.h"
#include "imaging/decoder_pool.h"
#include "imaging/dicom.h"
#include "imaging/jpeg_decode.h"
#include "imaging/png_decode.h"

namespace xrs {
namespace {

bool starts_with(std::span<const uint8_t> bytes, std::string_view magic, size_t offset = 0) {
  return bytes.size() >= offset + magic.size() &&
         std::memcmp(bytes.data() + offset, magic.data(), magic.size()) == 0;
}

// Formats people commonly hand to an image tool that we do not read, by their magic bytes.
std::string_view known_unsupported_format(std::span<const uint8_t> b) {
  using namespace std::string_view_literals;
  if (starts_with(b, "GIF87a") || starts_with(b, "GIF89a")) return "GIF";
  if (starts_with(b, "BM")) return "BMP";
  if (starts_with(b, "II*\0"sv) || starts_with(b, "MM\0*"sv)) return "TIFF";
  if (starts_with(b, "RIFF") && starts_with(b, "WEBP", 8)) return "WebP";
  if (starts_with(b, "\0\0\0\x0cjP  "sv) || starts_with(b, "\xff\x4f\xff\x51"sv)) {
    return "JPEG 2000";
  }
  return {};
}

// The first bytes, printable ASCII as is and the rest as \xNN, for error messages.
std::string describe_head(std::span<const uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
    const uint8_t c = bytes[i];
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      out += char(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Status unrecognised(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return Status::invalid_argument("empty input (0 bytes), not an image");
  const std::string_view format = known_unsupported_format(bytes);
  if (!format.empty()) {
    return Status::unsupported(std::string(format) +
                               " images are not supported (PNG, JPEG and DICOM are)");
  }
  return Status::invalid_argument("not an image (starts with '" + describe_head(bytes) +
                                  "'; PNG, JPEG and DICOM are supported)");
}

}  // namespace

std::string_view image_file_type_name(ImageFileType type) {
  switch (type) {
    case ImageFileType::kPng:
      return "png";
    case ImageFileType::kJpeg:
      return "jpeg";
    case ImageFileType::kDicom:
      return "dicom";
    case ImageFileType::kUnknown:
      break;
  }
  return "unknown";
}

ImageFileType sniff_image_type(std::span<const uint8_t> head) {
  if (head.size() >= sizeof kPngSignature &&
      std::memcmp(head.data(), kPngSignature, sizeof kPngSignature) == 0) {
    return ImageFileType::kPng;
  }
  if (starts_with(head, "\xff\xd8\xff")) return ImageFileType::kJpeg;
  if (starts_with(head, "DICM", 128)) return ImageFileType::kDicom;
  return ImageFileType::kUnknown;
}

Status check_decode_limits(uint64_t width, uint64_t height, const DecodeLimits& limits) {
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  if (width > uint64_t(limits.max_side) || height > uint64_t(limits.max_side)) {
    return Status::resource_exhausted("image size " + size + " has a side above the limit of " +
                                      std::to_string(limits.max_side) + " pixels");
  }
  // Both sides are below 2^31 here, so the product cannot overflow.
  if (width * height > limits.max_pixels) {
    return Status::resource_exhausted(
        "image size " + size + " = " + std::to_string(width * height) +
        " pixels is above the limit of " + std::to_string(limits.max_pixels) +
        " (decompression bomb guard)");
  }
  return Status::ok();
}

StatusOr<ImageInfo> probe_image(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  switch (sniff_image_type(bytes)) {
    case ImageFileType::kPng:
      return probe_png(bytes, limits);
    case ImageFileType::kJpeg:
      return probe_jpeg(bytes, limits);
    case ImageFileType::kDicom:
      return probe_dicom(bytes, limits);
    case ImageFileType::kUnknown:
      break;
  }
  return unrecognised(bytes);
}

StatusOr<Image> decode_image_in_process(std::span<const uint8_t> bytes,
                                        const DecodeOptions& options) {
  switch (sniff_image_type(bytes)) {
    case ImageFileType::kPng: {
      XRS_ASSIGN_OR_RETURN(auto decoded, decode_png(bytes, options.limits));
      if (auto* image = std::get_if<Image>(&decoded)) return std::move(*image);
      const GrayImageF& gray = std::get<GrayImageF>(decoded);
      StatusOr<Window> window = choose_window(gray, options.window);
      if (!window.is_ok()) return window.status().with_context("16-bit PNG window");
      return apply_window(gray, *window);
    }
    case ImageFileType::kJpeg:
      return decode_jpeg(bytes, options.limits);
    case ImageFileType::kDicom:
      return decode_dicom(bytes, options);
    case ImageFileType::kUnknown:
      break;
  }
  return unrecognised(bytes);
}

bool is_decoder_failure(const Status& status) {
  return !status.is_ok() && status.message().find(kDecoderFailureMarker) != std::string::npos;
}

StatusOr<Image> decode_image(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  if (sniff_image_type(bytes) == ImageFileType::kUnknown) return unrecognised(bytes);
  return default_decoder_pool().decode(bytes, options);
}

StatusOr<Image> decode_image_file(const std::string& path, const DecodeOptions& options) {
  XRS_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(file.data()), file.size());
  StatusOr<Image> image = decode_image(bytes, options);
  if (!image.is_ok()) return image.status().with_context(path);
  return image;
}

}  // namespace xrs
