// The engine's numeric kernels. Every matrix product in the engine goes through gemm() or, for
// an nn.Linear weight that may be float16 or packed for bf16/int8, linear(); both split the work
// over the compute pool and call kernels/gemm.h (oneDNN or OpenBLAS) per part. gemm_reference()
// is the naive loop beside them that tests compare with.
// All arrays are float32, row-major, with explicit leading dimensions. Pure functions: safe to
// call from any thread on distinct outputs.
#pragma once

#include <cstddef>

#include "clip/checkpoint/hparams.h"
#include "clip/compute_pool.h"

namespace xrs {

// C[M, N] = alpha * A[M, K] · op(B) + beta * C, where op(B) = B[N, K]^T when trans_b (the
// nn.Linear weight layout) and B[K, N] otherwise. lda/ldb/ldc are row strides in floats.
// Large products are split over the compute pool (compute_pool.h) unless already inside a part.
void gemm(int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
          bool trans_b, float beta, float* C, int ldc);
void gemm_reference(int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                    int ldb, bool trans_b, float beta, float* C, int ldc);

// C[rows, w.rows] = A[rows, w.cols] · w^T + beta * C: an nn.Linear product through w.packed
// (bf16/int8, kernels/gemm.h) when the weight has one; float16 weights (w.f16) through the
// few-rows kernel (up to 8 rows) or widened in panels for gemm(); float32 weights through gemm().
// On AVX-512 hosts, 9 to 32 rows of float16 or float32 weights (prompt ensembles) go through a
// tiled kernel that reads the weights once, widening float16 in registers. Split over the compute
// pool like gemm().
struct Mat;
void linear(int rows, const float* A, int lda, const Mat& w, float beta, float* C, int ldc);

// y[r, :] = LayerNorm(x[r, :]) * gamma + beta for `rows` rows of `width` (biased variance).
// x and y may alias. Strides are in floats.
void layer_norm(const float* x, int rows, int width, int x_stride, const float* gamma,
                const float* beta, float eps, float* y, int y_stride);

// x[r, c] += bias[c] for a rows x cols matrix with row stride `stride`.
void add_bias(float* x, int rows, int cols, int stride, const float* bias);

// x[r, c] = act(x[r, c] + bias[c]): the MLP's bias and activation in one pass.
void add_bias_activation(float* x, int rows, int cols, const float* bias, Activation act);

// In-place softmax of each row's first `valid(r)` entries; the rest of the row is set to 0.
// valid = cols for every row unless `causal`, then row r keeps entries 0..r.
void softmax_rows(float* x, int rows, int cols, int stride, bool causal);

// The scalar activation (for tests): QuickGELU x*sigmoid(1.702x) or exact GELU 0.5x(1+erf(x/√2)).
float activation_reference(float x, Activation act);

// The dot product of two float32 vectors of n (8 lanes at a time, then the rest).
float dot(const float* a, const float* b, int n);

// Scales each row of a rows x cols matrix to unit L2 norm (rows of all zeros stay zero).
void l2_normalize_rows(float* x, int rows, int cols);

}  // namespace xrs
