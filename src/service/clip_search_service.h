// SearchService: the SearchBackend over a CLIP model and an index directory.
//
//   auto service = SearchService::open("idx");        // model path recorded in the index
//   service->search_text("PA chest radiograph", {});
//
// Opening loads the index (catalog rows + vector index) and the model the index was built with
// (or `model_path`, which must be the same model: same weights SHA-256). Every method is safe to
// call from many threads at once.
//
// Replicas (serve --read-only): reload_if_changed() checks the catalog's generation and, when a
// writer (index, merge) committed a newer one, loads it beside the one in use and switches to it
// in one step. Each query runs on the generation current when it started (it holds that
// generation until it returns), so a switch never fails or mixes a request; IndexWatcher calls
// it periodically on a thread of its own.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "clip/clip_model.h"
#include "clip/prompt_ensemble.h"
#include "imaging/decode.h"
#include "index/index_reader.h"
#include "service/image_batcher.h"
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
  // Never write into the index folder (a replica: the rebuilt vectors.faiss is not saved; the
  // writer saves it), and report read_only in info().
  bool read_only = false;
  // The image tower's precision (ClipLoadOptions); empty: the one the index was built with.
  std::optional<kernels::Precision> precision;
  // Concurrent query images (search_image, image terms of search_combined) gathered into one
  // forward pass (image_batcher.h). max_batch_size 1 (the default here; serve's default is 8):
  // no batcher, each query's image is embedded in its own thread.
  ImageBatcherOptions image_batching{.max_batch_size = 1};
};

// The precision an index's model identity records (" precision=bf16" in its preprocessing id;
// none: fp32).
kernels::Precision recorded_precision(const ModelIdentity& identity);

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
  // The generation served now. The reference stays valid until the next switch: tools that
  // call reload_if_changed() (or run an IndexWatcher) use index_snapshot() instead.
  const IndexReader& index() const { return *current()->index; }
  std::shared_ptr<const IndexReader> index_snapshot() const { return current()->index; }

  // Reads the catalog's generation (one small read transaction) and, when it differs from the
  // one served (a newer commit, or another catalog after a rebuild), loads the committed state
  // and switches to it. Returns whether it switched. On an error (the index unreadable for a
  // moment, or now built with another model) it keeps serving the current generation and
  // returns the error. Safe to call while queries run; calls are serialised.
  StatusOr<bool> reload_if_changed();

 private:
  SearchService() = default;

  // One generation of the index and what is derived from it.
  struct Loaded {
    std::shared_ptr<const IndexReader> index;
    std::map<std::string, int64_t> id_by_sha256;  // exclude-self for uploaded images
  };
  static std::shared_ptr<const Loaded> make_loaded(std::shared_ptr<const IndexReader> index);
  std::shared_ptr<const Loaded> current() const;
  IndexReaderOptions reader_options() const;

  StatusOr<SearchResponse> search_in(const Loaded& loaded, std::span<const float> embedding,
                                     float min_score, const SearchOptions& options,
                                     std::vector<int64_t> exclude_ids) const;

  // A decoded, embedded query image (decoded and preprocessed in the caller's thread, the
  // forward pass through batcher_ when there is one).
  StatusOr<std::vector<float>> embed_query_image(std::span<const uint8_t> bytes) const;

  std::unique_ptr<ClipModel> model_;
  ModelIdentity identity_;
  std::string index_dir_;
  bool read_only_ = false;
  mutable std::mutex current_mutex_;  // guards current_ (held only to copy or swap it)
  std::shared_ptr<const Loaded> current_;
  std::mutex reload_mutex_;  // one reload at a time
  std::atomic<uint64_t> reloads_{0};
  std::string data_dir_;
  std::string model_label_;
  // Default thresholds: the model's settings, else kDefaultTextMinScore / kDefaultImageMinScore.
  float text_min_score_ = kDefaultTextMinScore;
  float image_min_score_ = kDefaultImageMinScore;
  float duplicate_min_score_ = kDefaultDuplicateMinScore;
  std::unique_ptr<PromptEnsemble> ensemble_;  // the model's prompt templates (may be none)

  // A text query's embedding: through the prompt ensemble unless options.raw_text.
  StatusOr<std::vector<float>> embed_query_text(std::string_view text,
                                                const SearchOptions& options) const;
  DecodeOptions decode_;
  // Gathers concurrent query images into batches; null when image_batching.max_batch_size is 1.
  // Declared last: destroyed (shut down) first, while the model it uses still exists.
  std::unique_ptr<ImageBatcher> batcher_;
};

// Calls service.reload_if_changed() every `interval` on a thread of its own (logging each switch
// and each new error once) until destroyed. The service must outlive it.
class IndexWatcher {
 public:
  IndexWatcher(SearchService& service, std::chrono::milliseconds interval);
  ~IndexWatcher();
  IndexWatcher(const IndexWatcher&) = delete;
  IndexWatcher& operator=(const IndexWatcher&) = delete;

 private:
  void run();

  SearchService& service_;
  const std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace xrs
