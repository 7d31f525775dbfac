// The AVX2 + FMA + F16C vector kernels (vector_ops.h): the only code of the project compiled with
// -mavx2 -mfma -mf16c (src/kernels/CMakeLists.txt). Nothing here may run before
// vector_kernels() has checked the CPU: every function is internal to this file (anonymous
// namespace, so the linker cannot hand an AVX2 copy of an inline function to baseline callers),
// and the one exported symbol is a constant table of pointers (data, no static initialiser).
// tests/kernels/isa_check.sh checks both in the built libraries.
//
// No std::min/max/exp/sqrt here (inline library functions that an unoptimised or sanitized build
// might emit out of line, as weak symbols the linker could share with baseline callers): the
// compiler's builtins, which are what <cmath> calls, and plain comparisons.
//
// The scalar tails stay in this file too: compiled with -mfma, GCC contracts their a * b + c into
// FMAs, which is what the float32 results have been computed with since the engine used AVX2.
#include <immintrin.h>

#include "kernels/gemm.h"
#include "kernels/vector_ops.h"

#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "vector_ops_avx2.cpp needs -mavx2 -mfma -mf16c (src/kernels/CMakeLists.txt)"
#endif

namespace xrs::kernels::avx2 {

namespace {

inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Eight weights widened to float32 (F16C for float16: exact), and one.
inline __m256 load8(const float* w) {
  return _mm256_loadu_ps(w);
}
inline __m256 load8(const uint16_t* w) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
}
inline float widen(float w) {
  return w;
}
inline float widen(uint16_t w) {
  return from_f16(w);
}

template <typename W>
void small_m_gemm_t(int M, int n0, int n1, int K, float alpha, const float* A, int lda, const W* B,
                    int ldb, float beta, float* C, int ldc) {
  for (int n = n0; n < n1; ++n) {
    const W* w = B + size_t(n) * ldb;
    float acc[kSmallM];
    int k = 0;
    __m256 vacc[kSmallM];
    for (int m = 0; m < M; ++m) vacc[m] = _mm256_setzero_ps();
    for (; k + 8 <= K; k += 8) {
      const __m256 wv = load8(w + k);
      for (int m = 0; m < M; ++m) {
        vacc[m] = _mm256_fmadd_ps(_mm256_loadu_ps(A + size_t(m) * lda + k), wv, vacc[m]);
      }
    }
    for (int m = 0; m < M; ++m) acc[m] = hsum256(vacc[m]);
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

void small_m_gemm(int M, int n0, int n1, int K, float alpha, const float* A, int lda,
                  const float* B, int ldb, float beta, float* C, int ldc) {
  small_m_gemm_t(M, n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void small_m_gemm_f16(int M, int n0, int n1, int K, float alpha, const float* A, int lda,
                      const uint16_t* B, int ldb, float beta, float* C, int ldc) {
  small_m_gemm_t(M, n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void widen_f16(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(dst + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  }
  for (; i < n; ++i) dst[i] = from_f16(src[i]);
}

float dot_f16(const float* q, const uint16_t* h, size_t n) {
  size_t i = 0;
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    __m256 v0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i)));
    __m256 v1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i + 8)));
    a0 = _mm256_fmadd_ps(v0, _mm256_loadu_ps(q + i), a0);
    a1 = _mm256_fmadd_ps(v1, _mm256_loadu_ps(q + i + 8), a1);
  }
  float sum = hsum256(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) sum += q[i] * from_f16(h[i]);
  return sum;
}

// Abramowitz & Stegun 7.1.26 (vector_ops.cpp has the same constants).
constexpr float kErfP = 0.3275911f;
constexpr float kErfA1 = 0.254829592f, kErfA2 = -0.284496736f, kErfA3 = 1.421413741f,
                kErfA4 = -1.453152027f, kErfA5 = 1.061405429f;

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

float erf_approx(float x) {
  float ax = __builtin_fabsf(x);
  float t = 1.0f / (1.0f + kErfP * ax);
  float poly = ((((kErfA5 * t + kErfA4) * t + kErfA3) * t + kErfA2) * t + kErfA1) * t;
  float r = 1.0f - poly * __builtin_expf(-ax * ax);
  return x < 0 ? -r : r;
}

void layer_norm(const float* x, int rows, int width, int x_stride, const float* gamma,
                const float* beta, float eps, float* y, int y_stride) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + size_t(r) * x_stride;
    float* yr = y + size_t(r) * y_stride;
    int c = 0;
    __m256 acc = _mm256_setzero_ps();
    for (; c + 8 <= width; c += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(xr + c));
    float sum = hsum256(acc);
    for (; c < width; ++c) sum += xr[c];
    const float mean = sum / width;
    c = 0;
    __m256 vmean = _mm256_set1_ps(mean), acc2 = _mm256_setzero_ps();
    for (; c + 8 <= width; c += 8) {
      __m256 d = _mm256_sub_ps(_mm256_loadu_ps(xr + c), vmean);
      acc2 = _mm256_fmadd_ps(d, d, acc2);
    }
    float sq = hsum256(acc2);
    for (; c < width; ++c) sq += (xr[c] - mean) * (xr[c] - mean);
    const float inv = 1.0f / __builtin_sqrtf(sq / width + eps);
    c = 0;
    __m256 vinv = _mm256_set1_ps(inv);
    for (; c + 8 <= width; c += 8) {
      __m256 n = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + c), vmean), vinv);
      _mm256_storeu_ps(yr + c,
                       _mm256_fmadd_ps(n, _mm256_loadu_ps(gamma + c), _mm256_loadu_ps(beta + c)));
    }
    for (; c < width; ++c) yr[c] = (xr[c] - mean) * inv * gamma[c] + beta[c];
  }
}

void bias_quick_gelu(float* x, int rows, int cols, const float* bias) {
  for (int r = 0; r < rows; ++r) {
    float* xr = x + size_t(r) * cols;
    int c = 0;
    for (; c + 8 <= cols; c += 8) {
      __m256 v = _mm256_add_ps(_mm256_loadu_ps(xr + c), _mm256_loadu_ps(bias + c));
      _mm256_storeu_ps(xr + c, quick_gelu256(v));
    }
    for (; c < cols; ++c) {
      const float v = xr[c] + bias[c];
      xr[c] = v / (1.0f + __builtin_expf(-1.702f * v));
    }
  }
}

void bias_gelu(float* x, int rows, int cols, const float* bias) {
  for (int r = 0; r < rows; ++r) {
    float* xr = x + size_t(r) * cols;
    int c = 0;
    for (; c + 8 <= cols; c += 8) {
      __m256 v = _mm256_add_ps(_mm256_loadu_ps(xr + c), _mm256_loadu_ps(bias + c));
      _mm256_storeu_ps(xr + c, gelu256(v));
    }
    for (; c < cols; ++c) {
      const float v = xr[c] + bias[c];
      xr[c] = 0.5f * v * (1.0f + erf_approx(v * 0.70710678118654752f));
    }
  }
}

void softmax_rows(float* x, int rows, int cols, int stride, bool causal) {
  for (int r = 0; r < rows; ++r) {
    float* xr = x + size_t(r) * stride;
    const int valid = causal && r + 1 < cols ? r + 1 : cols;
    float mx = xr[0];
    for (int c = 1; c < valid; ++c) mx = mx < xr[c] ? xr[c] : mx;  // as std::max
    int c = 0;
    __m256 vmx = _mm256_set1_ps(mx), acc = _mm256_setzero_ps();
    for (; c + 8 <= valid; c += 8) {
      __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(xr + c), vmx));
      _mm256_storeu_ps(xr + c, e);
      acc = _mm256_add_ps(acc, e);
    }
    float sum = hsum256(acc);
    for (; c < valid; ++c) {
      xr[c] = __builtin_expf(xr[c] - mx);
      sum += xr[c];
    }
    const float inv = 1.0f / sum;
    for (c = 0; c < valid; ++c) xr[c] *= inv;
    for (c = valid; c < cols; ++c) xr[c] = 0;
  }
}

float dot(const float* a, const float* b, int n) {
  int i = 0;
  __m256 acc = _mm256_setzero_ps();
  for (; i + 8 <= n; i += 8) {
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  }
  float sum = hsum256(acc);
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace

extern const VectorKernels kVectorKernels;
constinit const VectorKernels kVectorKernels = {
    .name = "avx2",
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

}  // namespace xrs::kernels::avx2
