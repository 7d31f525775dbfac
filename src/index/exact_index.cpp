// The exact index: BLAS scores over the whole matrix, then one top-k pass.
#include <cblas.h>

#include <cstring>
#include <memory>

#include "index/exact_scan.h"
#include "kernels/gemm.h"

namespace xrs::index_internal {

namespace {

// Rows per sgemm block in batch search: 4096 x 512 floats (8 MiB) of the matrix are streamed
// once per block for all queries, and the nq x 4096 score block stays in cache for the top-k pass.
constexpr size_t kBatchBlockRows = 4096;

class ExactIndex final : public VectorIndex {
 public:
  ExactIndex(std::vector<int64_t> ids, FloatMatrix matrix)
      : VectorIndex(std::move(ids), matrix.cols()), matrix_(std::move(matrix)) {}

  IndexKind kind() const override { return IndexKind::kExact; }
  std::string describe() const override { return "exact"; }

 private:
  Status do_search(const float* queries, size_t nq, const VectorSearchOptions& options,
                   std::optional<size_t> exclude_row,
                   std::vector<std::vector<Hit>>& out) const override {
    exact_search(matrix_.data(), size(), dim(), ids().data(), queries, nq, options, exclude_row,
                 out);
    return Status::ok();
  }

  Status do_copy_vector(size_t row, float* out) const override {
    std::memcpy(out, matrix_.row(row).data(), dim() * sizeof(float));
    return Status::ok();
  }

  FloatMatrix matrix_;
};

}  // namespace

void exact_search(const float* matrix, size_t rows, size_t dim, const int64_t* ids,
                  const float* queries, size_t nq, const VectorSearchOptions& options,
                  std::optional<size_t> exclude_row, std::vector<std::vector<Hit>>& out) {
  const RowFilter allowed = make_row_filter(options, exclude_row);
  const int d = static_cast<int>(dim);
  if (nq == 1) {
    // One sgemv streams the matrix once (the memory-bandwidth floor); the scores (4 bytes per
    // row) are then scanned from cache.
    auto scores = std::make_unique_for_overwrite<float[]>(rows);
    if (rows > 0) {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(rows), d, 1.0f, matrix, d, queries,
                  1, 0.0f, scores.get(), 1);
    }
    TopK top(options.k, options.min_score);
    top.scan(
        scores.get(), rows, [](size_t i) { return i; }, ids, allowed);
    out.push_back(top.take_sorted());
    return;
  }
  std::vector<TopK> tops(nq, TopK(options.k, options.min_score));
  const size_t block = std::min(rows, kBatchBlockRows);
  auto scores = std::make_unique_for_overwrite<float[]>(nq * block);
  for (size_t r0 = 0; r0 < rows; r0 += block) {
    const size_t n = std::min(block, rows - r0);
    // scores (nq x n) = queries (nq x dim) * block^T (dim x n)
    kernels::sgemm(static_cast<int>(nq), static_cast<int>(n), d, 1.0f, queries, d,
                   matrix + r0 * dim, d, true, 0.0f, scores.get(), static_cast<int>(n));
    for (size_t q = 0; q < nq; ++q) {
      tops[q].scan(
          scores.get() + q * n, n, [r0](size_t i) { return r0 + i; }, ids, allowed);
    }
  }
  for (TopK& top : tops) out.push_back(top.take_sorted());
}

std::unique_ptr<VectorIndex> make_exact_index(std::vector<int64_t> ids, FloatMatrix matrix) {
  return std::make_unique<ExactIndex>(std::move(ids), std::move(matrix));
}

}  // namespace xrs::index_internal
