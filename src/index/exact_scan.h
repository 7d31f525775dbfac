// Internal to the index module: the exact (brute-force, BLAS) scan shared by the exact index and
// by the FAISS indexes' fallback for very selective filters. (Top-k selection: index/topk.h.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "index/topk.h"
#include "index/vector_index.h"

namespace xrs::index_internal {

// The filter of `options` as a predicate on rows.
struct RowFilter {
  const RowBitset* allow;
  size_t exclude_row;  // SIZE_MAX when nothing is excluded
  bool operator()(size_t row) const {
    return row != exclude_row && (allow == nullptr || allow->test(row));
  }
};

inline RowFilter make_row_filter(const VectorSearchOptions& options,
                                 std::optional<size_t> exclude_row) {
  return {options.allow, exclude_row.value_or(SIZE_MAX)};
}

// Exact search of nq queries (row-major nq x dim) over `rows` contiguous row-major vectors whose
// ids are ids[0..rows): sgemv for one query, blocked sgemm for several. Appends one result list
// per query to `out`.
void exact_search(const float* matrix, size_t rows, size_t dim, const int64_t* ids,
                  const float* queries, size_t nq, const VectorSearchOptions& options,
                  std::optional<size_t> exclude_row, std::vector<std::vector<Hit>>& out);

std::unique_ptr<VectorIndex> make_exact_index(std::vector<int64_t> ids, FloatMatrix matrix);

}  // namespace xrs::index_internal
