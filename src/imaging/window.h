// Intensity windowing: high-bit-depth gray (16-bit PNG, DICOM) → 8-bit, without clipping.
//
// Pillow's RGB conversion clips 16-bit values at 255 (the original system saw white images);
// xray-search maps a window [center - width/2, center + width/2] linearly onto 0..255 instead.
// docs/IMAGING.md describes the rules; this header is their single implementation.
#pragma once

#include <optional>

#include "core/status.h"
#include "imaging/image.h"

namespace xrs {

enum class WindowMode {
  kAuto,        // DICOM: the file's VOI window (or VOI LUT) if present, else kPercentile.
                // PNG 16-bit: kPercentile.
  kPercentile,  // from the data: the [low_percentile, high_percentile] range of pixel values
  kMinMax,      // from the data: the full [min, max] range
  kFixed,       // the center/width given below
};

struct WindowOptions {
  WindowMode mode = WindowMode::kAuto;
  double low_percentile = 0.5;    // kPercentile
  double high_percentile = 99.5;  // kPercentile
  std::optional<double> center;   // kFixed
  std::optional<double> width;    // kFixed
};

// A resolved window: values <= lower map to 0, >= upper to 255, linear in between.
struct Window {
  double lower = 0;
  double upper = 0;
};

// The window the options select for this image, from the data where the mode says so.
// `file_window` is the window the file itself carries (DICOM VOI), if any.
StatusOr<Window> choose_window(const GrayImageF& image, const WindowOptions& options,
                               std::optional<Window> file_window = std::nullopt);

// Applies `window` (and inverts the result when `invert`, for MONOCHROME1) → 8-bit L image.
Image apply_window(const GrayImageF& image, const Window& window, bool invert = false);

}  // namespace xrs
