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
  if (options.collapse_duplicates) {
    const float t = *options.collapse_duplicates;
    if (!(t > 0.0f && t <= 1.0f)) {
      return Status::invalid_argument(
          "collapse_duplicates must be a cosine similarity in (0, 1], got " +
          (std::isnan(t) ? std::string("NaN") : std::to_string(t)));
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

Status validate_query_terms(std::span<const QueryTerm> terms, size_t dim) {
  if (terms.empty()) {
    return Status::invalid_argument("the combination is empty: give at least one term");
  }
  if (terms.size() > kMaxTerms) {
    return Status::invalid_argument("the combination has " + std::to_string(terms.size()) +
                                    " terms; the limit is " + std::to_string(kMaxTerms));
  }
  for (size_t i = 0; i < terms.size(); ++i) {
    const QueryTerm& t = terms[i];
    const std::string name = "term " + std::to_string(i + 1) + ": ";
    if (!std::isfinite(t.weight) || t.weight == 0.0f) {
      return Status::invalid_argument(name + "the weight must be a finite number other than 0");
    }
    switch (t.kind) {
      case QueryTerm::Kind::kText:
        if (t.text.find_first_not_of(" \t\r\n") == std::string::npos) {
          return Status::invalid_argument(name + "the text is empty");
        }
        break;
      case QueryTerm::Kind::kImage:
        if (t.image_bytes.empty()) return Status::invalid_argument(name + "the image is empty");
        break;
      case QueryTerm::Kind::kId:
        if (t.id < 0) return Status::invalid_argument(name + "the id must not be negative");
        break;
      case QueryTerm::Kind::kEmbedding:
        if (Status s = validate_query_embedding(t.embedding, dim); !s.is_ok()) {
          return Status::invalid_argument(name + s.message());
        }
        break;
    }
  }
  return Status::ok();
}

std::pair<float, std::string> combined_min_score(std::span<const QueryTerm> terms,
                                                 const SearchOptions& options, float text_default,
                                                 float image_default) {
  if (options.min_score) return {*options.min_score, "given"};
  for (const QueryTerm& t : terms) {
    if (t.kind == QueryTerm::Kind::kText) {
      return {text_default, "the text default, as a term is text"};
    }
  }
  return {image_default, "the image default, as no term is text"};
}

}  // namespace xrs
