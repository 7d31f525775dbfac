// Invariants of an opened TensorArchive (clip/checkpoint/tensor_archive.h), shared by the safetensors and
// TorchScript fuzz targets: every tensor's shape and strides agree, its bytes cover what the
// strides reach (the reader promised to check that), and to_float can read it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "clip/checkpoint/tensor_archive.h"
#include "fuzz_support.h"

namespace xrs::fuzz {

// Tensors with more elements are not copied out (the copy costs time, not coverage).
inline constexpr int64_t kMaxConvertedElements = int64_t(1) << 18;

inline void check_archive(const TensorArchive& archive) {
  for (const auto& [name, view] : archive.tensors()) {
    XRS_FUZZ_CHECK(!name.empty(), "a tensor without a name");
    XRS_FUZZ_CHECK(view.shape.size() == view.strides.size(), name);
    // The bytes up to the furthest element the strides reach, and the element count, in checked
    // arithmetic: an overflow means the reader let through a tensor it must refuse.
    bool empty = false;
    bool overflow = false;
    uint64_t last = 0;
    int64_t n = 1;
    for (size_t d = 0; d < view.shape.size(); ++d) {
      XRS_FUZZ_CHECK(view.shape[d] >= 0, name);
      XRS_FUZZ_CHECK(view.strides[d] >= 0, name);
      overflow |= __builtin_mul_overflow(n, view.shape[d], &n);
      if (view.shape[d] == 0) {
        empty = true;
        continue;
      }
      uint64_t reach = 0;
      overflow |= __builtin_mul_overflow(static_cast<uint64_t>(view.shape[d] - 1),
                                         static_cast<uint64_t>(view.strides[d]), &reach);
      overflow |= __builtin_add_overflow(last, reach, &last);
    }
    XRS_FUZZ_CHECK(!overflow, name + ": sizes overflow 64-bit arithmetic");
    XRS_FUZZ_CHECK(n == view.numel(), name + ": numel");
    if (empty) continue;
    uint64_t needed = 0;
    overflow |= __builtin_add_overflow(last, uint64_t(1), &needed);
    overflow |= __builtin_mul_overflow(needed, uint64_t(dtype_size(view.dtype)), &needed);
    XRS_FUZZ_CHECK(!overflow && needed <= view.data.size(),
                   name + ": data shorter than its strides reach");
    if (n > kMaxConvertedElements) continue;
    std::vector<float> out(static_cast<size_t>(n));
    const Status converted = TensorArchive::to_float(view, out);
    const bool is_float = view.dtype == DType::kF32 || view.dtype == DType::kF16 ||
                          view.dtype == DType::kBF16 || view.dtype == DType::kF64;
    XRS_FUZZ_CHECK(converted.is_ok() == is_float, name + ": " + converted.to_string());
  }
}

}  // namespace xrs::fuzz
