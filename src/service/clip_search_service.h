// SearchService: the SearchBackend over a CLIP model and an index directory.
//
//   auto service = SearchService::open("idx");        // model path recorded in the index
//   service->search_text("PA chest radiograph", {});
//
// Opening loads the index (catalog rows + vector index) once and the model the index was built
// with (or `model_path`, which must be the same model: same weights SHA-256). Immutable
// afterwards; every method is safe to call from many threads at once.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "clip/clip_model.h"
#include "imaging/decode.h"
#include "index/index_reader.h"
#include "service/search_service.h"

namespace xrs {

struct SearchServiceOptions {
  std::string index_dir;
  // The model to embed queries with; empty: the model path recorded in the index.
  std::string model_path;
  // Where the indexed files are; empty: the data directory recorded in the index.
  std::string data_dir;
  // Limits for decoding uploaded query images.
  DecodeOptions decode;
};

// The one conversion from the index's result row to the service's hit (strings copied out of
// the reader's catalog rows).
SearchHit to_hit(const SearchResult& result);

class SearchService final : public SearchBackend {
 public:
  static StatusOr<std::unique_ptr<SearchService>> open(const SearchServiceOptions& options);

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

  // The same searches with a query image already decoded, or an embedding already computed
  // (L2-normalised, model dim).
  StatusOr<SearchResponse> search_embedding(std::span<const float> embedding, float min_score,
                                            const SearchOptions& options,
                                            std::optional<int64_t> exclude_id) const;
  StatusOr<SearchResponse> search_embedding(std::span<const float> embedding, float min_score,
                                            const SearchOptions& options,
                                            std::vector<int64_t> exclude_ids) const;

  const ClipModel& model() const { return *model_; }
  const IndexReader& index() const { return *index_; }

 private:
  SearchService() = default;

  // A decoded, embedded query image and its indexed id (by SHA-256), if any.
  StatusOr<std::vector<float>> embed_query_image(std::span<const uint8_t> bytes) const;

  std::unique_ptr<ClipModel> model_;
  std::shared_ptr<const IndexReader> index_;
  std::string data_dir_;
  std::string model_label_;
  // Default thresholds: the model's settings, else kDefaultTextMinScore / kDefaultImageMinScore.
  float text_min_score_ = kDefaultTextMinScore;
  float image_min_score_ = kDefaultImageMinScore;
  DecodeOptions decode_;
  std::map<std::string, int64_t> id_by_sha256_;  // exclude-self for uploaded images
};

}  // namespace xrs
