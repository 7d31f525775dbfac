// The engine's elementwise and few-row float32 kernels (layer norm, softmax, bias + GELU, the
// small-M product that streams float32 or float16 weights, float16 widening and dot products),
// one implementation per instruction set, chosen once at first use from cpu_features():
//
//   baseline  vector_ops.cpp: plain C++ compiled for the build's baseline (x86-64: SSE2), the
//             reference the tests compare the others with, and the path of CPUs without AVX2.
//   avx2      vector_ops_avx2.cpp: AVX2 + FMA + F16C intrinsics, the only file compiled with
//             -mavx2 -mfma -mf16c (CMakeLists.txt); absent on other architectures and with
//             -DXRS_AVX2=OFF.
//   avx512    the avx2 table plus the tiled product of 9-48 rows (tiled_gemm) from
//             vector_ops_avx512.cpp, the only file compiled with -mavx512f -mavx512bw
//             -mavx512vl; chosen on hosts with AVX-512 (F, BW, VL) and AVX2.
//
// XRS_CPU_MAX (cpu_features.h) caps the choice, so a host with AVX2 also runs the baseline path.
// Every function runs on the calling thread; all are safe to call from several threads at once.
// Arrays are row-major float32 with strides in floats.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xrs::kernels {

// Products with at most this many rows use small_m_gemm (clip/ops.cpp).
constexpr int kSmallM = 8;
// Products of kSmallM < rows <= kTiledMaxM use tiled_gemm where the table has one (AVX-512 hosts).
// A prompt ensemble of 8 templates is 8 x (query tokens + 1) rows: 40 for a 4-token query. At 40
// rows the tiled kernel was faster than oneDNN's kernels on widened panels on the Xeon host of
// docs/PERFORMANCE.md, at 64 rows slower.
constexpr int kTiledMaxM = 48;

struct VectorKernels {
  const char* name;  // "avx512", "avx2", "baseline"

  // y[r, :] = LayerNorm(x[r, :]) * gamma + beta (biased variance); x and y may alias.
  void (*layer_norm)(const float* x, int rows, int width, int x_stride, const float* gamma,
                     const float* beta, float eps, float* y, int y_stride);
  // x[r, c] = act(x[r, c] + bias[c]) for a dense rows x cols matrix: QuickGELU x*sigmoid(1.702x)
  // or GELU 0.5x(1+erf(x/√2)) (erf by Abramowitz & Stegun 7.1.26, |error| < 1.5e-7).
  void (*bias_quick_gelu)(float* x, int rows, int cols, const float* bias);
  void (*bias_gelu)(float* x, int rows, int cols, const float* bias);
  // In-place softmax of each row's first valid(r) entries (cols, or r + 1 when causal); the
  // rest of the row is set to 0.
  void (*softmax_rows)(float* x, int rows, int cols, int stride, bool causal);
  // C[m, n0:n1] = alpha * A[m, :] · B[n0:n1, :]^T + beta * C for M <= kSmallM rows of A, B a
  // [N, K] float32 or float16 (IEEE half bits) matrix with row stride ldb. The float16 version
  // makes the same sums in the same order as the float32 one on the widened values.
  void (*small_m_gemm)(int M, int n0, int n1, int K, float alpha, const float* A, int lda,
                       const float* B, int ldb, float beta, float* C, int ldc);
  void (*small_m_gemm_f16)(int M, int n0, int n1, int K, float alpha, const float* A, int lda,
                           const uint16_t* B, int ldb, float beta, float* C, int ldc);
  // dst[i] = the float32 value of half src[i] (exact).
  void (*widen_f16)(const uint16_t* src, float* dst, size_t n);
  // Σ q[i] * half h[i].
  float (*dot_f16)(const float* q, const uint16_t* h, size_t n);
  // Σ a[i] * b[i].
  float (*dot)(const float* a, const float* b, int n);
  // C[0:M, n0:n1] = A[M, K] · B[n0:n1, :]^T + beta * C for kSmallM < M <= kTiledMaxM, B float32
  // or float16 with row stride ldb: the weights are read once, widened in registers. nullptr in
  // the tables without it (then clip/ops.cpp uses the general product). The float16 version makes
  // the same sums in the same order as the float32 one.
  void (*tiled_gemm)(int M, int n0, int n1, int K, const float* A, int lda, const float* B, int ldb,
                     float beta, float* C, int ldc);
  void (*tiled_gemm_f16)(int M, int n0, int n1, int K, const float* A, int lda, const uint16_t* B,
                         int ldb, float beta, float* C, int ldc);
};

// The implementation for this CPU (under XRS_CPU_MAX), chosen on the first call.
const VectorKernels& vector_kernels();

// Each implementation, for tests: the baseline always; avx2 and avx512 when built in (nullptr
// otherwise, whether or not this CPU can run them; check cpu_features().has_avx2() and
// has_avx512() before calling).
const VectorKernels& vector_kernels_baseline();
const VectorKernels* vector_kernels_avx2();
const VectorKernels* vector_kernels_avx512();

// The 9-48 row tiled kernels of vector_ops_avx512.cpp (exported as data, like the tables).
struct TiledKernels {
  decltype(VectorKernels::tiled_gemm) tiled_gemm;
  decltype(VectorKernels::tiled_gemm_f16) tiled_gemm_f16;
};

}  // namespace xrs::kernels
