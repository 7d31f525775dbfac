// `xray-search dataset fetch`: downloads the images a metadata.csv lists into a dataset folder
// (DESIGN.md §3: DATA_DIR/raw/<category>/<image_name>) and copies the metadata beside them.
//
// For each well-formed row (read with dataset/csv.h; columns image_name, source_url, category,
// and optionally sha256):
//   - image_name and category must be safe names (unsafe_name_reason: no "..", no absolute path,
//     category without '/'), the extension one of .png .jpg .jpeg .dcm .dicom, the pair unique;
//   - the URL goes through github_blob_to_raw() and the download policy of url.h (https);
//   - a file already in place is skipped when intact: its SHA-256 equals the row's sha256 when
//     that column is filled, else it decodes completely as the image type its extension names;
//   - otherwise it is downloaded with download_file() (resumable through "<file>.part") and
//     checked the same way before it is renamed into place.
// Rows run on `parallel` threads; each row's outcome and reason are reported, and a failed row
// never stops the others, except that once a host cannot be resolved or refuses connections,
// its remaining rows fail at once ("not tried: ...") rather than each waiting for the same
// error. CSV problems (a malformed record) are failed items with their line.
//
// Whole-run failures (Status): the metadata cannot be read (read_csv_file's codes), a required
// column is missing (kInvalidArgument naming it), `out_dir` or its metadata.csv cannot be
// written (kIoError), `parallel` outside 1..64 (kInvalidArgument).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "fetch/download.h"
#include "imaging/decode.h"

namespace xrs {

struct DatasetFetchOptions {
  DownloadOptions download;
  int parallel = 4;  // simultaneous downloads, 1..64
  // Limits for the intactness check's decode (a bomb is not "intact").
  DecodeOptions decode;
};

enum class FetchOutcome { kDownloaded, kSkipped, kFailed };
std::string_view fetch_outcome_name(FetchOutcome outcome);  // "downloaded", "skipped", "failed"

struct DatasetFetchItem {
  int line = 0;  // the metadata.csv line of the row
  std::string image_name;
  std::string category;
  std::string url;            // after the blob → raw rewrite
  std::string relative_path;  // "raw/<category>/<image_name>", empty when refused before that
  FetchOutcome outcome = FetchOutcome::kFailed;
  std::string reason;  // why it failed (empty otherwise)
  uint64_t bytes = 0;  // size of the file in place (downloaded or skipped)
};

struct DatasetFetchReport {
  std::string out_dir;
  int downloaded = 0;
  int skipped = 0;
  int failed = 0;
  std::vector<DatasetFetchItem> items;  // CSV problems first, then rows in metadata.csv order
  bool ok() const { return failed == 0; }
};

// Called once per finished item (with `done` of `total` finished), one call at a time, from the
// worker threads: it must not block for long.
using DatasetFetchCallback = std::function<void(const DatasetFetchItem& item, int done, int total)>;

StatusOr<DatasetFetchReport> fetch_dataset(const std::string& metadata_csv,
                                           const std::string& out_dir,
                                           const DatasetFetchOptions& options,
                                           const DatasetFetchCallback& on_item = {});

}  // namespace xrs
