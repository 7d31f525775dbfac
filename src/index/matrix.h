// FloatMatrix: a row-major float32 matrix in one contiguous, 64-byte aligned allocation (so BLAS
// and SIMD loads see cache-line aligned rows when cols * 4 is a multiple of 64, as for 512).
// EmbeddingSet: such a matrix with one image id per row, the form in which the catalog hands
// embeddings to the vector index.
//
// Both are move-only values; a const one is safe to read from many threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"

namespace xrs {

class FloatMatrix {
 public:
  static constexpr size_t kAlignment = 64;

  // rows x cols floats with unspecified contents. kResourceExhausted when the size overflows
  // or the allocation fails. A 0-row matrix allocates nothing.
  static StatusOr<FloatMatrix> allocate(size_t rows, size_t cols);

  FloatMatrix() = default;

  size_t rows() const { return rows_; }
  size_t cols() const { return cols_; }
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  std::span<float> row(size_t r) { return {data_.get() + r * cols_, cols_}; }
  std::span<const float> row(size_t r) const { return {data_.get() + r * cols_, cols_}; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float[], Free> data_;
  size_t rows_ = 0;
  size_t cols_ = 0;
};

struct EmbeddingSet {
  std::vector<int64_t> ids;  // ids[r] is the image id of row r; strictly increasing
  FloatMatrix vectors;       // ids.size() x dim, each row L2-normalised
};

}  // namespace xrs
