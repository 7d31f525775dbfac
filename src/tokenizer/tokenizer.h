// The CLIP BPE tokenizer: a faithful port of OpenAI's simple_tokenizer.py and clip.tokenize.
//
//   text → ftfy-style fix (NFC, ...) → html.unescape twice → collapse white space, strip →
//   lower-case → split with CLIP's pattern (special tokens, 's 't 're 've 'm 'll 'd, runs of
//   letters, single numbers, runs of other non-space characters) → bytes → byte-level unicode
//   → BPE by merge rank (word end marked "</w>") → ids.
//
// A loaded Tokenizer is immutable and safe to share between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace xrs {

class Tokenizer {
 public:
  static constexpr int kContextLength = 77;

  // OpenAI's bpe_simple_vocab_16e6.txt.gz.
  static StatusOr<Tokenizer> load_openai(const std::string& bpe_gz_path);
  // Hugging Face's vocab.json + merges.txt.
  static StatusOr<Tokenizer> load_hf(const std::string& vocab_json_path,
                                     const std::string& merges_txt_path);
  // Whichever of the two a model folder holds (vocab.json + merges.txt preferred if both).
  static StatusOr<Tokenizer> load_dir(const std::string& dir);

  // The BPE ids of `text`, without start/end tokens (simple_tokenizer.encode).
  std::vector<int32_t> encode(std::string_view text) const;

  // clip.tokenize(text, context_length, truncate): [start, ids..., end, 0, ...] of exactly
  // context_length ids. Too long: kInvalidArgument unless `truncate`, which keeps the first
  // context_length - 1 and ends with the end token.
  StatusOr<std::vector<int32_t>> tokenize(std::string_view text, bool truncate = true,
                                          int context_length = kContextLength) const;

  int32_t start_token() const;  // <|startoftext|>, 49406 in CLIP's vocabulary
  int32_t end_token() const;    // <|endoftext|>, 49407
  int32_t vocab_size() const;   // 49408

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace xrs
