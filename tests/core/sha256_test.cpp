#include "core/sha256.h"

#include <gtest/gtest.h>

#include "core/file_util.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

// FIPS 180-2 test vectors.
TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string path = testing::scratch_dir("sha256") + "/abc";
  ASSERT_TRUE(write_file_atomic(path, "abc").is_ok());
  EXPECT_EQ(sha256_file(path).value(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_FALSE(sha256_file(path + ".missing").is_ok());
}

}  // namespace
}  // namespace xrs
