// The VectorIndex front: argument validation, kind selection and construction.
#include "index/vector_index.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <string>

#include "index/exact_scan.h"
#include "index/faiss_index.h"

namespace xrs {

RowBitset::RowBitset(size_t rows, bool value)
    : rows_(rows), words_((rows + 63) / 64, value ? ~uint64_t{0} : 0) {
  // Bits past `rows` stay clear so that count() needs no mask.
  if (value && rows % 64 != 0) words_.back() = (uint64_t{1} << (rows % 64)) - 1;
}

size_t RowBitset::count() const {
  size_t n = 0;
  for (uint64_t w : words_) n += static_cast<size_t>(std::popcount(w));
  return n;
}

std::string_view index_kind_name(IndexKind kind) {
  switch (kind) {
    case IndexKind::kExact:
      return "exact";
    case IndexKind::kHnsw:
      return "hnsw";
    case IndexKind::kIvf:
      return "ivf";
  }
  return "unknown";
}

StatusOr<IndexKind> parse_index_kind(std::string_view name) {
  for (IndexKind k : {IndexKind::kExact, IndexKind::kHnsw, IndexKind::kIvf}) {
    if (name == index_kind_name(k)) return k;
  }
  return Status::invalid_argument("unknown vector index kind '" + std::string(name) +
                                  "' (expected exact, hnsw or ivf)");
}

IndexKind choose_index_kind(size_t rows, const VectorIndexOptions& options) {
  if (rows == 0) return IndexKind::kExact;
  if (options.kind) return *options.kind;
  return rows >= options.auto_threshold ? IndexKind::kIvf : IndexKind::kExact;
}

std::optional<size_t> VectorIndex::row_of(int64_t id) const {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it == ids_.end() || *it != id) return std::nullopt;
  return static_cast<size_t>(it - ids_.begin());
}

StatusOr<std::vector<Hit>> VectorIndex::search(std::span<const float> query,
                                               const VectorSearchOptions& options) const {
  if (query.size() != dim_) {
    return Status::invalid_argument("query has " + std::to_string(query.size()) +
                                    " values, the index has dim " + std::to_string(dim_));
  }
  XRS_ASSIGN_OR_RETURN(auto results, search_batch(query, options));
  return std::move(results.front());
}

StatusOr<std::vector<std::vector<Hit>>> VectorIndex::search_batch(
    std::span<const float> queries, const VectorSearchOptions& options) const {
  if (queries.empty() || queries.size() % dim_ != 0) {
    return Status::invalid_argument("queries hold " + std::to_string(queries.size()) +
                                    " values, not a positive multiple of dim " +
                                    std::to_string(dim_));
  }
  for (size_t i = 0; i < queries.size(); ++i) {
    if (!std::isfinite(queries[i])) {
      return Status::invalid_argument("query value " + std::to_string(i % dim_) + " is not finite");
    }
  }
  if (options.k == 0) return Status::invalid_argument("k must be at least 1");
  if (std::isnan(options.min_score)) return Status::invalid_argument("min_score is NaN");
  if (options.allow != nullptr && options.allow->size() != size()) {
    return Status::invalid_argument("filter has " + std::to_string(options.allow->size()) +
                                    " rows, the index has " + std::to_string(size()));
  }
  std::optional<size_t> exclude_row;
  if (options.exclude_id) exclude_row = row_of(*options.exclude_id);
  const size_t nq = queries.size() / dim_;
  std::vector<std::vector<Hit>> out;
  out.reserve(nq);
  XRS_RETURN_IF_ERROR(do_search(queries.data(), nq, options, exclude_row, out));
  return out;
}

Status VectorIndex::copy_vector(int64_t id, std::span<float> out) const {
  std::optional<size_t> row = row_of(id);
  if (!row) return Status::not_found("no vector with id " + std::to_string(id));
  if (out.size() != dim_) {
    return Status::invalid_argument("output has room for " + std::to_string(out.size()) +
                                    " values, dim is " + std::to_string(dim_));
  }
  return do_copy_vector(*row, out.data());
}

StatusOr<std::unique_ptr<VectorIndex>> build_vector_index(EmbeddingSet set,
                                                          const VectorIndexOptions& options) {
  if (set.ids.size() != set.vectors.rows()) {
    return Status::invalid_argument("embedding set has " + std::to_string(set.ids.size()) +
                                    " ids for " + std::to_string(set.vectors.rows()) + " rows");
  }
  if (set.vectors.cols() == 0 || set.vectors.cols() > INT_MAX) {
    return Status::invalid_argument("embedding dimension " + std::to_string(set.vectors.cols()) +
                                    " is unusable");
  }
  if (set.ids.size() > INT_MAX) {  // BLAS and FAISS's HNSW count rows in int
    return Status::resource_exhausted("too many vectors: " + std::to_string(set.ids.size()));
  }
  for (size_t i = 1; i < set.ids.size(); ++i) {
    if (set.ids[i] <= set.ids[i - 1]) {
      return Status::invalid_argument("embedding ids are not strictly increasing at row " +
                                      std::to_string(i));
    }
  }
  IndexKind kind = choose_index_kind(set.ids.size(), options);
  if (kind == IndexKind::kExact) {
    return index_internal::make_exact_index(std::move(set.ids), std::move(set.vectors));
  }
  return index_internal::build_faiss_index(kind, std::move(set), options);
}

}  // namespace xrs
