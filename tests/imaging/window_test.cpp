// Intensity windows: hand-computed cases, a brute-force percentile, and the 16-bit PNG specimens
// against numpy (Pillow reads the PNG, numpy.percentile picks the window).
#include "imaging/window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "support/test_paths.h"

namespace xrs {
namespace {

GrayImageF make_image(int width, int height, std::vector<float> pixels) {
  return GrayImageF{width, height, std::move(pixels)};
}

Window must(StatusOr<Window> window) {
  EXPECT_TRUE(window.is_ok()) << window.status().to_string();
  return window.is_ok() ? *window : Window{};
}

TEST(WindowFromCenterWidth, DicomLinearFunction) {
  // PS3.3 C.11.2.1.2.1: x <= c - 0.5 - (w-1)/2 → 0, x > c - 0.5 + (w-1)/2 → max.
  const Window w = must(window_from_center_width(15000, 30000));
  EXPECT_DOUBLE_EQ(w.lower, 0.0);
  EXPECT_DOUBLE_EQ(w.upper, 29999.0);
  const Window narrow = must(window_from_center_width(40, 400));
  EXPECT_DOUBLE_EQ(narrow.lower, -160.0);
  EXPECT_DOUBLE_EQ(narrow.upper, 239.0);
}

TEST(WindowFromCenterWidth, ExactAndSigmoid) {
  const Window exact = must(window_from_center_width(100, 50, VoiFunction::kLinearExact));
  EXPECT_DOUBLE_EQ(exact.lower, 75.0);
  EXPECT_DOUBLE_EQ(exact.upper, 125.0);
  EXPECT_EQ(exact.shape, WindowShape::kLinear);
  const Window exact_narrow = must(window_from_center_width(0.5, 0.25, VoiFunction::kLinearExact));
  EXPECT_DOUBLE_EQ(exact_narrow.upper - exact_narrow.lower, 0.25);
  const Window sigmoid = must(window_from_center_width(0, 4, VoiFunction::kSigmoid));
  EXPECT_EQ(sigmoid.shape, WindowShape::kSigmoid);
}

TEST(WindowFromCenterWidth, RejectsDegenerateWidths) {
  EXPECT_EQ(window_from_center_width(100, 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(window_from_center_width(100, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(window_from_center_width(100, -5).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(window_from_center_width(100, 0, VoiFunction::kLinearExact).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(window_from_center_width(NAN, 10).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(window_from_center_width(1, INFINITY).status().code(), StatusCode::kInvalidArgument);
}

TEST(ApplyWindow, LinearRoundsHalfUpAndClamps) {
  // Window [0, 510]: level = floor(v / 2 + 0.5), by hand.
  const GrayImageF image = make_image(8, 1, {-5, 0, 1, 3, 255, 509, 510, 511});
  const Image out = apply_window(image, Window{0, 510});
  EXPECT_EQ(out.width, 8);
  EXPECT_EQ(out.height, 1);
  EXPECT_EQ(out.format, PixelFormat::kL);
  EXPECT_EQ(out.pixels, (std::vector<uint8_t>{0, 0, 1, 2, 128, 255, 255, 255}));
  const Image inverted = apply_window(image, Window{0, 510}, /*invert=*/true);
  EXPECT_EQ(inverted.pixels, (std::vector<uint8_t>{255, 255, 254, 253, 127, 0, 0, 0}));
}

TEST(ApplyWindow, DicomChestWindowMatchesTheStandardFormula) {
  // Center 15000, width 30000: y = ((x - 14999.5) / 29999 + 0.5) * 255, by hand for a few x.
  const Window w = must(window_from_center_width(15000, 30000));
  const GrayImageF image = make_image(5, 1, {0, 803, 14999.5f, 26512, 30000});
  const Image out = apply_window(image, w);
  // 803 → 6.826 → 7; 14999.5 → 127.5 → 128; 26512 → 225.37 → 225.
  EXPECT_EQ(out.pixels, (std::vector<uint8_t>{0, 7, 128, 225, 255}));
}

TEST(ApplyWindow, SigmoidByHand) {
  const Window w = must(window_from_center_width(0, 4, VoiFunction::kSigmoid));
  const GrayImageF image = make_image(4, 1, {0, 1, -1, NAN});
  // 255 / (1 + e^-1) = 186.42; 255 / (1 + e) = 68.58; 255 / 2 = 127.5.
  EXPECT_EQ(apply_window(image, w).pixels, (std::vector<uint8_t>{128, 186, 69, 0}));
}

TEST(ChooseWindow, ConstantImageNeverDividesByZero) {
  const GrayImageF image = make_image(4, 3, std::vector<float>(12, 7.0f));
  for (WindowMode mode : {WindowMode::kAuto, WindowMode::kPercentile, WindowMode::kMinMax}) {
    WindowOptions options;
    options.mode = mode;
    const Window w = must(choose_window(image, options));
    EXPECT_EQ(w.lower, 7.0);
    EXPECT_EQ(w.upper, 7.0);
    const Image out = apply_window(image, w);
    EXPECT_EQ(out.pixels, std::vector<uint8_t>(12, 0));
  }
}

TEST(ChooseWindow, NegativeValuesMinMax) {
  // CT-like values after a -1024 intercept.
  const GrayImageF image = make_image(4, 1, {-1024, 0, 1023, 3071});
  WindowOptions options;
  options.mode = WindowMode::kMinMax;
  const Window w = must(choose_window(image, options));
  EXPECT_EQ(w.lower, -1024.0);
  EXPECT_EQ(w.upper, 3071.0);
  // 1024 / 4095 * 255 = 63.77 → 64; 2047 / 4095 * 255 = 127.47 → 127.
  EXPECT_EQ(apply_window(image, w).pixels, (std::vector<uint8_t>{0, 64, 127, 255}));
}

TEST(ChooseWindow, HugeAndNonFiniteValues) {
  const float huge = 3e38f;
  const GrayImageF image = make_image(6, 1, {-huge, 0, huge, NAN, INFINITY, -INFINITY});
  WindowOptions options;
  options.mode = WindowMode::kMinMax;
  const Window w = must(choose_window(image, options));
  EXPECT_EQ(w.lower, double(-huge));
  EXPECT_EQ(w.upper, double(huge));
  EXPECT_EQ(apply_window(image, w).pixels, (std::vector<uint8_t>{0, 128, 255, 0, 255, 0}));
  options.mode = WindowMode::kPercentile;
  const Window p = must(choose_window(image, options));
  EXPECT_TRUE(std::isfinite(p.lower) && std::isfinite(p.upper) && p.lower < p.upper);
}

TEST(ChooseWindow, Errors) {
  const GrayImageF image = make_image(2, 1, {1, 2});
  WindowOptions options;
  options.mode = WindowMode::kPercentile;
  options.low_percentile = 60;
  options.high_percentile = 40;
  EXPECT_EQ(choose_window(image, options).status().code(), StatusCode::kInvalidArgument);
  options.low_percentile = -1;
  options.high_percentile = 50;
  EXPECT_EQ(choose_window(image, options).status().code(), StatusCode::kInvalidArgument);
  options.mode = WindowMode::kFixed;
  options.center = 10;
  EXPECT_EQ(choose_window(image, options).status().code(), StatusCode::kInvalidArgument);
  options.width = 1;
  EXPECT_EQ(choose_window(image, options).status().code(), StatusCode::kInvalidArgument);
  options.mode = WindowMode::kMinMax;
  EXPECT_EQ(choose_window(make_image(2, 1, {NAN, NAN}), options).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(choose_window(make_image(3, 1, {1, 2}), options).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(choose_window(make_image(0, 0, {}), options).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ChooseWindow, ModeSelection) {
  const GrayImageF image = make_image(3, 1, {0, 50, 100});
  const Window file{10, 20};
  WindowOptions options;  // kAuto
  EXPECT_EQ(must(choose_window(image, options, file)).lower, 10.0);
  options.mode = WindowMode::kMinMax;
  EXPECT_EQ(must(choose_window(image, options, file)).lower, 0.0);
  options.mode = WindowMode::kFixed;
  options.center = 50;
  options.width = 21;
  const Window fixed = must(choose_window(image, options, file));
  EXPECT_DOUBLE_EQ(fixed.lower, 39.5);
  EXPECT_DOUBLE_EQ(fixed.upper, 59.5);
}

// Brute force: sort everything, then the linear interpolation of numpy.percentile.
double sorted_percentile(std::vector<float> values, double p) {
  std::sort(values.begin(), values.end());
  const double position = (values.size() - 1) * p / 100;
  const size_t below = size_t(position);
  const size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (double(values[above]) - values[below]) * (position - below);
}

TEST(ChooseWindow, PercentileMatchesFullSort) {
  std::mt19937 rng(1234);
  // Integer data (histogram path), integer data too wide for a histogram, and fractional data
  // (selection path).
  std::uniform_int_distribution<int> narrow(-300, 4000);
  std::uniform_int_distribution<int> wide(-5'000'000, 5'000'000);
  std::normal_distribution<float> fractional(100.0f, 30.0f);
  for (int kind = 0; kind < 3; ++kind) {
    std::vector<float> pixels(301 * 207);
    for (float& v : pixels) {
      v = kind == 0 ? float(narrow(rng)) : kind == 1 ? float(wide(rng)) : fractional(rng);
    }
    const GrayImageF image = make_image(301, 207, pixels);
    for (auto [low, high] : {std::pair{0.5, 99.5}, std::pair{0.0, 100.0}, std::pair{2.0, 98.0}}) {
      WindowOptions options;
      options.mode = WindowMode::kPercentile;
      options.low_percentile = low;
      options.high_percentile = high;
      const Window w = must(choose_window(image, options));
      const double want_low = sorted_percentile(pixels, low);
      const double want_high = sorted_percentile(pixels, high);
      EXPECT_NEAR(w.lower, want_low, 1e-9 * std::max(1.0, std::abs(want_low))) << kind;
      EXPECT_NEAR(w.upper, want_high, 1e-9 * std::max(1.0, std::abs(want_high))) << kind;
    }
  }
}

TEST(ChooseWindow, MostlyConstantImageFallsBackToMinMax) {
  std::vector<float> pixels(1000, 5.0f);
  pixels[10] = 900.0f;  // one bright pixel: the 0.5/99.5 percentiles are both 5
  const GrayImageF image = make_image(100, 10, pixels);
  const Window w = must(choose_window(image, WindowOptions{}));
  EXPECT_EQ(w.lower, 5.0);
  EXPECT_EQ(w.upper, 900.0);
}

// ---- 16-bit PNG specimens against Pillow + numpy -------------------------------------------

constexpr const char* kPngReference = R"PY(
# Reads a 16-bit gray PNG with Pillow and writes: the values (uint16 LE), the 8-bit image the
# documented percentile window gives (numpy.percentile 0.5/99.5, floor(t * 255 + 0.5) clamped),
# and "width height lower upper".
import sys
import numpy as np
from PIL import Image
src, out = sys.argv[1], sys.argv[2]
image = Image.open(src)
assert image.mode in ("I", "I;16"), image.mode
a = np.array(image).astype(np.float64)
lower, upper = np.percentile(a, [0.5, 99.5])
t = (a - lower) / (upper - lower) * 255
y = np.where(a <= lower, 0, np.where(a > upper, 255, np.floor(t + 0.5))).astype(np.uint8)
a.astype("<u2").tofile(out + ".u16")
y.tofile(out + ".u8")
with open(out + ".txt", "w") as f:
    f.write("%d %d %r %r\n" % (a.shape[1], a.shape[0], lower, upper))
)PY";

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

bool python_has(const std::string& modules) {
  return std::system(("/usr/bin/python3 -c 'import " + modules + "' 2>/dev/null").c_str()) == 0;
}

class SixteenBitPng : public ::testing::TestWithParam<const char*> {};

TEST_P(SixteenBitPng, PercentileWindowMatchesNumpy) {
  const std::string png = testing::shared_dir() + "/datasets/xray-special/" + GetParam();
  XRS_REQUIRE_PATH(png);
  if (!python_has("numpy, PIL")) GTEST_SKIP() << "skipped: /usr/bin/python3 lacks numpy or PIL";
  const std::string dir = testing::scratch_dir(std::string("window_png_") + GetParam());
  std::ofstream(dir + "/reference.py") << kPngReference;
  const std::string out = dir + "/ref";
  ASSERT_EQ(std::system(("/usr/bin/python3 " + dir + "/reference.py '" + png + "' " + out).c_str()),
            0);
  int width = 0, height = 0;
  double lower = 0, upper = 0;
  std::ifstream(out + ".txt") >> width >> height >> lower >> upper;
  const std::vector<uint8_t> raw = read_bytes(out + ".u16");
  const std::vector<uint8_t> want = read_bytes(out + ".u8");
  ASSERT_EQ(raw.size(), size_t(width) * height * 2);
  ASSERT_EQ(want.size(), size_t(width) * height);

  GrayImageF image{width, height, std::vector<float>(size_t(width) * height)};
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    image.pixels[i] = float(raw[2 * i] | (raw[2 * i + 1] << 8));
  }
  const Window w = must(choose_window(image, WindowOptions{}));  // kAuto: percentile for PNG
  EXPECT_NEAR(w.lower, lower, 1e-9 * std::abs(lower));
  EXPECT_NEAR(w.upper, upper, 1e-9 * std::abs(upper));
  const Image out_image = apply_window(image, w);
  ASSERT_EQ(out_image.pixels.size(), want.size());
  size_t differing = 0;
  int max_diff = 0;
  double sum = 0, sum_sq = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const int diff = std::abs(int(out_image.pixels[i]) - int(want[i]));
    differing += diff != 0;
    max_diff = std::max(max_diff, diff);
    sum += out_image.pixels[i];
    sum_sq += double(out_image.pixels[i]) * out_image.pixels[i];
  }
  EXPECT_LE(max_diff, 1);
  EXPECT_LE(differing, want.size() / 1000) << "pixels off by one level";
  const double mean = sum / want.size();
  const double stddev = std::sqrt(sum_sq / want.size() - mean * mean);
  EXPECT_GT(stddev, 40.0) << "a readable radiograph spans the gray range";
  EXPECT_GT(mean, 30.0);
  EXPECT_LT(mean, 225.0);
}

INSTANTIATE_TEST_SUITE_P(Specimens, SixteenBitPng,
                         ::testing::Values("tibia-16bit-10bitrange.png",
                                           "tibia-16bit-fullrange.png",
                                           "chest-16bit-15bitrange.png"),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           name = name.substr(0, name.find('.'));
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace xrs
