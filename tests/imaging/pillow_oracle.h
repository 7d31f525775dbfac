// Test helpers: running tests/imaging/pillow_oracle.py (Pillow 9.4 through /usr/bin/python3) and
// reading what it writes. Tests that need it skip with a visible reason when PIL or numpy is
// missing.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "imaging/image.h"
#include "support/test_paths.h"

namespace xrs::testing {

inline constexpr const char* kPython = "/usr/bin/python3";

// Empty when Pillow and numpy can be imported, else why not.
inline std::string pillow_unavailable() {
  const std::string probe = std::string(kPython) + " -c 'import PIL, numpy' > /dev/null 2>&1";
  if (std::system(probe.c_str()) != 0) {
    return std::string(kPython) + " with PIL and numpy is not available";
  }
  return {};
}

#define XRS_REQUIRE_PILLOW()                                      \
  do {                                                            \
    const std::string why = ::xrs::testing::pillow_unavailable(); \
    if (!why.empty()) GTEST_SKIP() << "skipped: " << why;         \
  } while (0)

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Runs `pillow_oracle.py <args...>`; true on success. stderr goes to the test log.
inline bool run_oracle(const std::vector<std::string>& args) {
  std::string command(kPython);
  command += ' ';
  command += shell_quote(source_dir() + "/tests/imaging/pillow_oracle.py");
  for (const std::string& a : args) {
    command += ' ';
    command += shell_quote(a);
  }
  return std::system(command.c_str()) == 0;
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

inline bool parse_format(const std::string& mode, PixelFormat* format) {
  if (mode == "L")
    *format = PixelFormat::kL;
  else if (mode == "LA")
    *format = PixelFormat::kLA;
  else if (mode == "RGB")
    *format = PixelFormat::kRGB;
  else if (mode == "RGBA")
    *format = PixelFormat::kRGBA;
  else
    return false;
  return true;
}

// Number of bytes that differ (all of them when the sizes differ).
inline size_t count_differences(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size()) return std::max(a.size(), b.size());
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += a[i] != b[i];
  return n;
}

}  // namespace xrs::testing
