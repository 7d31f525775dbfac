// The CLIP BPE tokenizer: a faithful port of OpenAI's simple_tokenizer.py and clip.tokenize.
//
//   text → ftfy-style fix (NFC, ...) → html.unescape twice → collapse white space, strip →
//   lower-case → split with CLIP's pattern (special tokens, 's 't 're 've 'm 'll 'd, runs of
//   letters, single numbers, runs of other non-space characters) → bytes → byte-level unicode
//   → BPE by merge rank (word end marked "</w>") → ids.
//
// The cleaning steps are in text_clean.h; what differs from Python (ftfy's mojibake repair) is
// listed in docs/TOKENIZER.md.
//
// A loaded Tokenizer is immutable and safe to share between threads.
//
// Changes from the first draft of this header: encode() returns StatusOr (text that is not UTF-8,
// or longer than kMaxTextBytes, is kInvalidArgument); context_length must be >= 1.
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
  // Longest text accepted (UTF-8 bytes). Cleaning repeats ftfy's fixes until nothing changes,
  // once per level of nested HTML entities ("&amp;amp;..."), so time grows with length times
  // nesting; this bound keeps the worst case short. Queries are far shorter.
  static constexpr size_t kMaxTextBytes = 8 * 1024;

  // OpenAI's bpe_simple_vocab_16e6.txt.gz. Failures: kNotFound/kIoError for the file,
  // kCorruption (naming the file and line) for bad gzip, UTF-8 or merge lines, or fewer than
  // 48894 merges; kResourceExhausted for a file past 64 MiB.
  static StatusOr<Tokenizer> load_openai(const std::string& bpe_gz_path);
  // Hugging Face's vocab.json + merges.txt. Failures as above, and kCorruption when vocab.json
  // is not an object of non-negative integer ids, or lacks a byte symbol (with and without
  // "</w>"), a merge's symbols or result, or a special token.
  static StatusOr<Tokenizer> load_hf(const std::string& vocab_json_path,
                                     const std::string& merges_txt_path);
  // Whichever of the two a model folder holds (vocab.json + merges.txt preferred if both).
  // kNotFound when `dir` is not a folder or has neither.
  static StatusOr<Tokenizer> load_dir(const std::string& dir);

  // The BPE ids of UTF-8 `text`, without start/end tokens (simple_tokenizer.encode).
  // kInvalidArgument when text is not UTF-8 or is longer than kMaxTextBytes.
  StatusOr<std::vector<int32_t>> encode(std::string_view text) const;

  // clip.tokenize(text, context_length, truncate): [start, ids..., end, 0, ...] of exactly
  // context_length ids. Too long: kInvalidArgument unless `truncate`, which keeps the first
  // context_length - 1 and ends with the end token. Errors of encode(); context_length < 1 is
  // kInvalidArgument.
  StatusOr<std::vector<int32_t>> tokenize(std::string_view text, bool truncate = true,
                                          int context_length = kContextLength) const;

  int32_t start_token() const;  // <|startoftext|>, 49406 in CLIP's vocabulary
  int32_t end_token() const;    // <|endoftext|>, 49407
  int32_t vocab_size() const;   // largest id + 1: 49408

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace xrs
