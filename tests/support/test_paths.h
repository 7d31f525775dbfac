// Paths tests read from, and the rule for tests that need ../shared: skip with a visible reason
// when it is absent (CI has it, so there they run).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace xrs::testing {

inline std::string shared_dir() { return XRS_SHARED_DIR; }
inline std::string fixtures_dir() { return shared_dir() + "/fixtures/clip"; }
inline std::string source_dir() { return XRS_SOURCE_DIR; }
inline std::string binary_dir() { return XRS_BINARY_DIR; }

// A fresh, empty directory for one test under the build tree (left behind for inspection).
inline std::string scratch_dir(const std::string& name) {
  std::filesystem::path p = std::filesystem::path(XRS_BINARY_DIR) / "test-scratch" / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

}  // namespace xrs::testing

// Skips the current test, naming the missing path, when `path` does not exist.
#define XRS_REQUIRE_PATH(path)                                                          \
  do {                                                                                  \
    if (!std::filesystem::exists(path))                                                 \
      GTEST_SKIP() << "skipped: " << (path) << " is absent (tests read ../shared there)"; \
  } while (0)

#define XRS_REQUIRE_FIXTURES() XRS_REQUIRE_PATH(::xrs::testing::fixtures_dir() + "/manifest.json")
