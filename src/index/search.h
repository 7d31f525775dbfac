// IndexReader: an index directory opened for searching. It loads, once, the catalog's rows and
// a vector index over their embeddings (exact, or FAISS from IDX/vectors.faiss when that file is
// present and current, else rebuilt from the catalog and saved back), then answers searches with
// catalog rows joined in.
//
// Thread-safety: an IndexReader is immutable after open(); share one (the shared_ptr) between any
// number of threads. Later changes to the catalog are not seen: open a new reader to pick them up.
//
// Writers (the indexing pipeline) may call IndexReader::open after an index run so that
// vectors.faiss is current before the first query needs it.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "index/catalog.h"
#include "index/vector_index.h"

namespace xrs {

inline constexpr int kMinSearchK = 1;
inline constexpr int kMaxSearchK = 20;

struct SearchRequest {
  int k = 5;  // kMinSearchK..kMaxSearchK
  // Only results with cosine similarity >= min_score (the service sets the defaults: 0.25 for
  // text, 0.95 for image queries). -inf keeps everything.
  float min_score = -std::numeric_limits<float>::infinity();
  std::optional<std::string> category;  // only this category (must occur in the index)
  std::optional<int64_t> exclude_id;    // never this image (query by an indexed image)
};

struct SearchResult {
  int rank = 0;  // 1-based
  int64_t id = 0;
  std::string image_name;
  std::string category;
  float score = 0;  // cosine similarity
  std::string relative_path;
  std::string source_url;
};

struct IndexReaderOptions {
  VectorIndexOptions vectors;
  // Save a rebuilt approximate index to IDX/vectors.faiss (a failure to save is only logged).
  bool write_vectors_file = true;
};

// How the vector index was obtained, for diagnostics and health reports.
struct VectorLoadReport {
  IndexKind kind = IndexKind::kExact;
  bool from_file = false;      // loaded from vectors.faiss
  std::string rebuild_reason;  // why vectors.faiss was not used (empty when loaded or exact)
};

class IndexReader {
 public:
  // Opens IDX read-only. Errors: those of Catalog::open (kNotFound without a catalog,
  // kCorruption, kUnsupported), kCorruption for a damaged embedding, kResourceExhausted when
  // memory runs out. A bad vectors.faiss is not an error: it is rebuilt (and logged).
  static StatusOr<std::shared_ptr<const IndexReader>> open(const std::string& index_dir,
                                                           const IndexReaderOptions& options = {});

  const ModelIdentity& model() const { return info_.model; }
  // OK when queries embedded by `model` may be used here, else check_same_model's error.
  Status check_model(const ModelIdentity& model) const {
    return check_same_model(info_.model, model);
  }
  const CatalogInfo& catalog_info() const { return info_; }
  const VectorLoadReport& load_report() const { return report_; }
  size_t size() const { return rows_.size(); }
  // Categories present in the index, sorted.
  std::vector<std::string> categories() const;
  // Every image, ascending id (no embeddings).
  const std::vector<ImageRecord>& images() const { return rows_; }
  // The image with this id (no embedding), or nullptr.
  const ImageRecord* find(int64_t id) const;
  // The stored embedding of `id` (dim floats); kNotFound for an unknown id.
  StatusOr<std::vector<float>> embedding(int64_t id) const;

  // The best matches for `query` (model().dim floats, any non-zero length: it is L2-normalised
  // here), ranked by score descending then id ascending. kInvalidArgument names the problem:
  // k outside 1..20, NaN min_score, wrong query length, a non-finite or all-zero query, an
  // unknown category (the message lists the known ones).
  StatusOr<std::vector<SearchResult>> search(std::span<const float> query,
                                             const SearchRequest& request) const;

 private:
  IndexReader() = default;

  CatalogInfo info_;
  std::vector<ImageRecord> rows_;  // rows_[r] is row r of index_
  std::unique_ptr<VectorIndex> index_;
  std::vector<std::pair<std::string, RowBitset>> category_rows_;  // sorted by name
  VectorLoadReport report_;
};

}  // namespace xrs
