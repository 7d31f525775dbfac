// Internal to the index module: top-k selection and the exact (brute-force, BLAS) scan shared by
// the exact index and by the FAISS indexes' fallback for very selective filters.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "index/vector_index.h"

namespace xrs::index_internal {

// The result order: score descending, then id ascending.
inline bool better(const Hit& a, const Hit& b) {
  return a.score > b.score || (a.score == b.score && a.id < b.id);
}

// Keeps the k best hits with score >= min_score. The scan is one pass in which a score below the
// current threshold (min_score, or the worst kept score once k are kept) costs one compare: the
// heap is touched only by candidates, which are rare after the first few hundred rows.
class TopK {
 public:
  TopK(size_t k, float min_score) : k_(k), threshold_(min_score) { heap_.reserve(k); }

  // Offers scores[0..n): score i belongs to row row_of(i), whose id is ids[row]; rows for which
  // allowed(row) is false are skipped. NaN scores never pass the threshold.
  template <typename RowOf, typename Allowed>
  void scan(const float* scores, size_t n, RowOf row_of, const int64_t* ids, Allowed allowed) {
    for (size_t i = 0; i < n; ++i) {
      if (scores[i] >= threshold_) [[unlikely]] {
        size_t row = row_of(i);
        if (allowed(row)) offer({ids[row], scores[i]});
      }
    }
  }

  // The kept hits in result order; the TopK is empty afterwards.
  std::vector<Hit> take_sorted() {
    std::sort_heap(heap_.begin(), heap_.end(), better);
    return std::move(heap_);
  }

 private:
  // The heap's front is the worst kept hit (std heaps keep the comparator's "largest" in front,
  // and with `better` as the comparator that is the worst hit).
  void offer(const Hit& h) {
    if (heap_.size() < k_) {
      heap_.push_back(h);
      std::push_heap(heap_.begin(), heap_.end(), better);
    } else {
      // Equal scores reach here too (the pre-check is >=): the smaller id wins the tie.
      if (!better(h, heap_.front())) return;
      std::pop_heap(heap_.begin(), heap_.end(), better);
      heap_.back() = h;
      std::push_heap(heap_.begin(), heap_.end(), better);
    }
    if (heap_.size() == k_) threshold_ = heap_.front().score;
  }

  size_t k_;
  float threshold_;
  std::vector<Hit> heap_;
};

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
