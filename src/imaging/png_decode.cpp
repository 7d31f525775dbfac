#include "imaging/png_decode.h"

#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace xrs {
namespace {

uint32_t read_be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

// CRC-32 as PNG defines it (reflected polynomial 0xEDB88320); only the 17 bytes of IHDR go
// through it, so a bitwise loop is fast enough.
uint32_t png_crc(const uint8_t* data, size_t size) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xffffffffu;
}

bool legal_depth(int color_type, int depth) {
  switch (color_type) {
    case 0:  // gray
      return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
    case 3:  // palette
      return depth == 1 || depth == 2 || depth == 4 || depth == 8;
    case 2:  // RGB
    case 4:  // gray + alpha
    case 6:  // RGBA
      return depth == 8 || depth == 16;
    default:
      return false;
  }
}

int stored_channels(int color_type) {
  switch (color_type) {
    case 2:
      return 3;
    case 4:
      return 2;
    case 6:
      return 4;
    default:
      return 1;
  }
}

// Everything libpng's callbacks touch. libpng reports errors by longjmp, so the callbacks and
// the two functions that call setjmp below hold no objects with destructors.
struct PngSession {
  png_structp png = nullptr;
  png_infop info = nullptr;
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  bool truncated = false;
  bool rows_complete = false;  // every row has been stored
  size_t rows_end = 0;         // how many bytes were read when the rows were complete
  char message[200] = {};

  PngSession() = default;
  PngSession(const PngSession&) = delete;
  PngSession& operator=(const PngSession&) = delete;
  ~PngSession() { png_destroy_read_struct(&png, &info, nullptr); }
};

[[noreturn]] void on_png_error(png_structp png, png_const_charp message) {
  auto* session = static_cast<PngSession*>(png_get_error_ptr(png));
  std::snprintf(session->message, sizeof session->message, "%s", message);
  png_longjmp(png, 1);
}

// Warnings are benign by definition (e.g. a bad CRC in an ancillary chunk, which is then
// skipped); libraries never print, so they are dropped.
void on_png_warning(png_structp, png_const_charp) {}

// True once libpng has stored the last row: its row counter has moved past the last row, or
// to pass 7 when interlaced.
bool all_rows_read(png_structp png, png_infop info) {
  if (png_get_image_height(png, info) == 0) return false;  // IHDR not read yet
  if (png_get_interlace_type(png, info) == PNG_INTERLACE_NONE) {
    return png_get_current_row_number(png) >= png_get_image_height(png, info);
  }
  return png_get_current_pass_number(png) >= 7;
}

void on_png_read(png_structp png, png_bytep out, size_t length) {
  auto* session = static_cast<PngSession*>(png_get_io_ptr(png));
  // After the last row libpng reads on to the end of the zlib stream and the IDAT CRC, which
  // Pillow never reads: remember where the rows were complete.
  if (!session->rows_complete && all_rows_read(png, session->info)) {
    session->rows_complete = true;
    session->rows_end = session->pos;
  }
  if (length > session->size - session->pos) {
    session->truncated = true;
    png_error(png, "unexpected end of data");
  }
  std::memcpy(out, session->data + session->pos, length);
  session->pos += length;
}

// Reads the chunks before the first IDAT and sets up the transformations that give Pillow's
// pixels (see png_decode.h). Returns false after a libpng error.
bool read_info_and_set_transforms(PngSession* s) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  png_read_info(s->png, s->info);
  const int color_type = png_get_color_type(s->png, s->info);
  const int depth = png_get_bit_depth(s->png, s->info);
  // Also expands a tRNS chunk into an alpha channel.
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(s->png);
  if (color_type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(s->png);
  // Pillow keeps the high byte of 16-bit colour samples (no rounding); only 16-bit gray is
  // kept whole, for windowing.
  if (depth == 16 && color_type != PNG_COLOR_TYPE_GRAY) png_set_strip_16(s->png);
  if (color_type == PNG_COLOR_TYPE_GRAY_ALPHA && depth == 16) png_set_gray_to_rgb(s->png);
  png_set_interlace_handling(s->png);
  png_read_update_info(s->png, s->info);
  return true;
}

bool read_rows(PngSession* s, png_bytepp rows) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  png_read_image(s->png, rows);
  return true;
}

// Once the rows are decoded, Pillow reads the chunks that start after that point up to IEND and
// raises on one whose data is cut short (a cut inside a chunk header or CRC ends its reading
// quietly); what follows the last needed byte in the same chunk it never reads. This gives the
// same verdict from the chunk headers alone; `rows_end` is where the rows were complete.
Status check_chunk_tail(std::span<const uint8_t> bytes, size_t rows_end) {
  size_t pos = 8;
  while (pos + 8 <= bytes.size()) {
    const uint64_t length = read_be32(bytes.data() + pos);
    if (pos < rows_end) {
      pos += 12 + length;
      continue;
    }
    if (std::memcmp(bytes.data() + pos + 4, "IEND", 4) == 0) break;
    if (pos + 8 + length > bytes.size()) {
      return Status::corruption(
          "truncated PNG: data ends inside chunk '" +
          std::string(reinterpret_cast<const char*>(bytes.data() + pos + 4), 4) + "' at byte " +
          std::to_string(pos));
    }
    pos += 12 + length;
  }
  return Status::ok();
}

Status png_failure(const PngSession& s) {
  if (s.truncated)
    return Status::corruption("truncated PNG: data ends at byte " + std::to_string(s.size));
  return Status::corruption(std::string("corrupt PNG: ") + s.message);
}

}  // namespace

StatusOr<ImageInfo> probe_png(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kPngSignature, 8) != 0) {
    return Status::corruption("not a PNG file (bad signature)");
  }
  if (bytes.size() < 33) return Status::corruption("truncated PNG: the IHDR chunk is incomplete");
  const uint8_t* ihdr = bytes.data() + 8;
  if (read_be32(ihdr) != 13 || std::memcmp(ihdr + 4, "IHDR", 4) != 0) {
    return Status::corruption("corrupt PNG: the first chunk is not a 13-byte IHDR");
  }
  if (png_crc(ihdr + 4, 17) != read_be32(ihdr + 21)) {
    return Status::corruption("corrupt PNG: IHDR CRC mismatch");
  }
  const uint32_t width = read_be32(ihdr + 8);
  const uint32_t height = read_be32(ihdr + 12);
  const int depth = ihdr[16];
  const int color_type = ihdr[17];
  if (width == 0 || height == 0 || width > 0x7fffffffu || height > 0x7fffffffu) {
    return Status::corruption("corrupt PNG: IHDR size " + std::to_string(width) + "x" +
                              std::to_string(height) + " is outside 1..2^31-1");
  }
  if (!legal_depth(color_type, depth)) {
    return Status::corruption("corrupt PNG: IHDR colour type " + std::to_string(color_type) +
                              " with bit depth " + std::to_string(depth) + " is not allowed");
  }
  if (ihdr[18] != 0 || ihdr[19] != 0 || ihdr[20] > 1) {
    return Status::corruption("corrupt PNG: IHDR compression, filter or interlace method unknown");
  }
  XRS_RETURN_IF_ERROR(check_decode_limits(width, height, limits));
  ImageInfo info;
  info.type = ImageFileType::kPng;
  info.width = int(width);
  info.height = int(height);
  info.bits_per_sample = depth;
  info.channels = stored_channels(color_type);
  return info;
}

using PngResult = StatusOr<std::variant<Image, GrayImageF>>;

namespace {

// One decoding attempt. `byte_by_byte` makes libpng read IDAT data one byte at a time instead of
// in 8 KiB blocks, so that a cut file is read up to its very last byte. Sets *truncated when the
// data ran out before every row was decoded. Errors after the last row (zlib checksum, IDAT CRC)
// are ignored, as Pillow never looks at those bytes.
PngResult decode_attempt(std::span<const uint8_t> bytes, const ImageInfo& header, bool byte_by_byte,
                         bool* truncated) {
  PngSession s;
  s.data = bytes.data();
  s.size = bytes.size();
  s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, on_png_error, on_png_warning);
  if (s.png == nullptr) return Status::internal("libpng: png_create_read_struct failed");
  s.info = png_create_info_struct(s.png);
  if (s.info == nullptr) return Status::internal("libpng: png_create_info_struct failed");
  png_set_read_fn(s.png, &s, on_png_read);
  // Our DecodeLimits (checked by probe_png) are the only size limits, not libpng's 1e6.
  png_set_user_limits(s.png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
  if (byte_by_byte) png_set_compression_buffer_size(s.png, 1);
  const auto failed = [&] {
    *truncated = s.truncated && !s.rows_complete;
    return png_failure(s);
  };
  if (!read_info_and_set_transforms(&s)) return failed();

  const uint32_t width = png_get_image_width(s.png, s.info);
  const uint32_t height = png_get_image_height(s.png, s.info);
  const int channels = png_get_channels(s.png, s.info);
  const int depth = png_get_bit_depth(s.png, s.info);
  const size_t row_bytes = png_get_rowbytes(s.png, s.info);
  if (width != uint32_t(header.width) || height != uint32_t(header.height) ||
      (depth != 8 && !(depth == 16 && channels == 1)) || channels < 1 || channels > 4 ||
      row_bytes != size_t(width) * channels * (depth / 8)) {
    return Status::internal("libpng produced an unexpected row layout");
  }

  std::vector<png_bytep> rows(height);
  if (depth == 16) {
    std::vector<uint8_t> samples(row_bytes * height);
    for (uint32_t y = 0; y < height; ++y) rows[y] = samples.data() + y * row_bytes;
    if (!read_rows(&s, rows.data()) && !s.rows_complete) return failed();
    XRS_RETURN_IF_ERROR(check_chunk_tail(bytes, s.rows_end));
    GrayImageF gray;
    gray.width = int(width);
    gray.height = int(height);
    gray.pixels.resize(size_t(width) * height);
    for (size_t i = 0; i < gray.pixels.size(); ++i) {
      gray.pixels[i] = float((samples[2 * i] << 8) | samples[2 * i + 1]);  // big-endian
    }
    return std::variant<Image, GrayImageF>(std::move(gray));
  }

  constexpr PixelFormat kFormats[] = {PixelFormat::kL, PixelFormat::kLA, PixelFormat::kRGB,
                                      PixelFormat::kRGBA};
  Image image;
  image.width = int(width);
  image.height = int(height);
  image.format = kFormats[channels - 1];
  image.pixels.resize(row_bytes * height);
  for (uint32_t y = 0; y < height; ++y) rows[y] = image.row(int(y));
  if (!read_rows(&s, rows.data()) && !s.rows_complete) return failed();
  XRS_RETURN_IF_ERROR(check_chunk_tail(bytes, s.rows_end));
  return std::variant<Image, GrayImageF>(std::move(image));
}

}  // namespace

PngResult decode_png(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  XRS_ASSIGN_OR_RETURN(ImageInfo header, probe_png(bytes, limits));
  bool truncated = false;
  PngResult result = decode_attempt(bytes, header, false, &truncated);
  if (!result.is_ok() && truncated) {
    // libpng asked for a whole block past the end of the data, but the bytes that are there may
    // still hold every row (Pillow decodes such a file): only a byte-by-byte read can tell. This
    // slower read happens for truncated files only.
    result = decode_attempt(bytes, header, true, &truncated);
  }
  return result;
}

}  // namespace xrs
