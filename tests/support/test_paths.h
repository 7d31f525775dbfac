// Paths tests read from, and the rule for tests that need ../shared: skip with a visible reason
// when it is absent (CI has it, so there they run).
//
// Only the comparisons against OpenAI's reference outputs (../shared/fixtures/clip: expected
// embeddings, tokens, Pillow pixels, the tiny reference models) need ../shared. The pipeline,
// service, CLI and browser tests run everywhere: they index test_dataset_dir() with
// test_model_dir(), which are the fixture model and the full X-ray dataset where ../shared has
// them (unchanged coverage there) and otherwise the project's committed model
// (models/xray-small) and demo set (datasets/xray-demo).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace xrs::testing {

inline std::string shared_dir() {
  return XRS_SHARED_DIR;
}
inline std::string fixtures_dir() {
  return shared_dir() + "/fixtures/clip";
}
inline std::string source_dir() {
  return XRS_SOURCE_DIR;
}
inline std::string binary_dir() {
  return XRS_BINARY_DIR;
}

// Whether ../shared holds the CLIP reference fixtures.
inline bool have_fixtures() {
  return std::filesystem::exists(fixtures_dir() + "/manifest.json");
}

// The project's own model and demo set, committed in the repository.
inline std::string committed_model_dir() {
  return source_dir() + "/models/xray-small";
}
inline std::string committed_dataset_dir() {
  return source_dir() + "/datasets/xray-demo";
}

// The model the pipeline, service and CLI tests index with: the fixture tiny-openai-b32 where
// ../shared has it, else the committed xray-small.
inline std::string test_model_dir() {
  return have_fixtures() ? fixtures_dir() + "/tiny-openai-b32" : committed_model_dir();
}

// The X-ray dataset those tests copy from: ../shared/datasets/xray (540 images, chest, dental,
// hand) where present, else the committed datasets/xray-demo (100 images, chest and dental).
// Tests derive counts and categories from its metadata.csv, never from one of the two.
inline std::string test_dataset_dir() {
  const std::string shared = shared_dir() + "/datasets/xray";
  return std::filesystem::exists(shared + "/metadata.csv") ? shared : committed_dataset_dir();
}

// A fresh, empty directory for one test under the build tree (left behind for inspection).
inline std::string scratch_dir(const std::string& name) {
  std::filesystem::path p = std::filesystem::path(XRS_BINARY_DIR) / "test-scratch" / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

}  // namespace xrs::testing

// Skips the current test, naming the missing path, when `path` does not exist: for files that
// only ../shared holds (reference outputs, specimens made by other tools).
#define XRS_REQUIRE_PATH(path)                                                         \
  do {                                                                                 \
    if (!std::filesystem::exists(path))                                                \
      GTEST_SKIP() << "skipped: " << (path) << " is absent (only ../shared holds it)"; \
  } while (0)

// For the comparisons against OpenAI's reference outputs, which only ../shared holds.
#define XRS_REQUIRE_FIXTURES()                                                                   \
  do {                                                                                           \
    if (!::xrs::testing::have_fixtures())                                                        \
      GTEST_SKIP() << "skipped: " << ::xrs::testing::fixtures_dir()                              \
                   << "/manifest.json is absent (OpenAI's reference outputs live in ../shared)"; \
  } while (0)
