// Dataset validation: every problem of a dataset directory at once (DESIGN.md §3).
//
// Rules, in the order a row meets them (docs/VALIDATION.md has the codes and examples):
//   metadata.csv  present, a regular file, RFC 4180, UTF-8 (dataset/csv.h), required columns
//                 image_name, source_url, category;
//   each row      required fields non-empty; image_name and category safe names (no leaving
//                 raw/); image_name unique in the file (later duplicates reported with the line
//                 of the first); category in config.categories (exact match); extension in
//                 config.extensions (case-insensitive);
//   each file     raw/<category>/<image_name> exists, is a regular file (symbolic links allowed
//                 while their target stays inside raw/), is not empty, its content (magic bytes)
//                 matches its extension, its header is readable with a pixel count within
//                 config.decode.limits and, with config.decode_images, it fully decodes;
//   raw/          every file under it is listed by some row (hidden files and folders, whose
//                 names start with '.', are ignored).
//
// The per-file checks run on config.threads threads; the report does not depend on their
// number or timing. The function does not print, and never modifies the directory.
// Thread-safe: concurrent calls share nothing.
#pragma once

#include <string>

#include "dataset/dataset.h"

namespace xrs {

// Validates the dataset at `data_dir` (config as given: the caller decides whether to load
// DATA_DIR/xray-search.json; see dataset/config.h). Never fails: an unusable directory or
// config is a dataset-scope problem in the report ("missing_metadata", "invalid_config", ...).
ValidationReport validate_dataset(const std::string& data_dir, const DatasetConfig& config);

}  // namespace xrs
