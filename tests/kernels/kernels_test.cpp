// kernels: CPU detection against the operating system's own report (/proc/cpuinfo), and every
// product path (float32 through oneDNN or OpenBLAS, bf16 and int8 packed weights) against plain
// double-precision loops written here. Run as is and again with XRS_CPU_MAX capped (CMakeLists).
#include <gtest/gtest.h>

#include <immintrin.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/gemm.h"

namespace xrs::kernels {
namespace {

std::set<std::string> proc_cpuinfo_flags() {
  std::ifstream f("/proc/cpuinfo");
  std::set<std::string> flags;
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string w; words >> w;) flags.insert(w);
    break;
  }
  return flags;
}

TEST(CpuFeaturesTest, DetectionAgreesWithTheKernelsReport) {
  const std::set<std::string> flags = proc_cpuinfo_flags();
  if (flags.empty()) GTEST_SKIP() << "skipped: /proc/cpuinfo has no flags line here";
  const CpuFeatures f = detect_cpu_features();
  auto has = [&](const char* name) { return flags.count(name) > 0; };
  EXPECT_EQ(f.avx2, has("avx2"));
  EXPECT_EQ(f.fma, has("fma"));
  EXPECT_EQ(f.f16c, has("f16c"));
  EXPECT_EQ(f.avx512f, has("avx512f"));
  EXPECT_EQ(f.avx512bw, has("avx512bw"));
  EXPECT_EQ(f.avx512vl, has("avx512vl"));
  EXPECT_EQ(f.avx512_bf16, has("avx512_bf16"));
  EXPECT_EQ(f.avx_vnni, has("avx_vnni"));
  EXPECT_EQ(f.avx512_vnni, has("avx512_vnni"));
  EXPECT_EQ(f.amx_bf16, has("amx_bf16") && has("amx_tile"));
  EXPECT_EQ(f.amx_int8, has("amx_int8") && has("amx_tile"));
}

TEST(CpuFeaturesTest, CapsRemoveWhatIsAboveThem) {
  CpuFeatures all;
  all.avx2 = all.fma = all.f16c = all.avx512f = all.avx512bw = all.avx512vl = true;
  all.avx512_bf16 = all.avx_vnni = all.avx512_vnni = all.amx_bf16 = all.amx_int8 = true;
  std::string error;
  CpuFeatures avx2 = cap_cpu_features(all, "avx2", &error);
  EXPECT_TRUE(avx2.has_avx2());
  EXPECT_FALSE(avx2.avx512f || avx2.has_vnni() || avx2.amx_int8);
  EXPECT_EQ(avx2.cap, "avx2");
  CpuFeatures bf16 = cap_cpu_features(all, "avx512_bf16", &error);
  EXPECT_TRUE(bf16.has_avx512() && bf16.avx512_bf16 && bf16.avx512_vnni);
  EXPECT_FALSE(bf16.amx_bf16 || bf16.amx_int8);
  CpuFeatures base = cap_cpu_features(all, "baseline", &error);
  EXPECT_FALSE(base.avx2 || base.fma);
  EXPECT_NE(base.describe().find("baseline"), std::string::npos);
  EXPECT_TRUE(error.empty());
  CpuFeatures bad = cap_cpu_features(all, "avx9000", &error);
  EXPECT_NE(error.find("avx9000"), std::string::npos);
  EXPECT_TRUE(bad.amx_int8);  // an unknown cap is ignored, not half-applied
  EXPECT_EQ(cap_cpu_features(all, "native", &error).amx_bf16, true);
}

TEST(CpuFeaturesTest, TheCapInForceIsReported) {
  const char* cap = std::getenv("XRS_CPU_MAX");
  const CpuFeatures& f = cpu_features();
  if (cap != nullptr && std::string(cap) != "native") {
    EXPECT_EQ(f.cap, cap);
    EXPECT_NE(f.describe().find(std::string("capped at ") + cap), std::string::npos);
    if (std::string(cap) == "avx2") {
      EXPECT_FALSE(f.avx512f);
    }
    if (std::string(cap) == "baseline") {
      EXPECT_FALSE(f.avx2);
    }
  } else {
    EXPECT_EQ(f.describe().find("capped"), std::string::npos);
  }
  std::printf("cpu: %s; float32 products: %s\n", f.describe().c_str(), sgemm_backend().c_str());
}

std::vector<float> random_matrix(size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

// C = alpha A op(B) + beta C in double; `magnitude` (optional) gets |alpha| sum |a b| + |beta c|,
// the scale of float32's rounding error for each entry.
std::vector<double> reference(int M, int N, int K, float alpha, const std::vector<float>& A,
                              int lda, const std::vector<float>& B, int ldb, bool trans_b,
                              float beta, const std::vector<float>& C, int ldc,
                              std::vector<double>* magnitude = nullptr) {
  std::vector<double> out(size_t(M) * ldc);
  if (magnitude) magnitude->assign(size_t(M) * ldc, 0.0);
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      double acc = 0, mag = 0;
      for (int k = 0; k < K; ++k) {
        const double p = double(A[size_t(m) * lda + k]) *
                         (trans_b ? B[size_t(n) * ldb + k] : B[size_t(k) * ldb + n]);
        acc += p;
        mag += std::fabs(p);
      }
      const double c = double(beta) * C[size_t(m) * ldc + n];
      out[size_t(m) * ldc + n] = alpha * acc + c;
      if (magnitude) (*magnitude)[size_t(m) * ldc + n] = std::fabs(alpha) * mag + std::fabs(c);
    }
  }
  return out;
}

TEST(SgemmTest, EveryPathMatchesDoublePrecisionLoops) {
  struct Shape {
    int M, N, K;
    float alpha, beta;
    bool trans_b;
    int pad;  // extra columns in each leading dimension
  };
  // Small (OpenBLAS), large transposed products with beta 0 and 1 (oneDNN on AVX-512 hosts),
  // strided operands, alpha != 1, and B not transposed.
  const Shape shapes[] = {{5, 7, 3, 1, 0, true, 0},        {50, 50, 64, 0.125f, 0, true, 3},
                          {200, 96, 128, 1, 0, true, 0},   {200, 96, 128, 1, 1, true, 5},
                          {37, 300, 257, 1, 1, true, 2},   {64, 130, 200, 1, 0, false, 1},
                          {130, 64, 200, 0.5f, 1, true, 0}};
  for (const Shape& s : shapes) {
    const int lda = s.K + s.pad, ldb = (s.trans_b ? s.K : s.N) + s.pad, ldc = s.N + s.pad;
    const auto A = random_matrix(size_t(s.M) * lda, 1);
    const auto B = random_matrix(size_t(s.trans_b ? s.N : s.K) * ldb, 2);
    auto C = random_matrix(size_t(s.M) * ldc, 3);
    std::vector<double> magnitude;
    const auto want =
        reference(s.M, s.N, s.K, s.alpha, A, lda, B, ldb, s.trans_b, s.beta, C, ldc, &magnitude);
    sgemm(s.M, s.N, s.K, s.alpha, A.data(), lda, B.data(), ldb, s.trans_b, s.beta, C.data(), ldc);
    double worst = 0;
    for (int m = 0; m < s.M; ++m) {
      for (int n = 0; n < s.N; ++n) {
        const double w = want[size_t(m) * ldc + n];
        const size_t i = size_t(m) * ldc + n;
        worst = std::max(worst, std::fabs(C[i] - w) / magnitude[i]);
      }
    }
    // Float32 accumulation: a few units of 2^-24 relative to the sum of magnitudes.
    EXPECT_LT(worst, 1e-6) << s.M << "x" << s.N << "x" << s.K;
  }
}

TEST(PackedWeightTest, Bf16ComputesTheProductsOfRoundedOperands) {
  const int M = 70, N = 96, K = 200;
  const auto A = random_matrix(size_t(M) * K, 4);
  const auto W = random_matrix(size_t(N) * K, 5, 0.05f);
  auto packed = PackedWeight::pack(W.data(), N, K, Precision::kBf16);
  ASSERT_TRUE(packed.is_ok()) << packed.status().to_string();
  EXPECT_EQ((*packed)->precision(), Precision::kBf16);
  EXPECT_GE((*packed)->bytes(), size_t(N) * K * 2);
  std::printf("bf16 kernels: %s\n", (*packed)->backend().c_str());
  for (float beta : {0.0f, 1.0f}) {
    auto C = random_matrix(size_t(M) * N, 6);
    const auto C0 = C;
    (*packed)->apply(M, A.data(), K, beta, C.data(), N);
    for (int m = 0; m < M; ++m) {
      for (int n = 0; n < N; ++n) {
        double want = beta * C0[size_t(m) * N + n];
        for (int k = 0; k < K; ++k) {
          want += double(from_bf16(to_bf16(A[size_t(m) * K + k]))) *
                  from_bf16(to_bf16(W[size_t(n) * K + k]));
        }
        ASSERT_NEAR(C[size_t(m) * N + n], want, 1e-4) << m << "," << n;
      }
    }
  }
}

TEST(PackedWeightTest, Bf16RoundsToNearestEven) {
  EXPECT_EQ(to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(from_bf16(0x3f80), 1.0f);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
  EXPECT_EQ(to_bf16(1.0f + 1.0f / 256), 0x3f80);
  EXPECT_EQ(to_bf16(1.0f + 3.0f / 256), 0x3f82);  // halfway again: up to the even one
  EXPECT_EQ(to_bf16(-2.5f), 0xc020);
  EXPECT_TRUE(std::isnan(from_bf16(to_bf16(std::nanf("")))));
  EXPECT_EQ(from_bf16(to_bf16(INFINITY)), INFINITY);
}

// Float16 conversion against the CPU's own instruction (F16C vcvtps2ph / vcvtph2ps, round to
// nearest even) over every half value and a sweep of floats, subnormals and specials included.
__attribute__((target("f16c"))) uint16_t hw_to_f16(float x) {
  return _cvtss_sh(x, 0);
}
__attribute__((target("f16c"))) float hw_from_f16(uint16_t h) {
  return _cvtsh_ss(h);
}

TEST(Float16Test, ConversionsAgreeWithF16c) {
  if (!detect_cpu_features().f16c) GTEST_SKIP() << "skipped: this CPU has no F16C to compare with";
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const float want = hw_from_f16(uint16_t(h)), got = from_f16(uint16_t(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << h;
      continue;
    }
    ASSERT_EQ(std::memcmp(&want, &got, 4), 0) << std::hex << h;
    ASSERT_EQ(to_f16(got), uint16_t(h)) << std::hex << h;  // every half survives the round trip
  }
  std::mt19937 rng(3);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 2000000; ++i) {
    uint32_t u = bits(rng);
    if (i % 2) u = (u & 0x80000000u) | (0x33000000u + (u % 0x14800000u));  // the half range
    float x;
    std::memcpy(&x, &u, 4);
    if (std::isnan(x)) continue;
    ASSERT_EQ(to_f16(x), hw_to_f16(x)) << std::hexfloat << x;
  }
}

TEST(PackedWeightTest, Int8FollowsPerRowAndPerChannelQuantisation) {
  const int M = 60, N = 80, K = 300;
  auto A = random_matrix(size_t(M) * K, 7);
  A[5] = 40.0f;  // an outlier: its row's scale grows, the other rows keep theirs
  const auto W = random_matrix(size_t(N) * K, 8, 0.05f);
  auto packed = PackedWeight::pack(W.data(), N, K, Precision::kInt8);
  ASSERT_TRUE(packed.is_ok()) << packed.status().to_string();
  std::printf("int8 kernels: %s\n", (*packed)->backend().c_str());
  const CpuFeatures& f = cpu_features();
  const double qmax_w = (f.has_vnni() || f.amx_int8) ? 127 : 63;
  // The quantised product, computed here from the definition.
  std::vector<double> want(size_t(M) * N);
  std::vector<double> wscale(N);
  std::vector<std::vector<int>> wq(N, std::vector<int>(K));
  for (int n = 0; n < N; ++n) {
    double amax = 0;
    for (int k = 0; k < K; ++k) amax = std::max(amax, std::fabs(double(W[size_t(n) * K + k])));
    wscale[n] = float(amax / qmax_w);
    for (int k = 0; k < K; ++k) {
      wq[n][k] = int(std::nearbyint(W[size_t(n) * K + k] / float(wscale[n])));
    }
  }
  double err_fp32 = 0, norm = 0;
  for (int m = 0; m < M; ++m) {
    double amax = 0;
    for (int k = 0; k < K; ++k) amax = std::max(amax, std::fabs(double(A[size_t(m) * K + k])));
    const float sa = float(amax) / 127.0f;
    std::vector<int> aq(K);
    for (int k = 0; k < K; ++k) aq[k] = int(std::nearbyint(A[size_t(m) * K + k] * (1.0f / sa)));
    for (int n = 0; n < N; ++n) {
      long long acc = 0;
      for (int k = 0; k < K; ++k) acc += (long long)aq[k] * wq[n][k];
      want[size_t(m) * N + n] = double(acc) * sa * wscale[n];
    }
  }
  std::vector<float> C(size_t(M) * N, 0.0f);
  (*packed)->apply(M, A.data(), K, 0.0f, C.data(), N);
  const auto exact = reference(M, N, K, 1, A, K, W, K, true, 0, C, N);
  for (size_t i = 0; i < C.size(); ++i) {
    ASSERT_NEAR(C[i], want[i], 1e-4 + 1e-5 * std::fabs(want[i])) << i;
    err_fp32 += (C[i] - exact[i]) * (C[i] - exact[i]);
    norm += exact[i] * exact[i];
  }
  // And close to the float32 product: relative error of a few percent at most.
  EXPECT_LT(std::sqrt(err_fp32 / norm), 0.05);
}

TEST(PackedWeightTest, BadRequestsAreRefused) {
  std::vector<float> w(12, 1.0f);
  EXPECT_FALSE(PackedWeight::pack(w.data(), 3, 4, Precision::kFp32).is_ok());
  EXPECT_FALSE(PackedWeight::pack(w.data(), 0, 4, Precision::kBf16).is_ok());
  EXPECT_TRUE(parse_precision("bf16").is_ok());
  EXPECT_EQ(*parse_precision("int8"), Precision::kInt8);
  const Status bad = parse_precision("fp8").status();
  EXPECT_NE(bad.message().find("fp8"), std::string::npos);
}

}  // namespace
}  // namespace xrs::kernels
