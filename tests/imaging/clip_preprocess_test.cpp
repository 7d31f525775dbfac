// CLIP preprocessing against the shared fixtures (pixels_u8 computed by OpenAI's CLIP with
// Pillow 9.4 + torchvision) and ToTensor/Normalize against torch (tests/imaging/pillow_oracle.py).
#include "imaging/clip_preprocess.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "clip/checkpoint/tensor_archive.h"
#include "imaging/decode.h"
#include "pillow_oracle.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

TEST(ClipPreprocessTest, ResizeCropMatchesReferencePixels) {
  XRS_REQUIRE_FIXTURES();
  const nlohmann::json manifest = testing::read_json(testing::fixtures_dir() + "/manifest.json");
  size_t images = 0;
  for (const auto& [model, entry] : manifest["models"].items()) {
    const int size = entry["config"]["res"];
    auto archive =
        TensorArchive::open(testing::fixtures_dir() + "/" + model + "/reference.safetensors");
    ASSERT_TRUE(archive.is_ok()) << archive.status().to_string();
    for (const std::string name : entry["image_order"]) {
      SCOPED_TRACE(model + " " + name);
      const TensorView* ref = (*archive)->find("pixels_u8." + name);
      ASSERT_NE(ref, nullptr);
      ASSERT_EQ(ref->dtype, DType::kU8);
      ASSERT_EQ(ref->shape, (std::vector<int64_t>{size, size, 3}));
      auto decoded = decode_image_file(testing::fixtures_dir() + "/images/" + name);
      ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
      auto rgb = clip_resize_crop(*decoded, size);
      ASSERT_TRUE(rgb.is_ok()) << rgb.status().to_string();
      ASSERT_EQ(rgb->format, PixelFormat::kRGB);
      ASSERT_EQ(rgb->width, size);
      ASSERT_EQ(rgb->height, size);
      const auto* expected = reinterpret_cast<const uint8_t*>(ref->data.data());
      size_t differing = 0;
      int worst = 0;
      for (size_t i = 0; i < rgb->pixels.size(); ++i) {
        const int d = std::abs(int(rgb->pixels[i]) - int(expected[i]));
        differing += d != 0;
        worst = std::max(worst, d);
      }
      // The fixtures allow 1 level; a faithful port differs nowhere, which is what we demand.
      EXPECT_LE(worst, 1);
      EXPECT_EQ(differing, 0u) << "samples differing from the reference";
      ++images;
    }
  }
  EXPECT_EQ(images, 30u);
}

TEST(ClipPreprocessTest, NormalizeMatchesTorch) {
  XRS_REQUIRE_PILLOW();
  const ClipPreprocessConfig config;
  const std::string dir = testing::scratch_dir("imaging_normalize");
  // %.9g round-trips a float exactly, so torch sees the same float32 mean and std.
  std::vector<std::string> args = {"normalize", dir};
  for (const auto* values : {&config.mean, &config.std}) {
    for (float v : *values) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.9g", double(v));
      args.push_back(buf);
    }
  }
  ASSERT_TRUE(testing::run_oracle(args));
  const std::vector<uint8_t> raw = testing::read_bytes(dir + "/normalize.f32");
  ASSERT_EQ(raw.size(), 3u * 256 * 4);
  std::vector<float> expected(3 * 256);
  std::memcpy(expected.data(), raw.data(), raw.size());

  Image ramp;
  ramp.width = 256;
  ramp.height = 1;
  ramp.format = PixelFormat::kRGB;
  for (int v = 0; v < 256; ++v) ramp.pixels.insert(ramp.pixels.end(), 3, uint8_t(v));
  std::vector<float> out(3 * 256);
  clip_normalize(ramp, config, out);
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_EQ(out[i], expected[i]) << "channel " << i / 256 << " value " << i % 256;
  }
}

TEST(ClipPreprocessTest, PreprocessIsResizeCropThenNormalize) {
  Image gray;
  gray.width = 97;
  gray.height = 61;
  gray.pixels.resize(97 * 61);
  for (size_t i = 0; i < gray.pixels.size(); ++i) gray.pixels[i] = uint8_t(i * 31 % 251);
  ClipPreprocessConfig config;
  config.image_size = 32;
  std::vector<float> out(3 * 32 * 32);
  ASSERT_TRUE(clip_preprocess(gray, config, out).is_ok());
  auto rgb = clip_resize_crop(gray, 32);
  ASSERT_TRUE(rgb.is_ok());
  std::vector<float> expected(out.size());
  clip_normalize(*rgb, config, expected);
  EXPECT_EQ(out, expected);
  // Gray input: the three planes come from the same values.
  for (int i = 0; i < 32 * 32; ++i) {
    const float v = (out[i] * config.std[0] + config.mean[0]) * 255.0f;
    EXPECT_NEAR(v, (out[1024 + i] * config.std[1] + config.mean[1]) * 255.0f, 1e-3);
  }
}

TEST(ClipPreprocessTest, RejectsBadArguments) {
  Image image;
  EXPECT_EQ(clip_resize_crop(image, 224).status().code(), StatusCode::kInvalidArgument);
  image.width = 4;
  image.height = 4;
  image.pixels.resize(15);  // inconsistent
  EXPECT_EQ(clip_resize_crop(image, 224).status().code(), StatusCode::kInvalidArgument);
  image.pixels.resize(16);
  EXPECT_EQ(clip_resize_crop(image, 0).status().code(), StatusCode::kInvalidArgument);
  std::vector<float> small(10);
  EXPECT_EQ(clip_preprocess(image, {}, small).code(), StatusCode::kInvalidArgument);
  // An extreme aspect ratio costs only the crop: 1 x 60000 becomes 224 x 13,440,000 virtually.
  Image line;
  line.width = 1;
  line.height = 60000;
  line.pixels.assign(60000, 77);
  auto rgb = clip_resize_crop(line, 224);
  ASSERT_TRUE(rgb.is_ok()) << rgb.status().to_string();
  EXPECT_EQ(rgb->pixels, std::vector<uint8_t>(224 * 224 * 3, 77));
}

}  // namespace
}  // namespace xrs
