// resize_bicubic against Pillow 9.4's Image.resize(BICUBIC) (tests/imaging/pillow_oracle.py):
// random sizes up and down, one pass skipped, all modes, LA/RGBA with alpha at 0, 255 and in
// between. Pillow's result must be reproduced bit for bit.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "imaging/clip_preprocess.h"
#include "pillow_oracle.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

Image random_image(std::mt19937& rng, PixelFormat format, int width, int height) {
  Image image;
  image.width = width;
  image.height = height;
  image.format = format;
  image.pixels.resize(size_t(width) * height * channel_count(format));
  for (auto& p : image.pixels) p = uint8_t(rng() % 4 == 0 ? (rng() % 2) * 255 : rng());
  return image;
}

TEST(ResampleTest, MatchesPillowBitForBit) {
  XRS_REQUIRE_PILLOW();
  const std::string dir = testing::scratch_dir("imaging_resize_pillow");
  ASSERT_TRUE(testing::run_oracle({"resize", dir, "5", "240"}));
  const nlohmann::json cases = testing::read_json(dir + "/resize.json");
  ASSERT_EQ(cases.size(), 240u);
  size_t mismatched_cases = 0;
  for (const nlohmann::json& c : cases) {
    Image in;
    ASSERT_TRUE(testing::parse_format(c["mode"], &in.format));
    in.width = c["width"];
    in.height = c["height"];
    in.pixels = testing::read_bytes(dir + "/" + c["in"].get<std::string>());
    const int ow = c["out_width"], oh = c["out_height"];
    const Image out = resize_bicubic(in, ow, oh);
    const std::vector<uint8_t> expected =
        testing::read_bytes(dir + "/" + c["out"].get<std::string>());
    EXPECT_EQ(out.format, in.format);
    ASSERT_EQ(out.width, ow);
    ASSERT_EQ(out.height, oh);
    const size_t differ = testing::count_differences(out.pixels, expected);
    mismatched_cases += differ != 0;
    EXPECT_EQ(differ, 0u) << c["mode"] << " " << in.width << "x" << in.height << " -> " << ow << "x"
                          << oh;
  }
  EXPECT_EQ(mismatched_cases, 0u);
}

TEST(ResampleTest, CropIsTheCropOfTheFullResize) {
  std::mt19937 rng(3);
  for (int i = 0; i < 60; ++i) {
    const PixelFormat format = PixelFormat(i % 4);
    const Image in = random_image(rng, format, 1 + int(rng() % 90), 1 + int(rng() % 90));
    const int w = 1 + int(rng() % 120), h = 1 + int(rng() % 120);
    const Image full = resize_bicubic(in, w, h);
    const int cw = 1 + int(rng() % w), ch = 1 + int(rng() % h);
    const int left = int(rng() % (w - cw + 1)), top = int(rng() % (h - ch + 1));
    const Image crop = resize_bicubic_crop(in, w, h, left, top, cw, ch);
    ASSERT_EQ(crop.width, cw);
    ASSERT_EQ(crop.height, ch);
    const int c = channel_count(format);
    for (int y = 0; y < ch; ++y) {
      const std::vector<uint8_t> expected(full.row(top + y) + left * c,
                                          full.row(top + y) + (left + cw) * c);
      const std::vector<uint8_t> got(crop.row(y), crop.row(y) + cw * c);
      ASSERT_EQ(got, expected) << "case " << i << " row " << y;
    }
  }
}

TEST(ResampleTest, SameSizeIsAnExactCopy) {
  // Pillow returns a copy (no premultiplied round trip, which would alter RGBA colours).
  std::mt19937 rng(5);
  for (PixelFormat f : {PixelFormat::kL, PixelFormat::kLA, PixelFormat::kRGB, PixelFormat::kRGBA}) {
    const Image in = random_image(rng, f, 37, 21);
    EXPECT_EQ(resize_bicubic(in, 37, 21).pixels, in.pixels);
  }
}

TEST(ResampleTest, ConstantImagesStayConstant) {
  // The normalised weights sum to 1 (within rounding), so a flat image stays flat at any scale.
  for (uint8_t v : {uint8_t(0), uint8_t(1), uint8_t(128), uint8_t(254), uint8_t(255)}) {
    Image in;
    in.width = 301;
    in.height = 7;
    in.format = PixelFormat::kRGB;
    in.pixels.assign(size_t(301) * 7 * 3, v);
    for (auto [w, h] : {std::pair{224, 224}, std::pair{3, 1}, std::pair{900, 20}}) {
      const Image out = resize_bicubic(in, w, h);
      for (uint8_t p : out.pixels) ASSERT_EQ(p, v) << int(v) << " -> " << w << "x" << h;
    }
  }
}

}  // namespace
}  // namespace xrs
