// The trained model's tokenizer: a byte-level BPE vocabulary learnt from the training captions,
// in Hugging Face's layout (vocab.json + merges.txt), read by the engine's own tokenizer
// (src/tokenizer). Words are split exactly as the engine splits them (its tokenizer does the
// splitting), then merges are learnt by pair frequency until every caption word is one token or
// `max_merges` is reached. Ids: the 256 byte symbols, the same with "</w>", the merges' results,
// then <|startoftext|> and <|endoftext|> (the largest id, where the text tower pools).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace xrs::train {

struct LearnedVocab {
  std::vector<std::string> symbols;                         // by id
  std::vector<std::pair<std::string, std::string>> merges;  // rank order
  std::vector<std::string> words;                           // caption words that are one token
};

// Learns from `texts`; `work_dir` (created) receives the files of a bootstrap tokenizer.
StatusOr<LearnedVocab> learn_vocab(const std::vector<std::string>& texts,
                                   const std::string& work_dir, int max_merges = 4000);

// Writes vocab.json and merges.txt into `dir` (atomically, each).
Status write_vocab(const LearnedVocab& vocab, const std::string& dir);

}  // namespace xrs::train
