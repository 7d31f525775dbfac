#include "near_duplicates.h"

#include <algorithm>

#include "clip/model_settings.h"
#include "index/catalog.h"
#include "index/duplicates.h"
#include "index/index_reader.h"
#include "service/search_service.h"

namespace xrs::train {

StatusOr<NearDuplicates> load_near_duplicates(const std::string& index_dir, double min_score) {
  StatusOr<std::shared_ptr<const IndexReader>> opened = IndexReader::open(index_dir);
  if (!opened.is_ok()) {
    return Status::invalid_argument("--near-duplicates " + index_dir + ": " +
                                    opened.status().message());
  }
  const IndexReader& index = **opened;
  NearDuplicates out;
  out.index_images = index.size();
  if (min_score > 0) {
    out.min_score = static_cast<float>(min_score);
    out.threshold_from = "--duplicate-min-score";
  } else {
    out.min_score = kDefaultDuplicateMinScore;
    out.threshold_from = "default";
    const auto& settings = index.catalog_info().settings;
    if (auto it = settings.find(kSettingModelPath); it != settings.end() && !it->second.empty()) {
      XRS_ASSIGN_OR_RETURN(const ModelSettings model, load_model_settings(it->second));
      if (model.duplicate_min_score) {
        out.min_score = *model.duplicate_min_score;
        out.threshold_from = "model settings";
      }
    }
  }
  if (Status s = validate_duplicate_min_score(out.min_score); !s.is_ok()) {
    return Status::invalid_argument("--duplicate-min-score: " + s.message());
  }
  DuplicateOptions options;
  options.min_score = out.min_score;
  XRS_ASSIGN_OR_RETURN(const std::vector<DuplicateGroup> groups,
                       find_duplicate_groups(index, options));
  for (const DuplicateGroup& g : groups) {
    std::vector<std::string> names;
    for (int64_t id : g.ids) {
      if (const ImageRecord* r = index.find(id)) names.push_back(r->image_name);
    }
    out.largest = std::max(out.largest, names.size());
    out.groups.push_back(std::move(names));
  }
  if (4 * out.largest > out.index_images) {
    return Status::invalid_argument(
        "--near-duplicates " + index_dir + ": at cosine " + std::to_string(out.min_score) + " (" +
        out.threshold_from + ") one near-duplicate group holds " + std::to_string(out.largest) +
        " of " + std::to_string(out.index_images) +
        " images: the threshold is too low for that index's model (raise --duplicate-min-score; "
        "look at `xray-search duplicates --index " +
        index_dir + " --min-score S --sheet dups.html`)");
  }
  return out;
}

}  // namespace xrs::train
