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

}  // namespace xrs
