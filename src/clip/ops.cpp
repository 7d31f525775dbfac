#include "clip/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "clip/weights.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define XRS_HAVE_AVX2 1
#endif

namespace xrs {

namespace {

#ifdef XRS_HAVE_AVX2
inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#endif

// Below this many multiply-adds a product runs in one thread (thread start-up would cost more).
constexpr double kParallelGemmMacs = 4e6;

// Products with at most this many rows against a [N, K] weight (a text query of a few tokens)
// use small_m_gemm: BLAS would first copy ("pack") the whole weight matrix, doubling the memory
// traffic of a product that is bound by reading the weights once.
constexpr int kSmallM = 8;

using kernels::sgemm;  // one thread: oneDNN (AVX-512 hosts) or OpenBLAS, kernels/gemm.h

// Eight weights widened to float32 (F16C for float16: exact), and one.
#ifdef XRS_HAVE_AVX2
inline __m256 load8(const float* w) {
  return _mm256_loadu_ps(w);
}
inline __m256 load8(const uint16_t* w) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
}
#endif
inline float widen(float w) {
  return w;
}
inline float widen(uint16_t w) {
  return kernels::from_f16(w);
}

// C[M, n0:n1] = alpha * A · B[n0:n1, :]^T + beta * C for M <= kSmallM: streams each weight row
// once and reuses it for all M rows of A (which stay in L1/L2). W is float or float16 (Mat::f16):
// the same sums in the same order, so float16 weights that hold the float32 values exactly give
// the same result bit for bit, from half the bytes.
template <typename W>
void small_m_gemm(int M, int n0, int n1, int K, float alpha, const float* A, int lda, const W* B,
                  int ldb, float beta, float* C, int ldc) {
  for (int n = n0; n < n1; ++n) {
    const W* w = B + size_t(n) * ldb;
    float acc[kSmallM];
    int k = 0;
#ifdef XRS_HAVE_AVX2
    __m256 vacc[kSmallM];
    for (int m = 0; m < M; ++m) vacc[m] = _mm256_setzero_ps();
    for (; k + 8 <= K; k += 8) {
      const __m256 wv = load8(w + k);
      for (int m = 0; m < M; ++m) {
        vacc[m] = _mm256_fmadd_ps(_mm256_loadu_ps(A + size_t(m) * lda + k), wv, vacc[m]);
      }
    }
    for (int m = 0; m < M; ++m) acc[m] = hsum256(vacc[m]);
#else
    for (int m = 0; m < M; ++m) acc[m] = 0;
#endif
    for (; k < K; ++k) {
      const float wk = widen(w[k]);
      for (int m = 0; m < M; ++m) acc[m] += A[size_t(m) * lda + k] * wk;
    }
    for (int m = 0; m < M; ++m) {
      float* c = C + size_t(m) * ldc + n;
      *c = alpha * acc[m] + (beta == 0 ? 0.0f : beta * *c);
    }
  }
}

// linear() with more than kSmallM and at most kTiledMaxM rows on AVX-512 hosts: tiled_gemm. The
// rows of A (at most kTiledMaxM x K floats) stay in L1/L2 while the weights stream past once. A
// prompt ensemble of 8 short queries is 24 rows; from about 60 rows on (whole prompts) oneDNN's
// kernels on widened panels were faster on the Xeon host of docs/PERFORMANCE.md.
constexpr int kTiledMaxM = 32;

#ifdef XRS_HAVE_AVX2
#define XRS_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

// Sixteen weights widened to float32 (float16: exact); with a mask, only its lanes (the rest 0).
XRS_TARGET_AVX512 inline __m512 load16(const float* w) {
  return _mm512_loadu_ps(w);
}
// (The maskz_ forms: GCC 12's unmasked ones start from an undefined register and warn.)
XRS_TARGET_AVX512 inline __m512 load16(const uint16_t* w) {
  return _mm512_maskz_cvtph_ps(0xFFFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)));
}
XRS_TARGET_AVX512 inline __m512 load16(const float* w, __mmask16 m) {
  return _mm512_maskz_loadu_ps(m, w);
}
XRS_TARGET_AVX512 inline __m512 load16(const uint16_t* w, __mmask16 m) {
  return _mm512_maskz_cvtph_ps(0xFFFF, _mm256_maskz_loadu_epi16(m, w));
}

XRS_TARGET_AVX512 inline float hsum512(__m512 v) {
  const __m512d d = _mm512_castps_pd(v);
  return hsum256(_mm256_add_ps(_mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xF, d, 0)),
                               _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xF, d, 1))));
}

// C[MR, NR] = A[MR, K] · B[NR, K]^T + beta * C: MR x NR dot products along K, 16 lanes at a
// time, each weight vector reused for MR rows and each row vector for NR weights.
template <int MR, int NR, typename W>
XRS_TARGET_AVX512 inline void tile_avx512(int K, const float* A, int lda, const W* B, int ldb,
                                          float beta, float* C, int ldc,
                                          const W* prefetch = nullptr) {
  __m512 acc[MR][NR];
  for (int i = 0; i < MR; ++i) {
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_ps();
  }
  int k = 0;
  for (; k + 16 <= K; k += 16) {
    __m512 w[NR];
    for (int j = 0; j < NR; ++j) w[j] = load16(B + size_t(j) * ldb + k);
    if (prefetch != nullptr) {
      for (int j = 0; j < NR; ++j) {
        _mm_prefetch(reinterpret_cast<const char*>(prefetch + size_t(j) * ldb + k), _MM_HINT_T0);
      }
    }
    for (int i = 0; i < MR; ++i) {
      const __m512 a = _mm512_loadu_ps(A + size_t(i) * lda + k);
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_fmadd_ps(a, w[j], acc[i][j]);
    }
  }
  if (k < K) {
    const __mmask16 m = static_cast<__mmask16>((1u << (K - k)) - 1);
    __m512 w[NR];
    for (int j = 0; j < NR; ++j) w[j] = load16(B + size_t(j) * ldb + k, m);
    for (int i = 0; i < MR; ++i) {
      const __m512 a = _mm512_maskz_loadu_ps(m, A + size_t(i) * lda + k);
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_fmadd_ps(a, w[j], acc[i][j]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    for (int j = 0; j < NR; ++j) {
      float* c = C + size_t(i) * ldc + j;
      *c = hsum512(acc[i][j]) + (beta == 0 ? 0.0f : beta * *c);
    }
  }
}

// Every row of A against weight rows 0..NR of B, in tiles of 6 rows (24 accumulators, 4 weight
// vectors and one row vector: 29 of the 32 vector registers).
template <int NR, typename W>
XRS_TARGET_AVX512 void tile_column_avx512(int M, int K, const float* A, int lda, const W* B,
                                          int ldb, float beta, float* C, int ldc,
                                          const W* next = nullptr) {
  constexpr int kMR = 6;
  int m = 0;
  for (; m + kMR <= M; m += kMR) {
    // The first tile reads these weights from memory; it also asks for the next block's (`next`),
    // which then arrive while the other tiles compute from L1.
    tile_avx512<kMR, NR>(K, A + size_t(m) * lda, lda, B, ldb, beta, C + size_t(m) * ldc, ldc,
                         m == 0 ? next : nullptr);
  }
  const float* a = A + size_t(m) * lda;
  float* c = C + size_t(m) * ldc;
  switch (M - m) {
    case 5:
      tile_avx512<5, NR>(K, a, lda, B, ldb, beta, c, ldc);
      break;
    case 4:
      tile_avx512<4, NR>(K, a, lda, B, ldb, beta, c, ldc);
      break;
    case 3:
      tile_avx512<3, NR>(K, a, lda, B, ldb, beta, c, ldc);
      break;
    case 2:
      tile_avx512<2, NR>(K, a, lda, B, ldb, beta, c, ldc);
      break;
    case 1:
      tile_avx512<1, NR>(K, a, lda, B, ldb, beta, c, ldc);
      break;
    default:
      break;
  }
}

// C[M, n0:n1] = A[M, K] · B[n0:n1, :]^T + beta * C for kSmallM < M <= kTiledMaxM (AVX-512 hosts):
// four weight rows at a time (at most 16 KiB of float16, kept in L1) against every row of A, so
// the weights are read from memory once, widened in registers, with no packed copy. W is float or
// float16: the same sums in the same order, as in small_m_gemm.
template <typename W>
XRS_TARGET_AVX512 void tiled_gemm(int M, int n0, int n1, int K, const float* A, int lda, const W* B,
                                  int ldb, float beta, float* C, int ldc) {
  constexpr int kNR = 4;
  int n = n0;
  for (; n + kNR <= n1; n += kNR) {
    const W* next = n + 2 * kNR <= n1 ? B + size_t(n + kNR) * ldb : nullptr;
    tile_column_avx512<kNR>(M, K, A, lda, B + size_t(n) * ldb, ldb, beta, C + n, ldc, next);
  }
  for (; n < n1; ++n) {
    tile_column_avx512<1>(M, K, A, lda, B + size_t(n) * ldb, ldb, beta, C + n, ldc);
  }
}
#endif  // XRS_HAVE_AVX2

// Whether linear() of `rows` rows goes through tiled_gemm on this host.
bool use_tiled(int rows) {
#ifdef XRS_HAVE_AVX2
  static const bool avx512 = kernels::cpu_features().has_avx512();
  return avx512 && rows > kSmallM && rows <= kTiledMaxM;
#else
  (void)rows;
  return false;
#endif
}

}  // namespace

void gemm(int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
          bool trans_b, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  // available_threads() also makes sure BLAS itself runs single-threaded.
  const int threads = available_threads();
  const int parts = double(M) * N * K < kParallelGemmMacs ? 1 : threads;
  if (M <= kSmallM && trans_b) {
    parallel_for(parts, [&](int t) {
      small_m_gemm(M, int(int64_t(N) * t / parts), int(int64_t(N) * (t + 1) / parts), K, alpha, A,
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
    size_t i = 0;
    const size_t count = size_t(nb) * K;
#ifdef XRS_HAVE_AVX2
    for (; i + 8 <= count; i += 8) {
      _mm256_storeu_ps(panel.data() + i,
                       _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
    }
#endif
    for (; i < count; ++i) panel[i] = kernels::from_f16(src[i]);
    sgemm(M, nb, K, 1.0f, A, lda, panel.data(), K, true, beta, C + p0, ldc);
  }
}

}  // namespace

void linear(int rows, const float* A, int lda, const Mat& w, float beta, float* C, int ldc) {
#ifdef XRS_HAVE_AVX2
  if (w.packed == nullptr && use_tiled(rows)) {
    const int N = w.rows, K = w.cols;
    const int parts = double(rows) * N * K < kParallelGemmMacs ? 1 : available_threads();
    const int block = ((N + parts - 1) / parts + 15) / 16 * 16;
    parallel_for(parts, [&](int t) {
      const int n0 = t * block, n1 = std::min(N, n0 + block);
      if (n0 >= n1) return;
      if (w.f16 != nullptr) {
        tiled_gemm(rows, n0, n1, K, A, lda, w.f16, K, beta, C, ldc);
      } else {
        tiled_gemm(rows, n0, n1, K, A, lda, w.data, K, beta, C, ldc);
      }
    });
    return;
  }
#endif
  if (w.f16 != nullptr) {
    if (rows <= 0) return;
    const int N = w.rows, K = w.cols;
    const int parts = double(rows) * N * K < kParallelGemmMacs ? 1 : available_threads();
    const int block = ((N + parts - 1) / parts + 15) / 16 * 16;
    parallel_for(parts, [&](int t) {
      const int n0 = t * block, n1 = std::min(N, n0 + block);
      if (n0 >= n1) return;
      if (rows <= kSmallM) {
        small_m_gemm(rows, n0, n1, K, 1.0f, A, lda, w.f16, K, beta, C, ldc);
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

namespace {

// Polynomial erf approximation (Abramowitz & Stegun 7.1.26; |error| < 1.5e-7), scalar form of
// the vector code below so that both paths agree.
constexpr float kErfP = 0.3275911f;
constexpr float kErfA1 = 0.254829592f, kErfA2 = -0.284496736f, kErfA3 = 1.421413741f,
                kErfA4 = -1.453152027f, kErfA5 = 1.061405429f;

#ifdef XRS_HAVE_AVX2

// exp(x) for 8 floats: range reduction x = n ln2 + r, |r| <= ln2/2, then a degree-6 minimax
// polynomial for e^r (relative error about 2 ulp), scaled by 2^n through the exponent bits.
inline __m256 exp256(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.3365447504f);
  x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

inline __m256 quick_gelu256(__m256 x) {
  // x * sigmoid(1.702 x) = x / (1 + exp(-1.702 x))
  __m256 e = exp256(_mm256_mul_ps(x, _mm256_set1_ps(-1.702f)));
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

inline __m256 gelu256(__m256 x) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
  __m256 az = _mm256_andnot_ps(sign_mask, z);
  __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f),
                           _mm256_fmadd_ps(_mm256_set1_ps(kErfP), az, _mm256_set1_ps(1.0f)));
  __m256 poly = _mm256_set1_ps(kErfA5);
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(kErfA4));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(kErfA3));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(kErfA2));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(kErfA1));
  poly = _mm256_mul_ps(poly, t);
  __m256 erf_abs = _mm256_fnmadd_ps(poly, exp256(_mm256_mul_ps(_mm256_xor_ps(az, sign_mask), az)),
                                    _mm256_set1_ps(1.0f));
  __m256 erf = _mm256_or_ps(erf_abs, _mm256_and_ps(z, sign_mask));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x),
                       _mm256_add_ps(_mm256_set1_ps(1.0f), erf));
}

#endif  // XRS_HAVE_AVX2

float erf_approx(float x) {
  float ax = std::fabs(x);
  float t = 1.0f / (1.0f + kErfP * ax);
  float poly = ((((kErfA5 * t + kErfA4) * t + kErfA3) * t + kErfA2) * t + kErfA1) * t;
  float r = 1.0f - poly * std::exp(-ax * ax);
  return x < 0 ? -r : r;
}

inline float activation_scalar(float x, Activation act) {
  if (act == Activation::kQuickGelu) return x / (1.0f + std::exp(-1.702f * x));
  return 0.5f * x * (1.0f + erf_approx(x * 0.70710678118654752f));
}

}  // namespace

float activation_reference(float x, Activation act) {
  if (act == Activation::kQuickGelu) return static_cast<float>(x / (1.0 + std::exp(-1.702 * x)));
  return static_cast<float>(0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))));
}

void layer_norm(const float* x, int rows, int width, int x_stride, const float* gamma,
                const float* beta, float eps, float* y, int y_stride) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + size_t(r) * x_stride;
    float* yr = y + size_t(r) * y_stride;
    int c = 0;
    float sum = 0;
#ifdef XRS_HAVE_AVX2
    __m256 acc = _mm256_setzero_ps();
    for (; c + 8 <= width; c += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(xr + c));
    sum = hsum256(acc);
#endif
    for (; c < width; ++c) sum += xr[c];
    const float mean = sum / width;
    float sq = 0;
    c = 0;
#ifdef XRS_HAVE_AVX2
    __m256 vmean = _mm256_set1_ps(mean), acc2 = _mm256_setzero_ps();
    for (; c + 8 <= width; c += 8) {
      __m256 d = _mm256_sub_ps(_mm256_loadu_ps(xr + c), vmean);
      acc2 = _mm256_fmadd_ps(d, d, acc2);
    }
    sq = hsum256(acc2);
#endif
    for (; c < width; ++c) sq += (xr[c] - mean) * (xr[c] - mean);
    const float inv = 1.0f / std::sqrt(sq / width + eps);
    c = 0;
#ifdef XRS_HAVE_AVX2
    __m256 vinv = _mm256_set1_ps(inv);
    for (; c + 8 <= width; c += 8) {
      __m256 n = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + c), vmean), vinv);
      _mm256_storeu_ps(yr + c,
                       _mm256_fmadd_ps(n, _mm256_loadu_ps(gamma + c), _mm256_loadu_ps(beta + c)));
    }
#endif
    for (; c < width; ++c) yr[c] = (xr[c] - mean) * inv * gamma[c] + beta[c];
  }
}

void add_bias(float* x, int rows, int cols, int stride, const float* bias) {
  for (int r = 0; r < rows; ++r) {
    float* xr = x + size_t(r) * stride;
    for (int c = 0; c < cols; ++c) xr[c] += bias[c];
  }
}

void add_bias_activation(float* x, int rows, int cols, const float* bias, Activation act) {
  for (int r = 0; r < rows; ++r) {
    float* xr = x + size_t(r) * cols;
    int c = 0;
#ifdef XRS_HAVE_AVX2
    if (act == Activation::kQuickGelu) {
      for (; c + 8 <= cols; c += 8) {
        __m256 v = _mm256_add_ps(_mm256_loadu_ps(xr + c), _mm256_loadu_ps(bias + c));
        _mm256_storeu_ps(xr + c, quick_gelu256(v));
      }
    } else {
      for (; c + 8 <= cols; c += 8) {
        __m256 v = _mm256_add_ps(_mm256_loadu_ps(xr + c), _mm256_loadu_ps(bias + c));
        _mm256_storeu_ps(xr + c, gelu256(v));
      }
    }
#endif
    for (; c < cols; ++c) xr[c] = activation_scalar(xr[c] + bias[c], act);
  }
}

void softmax_rows(float* x, int rows, int cols, int stride, bool causal) {
  for (int r = 0; r < rows; ++r) {
    float* xr = x + size_t(r) * stride;
    const int valid = causal ? std::min(r + 1, cols) : cols;
    float mx = xr[0];
    for (int c = 1; c < valid; ++c) mx = std::max(mx, xr[c]);
    float sum = 0;
    int c = 0;
#ifdef XRS_HAVE_AVX2
    __m256 vmx = _mm256_set1_ps(mx), acc = _mm256_setzero_ps();
    for (; c + 8 <= valid; c += 8) {
      __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(xr + c), vmx));
      _mm256_storeu_ps(xr + c, e);
      acc = _mm256_add_ps(acc, e);
    }
    sum = hsum256(acc);
#endif
    for (; c < valid; ++c) {
      xr[c] = std::exp(xr[c] - mx);
      sum += xr[c];
    }
    const float inv = 1.0f / sum;
    for (c = 0; c < valid; ++c) xr[c] *= inv;
    for (c = valid; c < cols; ++c) xr[c] = 0;
  }
}

float dot(const float* a, const float* b, int n) {
  int i = 0;
  float sum = 0;
#ifdef XRS_HAVE_AVX2
  __m256 acc = _mm256_setzero_ps();
  for (; i + 8 <= n; i += 8) {
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  }
  sum = hsum256(acc);
#endif
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
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
