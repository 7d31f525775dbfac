#include "index/matrix.h"

#include <limits>
#include <string>

namespace xrs {

StatusOr<FloatMatrix> FloatMatrix::allocate(size_t rows, size_t cols) {
  FloatMatrix m;
  m.rows_ = rows;
  m.cols_ = cols;
  if (rows == 0 || cols == 0) return m;
  if (rows > std::numeric_limits<size_t>::max() / sizeof(float) / cols) {
    return Status::resource_exhausted("matrix of " + std::to_string(rows) + " x " +
                                      std::to_string(cols) + " floats overflows the address space");
  }
  size_t bytes = rows * cols * sizeof(float);
  // aligned_alloc wants a size that is a multiple of the alignment.
  size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  m.data_.reset(static_cast<float*>(std::aligned_alloc(kAlignment, rounded)));
  if (!m.data_) {
    return Status::resource_exhausted("cannot allocate " + std::to_string(bytes) + " bytes for a " +
                                      std::to_string(rows) + " x " + std::to_string(cols) +
                                      " matrix");
  }
  return m;
}

}  // namespace xrs
