#include "clip/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "clip/weights.h"
#include "kernels/gemm.h"
#include "kernels/vector_ops.h"

namespace xrs {

namespace {

// Below this many multiply-adds a product runs in one thread (thread start-up would cost more).
constexpr double kParallelGemmMacs = 4e6;

// Whether a product of `rows` rows against an N x K weight is split over the threads. A few-row
// product reads the whole weight matrix whatever its row count, so it counts as at least kSmallM
// rows: a one-word text query's products (3 rows) then stream their weights on every core.
bool split_product(int rows, int N, int K) {
  return double(std::max(rows, kernels::kSmallM)) * N * K >= kParallelGemmMacs;
}

// Products with at most kernels::kSmallM rows against a [N, K] weight (a text query of a few
// tokens) use the small-M kernel (kernels/vector_ops.h): BLAS would first copy ("pack") the whole
// weight matrix, doubling the memory traffic of a product that is bound by reading the weights
// once. That kernel takes float32 or float16 weights (Mat::f16) and makes the same sums in the
// same order, so float16 weights that hold the float32 values exactly give the same result bit
// for bit, from half the bytes.
using kernels::kSmallM;

using kernels::sgemm;  // one thread: oneDNN (AVX-512 hosts) or OpenBLAS, kernels/gemm.h

}  // namespace

void gemm(int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
          bool trans_b, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  // available_threads() also makes sure BLAS itself runs single-threaded.
  const int threads = available_threads();
  const int parts = double(M) * N * K < kParallelGemmMacs ? 1 : threads;
  if (M <= kSmallM && trans_b) {
    const auto small_m_gemm = kernels::vector_kernels().small_m_gemm;
    const int split = split_product(M, N, K) ? threads : 1;
    parallel_for(split, [&](int t) {
      small_m_gemm(M, int(int64_t(N) * t / split), int(int64_t(N) * (t + 1) / split), K, alpha, A,
                   lda, B, ldb, beta, C, ldc);
    });
    return;
  }
  if (parts <= 1) {
    sgemm(M, N, K, alpha, A, lda, B, ldb, trans_b, beta, C, ldc);
    return;
  }
  // Split the larger output dimension into one block per thread (columns in multiples of 16 so
  // that each block keeps whole BLAS micro-tiles).
  if (N >= M) {
    const int block = ((N + parts - 1) / parts + 15) / 16 * 16;
    parallel_for(parts, [&](int t) {
      const int n0 = t * block, n1 = std::min(N, n0 + block);
      if (n0 >= n1) return;
      const float* Bt = trans_b ? B + size_t(n0) * ldb : B + n0;
      sgemm(M, n1 - n0, K, alpha, A, lda, Bt, ldb, trans_b, beta, C + n0, ldc);
    });
  } else {
    const int block = (M + parts - 1) / parts;
    parallel_for(parts, [&](int t) {
      const int m0 = t * block, m1 = std::min(M, m0 + block);
      if (m0 >= m1) return;
      sgemm(m1 - m0, N, K, alpha, A + size_t(m0) * lda, lda, B, ldb, trans_b, beta,
            C + size_t(m0) * ldc, ldc);
    });
  }
}

namespace {

// More rows: float16 weights widened 128 rows at a time into a float32 panel, one product each
// (the widening costs 1/M of the product).
void panel_gemm_f16(int M, int n0, int n1, int K, const float* A, int lda, const uint16_t* B,
                    float beta, float* C, int ldc) {
  constexpr int kPanel = 128;
  thread_local std::vector<float> panel;
  if (panel.size() < size_t(kPanel) * K) panel.resize(size_t(kPanel) * K);
  for (int p0 = n0; p0 < n1; p0 += kPanel) {
    const int nb = std::min(kPanel, n1 - p0);
    const uint16_t* src = B + size_t(p0) * K;
    kernels::vector_kernels().widen_f16(src, panel.data(), size_t(nb) * K);
    sgemm(M, nb, K, 1.0f, A, lda, panel.data(), K, true, beta, C + p0, ldc);
  }
}

}  // namespace

void linear(int rows, const float* A, int lda, const Mat& w, float beta, float* C, int ldc) {
  const kernels::VectorKernels& vk = kernels::vector_kernels();
  if (w.packed == nullptr && vk.tiled_gemm != nullptr && rows > kSmallM &&
      rows <= kernels::kTiledMaxM) {
    // The rows of A (at most kTiledMaxM x K floats) stay in L1/L2 while the weights stream past
    // once (a prompt ensemble's 9-48 rows; AVX-512 hosts).
    const int N = w.rows, K = w.cols;
    const int parts = split_product(rows, N, K) ? available_threads() : 1;
    const int block = ((N + parts - 1) / parts + 15) / 16 * 16;
    parallel_for(parts, [&](int t) {
      const int n0 = t * block, n1 = std::min(N, n0 + block);
      if (n0 >= n1) return;
      if (w.f16 != nullptr) {
        vk.tiled_gemm_f16(rows, n0, n1, K, A, lda, w.f16, K, beta, C, ldc);
      } else {
        vk.tiled_gemm(rows, n0, n1, K, A, lda, w.data, K, beta, C, ldc);
      }
    });
    return;
  }
  if (w.f16 != nullptr) {
    if (rows <= 0) return;
    const int N = w.rows, K = w.cols;
    const int parts = split_product(rows, N, K) ? available_threads() : 1;
    const int block = ((N + parts - 1) / parts + 15) / 16 * 16;
    parallel_for(parts, [&](int t) {
      const int n0 = t * block, n1 = std::min(N, n0 + block);
      if (n0 >= n1) return;
      if (rows <= kSmallM) {
        kernels::vector_kernels().small_m_gemm_f16(rows, n0, n1, K, 1.0f, A, lda, w.f16, K, beta, C,
                                                   ldc);
      } else {
        panel_gemm_f16(rows, n0, n1, K, A, lda, w.f16, beta, C, ldc);
      }
    });
    return;
  }
  if (w.packed == nullptr) {
    gemm(rows, w.rows, w.cols, 1.0f, A, lda, w.data, w.cols, true, beta, C, ldc);
    return;
  }
  if (rows <= 0) return;
  // Rows split over the pool (each part quantises its own rows; the packed layout is not split).
  const int threads = available_threads();
  const int parts =
      double(rows) * w.rows * w.cols < kParallelGemmMacs ? 1 : std::min(threads, (rows + 15) / 16);
  if (parts <= 1) {
    w.packed->apply(rows, A, lda, beta, C, ldc);
    return;
  }
  parallel_for(parts, [&](int t) {
    const int r0 = int(int64_t(rows) * t / parts), r1 = int(int64_t(rows) * (t + 1) / parts);
    if (r0 < r1)
      w.packed->apply(r1 - r0, A + size_t(r0) * lda, lda, beta, C + size_t(r0) * ldc, ldc);
  });
}

void gemm_reference(int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                    int ldb, bool trans_b, float beta, float* C, int ldc) {
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      double acc = 0;
      for (int k = 0; k < K; ++k) {
        acc += double(A[i * lda + k]) * (trans_b ? B[j * ldb + k] : B[k * ldb + j]);
      }
      float prev = beta == 0 ? 0.0f : beta * C[i * ldc + j];
      C[i * ldc + j] = static_cast<float>(alpha * acc) + prev;
    }
  }
}

float activation_reference(float x, Activation act) {
  if (act == Activation::kQuickGelu) return static_cast<float>(x / (1.0 + std::exp(-1.702 * x)));
  return static_cast<float>(0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))));
}

void layer_norm(const float* x, int rows, int width, int x_stride, const float* gamma,
                const float* beta, float eps, float* y, int y_stride) {
  kernels::vector_kernels().layer_norm(x, rows, width, x_stride, gamma, beta, eps, y, y_stride);
}

void add_bias(float* x, int rows, int cols, int stride, const float* bias) {
  for (int r = 0; r < rows; ++r) {
    float* xr = x + size_t(r) * stride;
    for (int c = 0; c < cols; ++c) xr[c] += bias[c];
  }
}

void add_bias_activation(float* x, int rows, int cols, const float* bias, Activation act) {
  const kernels::VectorKernels& k = kernels::vector_kernels();
  (act == Activation::kQuickGelu ? k.bias_quick_gelu : k.bias_gelu)(x, rows, cols, bias);
}

void softmax_rows(float* x, int rows, int cols, int stride, bool causal) {
  kernels::vector_kernels().softmax_rows(x, rows, cols, stride, causal);
}

float dot(const float* a, const float* b, int n) {
  return kernels::vector_kernels().dot(a, b, n);
}

void l2_normalize_rows(float* x, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    float* xr = x + size_t(r) * cols;
    double ss = 0;
    for (int c = 0; c < cols; ++c) ss += double(xr[c]) * xr[c];
    if (ss == 0) continue;
    const float inv = static_cast<float>(1.0 / std::sqrt(ss));
    for (int c = 0; c < cols; ++c) xr[c] *= inv;
  }
}

}  // namespace xrs
