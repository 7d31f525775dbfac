// validate_search_options: the ranges every front end (CLI, HTTP) and the service agree on.
#include <cmath>
#include <string>

#include "service/search_service.h"

namespace xrs {

Status validate_search_options(const SearchOptions& options) {
  if (options.k < 1 || options.k > kMaxK) {
    return Status::invalid_argument("k must be between 1 and " + std::to_string(kMaxK) + ", got " +
                                    std::to_string(options.k));
  }
  if (options.offset < 0 || options.offset > kMaxOffset) {
    return Status::invalid_argument("offset must be between 0 and " + std::to_string(kMaxOffset) +
                                    ", got " + std::to_string(options.offset));
  }
  if (options.min_score) {
    const float s = *options.min_score;
    // NaN fails both comparisons, so it is caught here too.
    if (!(s >= -1.0f && s <= 1.0f)) {
      return Status::invalid_argument(
          "min_score must be a number between -1 and 1 (cosine similarity), got " +
          (std::isnan(s) ? std::string("NaN") : std::to_string(s)));
    }
  }
  if (options.category && options.category->empty()) {
    return Status::invalid_argument("category must not be empty (leave it out for all categories)");
  }
  return Status::ok();
}

Status validate_query_embedding(std::span<const float> embedding, size_t dim) {
  if (embedding.empty()) return Status::invalid_argument("the embedding is empty");
  if (dim != 0 && embedding.size() != dim) {
    return Status::invalid_argument("the embedding has " + std::to_string(embedding.size()) +
                                    " values; the index's model has dimension " +
                                    std::to_string(dim));
  }
  bool any_nonzero = false;
  for (size_t i = 0; i < embedding.size(); ++i) {
    if (!std::isfinite(embedding[i])) {
      return Status::invalid_argument("the embedding's value " + std::to_string(i) +
                                      " (0-based) is not a finite number");
    }
    any_nonzero = any_nonzero || embedding[i] != 0.0f;
  }
  if (!any_nonzero) {
    return Status::invalid_argument("the embedding is all zeros (it has no direction)");
  }
  return Status::ok();
}

}  // namespace xrs
