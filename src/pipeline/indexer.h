// The write side: build or update an index directory from a dataset directory.
//
//   validate (header checks) → hash every file → plan (plan.h) → apply renames, metadata
//   updates and removals → decode + preprocess (a producer thread) in parallel with batched
//   embedding → one catalog transaction per batch → refresh the derived vector file.
//
// Incremental: only new or changed content is embedded. Crash-safe: every batch is one SQLite
// transaction, so a process killed at any moment leaves an index that opens and answers queries,
// and the next run completes it. Images that cannot be used (validation problems of image scope,
// decode failures) are skipped and reported; dataset-scope problems stop the run before anything
// changes. Not thread-safe: one run per index directory at a time (SQLite serialises writers).
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "clip/clip_model.h"
#include "core/status.h"
#include "dataset/dataset.h"
#include "index/catalog.h"
#include "index/shard.h"

namespace xrs {

struct IndexProgress {
  enum class Phase { kHashing, kEmbedding, kDone } phase = Phase::kHashing;
  size_t done = 0;
  size_t total = 0;
  double per_second = 0;  // embedding rate so far (images/s)
  double eta_seconds = 0;
};

struct IndexOptions {
  std::string data_dir;
  std::string index_dir;
  // Where the model came from, recorded (absolute) so that `search` and `serve` can load it.
  std::string model_path;
  int batch = 32;  // images per embedding batch and per catalog transaction
  // Dataset rules (categories, extensions, limits); decode_images is ignored (the indexer
  // decodes every image it embeds anyway).
  DatasetConfig dataset;
  // Index only this shard of the dataset (index/shard.h); the whole dataset is still validated.
  // An index keeps the shard it was created for: another shard (or none) is refused unless
  // `rebuild`.
  ShardSpec shard;
  // Drop an index built with another model (or for another shard) instead of refusing it.
  bool rebuild = false;
  // The vector index readers build, as parse_vector_index_spec reads it (e.g. "ivf-pq",
  // "f16", "auto"): recorded in the catalog (kSettingVectorIndex) for search and serve, and the
  // saved vectors file built at the end of the run. Empty keeps what the index recorded.
  std::string vector_index;
  // Called after each step of progress, on the calling thread.
  std::function<void(const IndexProgress&)> on_progress;
  // Set from another thread (a signal handler's flag) to stop after the current batch.
  const std::atomic<bool>* cancel = nullptr;
};

struct SkippedImage {
  std::string image_name;  // may be empty for files no row lists
  std::string file;
  std::string reason;
};

struct IndexSummary {
  size_t added = 0;     // rows created with a new embedding (or a copied one)
  size_t updated = 0;   // rows whose content changed and was embedded again
  size_t renamed = 0;   // rows moved to a new name, embedding kept
  size_t metadata = 0;  // rows whose metadata changed, embedding kept
  size_t removed = 0;   // rows deleted
  size_t unchanged = 0;
  size_t total = 0;  // rows in the index after the run
  std::vector<SkippedImage> skipped;
  std::vector<Problem> warnings;  // validation warnings (not errors)
  double seconds = 0;
  double embed_seconds = 0;   // wall time of the embedding phase
  size_t embedded = 0;        // images run through the model
  size_t dataset_images = 0;  // usable images in the whole dataset (all shards)
  ShardSpec shard;            // as asked for
};

// Runs one index pass. kFailedPrecondition with the validation report's text when the dataset
// is unusable, or when the index was built with another model (unless options.rebuild);
// kCancelled when stopped through options.cancel (everything committed so far stays).
StatusOr<IndexSummary> run_index(const ClipModel& model, const IndexOptions& options);

}  // namespace xrs
