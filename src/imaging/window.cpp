#include "imaging/window.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace xrs {
namespace {

// Integer-valued images whose range fits this many bins get an exact histogram instead of a
// selection: 2^20 covers 16-bit data after any integer rescale while keeping the counts at 8 MiB.
constexpr double kMaxHistogramBins = 1 << 20;

struct ValueStats {
  double min = 0;
  double max = 0;
  size_t finite = 0;
  bool integral = true;  // every finite value is a whole number
};

ValueStats scan_values(const std::vector<float>& pixels) {
  ValueStats s;
  float lo = INFINITY;
  float hi = -INFINITY;
  for (float v : pixels) {
    if (!std::isfinite(v)) continue;
    ++s.finite;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    if (s.integral && v != std::nearbyint(v)) s.integral = false;
  }
  s.min = lo;
  s.max = hi;
  return s;
}

// The sorted finite values of an image, queried by rank: value(k) is what sorted[k] would be.
class RankedValues {
 public:
  RankedValues(const std::vector<float>& pixels, const ValueStats& stats) {
    if (stats.integral && stats.max - stats.min < kMaxHistogramBins) {
      // Histogram of v - min, then cumulative counts: rank k lies in the first bin whose
      // cumulative count exceeds k.
      origin_ = stats.min;
      cumulative_.assign(size_t(stats.max - stats.min) + 1, 0);
      for (float v : pixels) {
        if (std::isfinite(v)) ++cumulative_[size_t(double(v) - origin_)];
      }
      for (size_t i = 1; i < cumulative_.size(); ++i) cumulative_[i] += cumulative_[i - 1];
    } else {
      values_.reserve(stats.finite);
      for (float v : pixels) {
        if (std::isfinite(v)) values_.push_back(v);
      }
    }
  }

  double value(size_t k) {
    if (!cumulative_.empty()) {
      auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), uint64_t(k));
      return origin_ + double(it - cumulative_.begin());
    }
    std::nth_element(values_.begin(), values_.begin() + ptrdiff_t(k), values_.end());
    return values_[k];
  }

 private:
  double origin_ = 0;
  std::vector<uint64_t> cumulative_;
  std::vector<float> values_;
};

// numpy.percentile(values, p) with its default "linear" method (numpy 1.22+), operation for
// operation, so that a reference computed with numpy agrees to the last bit.
double percentile(RankedValues& ranked, size_t n, double p) {
  const double virtual_index = double(n - 1) * (p / 100.0);
  const double previous = std::floor(virtual_index);
  if (virtual_index >= double(n - 1)) return ranked.value(n - 1);
  const double gamma = virtual_index - previous;
  const double a = ranked.value(size_t(previous));
  const double b = ranked.value(size_t(previous) + 1);
  const double diff = b - a;
  return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
}

// floor(y + 0.5) clamped to 0..255; NaN (from a degenerate caller-made window) → 0.
uint8_t to_level(double y) {
  const double rounded = std::floor(y + 0.5);
  if (!(rounded > 0)) return 0;
  return rounded >= 255 ? 255 : uint8_t(rounded);
}

uint8_t linear_level(double v, double lower, double upper) {
  if (!(v > lower)) return 0;  // also NaN
  if (v > upper) return 255;   // so that upper == lower never divides
  return to_level((v - lower) / (upper - lower) * 255);
}

uint8_t sigmoid_level(double v, double center, double width) {
  return to_level(255 / (1 + std::exp(-4 * (v - center) / width)));
}

}  // namespace

StatusOr<Window> window_from_center_width(double center, double width, VoiFunction function) {
  if (!std::isfinite(center) || !std::isfinite(width)) {
    return Status::invalid_argument("window center/width must be finite numbers");
  }
  switch (function) {
    case VoiFunction::kLinear:
      if (width <= 1) {
        return Status::invalid_argument("window width " + std::to_string(width) +
                                        " is degenerate (LINEAR needs a width above 1)");
      }
      return Window{center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2};
    case VoiFunction::kLinearExact:
    case VoiFunction::kSigmoid:
      if (width <= 0) {
        return Status::invalid_argument("window width " + std::to_string(width) +
                                        " must be positive");
      }
      return Window{
          center - width / 2, center + width / 2,
          function == VoiFunction::kSigmoid ? WindowShape::kSigmoid : WindowShape::kLinear};
  }
  return Status::internal("unknown VOI function");
}

StatusOr<Window> choose_window(const GrayImageF& image, const WindowOptions& options,
                               std::optional<Window> file_window) {
  if (image.width < 0 || image.height < 0 ||
      image.pixels.size() != size_t(image.width) * size_t(image.height)) {
    return Status::invalid_argument("window: pixel count does not match width * height");
  }
  WindowMode mode = options.mode;
  if (mode == WindowMode::kAuto) {
    if (file_window) return *file_window;
    mode = WindowMode::kPercentile;
  }
  if (mode == WindowMode::kFixed) {
    if (!options.center || !options.width) {
      return Status::invalid_argument("window: a fixed window needs both center and width");
    }
    return window_from_center_width(*options.center, *options.width, VoiFunction::kLinear);
  }
  const double low = options.low_percentile;
  const double high = options.high_percentile;
  if (mode == WindowMode::kPercentile && !(low >= 0 && low < high && high <= 100)) {
    return Status::invalid_argument(
        "window: percentiles must satisfy 0 <= low < high <= 100 (got " + std::to_string(low) +
        ", " + std::to_string(high) + ")");
  }

  const ValueStats stats = scan_values(image.pixels);
  if (stats.finite == 0) return Status::invalid_argument("window: the image has no finite values");
  if (mode == WindowMode::kMinMax || stats.min == stats.max) return Window{stats.min, stats.max};

  RankedValues ranked(image.pixels, stats);
  const double lower = percentile(ranked, stats.finite, low);
  const double upper = percentile(ranked, stats.finite, high);
  if (lower < upper) return Window{lower, upper};
  return Window{stats.min, stats.max};
}

Image apply_window(const GrayImageF& image, const Window& window, bool invert) {
  Image out;
  out.width = image.width;
  out.height = image.height;
  out.format = PixelFormat::kL;
  out.pixels.resize(image.pixels.size());
  if (window.shape == WindowShape::kSigmoid) {
    const double center = (window.lower + window.upper) / 2;
    const double width = window.upper - window.lower;
    for (size_t i = 0; i < image.pixels.size(); ++i) {
      out.pixels[i] = sigmoid_level(image.pixels[i], center, width);
    }
  } else {
    for (size_t i = 0; i < image.pixels.size(); ++i) {
      out.pixels[i] = linear_level(image.pixels[i], window.lower, window.upper);
    }
  }
  if (invert) {
    for (uint8_t& p : out.pixels) p = uint8_t(255 - p);
  }
  return out;
}

}  // namespace xrs
