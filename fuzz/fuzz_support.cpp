#include "fuzz_support.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace xrs::fuzz {

void fail_check(const char* file, int line, const char* condition, std::string_view detail) {
  std::fprintf(stderr, "%s:%d: invariant failed: %s (%.*s)\n", file, line, condition,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void skip_target(std::string_view reason) {
  std::fprintf(stderr, "skipped: %.*s\n", static_cast<int>(reason.size()), reason.data());
  std::exit(77);
}

void note(std::string_view what) {
  static const bool verbose = std::getenv("XRS_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "%.*s\n", static_cast<int>(what.size()), what.data());
}

bool is_utf8(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  for (size_t i = 0; i < text.size();) {
    const uint8_t b0 = byte(i);
    size_t n = 0;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b0 < 0x80) {
      n = 1;
    } else if (b0 >= 0xC2 && b0 <= 0xDF) {
      n = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      n = 3;
      lo = b0 == 0xE0 ? 0xA0 : 0x80;  // overlong forms
      hi = b0 == 0xED ? 0x9F : 0xBF;  // surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      n = 4;
      lo = b0 == 0xF0 ? 0x90 : 0x80;  // overlong forms
      hi = b0 == 0xF4 ? 0x8F : 0xBF;  // past U+10FFFF
    } else {
      return false;
    }
    if (i + n > text.size()) return false;
    if (n > 1 && (byte(i + 1) < lo || byte(i + 1) > hi)) return false;
    for (size_t j = 2; j < n; ++j) {
      if ((byte(i + j) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

MemoryFile::MemoryFile() {
  fd_ = memfd_create("xrs-fuzz-input", MFD_CLOEXEC);
  if (fd_ < 0) {
    std::perror("memfd_create");
    std::abort();
  }
  path_ = "/proc/self/fd/" + std::to_string(fd_);
}

MemoryFile::~MemoryFile() {
  ::close(fd_);
}

void MemoryFile::write(const uint8_t* data, size_t size) {
  // A harness failure, not a finding: abort loudly rather than fuzz a stale file.
  if (::ftruncate(fd_, 0) != 0) {
    std::perror("ftruncate");
    std::abort();
  }
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) {
      std::perror("pwrite");
      std::abort();
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace xrs::fuzz
