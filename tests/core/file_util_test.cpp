#include "core/file_util.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/test_paths.h"

namespace xrs {
namespace {

TEST(FileUtilTest, AtomicWriteThenReadAndMap) {
  std::string dir = testing::scratch_dir("file_util");
  std::string path = dir + "/a.bin";
  ASSERT_TRUE(write_file_atomic(path, "hello").is_ok());
  ASSERT_TRUE(write_file_atomic(path, "replaced").is_ok());
  EXPECT_EQ(read_file(path).value(), "replaced");
  EXPECT_EQ(file_size(path).value(), 8u);
  StatusOr<MappedFile> m = MappedFile::open(path);
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m->data()), m->size()), "replaced");
  // No temporary file is left behind.
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(FileUtilTest, ErrorsNameThePath) {
  StatusOr<std::string> r = read_file("/nonexistent/dir/x.bin");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/dir/x.bin"), std::string::npos);
  std::string dir = testing::scratch_dir("file_util_limits");
  ASSERT_TRUE(write_file_atomic(dir + "/big", std::string(100, 'x')).is_ok());
  EXPECT_EQ(read_file(dir + "/big", 10).status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(read_file(dir).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(MappedFile::open(dir).is_ok());
}

TEST(FileUtilTest, EmptyFileMapsToEmptySpan) {
  std::string path = testing::scratch_dir("file_util_empty") + "/empty";
  ASSERT_TRUE(write_file_atomic(path, "").is_ok());
  StatusOr<MappedFile> m = MappedFile::open(path);
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->size(), 0u);
}

}  // namespace
}  // namespace xrs
