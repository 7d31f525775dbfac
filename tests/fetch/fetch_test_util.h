// Helpers shared by the fetch tests: fast download options for a loopback server, test bodies,
// and file access.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "fetch/download.h"

namespace xrs::testing {

// Loopback http allowed, short timeouts, millisecond backoff.
inline DownloadOptions fast_options() {
  DownloadOptions o;
  o.allow_http_loopback = true;
  o.connect_timeout = std::chrono::milliseconds(2000);
  o.stall_timeout = std::chrono::seconds(1);
  o.initial_backoff = std::chrono::milliseconds(10);
  o.max_backoff = std::chrono::milliseconds(40);
  return o;
}

// `n` bytes of a fixed pseudo-random sequence (a body whose every prefix differs).
inline std::string test_body(size_t n, uint32_t seed = 1) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x & 0xFF);
  }
  return s;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void spit(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

inline bool exists(const std::string& path) {
  return std::filesystem::exists(path);
}

}  // namespace xrs::testing
