// kernels/vector_ops.h: every implementation this host can run (the baseline always, AVX2 and
// AVX-512 where the CPU has them) against double-precision loops written here, and the choice
// between them under XRS_CPU_MAX (this program also runs with the cap at baseline, CMakeLists.txt).
#include "kernels/vector_ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/gemm.h"

namespace xrs::kernels {
namespace {

std::vector<const VectorKernels*> runnable() {
  std::vector<const VectorKernels*> out = {&vector_kernels_baseline()};
  if (vector_kernels_avx2() != nullptr && detect_cpu_features().has_avx2()) {
    out.push_back(vector_kernels_avx2());
  }
  if (vector_kernels_avx512() != nullptr && detect_cpu_features().has_avx2() &&
      detect_cpu_features().has_avx512()) {
    out.push_back(vector_kernels_avx512());
  }
  return out;
}

std::vector<float> random_vector(size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

TEST(VectorKernelsTest, TheChoiceFollowsTheCpuAndTheCap) {
  const bool avx2 = vector_kernels_avx2() != nullptr && cpu_features().has_avx2();
  const bool avx512 = avx2 && vector_kernels_avx512() != nullptr && cpu_features().has_avx512();
  EXPECT_STREQ(vector_kernels().name, avx512 ? "avx512" : avx2 ? "avx2" : "baseline");
  // Only the avx512 table has the tiled product; it is the avx2 table otherwise.
  EXPECT_EQ(vector_kernels().tiled_gemm != nullptr, avx512);
  if (const VectorKernels* t = vector_kernels_avx512()) {
    EXPECT_STREQ(t->name, "avx512");
    EXPECT_EQ(t->small_m_gemm, vector_kernels_avx2()->small_m_gemm);
    EXPECT_NE(t->tiled_gemm_f16, nullptr);
  }
  const char* cap = std::getenv("XRS_CPU_MAX");
  if (cap != nullptr && std::string(cap) == "baseline") {
    EXPECT_STREQ(vector_kernels().name, "baseline");
  }
  EXPECT_STREQ(vector_kernels_baseline().name, "baseline");
}

TEST(VectorKernelsTest, LayerNormMatchesDoublePrecision) {
  for (const VectorKernels* k : runnable()) {
    SCOPED_TRACE(k->name);
    for (int width : {5, 77, 768}) {
      const int rows = 3, stride = width + 3;
      auto x = random_vector(size_t(rows) * stride, 4, 3.0f);
      for (float& v : x) v += 10.0f;
      auto g = random_vector(width, 5), b = random_vector(width, 6);
      std::vector<float> y(x.size());
      k->layer_norm(x.data(), rows, width, stride, g.data(), b.data(), 1e-5f, y.data(), stride);
      for (int r = 0; r < rows; ++r) {
        const float* xr = &x[size_t(r) * stride];
        double mean = 0, var = 0;
        for (int c = 0; c < width; ++c) mean += xr[c];
        mean /= width;
        for (int c = 0; c < width; ++c) var += (xr[c] - mean) * (xr[c] - mean);
        var /= width;
        for (int c = 0; c < width; ++c) {
          const double want = (xr[c] - mean) / std::sqrt(var + 1e-5) * g[c] + b[c];
          ASSERT_NEAR(y[size_t(r) * stride + c], want, 2e-5) << width << " " << r << " " << c;
        }
      }
    }
  }
}

TEST(VectorKernelsTest, BiasAndActivationMatchTheirDefinitions) {
  std::vector<float> xs;
  for (float v = -12.0f; v <= 12.0f; v += 0.0137f) xs.push_back(v);
  xs.push_back(-100.0f);
  xs.push_back(100.0f);
  const int cols = 37, rows = int(xs.size()) / cols;  // a scalar tail on every row
  auto bias = random_vector(cols, 8, 0.5f);
  for (const VectorKernels* k : runnable()) {
    for (bool quick : {true, false}) {
      SCOPED_TRACE(std::string(k->name) + (quick ? " quick_gelu" : " gelu"));
      std::vector<float> y(xs.begin(), xs.begin() + size_t(rows) * cols);
      (quick ? k->bias_quick_gelu : k->bias_gelu)(y.data(), rows, cols, bias.data());
      for (size_t i = 0; i < y.size(); ++i) {
        const double v = double(xs[i] + bias[i % cols]);
        const double want = quick ? v / (1.0 + std::exp(-1.702 * v))
                                  : 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
        ASSERT_NEAR(y[i], want, 2e-6 * std::max(1.0, std::fabs(want))) << v;
      }
    }
  }
}

TEST(VectorKernelsTest, SoftmaxRowsWithAndWithoutCausalMask) {
  for (const VectorKernels* k : runnable()) {
    SCOPED_TRACE(k->name);
    for (int n : {13, 50}) {
      const int stride = n + 2;
      auto x = random_vector(size_t(n) * stride, 7, 4.0f);
      for (bool causal : {false, true}) {
        auto y = x;
        k->softmax_rows(y.data(), n, n, stride, causal);
        for (int r = 0; r < n; ++r) {
          const float* xr = &x[size_t(r) * stride];
          const int valid = causal ? r + 1 : n;
          double mx = -1e30, sum = 0;
          for (int c = 0; c < valid; ++c) mx = std::max(mx, double(xr[c]));
          for (int c = 0; c < valid; ++c) sum += std::exp(xr[c] - mx);
          for (int c = 0; c < n; ++c) {
            const double want = c < valid ? std::exp(xr[c] - mx) / sum : 0.0;
            ASSERT_NEAR(y[size_t(r) * stride + c], want, 1e-6) << n << " " << r << " " << c;
          }
        }
      }
    }
  }
}

TEST(VectorKernelsTest, SmallMProductsMatchDoublePrecisionAndFloat16GivesTheSameBits) {
  for (const VectorKernels* k : runnable()) {
    SCOPED_TRACE(k->name);
    for (int K : {7, 64, 77}) {
      const int N = 19, ldb = K + 1, lda = K + 2, ldc = N + 3;
      // Weights that float16 holds exactly, so both weight types give the same product.
      auto B = random_vector(size_t(N) * ldb, 11, 0.1f);
      std::vector<uint16_t> B16(B.size());
      for (size_t i = 0; i < B.size(); ++i) B[i] = from_f16(B16[i] = to_f16(B[i]));
      for (int M = 1; M <= kSmallM; ++M) {
        const auto A = random_vector(size_t(M) * lda, 12 + M);
        const auto C0 = random_vector(size_t(M) * ldc, 30 + M);
        for (float beta : {0.0f, 1.0f}) {
          auto C = C0, C16 = C0;
          k->small_m_gemm(M, 2, N, K, 0.5f, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
          k->small_m_gemm_f16(M, 2, N, K, 0.5f, A.data(), lda, B16.data(), ldb, beta, C16.data(),
                              ldc);
          ASSERT_EQ(std::memcmp(C.data(), C16.data(), C.size() * sizeof(float)), 0);
          for (int m = 0; m < M; ++m) {
            for (int n = 0; n < N; ++n) {
              const size_t i = size_t(m) * ldc + n;
              double want = C0[i];  // columns before n0 are untouched
              if (n >= 2) {
                double acc = 0;
                for (int kk = 0; kk < K; ++kk) acc += double(A[m * lda + kk]) * B[n * ldb + kk];
                want = 0.5 * acc + beta * C0[i];
              }
              ASSERT_NEAR(C[i], want, 1e-5 * std::max(1.0, std::fabs(want))) << M << " " << n;
            }
          }
        }
      }
    }
  }
}

TEST(VectorKernelsTest, TiledProductsMatchDoublePrecisionAndFloat16GivesTheSameBits) {
  int tables = 0;
  for (const VectorKernels* k : runnable()) {
    if (k->tiled_gemm == nullptr) continue;
    ++tables;
    SCOPED_TRACE(k->name);
    // K past and short of a multiple of 16 (the masked tail), N past a multiple of 4.
    for (int K : {7, 64, 77}) {
      const int N = 23, ldb = K + 1, lda = K + 2, ldc = N + 3;
      auto B = random_vector(size_t(N) * ldb, 51, 0.1f);
      std::vector<uint16_t> B16(B.size());
      for (size_t i = 0; i < B.size(); ++i) B[i] = from_f16(B16[i] = to_f16(B[i]));
      for (int M = kSmallM + 1; M <= kTiledMaxM; ++M) {
        const auto A = random_vector(size_t(M) * lda, 52 + M);
        const auto C0 = random_vector(size_t(M) * ldc, 90 + M);
        for (float beta : {0.0f, 1.0f}) {
          auto C = C0, C16 = C0;
          k->tiled_gemm(M, 2, N, K, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
          k->tiled_gemm_f16(M, 2, N, K, A.data(), lda, B16.data(), ldb, beta, C16.data(), ldc);
          ASSERT_EQ(std::memcmp(C.data(), C16.data(), C.size() * sizeof(float)), 0) << M;
          for (int m = 0; m < M; ++m) {
            for (int n = 0; n < N; ++n) {
              const size_t i = size_t(m) * ldc + n;
              double want = C0[i];  // columns before n0 are untouched
              if (n >= 2) {
                double acc = 0;
                for (int kk = 0; kk < K; ++kk) acc += double(A[m * lda + kk]) * B[n * ldb + kk];
                want = acc + beta * C0[i];
              }
              ASSERT_NEAR(C[i], want, 1e-5 * std::max(1.0, std::fabs(want))) << M << " " << n;
            }
          }
        }
      }
    }
  }
  if (tables == 0) GTEST_SKIP() << "skipped: no tiled kernel runs on this CPU (needs AVX-512)";
}

TEST(VectorKernelsTest, Float16WideningIsExactAndDotProductsMatch) {
  std::vector<uint16_t> all(65536 + 5);
  for (size_t i = 0; i < all.size(); ++i) all[i] = uint16_t(i);
  for (const VectorKernels* k : runnable()) {
    SCOPED_TRACE(k->name);
    std::vector<float> wide(all.size());
    k->widen_f16(all.data(), wide.data(), all.size());
    for (size_t i = 0; i < all.size(); ++i) {
      const float want = from_f16(all[i]);
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(wide[i])) << i;
      } else {
        ASSERT_EQ(std::memcmp(&want, &wide[i], 4), 0) << i;
      }
    }
    for (int n : {5, 512, 517}) {
      const auto a = random_vector(n, 22), b = random_vector(n, 23);
      double want = 0;
      for (int i = 0; i < n; ++i) want += double(a[i]) * b[i];
      EXPECT_NEAR(k->dot(a.data(), b.data(), n), want, 1e-5 * std::max(1.0, std::fabs(want))) << n;
    }
    for (size_t n : {size_t(5), size_t(512), size_t(517)}) {
      const auto q = random_vector(n, 21);
      std::vector<uint16_t> h(n);
      for (size_t i = 0; i < n; ++i) h[i] = to_f16(random_vector(1, unsigned(40 + i))[0]);
      double want = 0;
      for (size_t i = 0; i < n; ++i) want += double(q[i]) * from_f16(h[i]);
      EXPECT_NEAR(k->dot_f16(q.data(), h.data(), n), want, 1e-5 * std::max(1.0, std::fabs(want)))
          << n;
    }
  }
}

}  // namespace
}  // namespace xrs::kernels
