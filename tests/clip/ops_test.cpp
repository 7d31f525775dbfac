// The engine's kernels against naive double-precision loops.
#include "clip/ops.h"

#include "clip/compute_pool.h"
#include "clip/weights.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm.h"
#include "kernels/vector_ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace xrs {
namespace {

std::vector<float> random_vector(size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

TEST(OpsTest, GemmMatchesReferenceForEveryShapeAndThreadCount) {
  struct Shape {
    int M, N, K;
  };
  // Small-M (text queries), single rows, odd sizes, and sizes large enough to be split.
  const Shape shapes[] = {{1, 1, 1},      {1, 37, 19}, {3, 200, 64},   {6, 1536, 512},
                          {8, 512, 2048}, {9, 70, 33}, {50, 640, 256}, {200, 96, 300}};
  for (int threads : {1, 2, 3}) {
    set_compute_threads(threads);
    for (const Shape& s : shapes) {
      for (bool trans_b : {true, false}) {
        for (float beta : {0.0f, 1.0f}) {
          const int lda = s.K + 3, ldb = (trans_b ? s.K : s.N) + 5, ldc = s.N + 2;
          auto A = random_vector(size_t(s.M) * lda, 1);
          auto B = random_vector(size_t(trans_b ? s.N : s.K) * ldb, 2);
          auto C = random_vector(size_t(s.M) * ldc, 3);
          auto expected = C;
          gemm(s.M, s.N, s.K, 0.5f, A.data(), lda, B.data(), ldb, trans_b, beta, C.data(), ldc);
          gemm_reference(s.M, s.N, s.K, 0.5f, A.data(), lda, B.data(), ldb, trans_b, beta,
                         expected.data(), ldc);
          double worst = 0;
          for (int i = 0; i < s.M; ++i) {
            for (int j = 0; j < s.N; ++j) {
              worst = std::max(worst, std::fabs(double(C[i * ldc + j]) - expected[i * ldc + j]));
            }
          }
          EXPECT_LT(worst, 1e-4 * std::sqrt(double(s.K)))
              << s.M << "x" << s.N << "x" << s.K << " trans_b=" << trans_b << " beta=" << beta
              << " threads=" << threads;
          // Padding columns beyond N are never written.
          for (int i = 0; i < s.M; ++i) {
            EXPECT_EQ(C[i * ldc + s.N], expected[i * ldc + s.N]);
          }
        }
      }
    }
  }
  set_compute_threads(2);
}

// Float16 weights (Mat::f16) whose values are exactly float16 give the float32 product bit for
// bit on the few-rows path (up to 8 rows) and, on AVX-512 hosts, on the tiled path (9 to
// kTiledMaxM rows: prompt ensembles), and the same product to rounding on the panel path; any thread count. Both
// agree with the double-precision reference.
TEST(OpsTest, Float16WeightsGiveTheFloat32Product) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  const bool tiled = kernels::vector_kernels().tiled_gemm != nullptr;
  for (int K : {7, 64, 300}) {
    for (int rows : {1, 3, 8, 9, 24, 32, 33, 40, 64, 65, 100}) {
      const int N = 70, lda = K + 3, ldc = N + 1;
      std::vector<float> A(size_t(rows) * lda), W(size_t(N) * K);
      std::vector<uint16_t> H(W.size());
      for (float& a : A) a = normal(rng);
      for (size_t i = 0; i < W.size(); ++i) {
        H[i] = kernels::to_f16(normal(rng) * 0.1f);
        W[i] = kernels::from_f16(H[i]);  // exactly a float16
      }
      for (int threads : {1, 2}) {
        set_compute_threads(threads);
        for (float beta : {0.0f, 1.0f}) {
          std::vector<float> c32(size_t(rows) * ldc, 0.5f), c16 = c32, want = c32;
          linear(rows, A.data(), lda, Mat{W.data(), N, K, nullptr, nullptr}, beta, c32.data(), ldc);
          linear(rows, A.data(), lda, Mat{nullptr, N, K, nullptr, H.data()}, beta, c16.data(), ldc);
          gemm_reference(rows, N, K, 1.0f, A.data(), lda, W.data(), K, true, beta, want.data(),
                         ldc);
          const bool same_kernel =
              rows <= kernels::kSmallM || (tiled && rows <= kernels::kTiledMaxM);
          for (int r = 0; r < rows; ++r) {
            for (int j = 0; j < ldc; ++j) {
              const size_t i = size_t(r) * ldc + j;
              if (j == N) {  // the padding column is never written
                ASSERT_EQ(c16[i], 0.5f);
                ASSERT_EQ(c32[i], 0.5f);
                continue;
              }
              if (same_kernel) {
                ASSERT_EQ(c16[i], c32[i]) << rows << "x" << K << " at " << i;
              } else {
                ASSERT_NEAR(c16[i], c32[i], 1e-5f * (1 + std::fabs(c32[i]))) << rows << "x" << K;
              }
              ASSERT_NEAR(c16[i], want[i], 1e-5f * std::sqrt(float(K)) * (1 + std::fabs(want[i])))
                  << rows << "x" << K << " threads=" << threads << " beta=" << beta;
            }
          }
        }
      }
    }
  }
  set_compute_threads(0);
}

TEST(OpsTest, LayerNormMatchesDoublePrecision) {
  const int rows = 5, width = 77;
  auto x = random_vector(size_t(rows) * width, 4, 3.0f);
  for (float& v : x) v += 10.0f;  // a large mean must not hurt the variance
  auto g = random_vector(width, 5), b = random_vector(width, 6);
  std::vector<float> y(x.size());
  layer_norm(x.data(), rows, width, width, g.data(), b.data(), 1e-5f, y.data(), width);
  for (int r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int c = 0; c < width; ++c) mean += x[r * width + c];
    mean /= width;
    for (int c = 0; c < width; ++c) var += (x[r * width + c] - mean) * (x[r * width + c] - mean);
    var /= width;
    for (int c = 0; c < width; ++c) {
      double want = (x[r * width + c] - mean) / std::sqrt(var + 1e-5) * g[c] + b[c];
      EXPECT_NEAR(y[r * width + c], want, 2e-5);
    }
  }
}

TEST(OpsTest, ActivationsMatchTheirDefinitions) {
  std::vector<float> xs;
  for (float v = -12.0f; v <= 12.0f; v += 0.0137f) xs.push_back(v);
  xs.push_back(-100.0f);
  xs.push_back(100.0f);
  for (Activation act : {Activation::kQuickGelu, Activation::kGelu}) {
    std::vector<float> y = xs;
    std::vector<float> zero(y.size(), 0.0f);
    add_bias_activation(y.data(), 1, static_cast<int>(y.size()), zero.data(), act);
    for (size_t i = 0; i < xs.size(); ++i) {
      const double want = act == Activation::kQuickGelu
                              ? xs[i] / (1.0 + std::exp(-1.702 * xs[i]))
                              : 0.5 * xs[i] * (1.0 + std::erf(xs[i] / std::sqrt(2.0)));
      EXPECT_NEAR(y[i], want, 2e-6 * std::max(1.0, std::fabs(want)))
          << activation_name(act) << " at " << xs[i];
      EXPECT_NEAR(activation_reference(xs[i], act), want, 1e-6 * std::max(1.0, std::fabs(want)));
    }
  }
}

TEST(OpsTest, SoftmaxRowsWithAndWithoutCausalMask) {
  const int n = 13;
  auto x = random_vector(size_t(n) * n, 7, 4.0f);
  for (bool causal : {false, true}) {
    auto y = x;
    softmax_rows(y.data(), n, n, n, causal);
    for (int r = 0; r < n; ++r) {
      const int valid = causal ? r + 1 : n;
      double mx = -1e30, sum = 0;
      for (int c = 0; c < valid; ++c) mx = std::max(mx, double(x[r * n + c]));
      for (int c = 0; c < valid; ++c) sum += std::exp(x[r * n + c] - mx);
      for (int c = 0; c < n; ++c) {
        const double want = c < valid ? std::exp(x[r * n + c] - mx) / sum : 0.0;
        EXPECT_NEAR(y[r * n + c], want, 1e-6);
      }
    }
  }
}

TEST(OpsTest, L2NormalizeRows) {
  std::vector<float> x = {3, 4, 0, 0, 0, 0};
  l2_normalize_rows(x.data(), 2, 3);
  EXPECT_FLOAT_EQ(x[0], 0.6f);
  EXPECT_FLOAT_EQ(x[1], 0.8f);
  EXPECT_EQ(x[3], 0.0f);  // an all-zero row stays zero (no NaN)
}

}  // namespace
}  // namespace xrs
