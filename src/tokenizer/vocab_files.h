// Reading CLIP's tokenizer files (internal to the tokenizer module).
//
// Both layouts are read into one form, the one simple_tokenizer.py builds: an encoder from
// symbol to id and the merge rules in rank order.
//   OpenAI: bpe_simple_vocab_16e6.txt.gz, a gzip'd text file whose lines 1..48894 are merges
//           ("a b", symbols in the byte-level alphabet); the vocabulary is the 256 byte symbols,
//           the same with "</w>", each merge's concatenation, then <|startoftext|> and
//           <|endoftext|> (49408 ids).
//   Hugging Face: vocab.json ({"symbol": id, ...}) + merges.txt (an optional "#version" line,
//           then one merge a line).
// Every failure names the file and, where there is one, the line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace xrs::tokenizer_files {

// CLIP's merge count in the OpenAI file: 49152 - 256 - 2.
inline constexpr int kOpenAiMerges = 48894;
// No tokenizer file comes near this; larger files are refused rather than read.
inline constexpr uint64_t kMaxFileBytes = 64ull << 20;

struct MergeRule {
  std::string first;   // UTF-8
  std::string second;  // UTF-8
  int line = 0;        // 1-based line in the merges file
};

struct BpeFiles {
  std::unordered_map<std::string, int32_t> encoder;  // UTF-8 symbol -> id
  std::vector<MergeRule> merges;                     // rank order
  int32_t vocab_size = 0;                            // largest id + 1
  std::string vocab_path;                            // for messages
  std::string merges_path;                           // for messages
};

// bytes_to_unicode(): the printable character that stands for byte `b`, as UTF-8.
std::string byte_symbol(uint8_t b);

// The decompressed content of a gzip file (all members; NUL padding after a member allowed).
// kCorruption for anything else, kResourceExhausted past max_bytes of output.
StatusOr<std::string> gunzip(const std::string& path, std::string_view data, uint64_t max_bytes);

StatusOr<BpeFiles> read_openai(const std::string& bpe_gz_path);
StatusOr<BpeFiles> read_hf(const std::string& vocab_json_path, const std::string& merges_txt_path);

}  // namespace xrs::tokenizer_files
