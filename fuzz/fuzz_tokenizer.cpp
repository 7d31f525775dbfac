// Fuzz target: the CLIP tokenizer (tokenizer/tokenizer.h encode and tokenize).
//
// Input: text bytes (any bytes: non-UTF-8 must be refused cleanly). The vocabulary is loaded once
// from XRS_FUZZ_TOKENIZER_VOCAB, else ../shared/fixtures/clip/bpe_simple_vocab_16e6.txt.gz; the
// target skips (exit 77, with the reason) when it is absent. Checked:
//   - encode fails exactly for text that is not UTF-8 or longer than kMaxTextBytes, with
//     kInvalidArgument; its ids are in [0, vocab_size);
//   - tokenize (truncating) gives exactly 77 ids: the start token, encode's first ids (at most
//     75), the end token, then zeros; without truncation it succeeds exactly when encode's ids
//     fit, with the same ids.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "tokenizer/tokenizer.h"

namespace {

std::unique_ptr<xrs::Tokenizer> g_tokenizer;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  const char* from_env = std::getenv("XRS_FUZZ_TOKENIZER_VOCAB");
  const std::string path = from_env != nullptr ? std::string(from_env)
                                               : std::string(XRS_SHARED_DIR) +
                                                     "/fixtures/clip/bpe_simple_vocab_16e6.txt.gz";
  auto loaded = xrs::Tokenizer::load_openai(path);
  if (!loaded.is_ok()) {
    xrs::fuzz::skip_target("the tokenizer vocabulary cannot be loaded (" +
                           loaded.status().to_string() +
                           "); set XRS_FUZZ_TOKENIZER_VOCAB to a bpe_simple_vocab_16e6.txt.gz");
  }
  g_tokenizer = std::make_unique<xrs::Tokenizer>(std::move(loaded).value());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const xrs::Tokenizer& tok = *g_tokenizer;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool acceptable = size <= xrs::Tokenizer::kMaxTextBytes && xrs::fuzz::is_utf8(text);

  const auto ids = tok.encode(text);
  xrs::fuzz::note(ids.is_ok() ? std::to_string(ids->size()) + " ids" : ids.status().to_string());
  XRS_FUZZ_CHECK(ids.is_ok() == acceptable, ids.status().to_string());
  const auto tokens = tok.tokenize(text, /*truncate=*/true);
  XRS_FUZZ_CHECK(tokens.is_ok() == acceptable, tokens.status().to_string());
  if (!acceptable) {
    XRS_FUZZ_CHECK(ids.status().code() == xrs::StatusCode::kInvalidArgument,
                   ids.status().to_string());
    XRS_FUZZ_CHECK(tokens.status().code() == xrs::StatusCode::kInvalidArgument,
                   tokens.status().to_string());
    return 0;
  }

  for (int32_t id : *ids) XRS_FUZZ_CHECK(id >= 0 && id < tok.vocab_size(), "id out of range");
  const std::vector<int32_t>& t = *tokens;
  constexpr size_t kContext = xrs::Tokenizer::kContextLength;
  XRS_FUZZ_CHECK(t.size() == kContext, "tokenize must return exactly 77 ids");
  XRS_FUZZ_CHECK(t[0] == tok.start_token() && t[0] == 49406, "first id must be the start token");
  const size_t kept = std::min(ids->size(), kContext - 2);
  for (size_t i = 0; i < kept; ++i) XRS_FUZZ_CHECK(t[i + 1] == (*ids)[i], "ids differ from encode");
  XRS_FUZZ_CHECK(t[kept + 1] == tok.end_token(), "end token missing");
  for (size_t i = kept + 2; i < kContext; ++i) XRS_FUZZ_CHECK(t[i] == 0, "padding must be zeros");

  const auto strict = tok.tokenize(text, /*truncate=*/false);
  XRS_FUZZ_CHECK(strict.is_ok() == (ids->size() <= kContext - 2), strict.status().to_string());
  if (strict.is_ok()) XRS_FUZZ_CHECK(*strict == t, "truncate changed a text that fits");
  return 0;
}
