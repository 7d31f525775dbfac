// Near-duplicate groups for train's split (`--near-duplicates INDEX`): read from an index of the
// same dataset built with any model (index/duplicates.h), at --duplicate-min-score, else the
// index model's duplicate_min_score (xray-search-model.json), else 0.97. No LibTorch here.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace xrs::train {

struct NearDuplicates {
  std::vector<std::vector<std::string>> groups;  // image names, >= 2 each
  float min_score = 0;
  std::string threshold_from;  // "--duplicate-min-score", "model settings" or "default"
  size_t index_images = 0;
  size_t largest = 0;  // images in the largest group
};

// min_score <= 0: the model's or the default. Errors: the index cannot be opened
// (kInvalidArgument naming it), a threshold outside (0, 1], a broken settings file, and a
// largest group holding more than a quarter of the index's images (the threshold is too low
// for that model: the split would put most of the dataset on one side).
StatusOr<NearDuplicates> load_near_duplicates(const std::string& index_dir, double min_score);

}  // namespace xrs::train
