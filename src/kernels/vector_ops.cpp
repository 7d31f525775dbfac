// The baseline (portable) vector kernels and the choice between implementations (vector_ops.h).
// Compiled for the build's baseline instruction set: every CPU the binary runs on executes it,
// before and after the choice.
#include "kernels/vector_ops.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu_features.h"
#include "kernels/gemm.h"

// The baseline must stay baseline: only vector_ops_avx2.cpp may be compiled with AVX (an
// -march=native build, XRS_NATIVE, gives every file the host's instruction set on purpose).
#if defined(__AVX__) && !defined(XRS_NATIVE_ISA)
#error "vector_ops.cpp is the baseline path: no -mavx/-mavx2 (cmake/XrsOptions.cmake)"
#endif

namespace xrs::kernels {

#ifdef XRS_AVX2_KERNELS
namespace avx2 {
extern const VectorKernels kVectorKernels;  // vector_ops_avx2.cpp
}
#endif
#ifdef XRS_AVX512_KERNELS
namespace avx512 {
extern const TiledKernels kTiledKernels;  // vector_ops_avx512.cpp
}
#endif

namespace {

// Abramowitz & Stegun 7.1.26, the same constants as the vector paths.
constexpr float kErfP = 0.3275911f;
constexpr float kErfA1 = 0.254829592f, kErfA2 = -0.284496736f, kErfA3 = 1.421413741f,
                kErfA4 = -1.453152027f, kErfA5 = 1.061405429f;

float erf_approx(float x) {
  const float ax = std::fabs(x);
  const float t = 1.0f / (1.0f + kErfP * ax);
  const float poly = ((((kErfA5 * t + kErfA4) * t + kErfA3) * t + kErfA2) * t + kErfA1) * t;
  const float r = 1.0f - poly * std::exp(-ax * ax);
  return x < 0 ? -r : r;
}

void layer_norm(const float* x, int rows, int width, int x_stride, const float* gamma,
                const float* beta, float eps, float* y, int y_stride) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + size_t(r) * x_stride;
    float* yr = y + size_t(r) * y_stride;
    float sum = 0;
    for (int c = 0; c < width; ++c) sum += xr[c];
    const float mean = sum / width;
    float sq = 0;
    for (int c = 0; c < width; ++c) sq += (xr[c] - mean) * (xr[c] - mean);
    const float inv = 1.0f / std::sqrt(sq / width + eps);
    for (int c = 0; c < width; ++c) yr[c] = (xr[c] - mean) * inv * gamma[c] + beta[c];
  }
}

void bias_quick_gelu(float* x, int rows, int cols, const float* bias) {
  for (int r = 0; r < rows; ++r) {
    float* xr = x + size_t(r) * cols;
    for (int c = 0; c < cols; ++c) {
      const float v = xr[c] + bias[c];
      xr[c] = v / (1.0f + std::exp(-1.702f * v));
    }
  }
}

void bias_gelu(float* x, int rows, int cols, const float* bias) {
  for (int r = 0; r < rows; ++r) {
    float* xr = x + size_t(r) * cols;
    for (int c = 0; c < cols; ++c) {
      const float v = xr[c] + bias[c];
      xr[c] = 0.5f * v * (1.0f + erf_approx(v * 0.70710678118654752f));
    }
  }
}

void softmax_rows(float* x, int rows, int cols, int stride, bool causal) {
  for (int r = 0; r < rows; ++r) {
    float* xr = x + size_t(r) * stride;
    const int valid = causal ? std::min(r + 1, cols) : cols;
    float mx = xr[0];
    for (int c = 1; c < valid; ++c) mx = std::max(mx, xr[c]);
    float sum = 0;
    for (int c = 0; c < valid; ++c) {
      xr[c] = std::exp(xr[c] - mx);
      sum += xr[c];
    }
    const float inv = 1.0f / sum;
    for (int c = 0; c < valid; ++c) xr[c] *= inv;
    for (int c = valid; c < cols; ++c) xr[c] = 0;
  }
}

float widen(float w) {
  return w;
}
float widen(uint16_t w) {
  return from_f16(w);
}

template <typename W>
void small_m_gemm_t(int M, int n0, int n1, int K, float alpha, const float* A, int lda, const W* B,
                    int ldb, float beta, float* C, int ldc) {
  for (int n = n0; n < n1; ++n) {
    const W* w = B + size_t(n) * ldb;
    float acc[kSmallM] = {};
    for (int k = 0; k < K; ++k) {
      const float wk = widen(w[k]);
      for (int m = 0; m < M; ++m) acc[m] += A[size_t(m) * lda + k] * wk;
    }
    for (int m = 0; m < M; ++m) {
      float* c = C + size_t(m) * ldc + n;
      *c = alpha * acc[m] + (beta == 0 ? 0.0f : beta * *c);
    }
  }
}

void small_m_gemm(int M, int n0, int n1, int K, float alpha, const float* A, int lda,
                  const float* B, int ldb, float beta, float* C, int ldc) {
  small_m_gemm_t(M, n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void small_m_gemm_f16(int M, int n0, int n1, int K, float alpha, const float* A, int lda,
                      const uint16_t* B, int ldb, float beta, float* C, int ldc) {
  small_m_gemm_t(M, n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void widen_f16(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = from_f16(src[i]);
}

float dot_f16(const float* q, const uint16_t* h, size_t n) {
  float sum = 0;
  for (size_t i = 0; i < n; ++i) sum += q[i] * from_f16(h[i]);
  return sum;
}

float dot(const float* a, const float* b, int n) {
  float sum = 0;
  for (int i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

constexpr VectorKernels kBaseline = {
    .name = "baseline",
    .layer_norm = layer_norm,
    .bias_quick_gelu = bias_quick_gelu,
    .bias_gelu = bias_gelu,
    .softmax_rows = softmax_rows,
    .small_m_gemm = small_m_gemm,
    .small_m_gemm_f16 = small_m_gemm_f16,
    .widen_f16 = widen_f16,
    .dot_f16 = dot_f16,
    .dot = dot,
    .tiled_gemm = nullptr,
    .tiled_gemm_f16 = nullptr,
};

const VectorKernels& choose() {
  const CpuFeatures& cpu = cpu_features();
  const VectorKernels* avx512 = vector_kernels_avx512();
  if (avx512 != nullptr && cpu.has_avx2() && cpu.has_avx512()) return *avx512;
  const VectorKernels* avx2 = vector_kernels_avx2();
  if (avx2 != nullptr && cpu.has_avx2()) return *avx2;
  return kBaseline;
}

}  // namespace

const VectorKernels& vector_kernels_baseline() {
  return kBaseline;
}

const VectorKernels& vector_kernels() {
  static const VectorKernels& chosen = choose();
  return chosen;
}

const VectorKernels* vector_kernels_avx2() {
#ifdef XRS_AVX2_KERNELS
  return &avx2::kVectorKernels;
#else
  return nullptr;
#endif
}

const VectorKernels* vector_kernels_avx512() {
#if defined(XRS_AVX2_KERNELS) && defined(XRS_AVX512_KERNELS)
  // The avx2 table with the tiled product (a copy made once: both parts are constant data).
  static const VectorKernels table = [] {
    VectorKernels t = avx2::kVectorKernels;
    t.name = "avx512";
    t.tiled_gemm = avx512::kTiledKernels.tiled_gemm;
    t.tiled_gemm_f16 = avx512::kTiledKernels.tiled_gemm_f16;
    return t;
  }();
  return &table;
#else
  return nullptr;
#endif
}

}  // namespace xrs::kernels
