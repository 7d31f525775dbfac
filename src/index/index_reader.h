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

// What to search for besides the query vector. Mechanism only: any k >= 1 and any offset are
// served (the service decides what its users may ask for).
struct SearchRequest {
  size_t k = 1;       // results wanted (>= 1); fewer come back when fewer qualify
  size_t offset = 0;  // skip this many of the best first: the results are ranks offset+1 ..
                      // offset+k of the full ranking, so pages of one ranking concatenate
  // Only results with score >= min_score (a cosine similarity). -inf keeps everything; NaN is
  // refused.
  float min_score = -std::numeric_limits<float>::infinity();
  std::optional<std::string> category;  // only this category (must occur in the index)
  // Never these images (query by indexed images: they would find themselves). Ids that are not
  // in the index are ignored.
  std::vector<int64_t> exclude_ids;
};

// One result: a ranked id and score with the catalog row it belongs to. `image` points into the
// IndexReader (never null) and stays valid as long as the reader does; copy what must outlive it.
struct SearchResult {
  size_t rank = 0;  // 1-based, in the full ranking (offset + position + 1)
  int64_t id = 0;
  float score = 0;  // cosine similarity of the normalised query and the stored embedding
  const ImageRecord* image = nullptr;
};

struct IndexReaderOptions {
  // The vector index to build. Without a kind, the kind recorded in the catalog's setting
  // kSettingVectorIndex (`index --vector-index`) is used, else the automatic choice.
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

// `options` when it names a kind, else the kind and parameters recorded in info's setting
// kSettingVectorIndex (an unreadable setting is logged and ignored), else `options`.
VectorIndexOptions recorded_vector_options(const CatalogInfo& info,
                                           const VectorIndexOptions& options = {});

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
  // here), ranked by score descending then id ascending (index/topk.h), from rank
  // request.offset + 1 on. kInvalidArgument names the problem: k of 0, k + offset overflowing,
  // NaN min_score, wrong query length, a non-finite or all-zero query, an unknown category (the
  // message lists the known ones).
  //
  // Exact indexes return exactly the brute-force ranking, so any two pages of one query agree.
  // Approximate ones (IVF, HNSW) search deeper for later pages (k + offset candidates), which
  // can rank an item that an earlier page missed: pages then may overlap or skip slightly.
  StatusOr<std::vector<SearchResult>> search(std::span<const float> query,
                                             const SearchRequest& request) const;
  // nq queries at once, row-major nq x model().dim (queries.size() == nq * dim, nq >= 1); result
  // i answers query i with the same request. One BLAS pass over the vectors serves all queries
  // of an exact index. Same errors as search() (a bad query names its row).
  StatusOr<std::vector<std::vector<SearchResult>>> search_batch(std::span<const float> queries,
                                                                const SearchRequest& request) const;

 private:
  IndexReader() = default;

  // The checks of search() that do not depend on the query, as VectorSearchOptions.
  StatusOr<VectorSearchOptions> vector_options(const SearchRequest& request) const;
  // Validates and L2-normalises query `row` of `queries` into `out`.
  Status normalise_query(std::span<const float> query, std::optional<size_t> row, float* out) const;
  // Hits of one query → results: excluded ids dropped, the first `offset` skipped, rows joined.
  StatusOr<std::vector<SearchResult>> to_results(const std::vector<Hit>& hits,
                                                 const SearchRequest& request) const;

  CatalogInfo info_;
  std::vector<ImageRecord> rows_;  // rows_[r] is row r of index_
  std::unique_ptr<VectorIndex> index_;
  std::vector<std::pair<std::string, RowBitset>> category_rows_;  // sorted by name
  VectorLoadReport report_;
};

}  // namespace xrs
