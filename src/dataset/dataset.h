// The dataset directory (DESIGN.md §3) and the types its validation produces.
//
//   DATA_DIR/metadata.csv               columns image_name, source_url, category (+ any others)
//   DATA_DIR/raw/<category>/<image_name>
//   DATA_DIR/xray-search.json           optional DatasetConfig (dataset/config.h)
//
// docs/VALIDATION.md lists every rule and problem code. Plain data: safe to share read-only.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dataset/captions.h"
#include "dataset/csv.h"
#include "imaging/decode.h"

namespace xrs {

inline constexpr std::string_view kMetadataFileName = "metadata.csv";
inline constexpr std::string_view kRawDirName = "raw";
inline constexpr std::string_view kDatasetConfigFileName = "xray-search.json";
inline constexpr std::string_view kColumnImageName = "image_name";
inline constexpr std::string_view kColumnSourceUrl = "source_url";
inline constexpr std::string_view kColumnCategory = "category";

struct DatasetConfig {
  // Allowed category values, matched exactly (case-sensitive: they are folder names and search
  // filters). Each must be a plain folder name (no '/', '\\', "..", control characters).
  std::vector<std::string> categories = {"chest", "dental", "hand"};
  // Allowed file extensions, lower case with the dot; matched case-insensitively. Each must be
  // one of the image types xray-search decodes: .png, .jpg, .jpeg, .dcm, .dicom.
  std::vector<std::string> extensions = {".png", ".jpg", ".jpeg", ".dcm"};
  // Pixel-count and side limits (probe_image, without decoding) and, when decode_images is set,
  // the options of the full decode.
  DecodeOptions decode;
  // Fully decode every image (the `validate` command). False: header checks only (the indexer,
  // which decodes each image anyway).
  bool decode_images = true;
  // Whether a file under raw/ that no row lists is an error (the original system's rule, the
  // default) or a warning.
  bool unlisted_files_are_errors = true;
  // Threads for the per-image checks (1..256).
  int threads = 2;
  CsvLimits csv;
  // metadata.csv columns that never leave the dataset folder: they are checked like any column
  // but left out of DatasetEntry (source_url as ""), so the catalog, the API and `export` never
  // hold them (docs/VALIDATION.md, docs/SECURITY.md). Not image_name or category.
  std::vector<std::string> private_columns;
  // Captions for training (xray-search-train only; dataset/captions.h).
  CaptionConfig captions;
  // A metadata.csv column naming each image's group (a patient or study id), or "" for none.
  // `evaluate` leaves the images of a query's own group out of its ranking (docs/EVALUATION.md).
  // Not image_name or category.
  std::string group_column;
};

// One usable row of metadata.csv.
struct DatasetEntry {
  std::string image_name;
  std::string category;
  std::string source_url;
  std::string relative_path;  // "raw/<category>/<image_name>", relative to the data directory
  int line = 0;               // the metadata.csv line where the row starts
  std::map<std::string, std::string> extra;  // the other columns of the row, by header name
};

enum class Severity { kError, kWarning };
std::string_view severity_name(Severity severity);  // "error", "warning"

// What a problem makes unusable.
enum class ProblemScope {
  kDataset,  // the whole dataset: metadata missing or malformed, required column absent, ...
  kImage,    // one row or one file: that image is left out, the others can be used
};
std::string_view problem_scope_name(ProblemScope scope);  // "dataset", "image"

struct Problem {
  std::string code;  // stable snake_case, listed in docs/VALIDATION.md
  Severity severity = Severity::kError;
  ProblemScope scope = ProblemScope::kDataset;
  std::string file;        // relative to the data directory: "metadata.csv", "raw/chest/a.png"
  int line = 0;            // the metadata.csv line concerned, 0 when none
  std::string column;      // the metadata.csv column concerned, empty when none
  std::string image_name;  // the row's image_name for problems about one row, else empty
  std::string message;     // a sentence naming the file, row or field and what is wrong
};

struct ValidationReport {
  std::string data_dir;
  std::vector<std::string> columns;  // metadata.csv's header
  int rows = 0;                      // data records in metadata.csv, malformed ones included
  int images_checked = 0;            // image files whose content was examined
  bool decoded = false;              // whether content checks included a full decode
  // Sorted: rows in metadata.csv order (by line), then the problems without a line by file.
  std::vector<Problem> problems;
  // The rows with no error of their own, in metadata.csv order. With a fatal() report they
  // must not be used.
  std::vector<DatasetEntry> entries;

  // No errors (warnings allowed).
  bool valid() const;
  // Some error has dataset scope: the dataset cannot be used at all. Without one, the entries
  // can be used and the image-scope problems only exclude their own images.
  bool fatal() const;
  int error_count() const;
  int warning_count() const;
};

// The image type a file extension names (".png" → kPng, ".jpg"/".jpeg" → kJpeg,
// ".dcm"/".dicom" → kDicom; case-insensitive), kUnknown for any other.
ImageFileType image_type_for_extension(std::string_view extension);

// Why `name` (an image name or category) could leave the folder it is joined to, or "" when it
// cannot: empty, absolute ("/..."), a backslash, a NUL or other control character, an empty,
// "." or ".." component. `allow_subfolders` permits '/' between components (image names);
// categories are single folder names.
std::string unsafe_name_reason(std::string_view name, bool allow_subfolders);

}  // namespace xrs
