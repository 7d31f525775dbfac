// Image-content rules of dataset validation (extension vs. magic bytes, empty and damaged files,
// decompression bombs), on images written from the format specifications or by Pillow, and the
// real dataset in ../shared.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "core/file_util.h"
#include "dataset/validate.h"
#include "test_dataset.h"

namespace xrs {
namespace {

using testing::make_png;
using testing::problem_keys;
using testing::ScratchDataset;
using Keys = std::vector<std::string>;

constexpr char kHeader[] = "image_name,source_url,category\n";

DatasetConfig config(bool decode) {
  DatasetConfig c;
  c.decode_images = decode;
  return c;
}

TEST(ValidateImagesTest, ContentMustMatchTheExtension) {
  ScratchDataset d("content_mismatch");
  d.csv(std::string(kHeader) +
        "jpeg_named.png,u,chest\npng_named.jpg,u,chest\ntext.png,u,dental\npng_named.dcm,u,hand\n"
        "fake.dcm,u,hand\n");
  d.write("raw/chest/jpeg_named.png", testing::jpeg_start());
  d.write("raw/chest/png_named.jpg", make_png(4, 4));
  d.write("raw/dental/text.png", "hello, world");
  d.write("raw/hand/png_named.dcm", make_png(4, 4));
  // A DICOM preamble and magic, then nothing a DICOM reader can use.
  d.write("raw/hand/fake.dcm", std::string(128, '\0') + "DICM" + std::string(16, '\xFF'));
  for (bool decode : {false, true}) {
    ValidationReport r = validate_dataset(d.dir(), config(decode));
    EXPECT_EQ(problem_keys(r), (Keys{"content_mismatch raw/chest/jpeg_named.png:2 jpeg_named.png",
                                     "content_mismatch raw/chest/png_named.jpg:3 png_named.jpg",
                                     "content_mismatch raw/dental/text.png:4 text.png",
                                     "content_mismatch raw/hand/png_named.dcm:5 png_named.dcm",
                                     "decode_failed raw/hand/fake.dcm:6 fake.dcm"}))
        << "decode_images=" << decode;
    ASSERT_EQ(r.problems.size(), 5u);
    EXPECT_EQ(r.problems[0].message,
              "raw/chest/jpeg_named.png is named .png but its content is JPEG, not PNG");
    EXPECT_EQ(r.problems[2].message,
              "raw/dental/text.png is named .png but is not a PNG file (it starts with 68 65 6C 6C "
              "6F 2C 20 77)");
    EXPECT_EQ(r.images_checked, 5);
    EXPECT_FALSE(r.fatal());
  }
}

TEST(ValidateImagesTest, ZeroByteFile) {
  ScratchDataset d("empty_file");
  d.csv(std::string(kHeader) + "c1.png,u,chest\nd1.gif,u,dental\n");
  d.write("raw/chest/c1.png", "");
  d.write("raw/dental/d1.gif", "");
  ValidationReport r = validate_dataset(d.dir(), config(true));
  EXPECT_EQ(problem_keys(r),
            (Keys{"empty_file raw/chest/c1.png:2 c1.png", "bad_extension metadata.csv:3 d1.gif",
                  "empty_file raw/dental/d1.gif:3 d1.gif"}));
  EXPECT_EQ(r.problems[0].message, "raw/chest/c1.png is empty (0 bytes)");
  EXPECT_EQ(r.images_checked, 0);
}

TEST(ValidateImagesTest, AFolderWhereAnImageShouldBe) {
  ScratchDataset d("folder_as_image");
  d.csv(std::string(kHeader) + "c1.png,u,chest\n");
  d.mkdir("raw/chest/c1.png");
  d.write("raw/chest/c1.png/inner.png", make_png(2, 2));
  ValidationReport r = validate_dataset(d.dir(), config(true));
  EXPECT_EQ(problem_keys(r), (Keys{"not_a_file raw/chest/c1.png:2 c1.png",
                                   "unlisted_file raw/chest/c1.png/inner.png:0"}));
  EXPECT_EQ(r.problems[0].message, "raw/chest/c1.png is not a regular file (a directory)");
}

TEST(ValidateImagesTest, TruncatedImageFailsOnlyTheFullDecode) {
  ScratchDataset d("truncated");
  d.csv(std::string(kHeader) + "c1.png,u,chest\nc2.png,u,chest\n");
  const std::string png = make_png(64, 64);
  d.write("raw/chest/c1.png", png.substr(0, png.size() / 2));  // header intact, data cut
  d.write("raw/chest/c2.png", png.substr(0, 20));              // cut inside IHDR
  ValidationReport full = validate_dataset(d.dir(), config(true));
  EXPECT_EQ(problem_keys(full), (Keys{"decode_failed raw/chest/c1.png:2 c1.png",
                                      "decode_failed raw/chest/c2.png:3 c2.png"}));
  EXPECT_NE(full.problems[0].message.find("raw/chest/c1.png: it does not decode: "),
            std::string::npos);
  EXPECT_NE(full.problems[1].message.find("raw/chest/c2.png: its header cannot be read: "),
            std::string::npos);
  // The header-only check (the indexer's) cannot see damage past the header.
  ValidationReport header = validate_dataset(d.dir(), config(false));
  EXPECT_EQ(problem_keys(header), (Keys{"decode_failed raw/chest/c2.png:3 c2.png"}));
  EXPECT_FALSE(header.decoded);
  ASSERT_EQ(header.entries.size(), 1u);
}

TEST(ValidateImagesTest, BombHeaderIsRefusedWithoutDecoding) {
  ScratchDataset d("bomb");
  d.csv(std::string(kHeader) + "bomb.png,u,chest\nwide.png,u,chest\nsmall.png,u,hand\n");
  d.write("raw/chest/bomb.png", testing::png_header_only(100000, 100000));
  d.write("raw/chest/wide.png", testing::png_header_only(20000, 20000));  // 4e8 pixels
  d.write("raw/hand/small.png", make_png(4, 4));
  for (bool decode : {false, true}) {
    ValidationReport r = validate_dataset(d.dir(), config(decode));
    EXPECT_EQ(problem_keys(r), (Keys{"too_many_pixels raw/chest/bomb.png:2 bomb.png",
                                     "too_many_pixels raw/chest/wide.png:3 wide.png"}));
    EXPECT_NE(r.problems[0].message.find("raw/chest/bomb.png is too large to decode: "),
              std::string::npos);
  }
  DatasetConfig tight = config(true);
  tight.decode.limits.max_pixels = 15;
  ValidationReport r = validate_dataset(d.dir(), tight);
  EXPECT_EQ(problem_keys(r), (Keys{"too_many_pixels raw/chest/bomb.png:2 bomb.png",
                                   "too_many_pixels raw/chest/wide.png:3 wide.png",
                                   "too_many_pixels raw/hand/small.png:4 small.png"}));
}

// A real JPEG, written by Pillow (the reference encoder), passes; skipped visibly without it.
TEST(ValidateImagesTest, PillowJpegPasses) {
  ScratchDataset d("pillow_jpeg");
  const std::string jpg = d.dir() + "/raw/dental/d1.jpg";
  d.mkdir("raw/dental");
  const std::string cmd =
      "/usr/bin/python3 -c \"import sys; from PIL import Image; "
      "Image.linear_gradient('L').resize((40, 30)).save(sys.argv[1], quality=90)\" '" +
      jpg + "' 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "skipped: /usr/bin/python3 with PIL absent";
  d.csv(std::string(kHeader) + "d1.jpg,u,dental\nd2.jpeg,u,dental\n");
  StatusOr<std::string> bytes = read_file(jpg);
  ASSERT_TRUE(bytes.is_ok());
  d.write("raw/dental/d2.jpeg", bytes->substr(0, bytes->size() / 3));
  ValidationReport r = validate_dataset(d.dir(), config(true));
  EXPECT_EQ(problem_keys(r), (Keys{"decode_failed raw/dental/d2.jpeg:3 d2.jpeg"}));
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].image_name, "d1.jpg");
}

// The DICOM specimens in ../shared (JPEG 2000, JPEG lossless, RLE) validate with .dcm names.
TEST(ValidateImagesTest, DicomSpecimensPass) {
  const std::string special = ::xrs::testing::shared_dir() + "/datasets/xray-special";
  XRS_REQUIRE_PATH(special);
  ScratchDataset d("dicom");
  std::string csv = kHeader;
  for (const char* name : {"cr-chest-mono1-jpeg2000-lossy.dcm", "cr-hip-mono2-jpeg-lossless.dcm",
                           "cr-tibia-mono1-rle-lossless.dcm"}) {
    StatusOr<std::string> bytes = read_file(special + "/" + name);
    ASSERT_TRUE(bytes.is_ok());
    d.write(std::string("raw/chest/") + name, *bytes);
    csv += std::string(name) + ",u,chest\n";
  }
  d.csv(csv);
  ValidationReport r = validate_dataset(d.dir(), config(true));
  EXPECT_EQ(problem_keys(r), Keys{});
  EXPECT_EQ(r.images_checked, 3);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ../shared's 540-image dataset where present, else the committed demo set (100 images): clean,
// every row and category as its metadata.csv lists them.
TEST(ValidateImagesTest, RealDatasetIsClean) {
  const std::string dir = ::xrs::testing::test_dataset_dir();
  XRS_REQUIRE_PATH(dir + "/metadata.csv");
  // The expectation, read straight from metadata.csv: its first three columns (image_name,
  // source_url, category) hold no quotes or commas in either dataset, nor does its header.
  std::ifstream csv(dir + "/metadata.csv");
  std::string line;
  ASSERT_TRUE(std::getline(csv, line));
  const size_t columns = size_t(std::count(line.begin(), line.end(), ',')) + 1;
  std::map<std::string, int> want_per_category;
  int rows = 0;
  while (std::getline(csv, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const size_t first = line.find(','), second = line.find(',', first + 1);
    const size_t third = line.find(',', second + 1);
    ++want_per_category[line.substr(second + 1, third - second - 1)];
    ++rows;
  }
  ASSERT_GT(rows, 0);
  auto start = std::chrono::steady_clock::now();
  ValidationReport header = validate_dataset(dir, config(false));
  const double header_s = seconds_since(start);
  start = std::chrono::steady_clock::now();
  ValidationReport full = validate_dataset(dir, config(true));
  const double full_s = seconds_since(start);
  for (const ValidationReport* r : {&header, &full}) {
    EXPECT_EQ(problem_keys(*r), Keys{});
    EXPECT_EQ(r->rows, rows);
    EXPECT_EQ(r->images_checked, rows);
    ASSERT_EQ(r->entries.size(), size_t(rows));
    EXPECT_EQ(r->entries[0].extra.size(), columns - 3);  // license, source_repo, source_path...
  }
  std::map<std::string, int> per_category;
  for (const DatasetEntry& e : full.entries) per_category[e.category]++;
  EXPECT_EQ(per_category, want_per_category);
  std::printf("real dataset %s (%d images, 2 threads): header-only %.3f s, full decode %.3f s\n",
              dir.c_str(), rows, header_s, full_s);
  RecordProperty("header_only_seconds", std::to_string(header_s));
  RecordProperty("full_decode_seconds", std::to_string(full_s));
}

}  // namespace
}  // namespace xrs
