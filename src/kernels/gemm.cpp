#include "kernels/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "kernels/cpu_features.h"

#ifdef XRS_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
extern "C" void omp_set_num_threads(int);  // libgomp, which oneDNN's OpenMP build links
#endif

namespace xrs::kernels {

std::string_view precision_name(Precision p) {
  switch (p) {
    case Precision::kFp32:
      return "fp32";
    case Precision::kBf16:
      return "bf16";
    case Precision::kInt8:
      return "int8";
  }
  return "?";
}

StatusOr<Precision> parse_precision(std::string_view name) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "bf16") return Precision::kBf16;
  if (name == "int8") return Precision::kInt8;
  return Status::invalid_argument("precision '" + std::string(name) +
                                  "' is not one of fp32, bf16, int8");
}

uint16_t to_f16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  u &= 0x7fffffffu;
  if (u > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (u >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to infinity
  if (u < 0x38800000u) {
    // Below 2^-14: a subnormal half, in units of 2^-24 (scaling by 2^24 is exact). 1024 units
    // is the smallest normal half, whose encoding is the same number.
    float f;
    std::memcpy(&f, &u, 4);
    return sign | static_cast<uint16_t>(std::nearbyint(f * 16777216.0f));
  }
  uint32_t h = ((((u >> 23) - 127 + 15) << 10) | ((u & 0x7fffffu) >> 13));
  const uint32_t rest = u & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry moves into the exponent
  return sign | static_cast<uint16_t>(h);
}

float from_f16(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  uint32_t u;
  if (exp == 0) {
    const float f = std::ldexp(float(mant), -24);
    std::memcpy(&u, &f, 4);
    u |= sign;
  } else if (exp == 31) {
    u = sign | 0x7f800000u | (mant << 13);
  } else {
    u = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

uint16_t to_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float from_bf16(uint16_t b) {
  const uint32_t u = uint32_t(b) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

namespace {

// Below this many multiply-adds a float32 product stays with OpenBLAS: a oneDNN call costs a few
// microseconds of set-up that small products (the attention scores) would not repay.
constexpr double kOnednnMinMacs = 1e6;

void blas_sgemm(int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
                bool trans_b, float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
              lda, B, ldb, beta, C, ldc);
}

// Per-thread scratch buffers (activations converted for a product, int32/float32 results).
struct Buffers {
  std::vector<uint16_t> a16;
  std::vector<int8_t> a8;
  std::vector<float> af, wf, out, row_scale;
  std::vector<int32_t> out32;
};
Buffers& buffers() {
  thread_local Buffers b;
  return b;
}

template <typename T>
T* grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

// Symmetric per-row quantisation of A[M, K] to int8: q = round(a / s), s = max|a| / 127.
void quantize_rows(int M, int K, const float* A, int lda, int8_t* q, float* scale) {
  for (int m = 0; m < M; ++m) {
    const float* a = A + size_t(m) * lda;
    float amax = 0;
    for (int k = 0; k < K; ++k) amax = std::max(amax, std::fabs(a[k]));
    const float s = amax > 0 ? amax / 127.0f : 1.0f;
    const float inv = 1.0f / s;
    int8_t* out = q + size_t(m) * K;
    for (int k = 0; k < K; ++k) {
      const float v = std::nearbyint(a[k] * inv);
      out[k] = static_cast<int8_t>(std::clamp(v, -127.0f, 127.0f));
    }
    scale[m] = s;
  }
}

void round_rows_bf16(int M, int K, const float* A, int lda, uint16_t* out) {
  for (int m = 0; m < M; ++m) {
    const float* a = A + size_t(m) * lda;
    uint16_t* o = out + size_t(m) * K;
    for (int k = 0; k < K; ++k) o[k] = to_bf16(a[k]);
  }
}

}  // namespace

#ifdef XRS_HAVE_ONEDNN

namespace {

using dnnl::memory;
using dt = memory::data_type;

dnnl::engine& onednn_engine() {
  static dnnl::engine* engine = [] {
    // Keep oneDNN within what XRS_CPU_MAX allows (before its first primitive).
    const CpuFeatures& f = cpu_features();
    if (!f.cap.empty()) {
      dnnl::cpu_isa isa = dnnl::cpu_isa::sse41;
      if (f.avx512_bf16) {
        isa = dnnl::cpu_isa::avx512_core_bf16;
      } else if (f.has_avx512()) {
        isa = dnnl::cpu_isa::avx512_core;
      } else if (f.has_avx2()) {
        isa = dnnl::cpu_isa::avx2;
      }
      try {
        dnnl::set_max_cpu_isa(isa);
      } catch (const dnnl::error&) {
        // ONEDNN_MAX_CPU_ISA already fixed it, or a primitive ran first: keep oneDNN's choice.
      }
    }
    return new dnnl::engine(dnnl::engine::kind::cpu, 0);
  }();
  return *engine;
}

struct Prim {
  dnnl::matmul matmul;
  memory::desc src, weights, dst;
  size_t scratch_bytes = 0;
  bool ok = false;
};

struct ThreadState {
  std::unique_ptr<dnnl::stream> stream;
  std::unordered_map<std::string, Prim> prims;
  std::vector<uint8_t> scratch;
};

ThreadState& thread_state() {
  thread_local ThreadState s;
  if (!s.stream) {
    omp_set_num_threads(1);  // this thread's oneDNN calls stay on this thread
    s.stream = std::make_unique<dnnl::stream>(onednn_engine());
  }
  return s;
}

// Creates (once per thread and shape) a matmul primitive; ok=false when oneDNN has none.
Prim& get_prim(const std::string& key, const memory::desc& src, const memory::desc& weights,
               const memory::desc& dst, float sum_beta) {
  ThreadState& s = thread_state();
  auto it = s.prims.find(key);
  if (it != s.prims.end()) return it->second;
  Prim p;
  try {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (sum_beta != 0) {
      dnnl::post_ops ops;
      ops.append_sum(sum_beta);
      attr.set_post_ops(ops);
    }
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights, dst), attr, onednn_engine());
    p.matmul = dnnl::matmul(pd);
    p.src = pd.src_desc();
    p.weights = pd.weights_desc();
    p.dst = pd.dst_desc();
    p.scratch_bytes = pd.scratchpad_desc().get_size();
    p.ok = true;
  } catch (const dnnl::error&) {
    p.ok = false;
  }
  return s.prims.emplace(key, std::move(p)).first->second;
}

void run_prim(Prim& p, void* src, void* weights, void* dst) {
  ThreadState& s = thread_state();
  dnnl::engine& e = onednn_engine();
  memory src_m(p.src, e, src), wei_m(p.weights, e, weights), dst_m(p.dst, e, dst);
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, src_m}, {DNNL_ARG_WEIGHTS, wei_m}, {DNNL_ARG_DST, dst_m}};
  if (p.scratch_bytes > 0) {
    args.emplace(DNNL_ARG_SCRATCHPAD,
                 memory(memory::desc({int64_t(p.scratch_bytes)}, dt::u8, memory::format_tag::a), e,
                        grow(s.scratch, p.scratch_bytes)));
  }
  p.matmul.execute(*s.stream, args);
  s.stream->wait();
}

std::string key_of(char kind, std::initializer_list<int64_t> v) {
  std::string k(1, kind);
  for (int64_t x : v) k += ',' + std::to_string(x);
  return k;
}

bool onednn_sgemm(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float beta,
                  float* C, int ldc) {
  const memory::desc src({M, K}, dt::f32, memory::dims{lda, 1});
  const memory::desc wei({K, N}, dt::f32, memory::dims{1, ldb});
  const memory::desc dst({M, N}, dt::f32, memory::dims{ldc, 1});
  Prim& p = get_prim(key_of('f', {M, N, K, lda, ldb, ldc, beta != 0}), src, wei, dst, beta);
  if (!p.ok) return false;
  run_prim(p, const_cast<float*>(A), const_cast<float*>(B), C);
  return true;
}

bool onednn_f32_allowed() {
  static const bool allowed = cpu_features().has_avx512();
  return allowed;
}

}  // namespace

struct PackedWeight::Impl {
  memory packed;
  memory::desc desc;
  std::string impl_name;
};

std::string onednn_version() {
  const dnnl_version_t* v = dnnl_version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

#else  // !XRS_HAVE_ONEDNN

struct PackedWeight::Impl {};

std::string onednn_version() {
  return "";
}

#endif

void sgemm(int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           bool trans_b, float beta, float* C, int ldc) {
#ifdef XRS_HAVE_ONEDNN
  if (trans_b && alpha == 1.0f && (beta == 0.0f || beta == 1.0f) && onednn_f32_allowed() &&
      double(M) * N * K >= kOnednnMinMacs) {
    if (onednn_sgemm(M, N, K, A, lda, B, ldb, beta, C, ldc)) return;
  }
#endif
  blas_sgemm(M, N, K, alpha, A, lda, B, ldb, trans_b, beta, C, ldc);
}

std::string sgemm_backend(double macs) {
#ifdef XRS_HAVE_ONEDNN
  if (onednn_f32_allowed() && macs >= kOnednnMinMacs) {
    const memory::desc src({64, 512}, dt::f32, memory::format_tag::ab);
    const memory::desc wei({512, 512}, dt::f32, memory::format_tag::ba);
    try {
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, src), onednn_engine());
      return std::string("onednn:") + pd.impl_info_str();
    } catch (const dnnl::error&) {
    }
  }
#else
  (void)macs;
#endif
  return "openblas";
}

PackedWeight::~PackedWeight() = default;

StatusOr<std::unique_ptr<PackedWeight>> PackedWeight::pack(const float* w, int n, int k,
                                                           Precision precision) {
  if (precision == Precision::kFp32) {
    return Status::invalid_argument("PackedWeight: fp32 weights are used as they are");
  }
  if (n <= 0 || k <= 0) return Status::invalid_argument("PackedWeight: empty matrix");
  auto p = std::unique_ptr<PackedWeight>(new PackedWeight());
  p->precision_ = precision;
  p->n_ = n;
  p->k_ = k;
  const size_t count = size_t(n) * k;
  if (precision == Precision::kBf16) {
    p->bf16_.resize(count);
    for (size_t i = 0; i < count; ++i) p->bf16_[i] = to_bf16(w[i]);
  } else {
    // Without VNNI (or AMX), u8 x s8 pairs go through vpmaddubsw, which saturates at 16 bits:
    // 7-bit weights keep every pair sum below 2^15.
    const CpuFeatures& f = cpu_features();
    p->qmax_ = (f.has_vnni() || f.amx_int8) ? 127.0f : 63.0f;
    p->s8_.resize(count);
    p->scale_.resize(n);
    for (int r = 0; r < n; ++r) {
      const float* row = w + size_t(r) * k;
      float amax = 0;
      for (int c = 0; c < k; ++c) amax = std::max(amax, std::fabs(row[c]));
      const float s = amax > 0 ? amax / p->qmax_ : 1.0f;
      p->scale_[r] = s;
      for (int c = 0; c < k; ++c) {
        p->s8_[size_t(r) * k + c] =
            static_cast<int8_t>(std::clamp(std::nearbyint(row[c] / s), -p->qmax_, p->qmax_));
      }
    }
  }
#ifdef XRS_HAVE_ONEDNN
  // Reorder into the blocked layout oneDNN's kernel for this host wants (the layout depends on
  // N, K and the instruction set, not on M: it is chosen once here for a 64-row product).
  try {
    const dt wt = precision == Precision::kBf16 ? dt::bf16 : dt::s8;
    const dt ot = precision == Precision::kBf16 ? dt::f32 : dt::s32;
    const memory::desc src({64, k}, wt, memory::format_tag::ab);
    const memory::desc any({k, n}, wt, memory::format_tag::any);
    const memory::desc dst({64, n}, ot, memory::format_tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, any, dst), onednn_engine());
    const std::string impl = pd.impl_info_str();
    // oneDNN's reference kernels are far slower than widening to float32 ourselves.
    if (impl.rfind("ref", 0) != 0) {
      auto impl_ = std::make_unique<Impl>();
      impl_->desc = pd.weights_desc();
      impl_->impl_name = impl;
      impl_->packed = memory(impl_->desc, onednn_engine());
      void* plain_data = precision == Precision::kBf16 ? static_cast<void*>(p->bf16_.data())
                                                       : static_cast<void*>(p->s8_.data());
      memory plain(memory::desc({k, n}, wt, memory::format_tag::ba), onednn_engine(), plain_data);
      dnnl::stream s(onednn_engine());
      dnnl::reorder(plain, impl_->packed).execute(s, plain, impl_->packed);
      s.wait();
      p->impl_ = std::move(impl_);
      p->bf16_ = {};
      p->s8_ = {};
    }
  } catch (const dnnl::error&) {
    p->impl_.reset();  // no oneDNN kernel for this type here: the reference path serves
  }
#endif
  return p;
}

size_t PackedWeight::bytes() const {
  size_t b = bf16_.size() * 2 + s8_.size() + scale_.size() * 4;
#ifdef XRS_HAVE_ONEDNN
  if (impl_) b += impl_->desc.get_size();
#endif
  return b;
}

std::string PackedWeight::backend() const {
#ifdef XRS_HAVE_ONEDNN
  if (impl_) return "onednn:" + impl_->impl_name;
#endif
  return "reference";
}

void PackedWeight::apply(int M, const float* A, int lda, float beta, float* C, int ldc) const {
  if (M <= 0) return;
  Buffers& b = buffers();
  const int N = n_, K = k_;
  const bool int8 = precision_ == Precision::kInt8;
  float* row_scale = nullptr;
  // Activations in the product's type.
  if (int8) {
    row_scale = grow(b.row_scale, size_t(M));
    quantize_rows(M, K, A, lda, grow(b.a8, size_t(M) * K), row_scale);
  } else {
    round_rows_bf16(M, K, A, lda, grow(b.a16, size_t(M) * K));
  }
  float* out = grow(b.out, size_t(M) * N);  // float32 result (int8: dequantised below)
  bool done = false;
#ifdef XRS_HAVE_ONEDNN
  if (impl_) {
    const dt wt = int8 ? dt::s8 : dt::bf16;
    const dt ot = int8 ? dt::s32 : dt::f32;
    const memory::desc src({M, K}, wt, memory::format_tag::ab);
    const memory::desc dst({M, N}, ot, memory::format_tag::ab);
    Prim& p = get_prim(key_of('p', {reinterpret_cast<intptr_t>(this), N, K, M}), src, impl_->desc,
                       dst, 0.0f);
    if (p.ok && p.weights == impl_->desc) {
      void* a = int8 ? static_cast<void*>(b.a8.data()) : static_cast<void*>(b.a16.data());
      void* o = int8 ? static_cast<void*>(grow(b.out32, size_t(M) * N)) : static_cast<void*>(out);
      run_prim(p, a, impl_->packed.get_data_handle(), o);
      if (int8) {
        const int32_t* o32 = b.out32.data();
        for (size_t i = 0, e = size_t(M) * N; i < e; ++i) out[i] = static_cast<float>(o32[i]);
      }
      done = true;
    }
  }
#endif
  if (!done) {
    // Reference: both operands widened to float32 (exact for bf16 and int8 values), 64 weight
    // rows at a time, one float32 product each.
    float* af = grow(b.af, size_t(M) * K);
    for (size_t i = 0, e = size_t(M) * K; i < e; ++i) {
      af[i] = int8 ? float(b.a8[i]) : from_bf16(b.a16[i]);
    }
    std::vector<uint16_t> unpacked16;
    std::vector<int8_t> unpacked8;
    const uint16_t* w16 = bf16_.data();
    const int8_t* w8 = s8_.data();
#ifdef XRS_HAVE_ONEDNN
    if (impl_) {  // packed for oneDNN but no kernel for this M: back to the plain layout
      const dt wt = int8 ? dt::s8 : dt::bf16;
      if (int8) {
        unpacked8.resize(size_t(N) * K);
      } else {
        unpacked16.resize(size_t(N) * K);
      }
      void* plain_data =
          int8 ? static_cast<void*>(unpacked8.data()) : static_cast<void*>(unpacked16.data());
      memory plain(memory::desc({K, N}, wt, memory::format_tag::ba), onednn_engine(), plain_data);
      dnnl::stream s(onednn_engine());
      memory packed = impl_->packed;
      dnnl::reorder(packed, plain).execute(s, packed, plain);
      s.wait();
      w16 = unpacked16.data();
      w8 = unpacked8.data();
    }
#endif
    constexpr int kPanel = 64;
    float* wf = grow(b.wf, size_t(kPanel) * K);
    for (int n0 = 0; n0 < N; n0 += kPanel) {
      const int nb = std::min(kPanel, N - n0);
      for (size_t i = 0, e = size_t(nb) * K; i < e; ++i) {
        wf[i] = int8 ? float(w8[size_t(n0) * K + i]) : from_bf16(w16[size_t(n0) * K + i]);
      }
      blas_sgemm(M, nb, K, 1.0f, af, K, wf, K, true, 0.0f, out + n0, N);
    }
  }
  // Epilogue: dequantise (int8) and accumulate into C.
  for (int m = 0; m < M; ++m) {
    const float* o = out + size_t(m) * N;
    float* c = C + size_t(m) * ldc;
    if (int8) {
      const float sa = row_scale[m];
      const float* sw = scale_.data();
      if (beta == 0.0f) {
        for (int n = 0; n < N; ++n) c[n] = o[n] * sa * sw[n];
      } else {
        for (int n = 0; n < N; ++n) c[n] = beta * c[n] + o[n] * sa * sw[n];
      }
    } else if (beta == 0.0f) {
      std::memcpy(c, o, sizeof(float) * N);
    } else {
      for (int n = 0; n < N; ++n) c[n] = beta * c[n] + o[n];
    }
  }
}

}  // namespace xrs::kernels
