// The bf16 and int8 tiers of the image tower (ClipLoadOptions::precision) on the fixture models
// and the real X-rays of ../shared/datasets/xray: every image's embedding within the quality gate
// of float32's (clip/benchmark.h: mean cosine >= 0.995, each >= 0.98), the precision part of the
// model's identity, and the text tower untouched.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "clip/benchmark.h"
#include "clip/clip_model.h"
#include "imaging/decode.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

namespace fs = std::filesystem;

// The X-rays of ../shared's dataset where present, else of the committed demo set.
std::vector<std::string> xray_images() {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(testing::test_dataset_dir() + "/raw")) {
    if (e.is_regular_file()) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The two fixture models where ../shared has them, else the committed model.
TEST(PrecisionTest, LowerPrecisionImageTowersPassTheQualityGateOnRealXrays) {
  const std::vector<std::string> files = xray_images();
  ASSERT_GE(files.size(), 100u);
  std::vector<std::string> dirs = {testing::committed_model_dir()};
  if (testing::have_fixtures()) {
    dirs = {testing::fixtures_dir() + "/tiny-openai-b32",
            testing::fixtures_dir() + "/tiny-laion-b16"};
  }
  for (const std::string& dir : dirs) {
    const std::string name = fs::path(dir).filename().string();
    auto fp32 = ClipModel::load(dir);
    ASSERT_TRUE(fp32.is_ok()) << fp32.status().to_string();
    const int E = (*fp32)->hparams().embed_dim;
    std::vector<std::vector<float>> reference;
    for (const std::string& f : files) {
      auto image = decode_image_file(f);
      ASSERT_TRUE(image.is_ok()) << image.status().to_string();
      auto e = (*fp32)->embed_image(*image);
      ASSERT_TRUE(e.is_ok()) << e.status().to_string();
      reference.push_back(*e);
    }
    for (kernels::Precision p : {kernels::Precision::kBf16, kernels::Precision::kInt8}) {
      ClipLoadOptions options;
      options.precision = p;
      auto model = ClipModel::load(dir, options);
      ASSERT_TRUE(model.is_ok()) << model.status().to_string();
      EXPECT_EQ((*model)->info().precision, kernels::precision_name(p));
      double sum = 0, worst = 1;
      for (size_t i = 0; i < files.size(); ++i) {
        auto image = decode_image_file(files[i]);
        ASSERT_TRUE(image.is_ok());
        auto e = (*model)->embed_image(*image);
        ASSERT_TRUE(e.is_ok()) << e.status().to_string();
        double dot = 0;
        for (int j = 0; j < E; ++j) dot += double((*e)[j]) * reference[i][j];
        sum += dot;
        worst = std::min(worst, dot);
      }
      const double mean = sum / files.size();
      std::printf("%s %s: %zu X-rays, mean cosine to fp32 %.6f, min %.6f (%s)\n", name.c_str(),
                  std::string(kernels::precision_name(p)).c_str(), files.size(), mean, worst,
                  (*model)->info().kernels.c_str());
      EXPECT_GE(mean, kGateMeanCosine) << name << " " << kernels::precision_name(p);
      EXPECT_GE(worst, kGateMinCosine) << name << " " << kernels::precision_name(p);
      EXPECT_LT(worst, 1.0 - 1e-9) << "the tier changed nothing: is it running at all?";
    }
  }
}

TEST(PrecisionTest, ThePrecisionIsPartOfTheIdentityAndTheTextTowerStaysFloat32) {
  const std::string dir = testing::test_model_dir();
  auto fp32 = ClipModel::load(dir);
  ASSERT_TRUE(fp32.is_ok()) << fp32.status().to_string();
  ClipLoadOptions options;
  options.precision = kernels::Precision::kInt8;
  auto int8 = ClipModel::load(dir, options);
  ASSERT_TRUE(int8.is_ok()) << int8.status().to_string();
  auto a = (*fp32)->identity();
  auto b = (*int8)->identity();
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_EQ(a->preprocessing.find("precision"), std::string::npos);  // fp32 ids as before
  EXPECT_NE(b->preprocessing.find(" precision=int8"), std::string::npos);
  EXPECT_FALSE(a->same_model(*b));
  EXPECT_FALSE(check_same_model(*a, *b).is_ok());
  auto ta = (*fp32)->embed_text("a chest x-ray");
  auto tb = (*int8)->embed_text("a chest x-ray");
  ASSERT_TRUE(ta.is_ok() && tb.is_ok());
  EXPECT_EQ(*ta, *tb);  // bit for bit: the text tower is float32 at every precision
}

}  // namespace
}  // namespace xrs
