// The tokenizer against OpenAI's reference outputs (../shared/fixtures/clip/tokenizer_cases.jsonl),
// with every tokenizer file layout the fixtures hold.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/test_paths.h"
#include "tokenizer/tokenizer.h"

namespace xrs {
namespace {

struct Case {
  std::string text;
  std::vector<int32_t> bpe_ids;
  std::vector<int32_t> tokens_truncated;
  bool too_long = false;
};

std::vector<Case> load_cases() {
  std::vector<Case> cases;
  std::ifstream in(testing::fixtures_dir() + "/tokenizer_cases.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line);
    cases.push_back({j.at("text").get<std::string>(), j.at("bpe_ids").get<std::vector<int32_t>>(),
                     j.at("tokens_truncated").get<std::vector<int32_t>>(),
                     j.at("too_long").get<bool>()});
  }
  return cases;
}

void expect_matches_reference(const Tokenizer& tok, const std::string& label) {
  const std::vector<Case> cases = load_cases();
  ASSERT_GE(cases.size(), 50u) << "tokenizer_cases.jsonl looks incomplete";
  int too_long = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(label + ": text '" + c.text.substr(0, 60) + "'");
    StatusOr<std::vector<int32_t>> ids = tok.encode(c.text);
    ASSERT_TRUE(ids.is_ok()) << ids.status().to_string();
    EXPECT_EQ(*ids, c.bpe_ids);
    StatusOr<std::vector<int32_t>> tokens = tok.tokenize(c.text, /*truncate=*/true);
    ASSERT_TRUE(tokens.is_ok()) << tokens.status().to_string();
    EXPECT_EQ(*tokens, c.tokens_truncated);
    StatusOr<std::vector<int32_t>> strict = tok.tokenize(c.text, /*truncate=*/false);
    EXPECT_EQ(strict.is_ok(), !c.too_long);
    if (c.too_long) {
      ++too_long;
      EXPECT_EQ(strict.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(strict.status().message().find("too long"), std::string::npos);
    } else if (strict.is_ok()) {
      EXPECT_EQ(*strict, c.tokens_truncated);
    }
  }
  EXPECT_GT(too_long, 0) << "the fixtures should include texts past 77 tokens";
}

TEST(TokenizerFixtures, OpenAiGzMatchesReference) {
  XRS_REQUIRE_FIXTURES();
  StatusOr<Tokenizer> tok =
      Tokenizer::load_openai(testing::fixtures_dir() + "/bpe_simple_vocab_16e6.txt.gz");
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  EXPECT_EQ(tok->start_token(), 49406);
  EXPECT_EQ(tok->end_token(), 49407);
  EXPECT_EQ(tok->vocab_size(), 49408);
  expect_matches_reference(*tok, "gz");
}

TEST(TokenizerFixtures, HuggingFaceFilesMatchReference) {
  XRS_REQUIRE_FIXTURES();
  const std::string dir = testing::fixtures_dir();
  StatusOr<Tokenizer> tok = Tokenizer::load_hf(dir + "/vocab.json", dir + "/merges.txt");
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  EXPECT_EQ(tok->start_token(), 49406);
  EXPECT_EQ(tok->end_token(), 49407);
  EXPECT_EQ(tok->vocab_size(), 49408);
  expect_matches_reference(*tok, "vocab.json+merges.txt");
}

TEST(TokenizerFixtures, EveryModelFolderMatchesReference) {
  XRS_REQUIRE_FIXTURES();
  int folders = 0;
  for (const char* model : {"tiny-openai-b32", "tiny-laion-b16"}) {
    const std::string dir = testing::fixtures_dir() + "/" + model;
    if (!std::filesystem::is_directory(dir)) continue;
    ++folders;
    StatusOr<Tokenizer> tok = Tokenizer::load_dir(dir);
    ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
    expect_matches_reference(*tok, model);
  }
  EXPECT_EQ(folders, 2) << "expected both fixture model folders";
  // The top folder holds both layouts; load_dir prefers vocab.json + merges.txt.
  StatusOr<Tokenizer> top = Tokenizer::load_dir(testing::fixtures_dir());
  ASSERT_TRUE(top.is_ok()) << top.status().to_string();
  expect_matches_reference(*top, "fixtures folder");
}

// Texts beyond the fixtures: both layouts must agree on them (they hold the same tokenizer).
TEST(TokenizerFixtures, LayoutsAgreeOnOtherTexts) {
  XRS_REQUIRE_FIXTURES();
  const std::string dir = testing::fixtures_dir();
  StatusOr<Tokenizer> gz = Tokenizer::load_openai(dir + "/bpe_simple_vocab_16e6.txt.gz");
  StatusOr<Tokenizer> hf = Tokenizer::load_hf(dir + "/vocab.json", dir + "/merges.txt");
  ASSERT_TRUE(gz.is_ok() && hf.is_ok());
  const std::vector<std::string> texts = {
      "Left-sided pleural effusion; no pneumothorax.",
      "Ｆｕｌｌ ｗｉｄｔｈ",
      "ﬁbrosis — “quoted” text…",
      "ΣΊΣΥΦΟΣ Σ",
      "İstanbul ŞEHİR",
      "Straße",
      "3×3 mm² nodule at T12–L1",
      "&lt;b&gt; &amp;amp; &#x1F600; &notin &notit;",
      "x-ray\u00a0\u2003\u3000chest",
      "e\u0301 vs \u00e9",
      "\xf0\x9f\xa6\xb4\xf0\x9f\xa6\xb7 \xe2\x9d\xa4\xef\xb8\x8f",
      std::string(300, 'a') + " " + std::string(200, '9'),
  };
  for (const std::string& t : texts) {
    StatusOr<std::vector<int32_t>> a = gz->encode(t);
    StatusOr<std::vector<int32_t>> b = hf->encode(t);
    ASSERT_TRUE(a.is_ok() && b.is_ok()) << t;
    EXPECT_EQ(*a, *b) << t;
    EXPECT_FALSE(a->empty()) << t;
  }
}

TEST(TokenizerFixtures, LoadTimeAndQuerySpeed) {
  XRS_REQUIRE_FIXTURES();
  const std::string gz_path = testing::fixtures_dir() + "/bpe_simple_vocab_16e6.txt.gz";
  const auto t0 = std::chrono::steady_clock::now();
  StatusOr<Tokenizer> tok = Tokenizer::load_openai(gz_path);
  const auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(tok.is_ok());
  const double load_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();

  constexpr int kRuns = 2000;
  size_t total = 0;
  const auto t2 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRuns; ++i) {
    StatusOr<std::vector<int32_t>> ids =
        tok->tokenize("a chest x-ray showing right lower lobe pneumonia");
    total += ids.is_ok() ? ids->size() : 0;
  }
  const auto t3 = std::chrono::steady_clock::now();
  const double query_us = std::chrono::duration<double, std::micro>(t3 - t2).count() / kRuns;
  EXPECT_EQ(total, size_t{kRuns} * Tokenizer::kContextLength);
  std::printf("[ timing ] load_openai: %.1f ms; tokenize(short query): %.2f us\n", load_ms,
              query_us);
  // Generous bounds (busy 2-core machines, sanitizer builds): they catch complexity bugs only.
  EXPECT_LT(load_ms, 5000.0);
  EXPECT_LT(query_us, 5000.0);
}

}  // namespace
}  // namespace xrs
