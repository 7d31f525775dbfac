// Decoded pixels against Pillow 9.4 (tests/imaging/pillow_oracle.py): generated PNGs of every
// colour type, bit depth, filter and interlacing, Pillow-written JPEGs (gray, RGB, CMYK, several
// qualities and subsamplings, progressive), the shared fixtures, a sample of the real X-ray
// dataset, and truncated files (Pillow raises exactly when we fail).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "imaging/decode.h"
#include "imaging/png_decode.h"
#include "pillow_oracle.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::read_bytes;

// Runs the oracle's decode on `files` (absolute paths) into `dir`; the manifest entries (empty
// after a test failure when the oracle fails).
json pillow_decode(const std::string& dir, const std::vector<std::string>& files) {
  std::string list;
  for (const std::string& f : files) list += f + "\n";
  testing::write_bytes(dir + "/files.txt", std::vector<uint8_t>(list.begin(), list.end()));
  const bool ran = testing::run_oracle({"decode", dir, "@" + dir + "/files.txt"});
  EXPECT_TRUE(ran) << "pillow_oracle.py decode failed";
  return ran ? testing::read_json(dir + "/decoded.json") : json::array();
}

// Compares our decoding of one file with Pillow's (a decoded.json entry); counts it in
// `compared` when both decoded it.
void expect_same_pixels(const json& e, const std::string& dir, size_t* compared) {
  const std::string file = e["file"];
  SCOPED_TRACE(file);
  ASSERT_TRUE(e["ok"].get<bool>()) << "Pillow failed: " << e.value("error", "");
  const std::vector<uint8_t> bytes = read_bytes(file);
  const std::vector<uint8_t> expected = read_bytes(dir + "/" + e["raw"].get<std::string>());
  const int width = e["width"], height = e["height"];
  const std::string mode = e["mode"];
  if (mode == "I16") {
    auto decoded = decode_png(bytes, {});
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    ASSERT_TRUE(std::holds_alternative<GrayImageF>(*decoded));
    const GrayImageF& gray = std::get<GrayImageF>(*decoded);
    ASSERT_EQ(gray.width, width);
    ASSERT_EQ(gray.height, height);
    ASSERT_EQ(gray.pixels.size() * 2, expected.size());
    size_t differ = 0;
    for (size_t i = 0; i < gray.pixels.size(); ++i) {
      differ += gray.pixels[i] != float(expected[2 * i] | (expected[2 * i + 1] << 8));
    }
    EXPECT_EQ(differ, 0u);
  } else {
    auto image = decode_image(bytes);
    ASSERT_TRUE(image.is_ok()) << image.status().to_string();
    EXPECT_EQ(pixel_format_name(image->format), mode);
    EXPECT_EQ(image->width, width);
    EXPECT_EQ(image->height, height);
    EXPECT_EQ(testing::count_differences(image->pixels, expected), 0u);
  }
  ++*compared;
}

size_t expect_all_same_pixels(const json& entries, const std::string& dir) {
  size_t compared = 0;
  for (const json& e : entries) expect_same_pixels(e, dir, &compared);
  return compared;
}

std::vector<std::string> generated_files(const std::string& dir) {
  std::vector<std::string> files;
  for (const json& e : testing::read_json(dir + "/generated.json")) {
    files.push_back(dir + "/" + e["file"].get<std::string>());
  }
  return files;
}

TEST(DecodePillowTest, GeneratedImagesDecodeLikePillow) {
  XRS_REQUIRE_PILLOW();
  for (const char* seed : {"1", "2"}) {
    const std::string dir = testing::scratch_dir(std::string("imaging_decode_generated_") + seed);
    ASSERT_TRUE(testing::run_oracle({"generate", dir, seed}));
    const std::vector<std::string> files = generated_files(dir);
    const size_t compared = expect_all_same_pixels(pillow_decode(dir, files), dir);
    EXPECT_EQ(compared, files.size());
    EXPECT_GE(compared, 80u);
  }
}

TEST(DecodePillowTest, FixturesAndDatasetDecodeLikePillow) {
  XRS_REQUIRE_PILLOW();
  std::vector<std::string> files;
  const std::string fixtures = testing::fixtures_dir() + "/images";
  // ../shared's X-ray dataset where present, else the committed demo set.
  const std::string dataset = testing::test_dataset_dir();
  const std::string special = testing::shared_dir() + "/datasets/xray-special";
  if (fs::exists(fixtures)) {
    for (const auto& f : fs::directory_iterator(fixtures)) files.push_back(f.path().string());
  }
  if (fs::exists(dataset)) {
    std::vector<std::string> all;
    for (const auto& f : fs::recursive_directory_iterator(dataset)) {
      const std::string ext = f.path().extension().string();
      if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") all.push_back(f.path().string());
    }
    std::sort(all.begin(), all.end());
    for (size_t i = 0; i < all.size(); i += 9) files.push_back(all[i]);  // a spread sample
  }
  if (fs::exists(special)) {
    for (const auto& f : fs::directory_iterator(special)) {
      if (f.path().extension() == ".png") files.push_back(f.path().string());
    }
  }
  if (files.empty()) GTEST_SKIP() << "skipped: no images under " << testing::shared_dir();
  const std::string dir = testing::scratch_dir("imaging_decode_fixtures");
  EXPECT_EQ(expect_all_same_pixels(pillow_decode(dir, files), dir), files.size());
}

TEST(DecodePillowTest, TruncatedFilesFailExactlyWhenPillowFails) {
  XRS_REQUIRE_PILLOW();
  const std::string dir = testing::scratch_dir("imaging_decode_truncated");
  ASSERT_TRUE(testing::run_oracle({"generate", dir, "3"}));
  // Every PNG kind (the chunk layouts differ) and JPEGs of each coding: baseline, progressive,
  // subsampled, optimised.
  std::vector<std::string> sources;
  for (const std::string& f : generated_files(dir)) {
    const std::string name = fs::path(f).filename().string();
    const bool wanted = name.rfind("png_", 0) == 0 || name.rfind("jpeg_RGB_q75_s2_", 0) == 0 ||
                        name.rfind("jpeg_L_q95_s0_p", 0) == 0 ||
                        name.rfind("jpeg_CMYK_q30_s0_b", 0) == 0 ||
                        name == "jpeg_large_optimized.jpg";
    if (wanted) sources.push_back(f);
  }
  ASSERT_GE(sources.size(), 35u);
  std::vector<std::string> cuts, sources_of_cut;
  for (const std::string& src : sources) {
    const std::vector<uint8_t> bytes = read_bytes(src);
    std::vector<size_t> points;
    for (size_t c = 0; c < bytes.size(); c += std::max<size_t>(1, bytes.size() / 25)) {
      points.push_back(c);
    }
    for (size_t k = 1; k <= 24 && k <= bytes.size(); ++k) points.push_back(bytes.size() - k);
    for (size_t c : points) {
      const std::string path =
          dir + "/cut_" + std::to_string(c) + "_" + fs::path(src).filename().string();
      testing::write_bytes(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + c));
      cuts.push_back(path);
      sources_of_cut.push_back(src);
    }
  }
  const json entries = pillow_decode(dir, cuts);
  ASSERT_EQ(entries.size(), cuts.size());
  size_t pillow_failures = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const json& e = entries[i];
    const std::string file = e["file"];
    const std::vector<uint8_t> bytes = read_bytes(file);
    auto ours = decode_image(bytes);
    const bool pillow_ok = e["ok"];
    pillow_failures += !pillow_ok;
    // A JPEG without (all of) its EOI marker: Pillow decodes it when the decoder happened not to
    // need the missing bytes (bit-buffer refills), we always refuse it (docs/IMAGING.md).
    const bool jpeg_without_eoi = bytes.size() >= 2 && bytes[0] == 0xFF && bytes[1] == 0xD8 &&
                                  read_bytes(sources_of_cut[i]).size() - bytes.size() <= 2;
    if (jpeg_without_eoi) {
      EXPECT_FALSE(ours.is_ok()) << file;
      continue;
    }
    EXPECT_EQ(ours.is_ok(), pillow_ok)
        << file << ": Pillow " << (pillow_ok ? "decodes it" : e.value("error", "")) << "; ours "
        << (ours.is_ok() ? "decodes it" : ours.status().to_string());
  }
  EXPECT_GT(pillow_failures, cuts.size() / 2);
}

}  // namespace
}  // namespace xrs
