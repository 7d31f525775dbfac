#include "kernels/cpu_features.h"

#include <cstdio>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define XRS_X86 1
#endif

namespace xrs::kernels {

namespace {

#ifdef XRS_X86
// The register state the OS saves on a context switch (XCR0): a feature whose registers the OS
// does not save cannot be used, whatever cpuid says.
unsigned long long xgetbv0() {
  unsigned eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}
#endif

}  // namespace

CpuFeatures detect_cpu_features() {
  CpuFeatures f;
#ifdef XRS_X86
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27), avx = c & (1u << 28);
  if (!osxsave || !avx) return f;
  const unsigned long long xcr0 = xgetbv0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;
  const bool zmm_state = ymm_state && (xcr0 & 0xe0) == 0xe0;
  const bool tile_state = (xcr0 & 0x60000) == 0x60000;
  if (!ymm_state) return f;
  f.fma = c & (1u << 12);
  f.f16c = c & (1u << 29);
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const unsigned subleaves = a;
  f.avx2 = b & (1u << 5);
  if (zmm_state) {
    f.avx512f = b & (1u << 16);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    f.avx512_vnni = c & (1u << 11);
  }
  if (tile_state) {
    f.amx_bf16 = d & (1u << 22);
    f.amx_int8 = d & (1u << 25);
    if (!(d & (1u << 24))) f.amx_bf16 = f.amx_int8 = false;  // AMX-TILE
  }
  if (subleaves >= 1) {
    __cpuid_count(7, 1, a, b, c, d);
    f.avx_vnni = a & (1u << 4);
    f.avx512_bf16 = zmm_state && (a & (1u << 5));
  }
#endif
  return f;
}

CpuFeatures cap_cpu_features(CpuFeatures f, const std::string& cap, std::string* error) {
  if (cap.empty() || cap == "native") return f;
  CpuFeatures out;
  out.cap = cap;
  if (cap == "baseline") return out;
  if (cap != "avx2" && cap != "avx512" && cap != "avx512_bf16") {
    if (error) {
      *error =
          "XRS_CPU_MAX='" + cap + "' is not one of baseline, avx2, avx512, avx512_bf16, native";
    }
    f.cap.clear();
    return f;
  }
  out.avx2 = f.avx2;
  out.fma = f.fma;
  out.f16c = f.f16c;
  if (cap == "avx2") return out;
  out.avx512f = f.avx512f;
  out.avx512bw = f.avx512bw;
  out.avx512vl = f.avx512vl;
  if (cap == "avx512") return out;
  out.avx512_bf16 = f.avx512_bf16;
  out.avx_vnni = f.avx_vnni;
  out.avx512_vnni = f.avx512_vnni;
  return out;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = [] {
    const char* env = std::getenv("XRS_CPU_MAX");
    std::string error;
    CpuFeatures f = cap_cpu_features(detect_cpu_features(), env ? env : "", &error);
    if (!error.empty()) std::fprintf(stderr, "xray-search: %s; ignored\n", error.c_str());
    return f;
  }();
  return features;
}

std::string CpuFeatures::describe() const {
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(avx2, "avx2");
  add(fma, "fma");
  add(f16c, "f16c");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512_bf16, "avx512_bf16");
  add(avx_vnni, "avx_vnni");
  add(avx512_vnni, "avx512_vnni");
  add(amx_bf16, "amx_bf16");
  add(amx_int8, "amx_int8");
  if (s.empty()) s = "baseline x86-64";
  if (!cap.empty()) s += " (capped at " + cap + " by XRS_CPU_MAX)";
  return s;
}

}  // namespace xrs::kernels
