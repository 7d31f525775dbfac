// A SearchBackend for testing the server and the web UI without a model or an index: it "indexes"
// image files found in a folder and returns deterministic results.
//
// - Categories: the parent folder's name when the file sits in a sub-folder (so a dataset's
//   raw/<category>/ layout works); otherwise from the name's prefix (cxr → chest, dent → dental,
//   hand → hand), else chest/dental/hand in turn.
// - Text: an image scores 0.55..0.8 when the query mentions its category, 0.1..0.35 otherwise
//   (the spread is a hash of query and name), so the default 0.25 threshold keeps some.
// - Image: the upload is decoded with the real decoder (errors pass through, as the real
//   service's would); scores are 0.99, 0.98, ... in an order that depends on the upload.
// - Similar: like image, from the indexed image itself, which is left out.
// - Combined: validated as the real service does (validate_query_terms, ids must exist, the
//   threshold rule, image terms decoded with the real decoder); scores as for text, from the
//   terms' texts; id terms are left out.
// - Embedding (dimension kFakeDim): image i scores the query's value at i % kFakeDim (after the
//   real validation), so a test can choose the ranking.
// - collapse_duplicates: images of one category count as near-duplicates of each other, so the
//   collapsed ranking is the best of each category, each with the number of the others that
//   qualify as duplicates_hidden.
//
// Thread-safe: the hooks are guarded by a mutex; search methods may run concurrently.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "service/search_service.h"

namespace xrs::testing {

inline constexpr size_t kFakeDim = 8;

class FakeBackend : public SearchBackend {
 public:
  // Every .png/.jpg/.jpeg/.dcm file under `dir` (recursively), ids 0.. in path order.
  // kNotFound when `dir` does not exist, kInvalidArgument when it holds no image.
  static StatusOr<std::unique_ptr<FakeBackend>> open(const std::string& dir);
  explicit FakeBackend(std::vector<IndexedImage> images);

  BackendInfo info() const override;
  StatusOr<SearchResponse> search_text(std::string_view query,
                                       const SearchOptions& options) const override;
  StatusOr<SearchResponse> search_image(std::span<const uint8_t> image_bytes,
                                        const SearchOptions& options) const override;
  StatusOr<SearchResponse> search_by_id(int64_t id, const SearchOptions& options) const override;
  StatusOr<SearchResponse> search_vector(std::span<const float> embedding,
                                         const SearchOptions& options) const override;
  StatusOr<SearchResponse> search_combined(std::span<const QueryTerm> terms,
                                           const SearchOptions& options) const override;
  StatusOr<IndexedImage> image(int64_t id) const override;

  // Test hooks: every search fails with `status` (OK clears it); searches sleep `ms` first; a
  // search throws std::runtime_error.
  void fail_searches_with(Status status);
  void set_search_delay_ms(int ms) { delay_ms_ = ms; }
  void throw_in_searches(bool on) { throw_ = on; }
  // The model's near-duplicate threshold that info() reports (BackendInfo::duplicate_min_score).
  void set_duplicate_min_score(float t) { duplicate_min_score_ = t; }
  // The options and query text of the last search (for checking what the router parsed).
  SearchOptions last_options() const;
  std::string last_query() const;
  // The terms of the last combined search.
  std::vector<QueryTerm> last_terms() const;
  int search_count() const { return searches_; }

 private:
  StatusOr<SearchResponse> rank(std::vector<std::pair<float, int64_t>> scored,
                                const SearchOptions& options, float default_min) const;
  Status before_search(std::string_view query, const SearchOptions& options) const;

  std::vector<IndexedImage> images_;
  mutable std::mutex mutex_;
  mutable SearchOptions last_options_;         // guarded by mutex_
  mutable std::string last_query_;             // guarded by mutex_
  mutable std::vector<QueryTerm> last_terms_;  // guarded by mutex_
  Status failure_;                             // guarded by mutex_
  std::atomic<int> delay_ms_{0};
  std::atomic<float> duplicate_min_score_{kDefaultDuplicateMinScore};
  std::atomic<bool> throw_{false};
  mutable std::atomic<int> searches_{0};
};

}  // namespace xrs::testing
