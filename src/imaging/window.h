// Intensity windowing: high-bit-depth gray (16-bit PNG, DICOM) → 8-bit, without clipping.
//
// Pillow's RGB conversion clips 16-bit values at 255 (the original system saw white images);
// xray-search maps a window [lower, upper] onto 0..255 instead. docs/IMAGING.md ("X-ray intensity
// mapping") describes the rules; this header is their single implementation.
//
// The mapping of a linear window, in double precision, for a value v:
//   v <= lower (or NaN)  → 0
//   v >  upper           → 255
//   otherwise            → floor((v - lower) / (upper - lower) * 255 + 0.5)
// which is exactly DICOM's "LINEAR" VOI function (PS3.3 C.11.2.1.2.1) rounded to the nearest
// level when lower/upper come from window_from_center_width(c, w, kLinear), and never divides by
// zero (a window with upper == lower is a threshold).
//
// All functions are pure and safe to call from any thread.
#pragma once

#include <optional>

#include "core/status.h"
#include "imaging/image.h"

namespace xrs {

enum class WindowMode {
  kAuto,        // DICOM: the file's VOI LUT or window if present, else kPercentile.
                // PNG 16-bit: kPercentile.
  kPercentile,  // from the data: the [low_percentile, high_percentile] range of pixel values
  kMinMax,      // from the data: the full [min, max] range
  kFixed,       // the center/width given below, with DICOM's LINEAR semantics
};

struct WindowOptions {
  WindowMode mode = WindowMode::kAuto;
  double low_percentile = 0.5;    // kPercentile; 0 <= low < high <= 100
  double high_percentile = 99.5;  // kPercentile
  std::optional<double> center;   // kFixed, in the image's value units (DICOM: after rescale)
  std::optional<double> width;    // kFixed; must be > 1
};

// DICOM's VOI LUT Function (0028,1056): how a center/width pair is read.
enum class VoiFunction {
  kLinear,       // "LINEAR" (the default): [c - 0.5 - (w-1)/2, c - 0.5 + (w-1)/2]; needs w > 1
  kLinearExact,  // "LINEAR_EXACT": [c - w/2, c + w/2]; needs w > 0
  kSigmoid,      // "SIGMOID": 255 / (1 + exp(-4 (v - c) / w)); needs w > 0
};

// The curve between lower and upper.
enum class WindowShape {
  kLinear,   // the clamped linear ramp described at the top of this file
  kSigmoid,  // floor(255 / (1 + exp(-4 (v - c) / w)) + 0.5), c = (lower + upper) / 2,
             // w = upper - lower; NaN → 0
};

// A resolved window: with kLinear, values <= lower map to 0, > upper to 255, linear in between.
// lower and upper are finite and lower <= upper.
struct Window {
  double lower = 0;
  double upper = 0;
  WindowShape shape = WindowShape::kLinear;
};

// The window a center/width pair denotes under `function`.
// Errors: kInvalidArgument when center or width is not finite or width is out of range for the
// function (see VoiFunction; a LINEAR width of 1 or less is refused as degenerate).
StatusOr<Window> window_from_center_width(double center, double width,
                                          VoiFunction function = VoiFunction::kLinear);

// The window the options select for this image (image.pixels has width * height values):
//   kAuto        `file_window` if given, else as kPercentile
//   kPercentile  lower/upper = the low/high percentiles of the finite pixel values, computed as
//                numpy.percentile's default ("linear") method does; if they coincide (a
//                mostly-constant image), the [min, max] range instead
//   kMinMax      the minimum and maximum of the finite pixel values
//   kFixed       window_from_center_width(center, width, kLinear)
// A constant image gives lower == upper (apply_window then maps it to 0). Non-finite values (NaN,
// ±inf) are ignored. Integer-valued images with a value range up to 2^20 use a histogram (O(n));
// others a selection (O(n) expected, one float copy of the finite values).
// Errors: kInvalidArgument for percentiles outside 0 <= low < high <= 100, kFixed without center
// and width or with an invalid width, an image with no finite values, or pixels.size() that does
// not match width * height.
StatusOr<Window> choose_window(const GrayImageF& image, const WindowOptions& options,
                               std::optional<Window> file_window = std::nullopt);

// Applies `window` (see the top of this file), then, when `invert` (MONOCHROME1), y → 255 - y.
// Returns an 8-bit L image of the same size. Precondition: pixels.size() == width * height.
Image apply_window(const GrayImageF& image, const Window& window, bool invert = false);

}  // namespace xrs
