// Internal: the checks of one listed image file (validate.cpp runs them on a thread pool).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "dataset/dataset.h"

namespace xrs::dataset_internal {

struct FileJob {
  std::string image_name;
  std::string relative_path;  // "raw/<category>/<image_name>"
  int line = 0;
  // The type the extension promises; kUnknown: check presence only (the extension is refused).
  ImageFileType expected = ImageFileType::kUnknown;
};

struct FileResult {
  std::vector<Problem> problems;  // image scope
  bool content_checked = false;   // the bytes were examined (counts in images_checked)
};

// Presence, link target inside `raw_canonical`, regular file, non-empty; then, when the type is
// known, magic bytes, header (pixel limits) and, with config.decode_images, a full decode.
// Never throws. Safe to call concurrently.
FileResult check_image_file(const FileJob& job, const std::filesystem::path& data_dir,
                            const std::filesystem::path& raw_canonical,
                            const DatasetConfig& config);

}  // namespace xrs::dataset_internal
