#include <gtest/gtest.h>

#include <cstring>

#include "clip/checkpoint/tensor_archive.h"
#include "core/file_util.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

std::string make_file(const std::string& name, const std::string& header, const std::string& data) {
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = char((n >> (8 * i)) & 0xff);
  bytes += header;
  bytes += data;
  std::string path = testing::scratch_dir("safetensors") + "/" + name;
  EXPECT_TRUE(write_file_atomic(path, bytes).is_ok());
  return path;
}

std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

TEST(SafetensorsTest, ReadsF32F16Bf16) {
  // 1.0, -2.0 as f16: 0x3c00, 0xc000; as bf16: 0x3f80, 0xc000.
  std::string data = floats({1.5f, -2.0f, 3.0f, 4.0f});
  data += std::string("\x00\x3c\x00\xc0", 4);
  data += std::string("\x80\x3f\x00\xc0", 4);
  std::string header =
      R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
      R"("h":{"dtype":"F16","shape":[2],"data_offsets":[16,20]},)"
      R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[20,24]},)"
      R"("__metadata__":{"format":"pt"}})";
  auto archive = TensorArchive::open(make_file("ok.safetensors", header, data));
  ASSERT_TRUE(archive.is_ok()) << archive.status().to_string();
  EXPECT_EQ((*archive)->format(), ArchiveFormat::kSafetensors);
  EXPECT_EQ((*archive)->metadata().at("format"), "pt");
  const TensorView* a = (*archive)->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 2}));
  std::vector<float> out(4);
  ASSERT_TRUE(TensorArchive::to_float(*a, out).is_ok());
  EXPECT_EQ(out, (std::vector<float>{1.5f, -2.0f, 3.0f, 4.0f}));
  std::vector<float> two(2);
  ASSERT_TRUE(TensorArchive::to_float(*(*archive)->find("h"), two).is_ok());
  EXPECT_EQ(two, (std::vector<float>{1.0f, -2.0f}));
  ASSERT_TRUE(TensorArchive::to_float(*(*archive)->find("b"), two).is_ok());
  EXPECT_EQ(two, (std::vector<float>{1.0f, -2.0f}));
}

struct BadCase {
  const char* name;
  std::string header;
  std::string data;
  const char* expected;  // a phrase the error must contain
};

TEST(SafetensorsTest, RejectsDamagedFilesWithClearErrors) {
  const std::string f = floats({1, 2, 3, 4});
  const BadCase cases[] = {
      {"not_json", "{not json", f, "not a JSON object"},
      {"past_end", R"({"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})", f,
       "outside the data section"},
      {"shape_mismatch", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", f,
       "do not match its shape"},
      {"overlap",
       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
       f, "overlap"},
      {"bad_dtype", R"({"a":{"dtype":"Q4","shape":[4],"data_offsets":[0,16]}})", f,
       "dtype 'Q4'"},
      {"missing_fields", R"({"a":{"dtype":"F32"}})", f, "needs dtype, shape"},
      {"reversed", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", f,
       "outside the data section"},
  };
  for (const BadCase& c : cases) {
    auto r = TensorArchive::open(make_file(std::string(c.name) + ".safetensors", c.header, c.data));
    ASSERT_FALSE(r.is_ok()) << c.name;
    EXPECT_NE(r.status().message().find(c.expected), std::string::npos)
        << c.name << ": " << r.status().message();
    EXPECT_NE(r.status().message().find(c.name), std::string::npos) << "error names the file";
  }
}

TEST(SafetensorsTest, RejectsTruncatedAndEmptyFiles) {
  std::string dir = testing::scratch_dir("safetensors_trunc");
  ASSERT_TRUE(write_file_atomic(dir + "/empty", "").is_ok());
  EXPECT_EQ(TensorArchive::open(dir + "/empty").status().code(), StatusCode::kCorruption);
  ASSERT_TRUE(write_file_atomic(dir + "/short", "abc").is_ok());
  EXPECT_EQ(TensorArchive::open(dir + "/short").status().code(), StatusCode::kCorruption);
  // A huge header length in an otherwise short file.
  ASSERT_TRUE(write_file_atomic(dir + "/hlen", std::string("\xff\xff\xff\xff\x00\x00\x00\x00{}", 10)).is_ok());
  auto r = TensorArchive::open(dir + "/hlen");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("header length"), std::string::npos);
}

TEST(SafetensorsTest, EveryPrefixOfARealFileFailsCleanly) {
  XRS_REQUIRE_FIXTURES();
  const std::string model = testing::fixtures_dir() + "/tiny-openai-b32/open_clip_model.safetensors";
  auto full = read_file(model);
  ASSERT_TRUE(full.is_ok());
  auto ok = TensorArchive::open(model);
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_GT((*ok)->tensors().size(), 20u);
  std::string dir = testing::scratch_dir("safetensors_prefix");
  for (size_t len : {size_t(0), size_t(7), size_t(8), size_t(100), full->size() / 2, full->size() - 1}) {
    std::string path = dir + "/prefix.safetensors";
    ASSERT_TRUE(write_file_atomic(path, full->substr(0, len)).is_ok());
    auto r = TensorArchive::open(path);
    EXPECT_FALSE(r.is_ok()) << "prefix of " << len << " bytes";
  }
}

}  // namespace
}  // namespace xrs
