// The AVX-512 kernels (vector_ops.h): the tiled product of 9-32 rows (kSmallM < M <= kTiledMaxM)
// that a prompt ensemble's text encoder runs, the only code of the project compiled with
// -mavx512f -mavx512bw -mavx512vl (src/kernels/CMakeLists.txt). As in vector_ops_avx2.cpp,
// everything is internal to this file and the one exported symbol is a constant table of
// pointers, used only after vector_kernels() has checked the CPU (tests/kernels/isa_check.sh).
#include <immintrin.h>

#include "kernels/vector_ops.h"

#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__) || \
    !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "vector_ops_avx512.cpp needs -mavx512f -mavx512bw -mavx512vl -mavx2 -mfma -mf16c"
#endif

namespace xrs::kernels::avx512 {

namespace {

inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Sixteen weights widened to float32 (float16: exact); with a mask, only its lanes (the rest 0).
inline __m512 load16(const float* w) {
  return _mm512_loadu_ps(w);
}
// (The maskz_ forms: GCC 12's unmasked ones start from an undefined register and warn.)
inline __m512 load16(const uint16_t* w) {
  return _mm512_maskz_cvtph_ps(0xFFFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)));
}
inline __m512 load16(const float* w, __mmask16 m) {
  return _mm512_maskz_loadu_ps(m, w);
}
inline __m512 load16(const uint16_t* w, __mmask16 m) {
  return _mm512_maskz_cvtph_ps(0xFFFF, _mm256_maskz_loadu_epi16(m, w));
}

inline float hsum512(__m512 v) {
  const __m512d d = _mm512_castps_pd(v);
  return hsum256(_mm256_add_ps(_mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xF, d, 0)),
                               _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xF, d, 1))));
}

// C[MR, NR] = A[MR, K] · B[NR, K]^T + beta * C: MR x NR dot products along K, 16 lanes at a
// time, each weight vector reused for MR rows and each row vector for NR weights.
template <int MR, int NR, typename W>
inline void tile_avx512(int K, const float* A, int lda, const W* B, int ldb, float beta, float* C,
                        int ldc, const W* prefetch = nullptr) {
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
void tile_column_avx512(int M, int K, const float* A, int lda, const W* B, int ldb, float beta,
                        float* C, int ldc, const W* next = nullptr) {
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
void tiled_gemm_t(int M, int n0, int n1, int K, const float* A, int lda, const W* B, int ldb,
                  float beta, float* C, int ldc) {
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

void tiled_gemm(int M, int n0, int n1, int K, const float* A, int lda, const float* B, int ldb,
                float beta, float* C, int ldc) {
  tiled_gemm_t(M, n0, n1, K, A, lda, B, ldb, beta, C, ldc);
}

void tiled_gemm_f16(int M, int n0, int n1, int K, const float* A, int lda, const uint16_t* B,
                    int ldb, float beta, float* C, int ldc) {
  tiled_gemm_t(M, n0, n1, K, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace

extern const TiledKernels kTiledKernels;
constinit const TiledKernels kTiledKernels = {
    .tiled_gemm = tiled_gemm,
    .tiled_gemm_f16 = tiled_gemm_f16,
};

}  // namespace xrs::kernels::avx512
