// Decoding without Pillow: format sniffing, header probing, limits and damaged input. PNGs are
// built here byte by byte (stored deflate blocks), JPEGs come from the shared fixtures.
#include "imaging/decode.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "imaging/png_decode.h"
#include "imaging/window.h"
#include "pillow_oracle.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

using testing::read_bytes;

void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
}

uint32_t crc32(const uint8_t* p, size_t n) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int b = 0; b < 8; ++b) crc = (crc & 1) ? (crc >> 1) ^ 0xedb88320u : crc >> 1;
  }
  return ~crc;
}

void put_chunk(std::vector<uint8_t>& out, const char* type, const std::vector<uint8_t>& data) {
  put_be32(out, uint32_t(data.size()));
  const size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put_be32(out, crc32(out.data() + start, out.size() - start));
}

// A zlib stream of stored (uncompressed) deflate blocks.
std::vector<uint8_t> zlib_stored(const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out = {0x78, 0x01};
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(65535, data.size() - pos);
    out.push_back(pos + n == data.size() ? 1 : 0);
    out.push_back(uint8_t(n));
    out.push_back(uint8_t(n >> 8));
    out.push_back(uint8_t(~n));
    out.push_back(uint8_t(~n >> 8));
    out.insert(out.end(), data.begin() + pos, data.begin() + pos + n);
    pos += n;
  } while (pos < data.size());
  uint32_t a = 1, b = 0;
  for (uint8_t c : data) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  put_be32(out, (b << 16) | a);
  return out;
}

std::vector<uint8_t> ihdr(uint32_t w, uint32_t h, int depth, int color_type, int interlace = 0) {
  std::vector<uint8_t> d;
  put_be32(d, w);
  put_be32(d, h);
  d.insert(d.end(), {uint8_t(depth), uint8_t(color_type), 0, 0, uint8_t(interlace)});
  return d;
}

// A non-interlaced PNG whose rows are `bytes_per_row` bytes of `pixel(x)` (filter type 0).
std::vector<uint8_t> make_png(uint32_t w, uint32_t h, int depth, int color_type,
                              size_t bytes_per_row, uint8_t (*pixel)(size_t i)) {
  std::vector<uint8_t> raw;
  for (uint32_t y = 0; y < h; ++y) {
    raw.push_back(0);
    for (size_t i = 0; i < bytes_per_row; ++i) raw.push_back(pixel(y * bytes_per_row + i));
  }
  std::vector<uint8_t> png(kPngSignature, kPngSignature + 8);
  put_chunk(png, "IHDR", ihdr(w, h, depth, color_type));
  put_chunk(png, "IDAT", zlib_stored(raw));
  put_chunk(png, "IEND", {});
  return png;
}

uint8_t ramp(size_t i) {
  return uint8_t(i * 7 + i / 13);
}

std::vector<uint8_t> header_only_png(uint32_t w, uint32_t h) {
  std::vector<uint8_t> png(kPngSignature, kPngSignature + 8);
  put_chunk(png, "IHDR", ihdr(w, h, 8, 0));
  return png;
}

std::span<const uint8_t> span_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(DecodeTest, SniffsByContent) {
  const std::vector<uint8_t> png = make_png(3, 2, 8, 0, 3, ramp);
  EXPECT_EQ(sniff_image_type(png), ImageFileType::kPng);
  const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0};
  EXPECT_EQ(sniff_image_type(jpeg), ImageFileType::kJpeg);
  std::vector<uint8_t> dicom(132, 0);
  std::memcpy(dicom.data() + 128, "DICM", 4);
  EXPECT_EQ(sniff_image_type(dicom), ImageFileType::kDicom);
  EXPECT_EQ(sniff_image_type(span_of("GIF89a....")), ImageFileType::kUnknown);
  EXPECT_EQ(sniff_image_type({}), ImageFileType::kUnknown);
  EXPECT_EQ(image_file_type_name(ImageFileType::kJpeg), "jpeg");
  EXPECT_EQ(image_file_type_name(ImageFileType::kUnknown), "unknown");
}

TEST(DecodeTest, DecodesHandMadePngs) {
  auto gray = decode_image(make_png(5, 4, 8, 0, 5, ramp));
  ASSERT_TRUE(gray.is_ok()) << gray.status().to_string();
  EXPECT_EQ(gray->format, PixelFormat::kL);
  EXPECT_EQ(gray->width, 5);
  EXPECT_EQ(gray->height, 4);
  for (size_t i = 0; i < 20; ++i) ASSERT_EQ(gray->pixels[i], ramp(i)) << i;

  auto rgba = decode_image(make_png(3, 2, 8, 6, 12, ramp));
  ASSERT_TRUE(rgba.is_ok()) << rgba.status().to_string();
  EXPECT_EQ(rgba->format, PixelFormat::kRGBA);
  for (size_t i = 0; i < 24; ++i) ASSERT_EQ(rgba->pixels[i], ramp(i)) << i;

  // 16-bit RGB keeps the high byte of each big-endian sample, as Pillow does.
  auto rgb16 = decode_image(make_png(2, 2, 16, 2, 12, ramp));
  ASSERT_TRUE(rgb16.is_ok()) << rgb16.status().to_string();
  EXPECT_EQ(rgb16->format, PixelFormat::kRGB);
  for (size_t i = 0; i < 12; ++i) {
    const size_t row = i / 6, col = i % 6;
    ASSERT_EQ(rgb16->pixels[i], ramp(row * 12 + 2 * col)) << i;
  }

  // 1-bit gray: 0 → 0, 1 → 255 (Pillow's "1" mode converted to L).
  auto bits = decode_image(make_png(8, 1, 1, 0, 1, [](size_t) { return uint8_t(0xA5); }));
  ASSERT_TRUE(bits.is_ok()) << bits.status().to_string();
  EXPECT_EQ(bits->pixels, (std::vector<uint8_t>{255, 0, 255, 0, 0, 255, 0, 255}));
}

TEST(DecodeTest, SixteenBitGrayIsWindowed) {
  auto pixel = [](size_t i) { return uint8_t(i % 2 ? i * 3 : i / 2); };
  const std::vector<uint8_t> png = make_png(16, 8, 16, 0, 32, pixel);
  auto raw = decode_png(png, {});
  ASSERT_TRUE(raw.is_ok()) << raw.status().to_string();
  const GrayImageF& gray = std::get<GrayImageF>(*raw);
  ASSERT_EQ(gray.pixels.size(), 128u);
  for (size_t i = 0; i < 128; ++i) {
    ASSERT_EQ(gray.pixels[i], float(pixel(2 * i) * 256 + pixel(2 * i + 1))) << i;
  }
  DecodeOptions options;
  options.window.mode = WindowMode::kMinMax;
  auto image = decode_image(png, options);
  ASSERT_TRUE(image.is_ok()) << image.status().to_string();
  EXPECT_EQ(image->format, PixelFormat::kL);
  auto window = choose_window(gray, options.window);
  ASSERT_TRUE(window.is_ok());
  EXPECT_EQ(image->pixels, apply_window(gray, *window).pixels);
  EXPECT_EQ(*std::min_element(image->pixels.begin(), image->pixels.end()), 0);
  EXPECT_EQ(*std::max_element(image->pixels.begin(), image->pixels.end()), 255);
}

TEST(DecodeTest, ProbeReadsOnlyTheHeader) {
  // Header only: no IDAT at all, yet the probe answers.
  auto info = probe_image(header_only_png(640, 480));
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info->type, ImageFileType::kPng);
  EXPECT_EQ(info->width, 640);
  EXPECT_EQ(info->height, 480);
  EXPECT_EQ(info->bits_per_sample, 8);
  EXPECT_EQ(info->channels, 1);
  // ... while decoding it reports the truncation.
  auto decoded = decode_image(header_only_png(640, 480));
  ASSERT_FALSE(decoded.is_ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
  EXPECT_NE(decoded.status().message().find("truncated PNG"), std::string::npos)
      << decoded.status().message();
}

TEST(DecodeTest, HugePngHeaderFailsFastWithoutAllocating) {
  for (auto [w, h] : {std::pair<uint32_t, uint32_t>{100000, 100000}, {20000, 20000}, {70000, 1}}) {
    std::vector<uint8_t> png = header_only_png(w, h);
    // Add an IDAT so that only the size can be the reason.
    put_chunk(png, "IDAT", zlib_stored(std::vector<uint8_t>(64, 0)));
    put_chunk(png, "IEND", {});
    for (bool probe : {true, false}) {
      const Status status = probe ? probe_image(png).status() : decode_image(png).status();
      EXPECT_EQ(status.code(), StatusCode::kResourceExhausted) << status.to_string();
      EXPECT_NE(status.message().find(std::to_string(w) + "x" + std::to_string(h)),
                std::string::npos)
          << status.message();
    }
  }
  DecodeOptions small;
  small.limits.max_pixels = 99;
  EXPECT_EQ(decode_image(make_png(10, 10, 8, 0, 10, ramp), small).status().code(),
            StatusCode::kResourceExhausted);
  small.limits.max_pixels = 100;
  EXPECT_TRUE(decode_image(make_png(10, 10, 8, 0, 10, ramp), small).is_ok());
}

TEST(DecodeTest, AbsurdJpegDimensionsFailFast) {
  // SOI, SOF0 65500 x 65500 with 3 components, then nothing: the size is rejected first.
  const std::vector<uint8_t> jpeg = {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0xFF,
                                     0xDC, 0xFF, 0xDC, 0x03, 0x01, 0x22, 0x00, 0x02,
                                     0x11, 0x01, 0x03, 0x11, 0x01, 0xFF, 0xDA};
  for (bool probe : {true, false}) {
    const Status status = probe ? probe_image(jpeg).status() : decode_image(jpeg).status();
    EXPECT_EQ(status.code(), StatusCode::kResourceExhausted) << status.to_string();
    EXPECT_NE(status.message().find("65500x65500"), std::string::npos) << status.message();
  }
  std::vector<uint8_t> twelve_bit = jpeg;
  twelve_bit[6] = 12;
  twelve_bit[7] = 0x00;  // height 220
  EXPECT_EQ(probe_image(twelve_bit).status().code(), StatusCode::kUnsupported);
  std::vector<uint8_t> lossless = jpeg;
  lossless[3] = 0xC3;
  EXPECT_EQ(probe_image(lossless).status().code(), StatusCode::kUnsupported);
}

TEST(DecodeTest, RejectsWhatIsNotAnImage) {
  struct Case {
    std::string bytes;
    StatusCode code;
    const char* phrase;
  };
  const std::vector<Case> cases = {
      {"", StatusCode::kInvalidArgument, "empty"},
      {"hello, world\n", StatusCode::kInvalidArgument, "starts with 'hello, w'"},
      {"GIF89a\x01\x00\x01\x00", StatusCode::kUnsupported, "GIF"},
      {"BM\x3a\x00\x00\x00", StatusCode::kUnsupported, "BMP"},
      {std::string("II*\0\x08\0\0\0", 8), StatusCode::kUnsupported, "TIFF"},
      {std::string("RIFF\x10\0\0\0WEBPVP8 ", 16), StatusCode::kUnsupported, "WebP"},
      {std::string("\x89PNG\r\n\x1a\n", 8), StatusCode::kCorruption, "PNG"},
      {std::string("\xff\xd8\xff", 3), StatusCode::kCorruption, "JPEG"},
      {std::string("\xff\xd8\xff\xd9", 4), StatusCode::kCorruption, "JPEG"},
  };
  for (const Case& c : cases) {
    for (bool probe : {true, false}) {
      const Status s =
          probe ? probe_image(span_of(c.bytes)).status() : decode_image(span_of(c.bytes)).status();
      EXPECT_EQ(s.code(), c.code) << c.bytes << ": " << s.to_string();
      EXPECT_NE(s.message().find(c.phrase), std::string::npos) << s.message();
    }
  }
}

TEST(DecodeTest, CorruptPngHeadersAreNamed) {
  std::vector<uint8_t> png = make_png(4, 4, 8, 0, 4, ramp);
  std::vector<uint8_t> bad_crc = png;
  bad_crc[29] ^= 1;
  EXPECT_NE(decode_image(bad_crc).status().message().find("IHDR CRC"), std::string::npos);
  std::vector<uint8_t> bad_depth(kPngSignature, kPngSignature + 8);
  put_chunk(bad_depth, "IHDR", ihdr(4, 4, 3, 2));
  EXPECT_NE(probe_image(bad_depth).status().message().find("bit depth 3"), std::string::npos);
  std::vector<uint8_t> zero(kPngSignature, kPngSignature + 8);
  put_chunk(zero, "IHDR", ihdr(0, 4, 8, 0));
  EXPECT_EQ(probe_image(zero).status().code(), StatusCode::kCorruption);
  // Damaged IDAT data (a CRC error in a critical chunk) is an error, not a crash.
  std::vector<uint8_t> bad_idat = png;
  bad_idat[45] ^= 0x40;
  EXPECT_EQ(decode_image(bad_idat).status().code(), StatusCode::kCorruption);
}

TEST(DecodeTest, TruncatedPngAtEveryCutPoint) {
  const std::vector<uint8_t> png = make_png(23, 17, 8, 2, 69, ramp);
  ASSERT_TRUE(decode_image(png).is_ok());
  for (size_t cut = 0; cut < png.size(); ++cut) {
    const std::span<const uint8_t> part(png.data(), cut);
    auto image = decode_image(part);
    // Once every row is decompressed, the rest (zlib checksum 4 bytes, IDAT CRC 4, IEND 12) is
    // not needed, by Pillow either.
    if (cut < png.size() - 20) {
      ASSERT_FALSE(image.is_ok()) << "cut at " << cut;
      EXPECT_FALSE(image.status().message().empty());
    } else {
      EXPECT_TRUE(image.is_ok()) << "cut at " << cut << ": " << image.status().to_string();
    }
  }
}

// The fixture JPEGs (baseline, progressive, a dental X-ray) where ../shared has them, else the
// first three JPEG X-rays of the committed demo set.
TEST(DecodeTest, TruncatedFixtureJpegsAtManyCutPoints) {
  std::vector<std::string> files;
  if (testing::have_fixtures()) {
    for (const char* name :
         {"rgb_768x512.jpg", "rgb_progressive_333x501.jpg", "dent-ufba-0020.jpg"}) {
      files.push_back(testing::fixtures_dir() + "/images/" + name);
    }
  } else {
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(testing::committed_dataset_dir() + "/raw")) {
      if (entry.path().extension() == ".jpg") files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    if (files.size() > 3) files.resize(3);
  }
  ASSERT_EQ(files.size(), 3u);
  for (const std::string& name : files) {
    const std::vector<uint8_t> jpeg = read_bytes(name);
    ASSERT_TRUE(decode_image(jpeg).is_ok()) << name;
    std::mt19937 rng(7);
    std::vector<size_t> cuts = {0, 1, 2, 3, 4, 20, jpeg.size() - 2, jpeg.size() - 1};
    for (int i = 0; i < 60; ++i) cuts.push_back(rng() % jpeg.size());
    for (size_t cut : cuts) {
      auto image = decode_image(std::span<const uint8_t>(jpeg.data(), cut));
      ASSERT_FALSE(image.is_ok()) << name << " cut at " << cut;
      EXPECT_TRUE(image.status().code() == StatusCode::kCorruption ||
                  image.status().code() == StatusCode::kInvalidArgument)
          << image.status().to_string();
    }
  }
}

TEST(DecodeTest, RandomGarbageNeverCrashes) {
  std::mt19937 rng(11);
  const std::vector<uint8_t> png = make_png(31, 9, 8, 4, 62, ramp);
  std::vector<std::vector<uint8_t>> seeds = {png};
  if (std::filesystem::exists(testing::fixtures_dir() + "/images/rgb_768x512.jpg")) {
    seeds.push_back(read_bytes(testing::fixtures_dir() + "/images/rgb_progressive_333x501.jpg"));
  }
  int failures = 0;
  for (int i = 0; i < 300; ++i) {
    std::vector<uint8_t> bytes = seeds[i % seeds.size()];
    if (i % 3 == 0) {
      for (auto& b : bytes) b = uint8_t(rng());  // pure noise after a real signature
      std::copy_n(seeds[i % seeds.size()].begin(), 8, bytes.begin());
    } else {
      for (int k = 0; k < 1 + int(rng() % 20); ++k) bytes[rng() % bytes.size()] = uint8_t(rng());
    }
    auto image = decode_image(bytes);
    if (!image.is_ok()) {
      ++failures;
      EXPECT_FALSE(image.status().message().empty());
    } else {
      EXPECT_EQ(image->pixels.size(), size_t(image->width) * image->height * image->channels());
    }
  }
  EXPECT_GT(failures, 100);  // noise must mostly be refused, not decoded
}

TEST(DecodeTest, FileErrorsStartWithThePath) {
  const std::string dir = testing::scratch_dir("imaging_decode_file");
  const std::string text = dir + "/notes.png";
  testing::write_bytes(text, {'h', 'i', '\n'});
  auto image = decode_image_file(text);
  ASSERT_FALSE(image.is_ok());
  EXPECT_EQ(image.status().message().rfind(text, 0), 0u) << image.status().message();
  EXPECT_EQ(decode_image_file(dir + "/missing.png").status().code(), StatusCode::kNotFound);
  const std::string empty = dir + "/empty.jpg";
  testing::write_bytes(empty, {});
  EXPECT_EQ(decode_image_file(empty).status().code(), StatusCode::kInvalidArgument);
  const std::string good = dir + "/good.png";
  testing::write_bytes(good, make_png(6, 5, 8, 0, 6, ramp));
  auto ok = decode_image_file(good);
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(ok->width, 6);
}

TEST(DecodeTest, LimitsBoundaries) {
  DecodeLimits limits;
  limits.max_pixels = 1000;
  limits.max_side = 100;
  EXPECT_TRUE(check_decode_limits(100, 10, limits).is_ok());
  EXPECT_EQ(check_decode_limits(101, 1, limits).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(check_decode_limits(1, 101, limits).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(check_decode_limits(100, 11, limits).code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(check_decode_limits(65535, 2730, DecodeLimits{}).is_ok());
}

}  // namespace
}  // namespace xrs
