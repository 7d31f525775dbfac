// Helpers shared by the fuzz targets (fuzz/fuzz_*.cpp; docs/FUZZING.md).
//
// Each target defines LLVMFuzzerTestOneInput (and, where it needs set-up, LLVMFuzzerInitialize).
// It is linked either with libFuzzer (XRS_FUZZ=ON, clang) or with replay_main.cpp, which runs it
// once on each saved input so that regressions replay in every build. A broken invariant must
// stop the process in both: XRS_FUZZ_CHECK prints what failed and aborts, which libFuzzer reports
// as a crash (saving the input) and the replay driver's test reports as a failure.
//
// Not thread-safe: fuzz targets run one input at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

// The entry points libFuzzer (or replay_main.cpp) calls; each target defines the first, and the
// second when it needs set-up.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace xrs::fuzz {

// Prints "<file>:<line>: invariant failed: <condition> (<detail>)" to stderr and aborts.
[[noreturn]] void fail_check(const char* file, int line, const char* condition,
                             std::string_view detail);

// Prints "skipped: <reason>" to stderr and exits with 77 (CTest's and scripts/fuzz.sh's "skipped"
// code). Only for LLVMFuzzerInitialize, when something the target needs is absent.
[[noreturn]] void skip_target(std::string_view reason);

// With XRS_FUZZ_VERBOSE set in the environment, prints `what` to stderr (for triage: what the
// code under test made of an input); otherwise does nothing.
void note(std::string_view what);

// True when `text` is UTF-8 as RFC 3629 defines it (shortest forms, no surrogates, at most
// U+10FFFF).
bool is_utf8(std::string_view text);

// An anonymous in-memory file (memfd) with a path that open() accepts (/proc/self/fd/N), for
// readers that take a path. write() replaces the content; the path stays the same.
class MemoryFile {
 public:
  MemoryFile();
  ~MemoryFile();
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  void write(const uint8_t* data, size_t size);
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace xrs::fuzz

// Aborts through fail_check when `condition` is false; `detail` is anything convertible to a
// std::string_view (the input's interpretation, a Status message).
#define XRS_FUZZ_CHECK(condition, detail)                                              \
  do {                                                                                 \
    if (!(condition)) ::xrs::fuzz::fail_check(__FILE__, __LINE__, #condition, detail); \
  } while (0)
