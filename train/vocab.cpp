#include "vocab.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "core/file_util.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_files.h"

namespace xrs::train {
namespace {

constexpr const char* kStart = "<|startoftext|>";
constexpr const char* kEnd = "<|endoftext|>";

std::vector<std::string> byte_symbols() {
  std::vector<std::string> out;
  for (int b = 0; b < 256; ++b) out.push_back(tokenizer_files::byte_symbol(uint8_t(b)));
  for (int b = 0; b < 256; ++b) out.push_back(tokenizer_files::byte_symbol(uint8_t(b)) + "</w>");
  return out;
}

}  // namespace

Status write_vocab(const LearnedVocab& vocab, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  nlohmann::json j = nlohmann::json::object();
  for (size_t id = 0; id < vocab.symbols.size(); ++id) j[vocab.symbols[id]] = id;
  std::string merges = "#version: 0.2\n";
  for (const auto& [a, b] : vocab.merges) merges += a + " " + b + "\n";
  XRS_RETURN_IF_ERROR(write_file_atomic(dir + "/vocab.json", j.dump()));
  return write_file_atomic(dir + "/merges.txt", merges);
}

StatusOr<LearnedVocab> learn_vocab(const std::vector<std::string>& texts,
                                   const std::string& work_dir, int max_merges) {
  // Bootstrap: bytes only (plus one merge of two control characters that text cleaning removes,
  // as the reader wants at least one merge), to split texts into words the engine's way.
  const std::vector<std::string> bytes = byte_symbols();
  const std::pair<std::string, std::string> dummy = {tokenizer_files::byte_symbol(1),
                                                     tokenizer_files::byte_symbol(2)};
  LearnedVocab boot;
  boot.symbols = bytes;
  boot.symbols.push_back(dummy.first + dummy.second);
  boot.symbols.push_back(kStart);
  boot.symbols.push_back(kEnd);
  boot.merges = {dummy};
  XRS_RETURN_IF_ERROR(write_vocab(boot, work_dir));
  XRS_ASSIGN_OR_RETURN(Tokenizer tok,
                       Tokenizer::load_hf(work_dir + "/vocab.json", work_dir + "/merges.txt"));

  // Words as symbol sequences, with their counts.
  std::map<std::vector<std::string>, int64_t> words;
  for (const std::string& text : texts) {
    XRS_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tok.encode(text));
    std::vector<std::string> word;
    for (int32_t id : ids) {
      if (id < 0 || id >= 512) continue;
      word.push_back(boot.symbols[id]);
      if (id >= 256) {  // "</w>": the word ends
        ++words[word];
        word.clear();
      }
    }
  }

  LearnedVocab out;
  out.symbols = bytes;
  std::set<std::string> known(bytes.begin(), bytes.end());
  std::map<std::vector<std::string>, int64_t> current = words;
  for (int m = 0; m < max_merges; ++m) {
    std::map<std::pair<std::string, std::string>, int64_t> pairs;
    for (const auto& [w, n] : current) {
      for (size_t i = 0; i + 1 < w.size(); ++i) pairs[{w[i], w[i + 1]}] += n;
    }
    if (pairs.empty()) break;
    // The most frequent pair; ties by the map's (lexicographic) order: deterministic.
    auto best = pairs.begin();
    for (auto it = pairs.begin(); it != pairs.end(); ++it) {
      if (it->second > best->second) best = it;
    }
    const auto [a, b] = best->first;
    out.merges.push_back({a, b});
    if (known.insert(a + b).second) out.symbols.push_back(a + b);
    std::map<std::vector<std::string>, int64_t> next;
    for (const auto& [w, n] : current) {
      std::vector<std::string> merged;
      for (size_t i = 0; i < w.size(); ++i) {
        if (i + 1 < w.size() && w[i] == a && w[i + 1] == b) {
          merged.push_back(a + b);
          ++i;
        } else {
          merged.push_back(w[i]);
        }
      }
      next[merged] += n;
    }
    current = std::move(next);
  }
  if (out.merges.empty()) {
    out.merges = {dummy};
    out.symbols.push_back(dummy.first + dummy.second);
  }
  out.symbols.push_back(kStart);
  out.symbols.push_back(kEnd);
  for (const auto& [w, n] : current) {
    if (w.size() == 1) {
      std::string s = w[0];
      s.resize(s.size() - 4);  // drop "</w>"
      out.words.push_back(s);  // in the byte alphabet: plain for ASCII letters and digits
    }
  }
  return out;
}

}  // namespace xrs::train
