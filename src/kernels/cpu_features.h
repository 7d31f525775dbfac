// What this CPU can run, detected once at start (cpuid + the OS's saved-state mask), so that one
// binary picks the right kernels on every x86-64 host.
//
// XRS_CPU_MAX caps what is used, to test the lower tiers on a host that has more (and to work
// around a bad kernel): "baseline" (SSE2 only), "avx2" (AVX2 + FMA + F16C), "avx512" (AVX-512
// F/BW/VL), "avx512_bf16" (adds AVX512-BF16 and the VNNI instructions); unset or "native": all
// the host has, AMX included. An unknown value is an error printed once, and the cap is ignored.
//
// Thread-safety: cpu_features() is safe to call from any thread (initialised once).
#pragma once

#include <string>

namespace xrs::kernels {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;              // Haswell / Zen and later
  bool avx512f = false, avx512bw = false, avx512vl = false;  // Skylake-SP / Zen 4 and later
  bool avx512_bf16 = false, avx_vnni = false, avx512_vnni = false;
  bool amx_bf16 = false, amx_int8 = false;  // Sapphire Rapids and later
  std::string cap;                          // the XRS_CPU_MAX in force, or ""

  bool has_avx2() const { return avx2 && fma && f16c; }
  bool has_avx512() const { return avx512f && avx512bw && avx512vl; }
  bool has_vnni() const { return avx_vnni || avx512_vnni; }

  // "avx2 fma f16c avx512f avx512bw avx512vl avx512_bf16 avx_vnni avx512_vnni amx_bf16
  // amx_int8" (what is present), plus "(capped at avx2 by XRS_CPU_MAX)" when capped.
  std::string describe() const;
};

const CpuFeatures& cpu_features();

// Detection without the cap, and the cap applied to a given set (for tests).
CpuFeatures detect_cpu_features();
CpuFeatures cap_cpu_features(CpuFeatures f, const std::string& cap, std::string* error);

}  // namespace xrs::kernels
