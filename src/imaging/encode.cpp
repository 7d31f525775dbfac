#include "imaging/encode.h"

#include <png.h>
#include <turbojpeg.h>

#include <csetjmp>
#include <vector>

namespace xrs {

namespace {

void png_write_to_string(png_structp png, png_bytep data, png_size_t length) {
  auto* out = static_cast<std::string*>(png_get_io_ptr(png));
  out->append(reinterpret_cast<const char*>(data), length);
}

void png_flush_noop(png_structp) {}

int png_color_type(PixelFormat format) {
  switch (format) {
    case PixelFormat::kL:
      return PNG_COLOR_TYPE_GRAY;
    case PixelFormat::kLA:
      return PNG_COLOR_TYPE_GRAY_ALPHA;
    case PixelFormat::kRGB:
      return PNG_COLOR_TYPE_RGB;
    case PixelFormat::kRGBA:
      return PNG_COLOR_TYPE_RGB_ALPHA;
  }
  return PNG_COLOR_TYPE_GRAY;
}

Status check_image(const Image& image) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != size_t(image.width) * image.height * image.channels()) {
    return Status::invalid_argument("cannot encode an empty or inconsistent image");
  }
  return Status::ok();
}

}  // namespace

StatusOr<std::string> encode_png(const Image& image) {
  XRS_RETURN_IF_ERROR(check_image(image));
  std::string out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (png == nullptr) return Status::internal("png_create_write_struct failed");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    return Status::internal("png_create_info_struct failed");
  }
  std::vector<png_bytep> rows(image.height);
  for (int y = 0; y < image.height; ++y) rows[y] = const_cast<png_bytep>(image.row(y));
  // libpng reports errors by longjmp; nothing with a destructor is created after this point.
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return Status::internal("libpng failed to encode the image");
  }
  png_set_write_fn(png, &out, png_write_to_string, png_flush_noop);
  png_set_IHDR(png, info, image.width, image.height, 8, png_color_type(image.format),
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 6);
  png_write_info(png, info);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

StatusOr<std::string> encode_jpeg(const Image& image, int quality) {
  XRS_RETURN_IF_ERROR(check_image(image));
  if (quality < 1 || quality > 100) return Status::invalid_argument("JPEG quality must be 1-100");
  // Drop alpha first: JPEG has none.
  const Image* src = &image;
  Image flat;
  if (image.format == PixelFormat::kLA || image.format == PixelFormat::kRGBA) {
    const int in_c = image.channels(), out_c = in_c - 1;
    flat.width = image.width;
    flat.height = image.height;
    flat.format = image.format == PixelFormat::kLA ? PixelFormat::kL : PixelFormat::kRGB;
    flat.pixels.resize(size_t(image.width) * image.height * out_c);
    for (size_t i = 0, n = size_t(image.width) * image.height; i < n; ++i) {
      for (int c = 0; c < out_c; ++c) flat.pixels[i * out_c + c] = image.pixels[i * in_c + c];
    }
    src = &flat;
  }
  const bool gray = src->format == PixelFormat::kL;
  tjhandle handle = tjInitCompress();
  if (handle == nullptr) return Status::internal("tjInitCompress failed");
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  int rc = tjCompress2(handle, src->pixels.data(), src->width, 0, src->height,
                       gray ? TJPF_GRAY : TJPF_RGB, &buffer, &size, gray ? TJSAMP_GRAY : TJSAMP_420,
                       quality, 0);
  std::string out;
  Status status = Status::ok();
  if (rc != 0) {
    status = Status::internal(std::string("JPEG encoding failed: ") + tjGetErrorStr2(handle));
  } else {
    out.assign(reinterpret_cast<const char*>(buffer), size);
  }
  tjFree(buffer);
  tjDestroy(handle);
  if (!status.is_ok()) return status;
  return out;
}

}  // namespace xrs
