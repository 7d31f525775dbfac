// Matrix products for the engine and the index, routed by what the CPU has (cpu_features.h).
//
//   float32  sgemm(): oneDNN's AVX-512 kernels where the host has AVX-512 and the product is
//            large enough to pay for a call, OpenBLAS otherwise (OpenBLAS picks its own kernels;
//            its core type is left as the machine sets it). Same float32 arithmetic either way
//            (results agree to rounding, not bit for bit).
//   bf16     PackedWeight: weights rounded to bfloat16 once, activations rounded per call,
//            products accumulated in float32 (oneDNN: AMX, AVX512-BF16; elsewhere the reference
//            path widens both to float32, which computes the same products, slower).
//   int8     PackedWeight: symmetric int8 weights with one scale per output channel (7-bit on
//            hosts without VNNI, so AVX2's vpmaddubsw cannot saturate), activations quantised
//            per row (token) at each call, int32 accumulation (oneDNN: AMX, VNNI, AVX2),
//            dequantised to float32.
//
// Every function here runs on the calling thread only (callers split work: clip/compute_pool.h);
// oneDNN's own threads are set to one. All arrays are row-major with explicit leading dimensions.
// Thread-safety: every function may be called from several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace xrs::kernels {

enum class Precision { kFp32, kBf16, kInt8 };

std::string_view precision_name(Precision p);  // "fp32", "bf16", "int8"
StatusOr<Precision> parse_precision(std::string_view name);

// C[M, N] = alpha * A[M, K] · op(B) + beta * C with op(B) = B[N, K]^T when trans_b, else
// B[K, N]; one thread.
void sgemm(int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           bool trans_b, float beta, float* C, int ldc);

// Which library runs float32 products of at least `macs` multiply-adds: "onednn:<impl>" or
// "openblas".
std::string sgemm_backend(double macs = 1e8);

// Whether oneDNN was built in, and its version ("3.x.y") or "".
std::string onednn_version();

// A [N, K] weight matrix (nn.Linear layout) stored for a lower-precision product. Immutable
// after pack(); apply() may run on several threads at once.
class PackedWeight {
 public:
  // Packs `w` ([n, k] row-major float32). kFp32 is refused (use sgemm).
  static StatusOr<std::unique_ptr<PackedWeight>> pack(const float* w, int n, int k,
                                                      Precision precision);
  ~PackedWeight();
  PackedWeight(const PackedWeight&) = delete;
  PackedWeight& operator=(const PackedWeight&) = delete;

  // C[M, n] = A[M, k] · W^T + beta * C (beta 0 or 1 in the engine; any value works).
  void apply(int M, const float* A, int lda, float beta, float* C, int ldc) const;

  Precision precision() const { return precision_; }
  int rows() const { return n_; }
  int cols() const { return k_; }
  size_t bytes() const;         // memory the packed weights hold
  std::string backend() const;  // "onednn:brg:avx512_core_amx_bf16" or "reference"

  struct Impl;

 private:
  PackedWeight() = default;
  Precision precision_ = Precision::kBf16;
  int n_ = 0, k_ = 0;
  float qmax_ = 127;            // int8: weight range (63 without VNNI)
  std::vector<float> scale_;    // int8: per output channel
  std::vector<uint16_t> bf16_;  // reference bf16 weights [n, k]
  std::vector<int8_t> s8_;      // reference int8 weights [n, k]
  std::unique_ptr<Impl> impl_;  // oneDNN packed weights, when available
};

// IEEE float16: round-to-nearest-even float32 → half bits, and back (exact; subnormals, infinities
// and NaN included).
uint16_t to_f16(float x);
float from_f16(uint16_t h);

// Round-to-nearest-even float32 → bfloat16 bits, and back (exact).
uint16_t to_bf16(float x);
float from_bf16(uint16_t b);

}  // namespace xrs::kernels
