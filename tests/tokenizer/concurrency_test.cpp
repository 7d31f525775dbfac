// One Tokenizer shared by several threads gives every thread the same ids as a single thread.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "support/test_paths.h"
#include "tokenizer/tokenizer.h"

namespace xrs {
namespace {

// OpenAI's tokenizer file where ../shared has it, else the committed model's own tokenizer
// (vocab.json + merges.txt): the property is the same for any vocabulary.
TEST(TokenizerConcurrency, SharedTokenizerGivesSameIds) {
  StatusOr<Tokenizer> tok =
      testing::have_fixtures()
          ? Tokenizer::load_openai(testing::fixtures_dir() + "/bpe_simple_vocab_16e6.txt.gz")
          : Tokenizer::load_dir(testing::committed_model_dir());
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  const std::vector<std::string> texts = {"chest x-ray",
                                          "a dental panoramic radiograph",
                                          "hand x-ray of a child's left hand",
                                          "&amp; &lt;b&gt;bold&lt;/b&gt;",
                                          "radiograf\xc3\xad"
                                          "a de t\xc3\xb3rax",
                                          "\xe8\x83\xb8\xe9\x83\xa8X",
                                          "pneumonoultramicroscopicsilicovolcanoconiosis",
                                          std::string(400, 'x')};
  std::vector<std::vector<int32_t>> expected;
  for (const std::string& t : texts) {
    StatusOr<std::vector<int32_t>> ids = tok->tokenize(t);
    ASSERT_TRUE(ids.is_ok());
    expected.push_back(*ids);
  }
  constexpr int kThreads = 8;
  constexpr int kRounds = 200;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      for (int r = 0; r < kRounds; ++r) {
        const size_t i = static_cast<size_t>(w + r) % texts.size();
        StatusOr<std::vector<int32_t>> ids = tok->tokenize(texts[i]);
        if (!ids.is_ok() || *ids != expected[i]) ++mismatches[w];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int w = 0; w < kThreads; ++w) EXPECT_EQ(mismatches[w], 0) << "thread " << w;
}

}  // namespace
}  // namespace xrs
