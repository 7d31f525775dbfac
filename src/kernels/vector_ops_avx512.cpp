// The AVX-512 kernels (vector_ops.h): the tiled product of 9-48 rows (kSmallM < M <= kTiledMaxM)
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

// The sums of the 16 lanes of a, b, c and d: [Σa, Σb, Σc, Σd]. Quarters are added pairwise across
// the four vectors (three shuffles of 128-bit lanes and adds), then within each 128-bit lane.
inline __m128 hsum4x512(__m512 a, __m512 b, __m512 c, __m512 d) {
  constexpr __mmask16 kAll = 0xFFFF;  // (the maskz_ forms: see load16)
  // [a0+a2, a1+a3, b0+b2, b1+b3] and the same for c, d (ai: 128-bit quarters).
  const __m512 ab = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(kAll, a, b, 0x44),
                                  _mm512_maskz_shuffle_f32x4(kAll, a, b, 0xEE));
  const __m512 cd = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(kAll, c, d, 0x44),
                                  _mm512_maskz_shuffle_f32x4(kAll, c, d, 0xEE));
  // Quarter q holds the four partial sums of vector q (a, b, c, d).
  __m512 s = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(kAll, ab, cd, 0x88),
                           _mm512_maskz_shuffle_f32x4(kAll, ab, cd, 0xDD));
  s = _mm512_add_ps(s, _mm512_maskz_permute_ps(kAll, s, 0x4E));  // [e0+e2, e1+e3, ...] per quarter
  s = _mm512_add_ps(s, _mm512_maskz_permute_ps(kAll, s, 0xB1));  // every element: its quarter's sum
  const __m512i first = _mm512_setr_epi32(0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12);
  return _mm512_maskz_extractf32x4_ps(0xF, _mm512_maskz_permutexvar_ps(kAll, first, s), 0);
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
  // The sums, four accumulators at a time through a transposing tree (hsum4x512), in row-major
  // (i, j) order; the last MR * NR % 4 one by one.
  constexpr int kCount = MR * NR;
  for (int f = 0; f + 4 <= kCount; f += 4) {
    float sums[4];
    _mm_storeu_ps(sums,
                  hsum4x512(acc[f / NR][f % NR], acc[(f + 1) / NR][(f + 1) % NR],
                            acc[(f + 2) / NR][(f + 2) % NR], acc[(f + 3) / NR][(f + 3) % NR]));
    for (int e = 0; e < 4; ++e) {
      float* c = C + size_t((f + e) / NR) * ldc + (f + e) % NR;
      *c = sums[e] + (beta == 0 ? 0.0f : beta * *c);
    }
  }
  if constexpr (kCount % 4 != 0) {
    for (int g = kCount - kCount % 4; g < kCount; ++g) {
      float* c = C + size_t(g / NR) * ldc + g % NR;
      *c = hsum512(acc[g / NR][g % NR]) + (beta == 0 ? 0.0f : beta * *c);
    }
  }
}

// Rows m..M of A, fewer than R, as one tile of M - m rows (R - 1, R - 2, ... down to 1).
template <int R, int NR, typename W>
void tile_tail(int rows, int K, const float* A, int lda, const W* B, int ldb, float beta, float* C,
               int ldc) {
  if constexpr (R > 0) {
    if (rows == R) {
      tile_avx512<R, NR>(K, A, lda, B, ldb, beta, C, ldc);
    } else {
      tile_tail<R - 1, NR>(rows, K, A, lda, B, ldb, beta, C, ldc);
    }
  }
}

// Every row of A against weight rows 0..NR of B, in tiles of MR rows (MR * NR accumulators, NR
// weight vectors and one row vector within the 32 vector registers).
template <int MR, int NR, typename W>
void tile_column_avx512(int M, int K, const float* A, int lda, const W* B, int ldb, float beta,
                        float* C, int ldc, const W* next = nullptr) {
  int m = 0;
  for (; m + MR <= M; m += MR) {
    // The first tile reads these weights from memory; it also asks for the next block's (`next`),
    // which then arrive while the other tiles compute from L1.
    tile_avx512<MR, NR>(K, A + size_t(m) * lda, lda, B, ldb, beta, C + size_t(m) * ldc, ldc,
                        m == 0 ? next : nullptr);
  }
  tile_tail<MR - 1, NR>(M - m, K, A + size_t(m) * lda, lda, B, ldb, beta, C + size_t(m) * ldc, ldc);
}

// C[M, n0:n1] = A[M, K] · B[n0:n1, :]^T + beta * C for kSmallM < M <= kTiledMaxM (AVX-512 hosts):
// four weight rows at a time (at most 16 KiB of float16, kept in L1) against every row of A, so
// the weights are read from memory once, widened in registers, with no packed copy. W is float or
// float16: the same sums in the same order, as in small_m_gemm.
template <typename W>
void tiled_gemm_t(int M, int n0, int n1, int K, const float* A, int lda, const W* B, int ldb,
                  float beta, float* C, int ldc) {
  // 6 x 4 tiles: 24 accumulators (8 x 3 and 12 x 2 were half as fast on the Xeon host, GCC 12).
  constexpr int kMR = 6, kNR = 4;
  int n = n0;
  for (; n + kNR <= n1; n += kNR) {
    const W* next = n + 2 * kNR <= n1 ? B + size_t(n + kNR) * ldb : nullptr;
    tile_column_avx512<kMR, kNR>(M, K, A, lda, B + size_t(n) * ldb, ldb, beta, C + n, ldc, next);
  }
  for (; n < n1; ++n) {
    tile_column_avx512<kMR, 1>(M, K, A, lda, B + size_t(n) * ldb, ldb, beta, C + n, ldc);
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
