// The near-duplicate contact sheet (`xray-search duplicates --sheet FILE.html`): one
// self-contained HTML page showing each group's images side by side. Thumbnails are embedded as
// data: URIs (JPEG, longer side `thumbnail_size`), so the file can be moved, mailed or archived
// without the dataset and loads nothing from anywhere (no CDN, no script). It holds the images'
// pixels (downscaled): treat it like the images themselves. An image that cannot be read or
// decoded is shown as a box with the reason instead; the sheet is still written.
//
// Pure function of its inputs (reads the image files); thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace xrs {

struct ContactSheetImage {
  int64_t id = 0;
  std::string image_name;
  std::string category;
  std::string relative_path;  // as indexed, e.g. raw/chest/a.png (shown)
  std::string file;           // where to read it (absolute, or relative to the working dir)
};

struct ContactSheetGroup {
  std::vector<ContactSheetImage> images;
  float min_score = 0;  // the group's linking score (index/duplicates.h)
};

struct ContactSheetOptions {
  std::string title = "Near-duplicate images";
  std::string subtitle;      // e.g. the index and the threshold
  int thumbnail_size = 160;  // pixels, longer side; 16..1024
};

// The HTML document. kInvalidArgument for a thumbnail size out of range.
StatusOr<std::string> render_contact_sheet(const std::vector<ContactSheetGroup>& groups,
                                           const ContactSheetOptions& options);

}  // namespace xrs
