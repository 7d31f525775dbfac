// Merging shard indexes (index/shard.h) into one index: `xray-search merge SHARD_IDX... --index
// IDX`. docs/INDEX_FORMAT.md, "Shards and merge".
//
// Checks first, changing nothing when one fails (kFailedPrecondition, naming the indexes):
//   - every input opens as a catalog, and none is the target;
//   - every input was built with the same model (weights, dimension, preprocessing);
//   - shard indexes form one complete set: the same n, each k once, none missing. Indexes
//     without a shard setting (whole datasets) may be merged together, but not with shards;
//   - no image name is in two inputs (overlap);
//   - the target, when it exists, holds the same model and is not itself a shard.
// Then the target becomes the union of the inputs: an image whose name, content (SHA-256) and
// metadata are already in the target is left alone; others are written (a new image gets a new
// id; a changed one keeps its id), images no input holds are removed. Rows are written in
// batches, one transaction each (crash-safe like `index`: a kill leaves a readable index as of
// the last batch, and the next merge completes it). Input order: by shard k, then image name, so
// ids are assigned deterministically. Ids are the target's own; the stable name of an image
// across shards and merges is its image_name.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace xrs {

struct MergeOptions {
  std::vector<std::string> inputs;  // shard index folders
  std::string index_dir;            // the merged index (created when absent)
  size_t batch = 512;               // rows per transaction
  // Called after every committed transaction with the rows written so far and the total to
  // write, on the calling thread.
  std::function<void(size_t written, size_t to_write)> on_commit;
  const std::atomic<bool>* cancel = nullptr;  // stop after the current batch
};

struct MergeSummary {
  size_t inputs = 0;
  int shard_count = 0;  // n of the shard set; 0 when the inputs are whole indexes
  size_t added = 0;
  size_t updated = 0;
  size_t removed = 0;
  size_t unchanged = 0;
  size_t total = 0;  // images in the merged index
  std::vector<std::string> warnings;
  double seconds = 0;
};

StatusOr<MergeSummary> merge_indexes(const MergeOptions& options);

}  // namespace xrs
