// Tokenizer files, good and damaged: every failure is a clear error naming the file (and line).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/file_util.h"
#include "support/test_paths.h"
#include "tokenizer/tokenizer.h"

namespace xrs {
namespace {

uint32_t crc32(std::string_view data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char b : data) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void put_le32(std::string& out, uint32_t v) {
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xFF));
}

// A gzip member holding `data` in stored (uncompressed) deflate blocks: RFC 1951/1952 by hand,
// so the test needs no compressor.
std::string gzip_stored(std::string_view data) {
  std::string out = {'\x1f', '\x8b', 8, 0, 0, 0, 0, 0, 0, 3};
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(data.size() - pos, 65535);
    out.push_back(pos + n == data.size() ? 1 : 0);  // BFINAL, BTYPE=00
    out.push_back(static_cast<char>(n & 0xFF));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(~n & 0xFF));
    out.push_back(static_cast<char>((~n >> 8) & 0xFF));
    out.append(data.substr(pos, n));
    pos += n;
  } while (pos < data.size());
  put_le32(out, crc32(data));
  put_le32(out, static_cast<uint32_t>(data.size()));
  return out;
}

std::string write(const std::string& dir, const std::string& name, std::string_view bytes) {
  const std::string path = dir + "/" + name;
  EXPECT_TRUE(write_file_atomic(path, bytes).is_ok());
  return path;
}

// The fixture's merges.txt: "#version: 0.2" then CLIP's 48894 merges, the content of the gz.
std::string fixture_merges() {
  StatusOr<std::string> s = read_file(testing::fixtures_dir() + "/merges.txt");
  EXPECT_TRUE(s.is_ok());
  return s.is_ok() ? *s : std::string();
}

void expect_error(const StatusOr<Tokenizer>& t, StatusCode code, const std::string& file,
                  const std::string& detail) {
  ASSERT_FALSE(t.is_ok()) << "expected an error mentioning '" << detail << "'";
  EXPECT_EQ(t.status().code(), code) << t.status().to_string();
  EXPECT_NE(t.status().message().find(file), std::string::npos) << t.status().to_string();
  EXPECT_NE(t.status().message().find(detail), std::string::npos) << t.status().to_string();
}

std::vector<int32_t> ids(const Tokenizer& t, const std::string& text) {
  StatusOr<std::vector<int32_t>> r = t.encode(text);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? *r : std::vector<int32_t>();
}

TEST(TokenizerFiles, HandMadeGzipMembersAndPaddingLoad) {
  XRS_REQUIRE_FIXTURES();
  const std::string dir = testing::scratch_dir("tokenizer-gz-good");
  const std::string merges = fixture_merges();
  const size_t half = merges.size() / 2;
  // Two members (Python's gzip reads them as one stream) and NUL padding after the last.
  const std::string two =
      gzip_stored(merges.substr(0, half)) + gzip_stored(merges.substr(half)) + std::string(7, '\0');
  StatusOr<Tokenizer> a = Tokenizer::load_openai(write(dir, "two.gz", two));
  StatusOr<Tokenizer> b =
      Tokenizer::load_openai(testing::fixtures_dir() + "/bpe_simple_vocab_16e6.txt.gz");
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  ASSERT_TRUE(b.is_ok());
  const std::string text = "Lateral chest radiograph: cardiomegaly, 3 cm nodule!";
  EXPECT_EQ(ids(*a, text), ids(*b, text));
  EXPECT_EQ(a->vocab_size(), 49408);
}

TEST(TokenizerFiles, DamagedGzipIsACleanError) {
  XRS_REQUIRE_FIXTURES();
  const std::string dir = testing::scratch_dir("tokenizer-gz-bad");
  StatusOr<std::string> real = read_file(testing::fixtures_dir() + "/bpe_simple_vocab_16e6.txt.gz");
  ASSERT_TRUE(real.is_ok());
  const std::string merges = fixture_merges();

  expect_error(Tokenizer::load_openai(dir + "/absent.gz"), StatusCode::kNotFound, "absent.gz", "");
  expect_error(Tokenizer::load_openai(write(dir, "empty.gz", "")), StatusCode::kCorruption,
               "empty.gz", "empty");
  expect_error(Tokenizer::load_openai(write(dir, "garbage.gz", "this is not gzip at all")),
               StatusCode::kCorruption, "garbage.gz", "not a gzip file");
  expect_error(Tokenizer::load_openai(write(dir, "cut.gz", real->substr(0, real->size() / 2))),
               StatusCode::kCorruption, "cut.gz", "truncated");
  std::string bad_crc = *real;
  bad_crc[bad_crc.size() - 6] ^= 0x55;
  expect_error(Tokenizer::load_openai(write(dir, "crc.gz", bad_crc)), StatusCode::kCorruption,
               "crc.gz", "corrupt");
  expect_error(Tokenizer::load_openai(write(dir, "nul.gz", std::string(64, '\0'))),
               StatusCode::kCorruption, "nul.gz", "not a gzip file");
  expect_error(Tokenizer::load_openai(write(dir, "tail.gz", *real + "junk")),
               StatusCode::kCorruption, "tail.gz", "not a gzip file");

  // Valid gzip, bad content.
  const std::string few = merges.substr(0, merges.find("\n", 1000));
  expect_error(Tokenizer::load_openai(write(dir, "few.gz", gzip_stored(few))),
               StatusCode::kCorruption, "few.gz", "truncated");
  // " extra" at the end of line 3 (the second merge).
  const size_t line3_end = merges.find('\n', merges.find('\n', merges.find('\n') + 1) + 1);
  const std::string three = merges.substr(0, line3_end) + " extra" + merges.substr(line3_end);
  expect_error(Tokenizer::load_openai(write(dir, "three.gz", gzip_stored(three))),
               StatusCode::kCorruption, "three.gz:3", "two symbols");
  const size_t cut = merges.find('\n', 5000);
  const std::string latin1 = merges.substr(0, cut) + "\xff" + merges.substr(cut);
  expect_error(Tokenizer::load_openai(write(dir, "latin1.gz", gzip_stored(latin1))),
               StatusCode::kCorruption, "latin1.gz:", "UTF-8");
  expect_error(Tokenizer::load_openai(write(dir, "zeros.gz", gzip_stored(std::string(4096, '\0')))),
               StatusCode::kCorruption, "zeros.gz", "truncated");
}

TEST(TokenizerFiles, DamagedHuggingFaceFilesAreCleanErrors) {
  XRS_REQUIRE_FIXTURES();
  const std::string dir = testing::scratch_dir("tokenizer-hf-bad");
  const std::string fx = testing::fixtures_dir();
  const std::string merges = fx + "/merges.txt";
  StatusOr<std::string> vocab_text = read_file(fx + "/vocab.json");
  ASSERT_TRUE(vocab_text.is_ok());
  const nlohmann::json vocab = nlohmann::json::parse(*vocab_text);

  expect_error(Tokenizer::load_hf(dir + "/none.json", merges), StatusCode::kNotFound, "none.json",
               "");
  expect_error(Tokenizer::load_hf(fx + "/vocab.json", dir + "/none.txt"), StatusCode::kNotFound,
               "none.txt", "");
  expect_error(Tokenizer::load_hf(write(dir, "cut.json", vocab_text->substr(0, 5000)), merges),
               StatusCode::kCorruption, "cut.json", "JSON");
  expect_error(Tokenizer::load_hf(write(dir, "array.json", "[1, 2]"), merges),
               StatusCode::kCorruption, "array.json", "object");
  expect_error(Tokenizer::load_hf(write(dir, "neg.json", R"({"a": -1})"), merges),
               StatusCode::kCorruption, "neg.json", "'a'");
  expect_error(Tokenizer::load_hf(write(dir, "dup.json", R"({"a": 1, "b": 1})"), merges),
               StatusCode::kCorruption, "dup.json", "two symbols");

  nlohmann::json no_end = vocab;
  no_end.erase("<|endoftext|>");
  expect_error(Tokenizer::load_hf(write(dir, "no_end.json", no_end.dump()), merges),
               StatusCode::kCorruption, "no_end.json", "<|endoftext|>");
  nlohmann::json no_byte = vocab;
  no_byte.erase("a</w>");
  expect_error(Tokenizer::load_hf(write(dir, "no_byte.json", no_byte.dump()), merges),
               StatusCode::kCorruption, "no_byte.json", "byte symbol 'a'");
  nlohmann::json no_merge = vocab;
  no_merge.erase("th");  // the result of merge line 3, "t h"
  expect_error(Tokenizer::load_hf(write(dir, "no_merge.json", no_merge.dump()), merges),
               StatusCode::kCorruption, "merges.txt:3", "'th'");

  expect_error(Tokenizer::load_hf(fx + "/vocab.json", write(dir, "empty.txt", "")),
               StatusCode::kCorruption, "empty.txt", "no merges");
  expect_error(Tokenizer::load_hf(fx + "/vocab.json", write(dir, "hdr.txt", "#version: 0.2\n\n")),
               StatusCode::kCorruption, "hdr.txt", "no merges");
  expect_error(Tokenizer::load_hf(fx + "/vocab.json", write(dir, "one.txt", "#version: 0.2\ni\n")),
               StatusCode::kCorruption, "one.txt:2", "two symbols");
}

TEST(TokenizerFiles, LoadDirErrors) {
  const std::string dir = testing::scratch_dir("tokenizer-dir");
  expect_error(Tokenizer::load_dir(dir + "/absent"), StatusCode::kNotFound, "absent",
               "not a folder");
  expect_error(Tokenizer::load_dir(dir), StatusCode::kNotFound, dir, "no tokenizer");
  write(dir, "vocab.json", "{}");
  expect_error(Tokenizer::load_dir(dir), StatusCode::kNotFound, dir, "no merges.txt");
}

TEST(TokenizerFiles, TextErrorsAndContextLength) {
  XRS_REQUIRE_FIXTURES();
  StatusOr<Tokenizer> t =
      Tokenizer::load_openai(testing::fixtures_dir() + "/bpe_simple_vocab_16e6.txt.gz");
  ASSERT_TRUE(t.is_ok());
  StatusOr<std::vector<int32_t>> bad = t->tokenize("caf\xe9");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("UTF-8"), std::string::npos);
  StatusOr<std::vector<int32_t>> huge = t->encode(std::string(Tokenizer::kMaxTextBytes + 1, 'a'));
  ASSERT_FALSE(huge.is_ok());
  EXPECT_NE(huge.status().message().find("too long"), std::string::npos);
  EXPECT_FALSE(t->tokenize("x", true, 0).is_ok());
  // clip.tokenize's truncation: tokens[:n], then the last becomes the end token.
  StatusOr<std::vector<int32_t>> one = t->tokenize("chest", true, 1);
  ASSERT_TRUE(one.is_ok());
  EXPECT_EQ(*one, (std::vector<int32_t>{49407}));
  StatusOr<std::vector<int32_t>> three = t->tokenize("chest x ray", true, 3);
  ASSERT_TRUE(three.is_ok());
  EXPECT_EQ(*three, (std::vector<int32_t>{49406, 10563, 49407}));
  EXPECT_FALSE(t->tokenize("chest x ray", false, 3).is_ok());
  StatusOr<std::vector<int32_t>> fits = t->tokenize("chest", false, 3);
  ASSERT_TRUE(fits.is_ok());
  EXPECT_EQ(*fits, (std::vector<int32_t>{49406, 10563, 49407}));
}

// The worst case kMaxTextBytes allows: the deepest nesting of entities, which ftfy unescapes one
// level per pass, with a non-ASCII character so that every fixer runs in every pass. It must
// finish promptly, not hang.
// OpenAI's tokenizer where ../shared has it, else the committed model's: the cleaning that
// unescapes entities is the same for every vocabulary.
TEST(TokenizerFiles, DeeplyNestedEntitiesFinish) {
  StatusOr<Tokenizer> t =
      testing::have_fixtures()
          ? Tokenizer::load_openai(testing::fixtures_dir() + "/bpe_simple_vocab_16e6.txt.gz")
          : Tokenizer::load_dir(testing::committed_model_dir());
  ASSERT_TRUE(t.is_ok());
  std::string text = "&";
  while (text.size() + 6 < Tokenizer::kMaxTextBytes) text += "amp;";
  text += " \xc3\xa9";
  const auto t0 = std::chrono::steady_clock::now();
  StatusOr<std::vector<int32_t>> r = t->encode(text);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  StatusOr<std::vector<int32_t>> plain = t->encode("& \xc3\xa9");
  ASSERT_TRUE(plain.is_ok());
  EXPECT_EQ(*r, *plain);
  std::printf("[ timing ] %zu bytes of nested &amp;: %.0f ms\n", text.size(), ms);
  EXPECT_LT(ms, 60000.0);
}

}  // namespace
}  // namespace xrs
