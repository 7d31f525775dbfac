// Helpers shared by the tests that compare the engine with the reference outputs in
// ../shared/fixtures/clip/models/*/reference.safetensors.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "clip/checkpoint/tensor_archive.h"

namespace xrs::testing {

// A reference tensor as float32 (any stored dtype); empty, with a failure, when it is missing.
inline std::vector<float> reference_floats(const TensorArchive& ref, const std::string& name) {
  const TensorView* v = ref.find(name);
  EXPECT_NE(v, nullptr) << name;
  if (v == nullptr) return {};
  std::vector<float> out(v->numel());
  EXPECT_TRUE(TensorArchive::to_float(*v, out).is_ok());
  return out;
}

// max |a - b| / max |b| over `n` values: the error relative to the reference row's scale.
inline double relative_error(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    num = std::max(num, std::fabs(static_cast<double>(a[i]) - b[i]));
    den = std::max(den, std::fabs(static_cast<double>(b[i])));
  }
  return num / den;
}

}  // namespace xrs::testing
