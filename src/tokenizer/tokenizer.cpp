// Tokenizer: the vocabulary as ids, byte-pair encoding and clip.tokenize. See tokenizer.h.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <queue>
#include <unordered_map>

#include "tokenizer/text_clean.h"
#include "tokenizer/vocab_files.h"

namespace xrs {
namespace {

constexpr std::string_view kStartSymbol = "<|startoftext|>";
constexpr std::string_view kEndSymbol = "<|endoftext|>";

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

struct Merge {
  int32_t rank;
  int32_t merged;  // id of the two symbols joined
};

// A candidate merge of the symbol at `pos` with the one after it, valid while both still hold
// the ids `left` and `right`.
struct Candidate {
  int32_t rank;
  int32_t pos;
  int32_t left;
  int32_t right;
  int32_t merged;
  bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

}  // namespace

struct Tokenizer::Impl {
  // Every symbol BPE can produce is in the vocabulary (checked at load), so BPE runs on ids.
  std::array<int32_t, 256> byte_id{};      // bytes_to_unicode(b)
  std::array<int32_t, 256> byte_end_id{};  // bytes_to_unicode(b) + "</w>"
  std::unordered_map<uint64_t, Merge> merges;
  int32_t start_id = 0;
  int32_t end_id = 0;
  int32_t vocab_size = 0;

  static StatusOr<std::unique_ptr<Impl>> build(const tokenizer_files::BpeFiles& files);
  void bpe(std::string_view bytes, std::vector<int32_t>& out) const;
};

StatusOr<std::unique_ptr<Tokenizer::Impl>> Tokenizer::Impl::build(
    const tokenizer_files::BpeFiles& files) {
  auto impl = std::make_unique<Impl>();
  auto id_of = [&](const std::string& symbol) -> int32_t {
    auto it = files.encoder.find(symbol);
    return it == files.encoder.end() ? -1 : it->second;
  };
  for (int b = 0; b < 256; ++b) {
    const std::string symbol = tokenizer_files::byte_symbol(static_cast<uint8_t>(b));
    impl->byte_id[b] = id_of(symbol);
    impl->byte_end_id[b] = id_of(symbol + "</w>");
    if (impl->byte_id[b] < 0 || impl->byte_end_id[b] < 0) {
      return Status::corruption(files.vocab_path + ": the vocabulary lacks the byte symbol '" +
                                symbol + "' (byte " + std::to_string(b) + "), or it with </w>");
    }
  }
  impl->start_id = id_of(std::string(kStartSymbol));
  impl->end_id = id_of(std::string(kEndSymbol));
  if (impl->start_id < 0 || impl->end_id < 0) {
    return Status::corruption(files.vocab_path + ": the vocabulary lacks the special token " +
                              std::string(impl->start_id < 0 ? kStartSymbol : kEndSymbol));
  }
  impl->merges.reserve(files.merges.size());
  for (size_t rank = 0; rank < files.merges.size(); ++rank) {
    const tokenizer_files::MergeRule& m = files.merges[rank];
    const int32_t a = id_of(m.first);
    const int32_t b = id_of(m.second);
    const int32_t merged = id_of(m.first + m.second);
    if (a < 0 || b < 0 || merged < 0) {
      const std::string& missing = a < 0 ? m.first : b < 0 ? m.second : m.first + m.second;
      return Status::corruption(files.merges_path + ":" + std::to_string(m.line) + ": symbol '" +
                                missing + "' is not in the vocabulary (" + files.vocab_path + ")");
    }
    // dict(zip(merges, range(len(merges)))): a repeated pair keeps its last rank.
    impl->merges[pair_key(a, b)] = Merge{static_cast<int32_t>(rank), merged};
  }
  impl->vocab_size = files.vocab_size;
  return impl;
}

// simple_tokenizer.bpe: repeatedly take the pair of lowest rank and merge all its occurrences,
// left to right. A heap of candidates makes it O(n log n); candidates created while one rank is
// being merged wait until that rank is done, as in the reference's one pass per rank.
void Tokenizer::Impl::bpe(std::string_view bytes, std::vector<int32_t>& out) const {
  const auto n = static_cast<int32_t>(bytes.size());
  if (n == 0) return;
  std::vector<int32_t> sym(n);
  std::vector<int32_t> next(n);
  std::vector<int32_t> prev(n);
  for (int32_t i = 0; i < n; ++i) {
    const auto b = static_cast<uint8_t>(bytes[i]);
    sym[i] = i + 1 < n ? byte_id[b] : byte_end_id[b];
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  std::vector<Candidate> pending;
  auto consider = [&](int32_t pos, std::vector<Candidate>& into) {
    if (pos < 0 || next[pos] < 0) return;
    auto it = merges.find(pair_key(sym[pos], sym[next[pos]]));
    if (it != merges.end()) {
      into.push_back({it->second.rank, pos, sym[pos], sym[next[pos]], it->second.merged});
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i, pending);
  for (const Candidate& c : pending) heap.push(c);
  std::vector<bool> alive(n, true);
  while (!heap.empty()) {
    const int32_t rank = heap.top().rank;
    pending.clear();
    while (!heap.empty() && heap.top().rank == rank) {
      const Candidate c = heap.top();
      heap.pop();
      const int32_t right = next[c.pos];
      if (!alive[c.pos] || right < 0 || sym[c.pos] != c.left || sym[right] != c.right) continue;
      sym[c.pos] = c.merged;
      alive[right] = false;
      next[c.pos] = next[right];
      if (next[right] >= 0) prev[next[right]] = c.pos;
      consider(prev[c.pos], pending);
      consider(c.pos, pending);
    }
    for (const Candidate& c : pending) heap.push(c);
  }
  for (int32_t i = 0; i >= 0; i = next[i]) out.push_back(sym[i]);
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

StatusOr<Tokenizer> Tokenizer::load_openai(const std::string& bpe_gz_path) {
  XRS_ASSIGN_OR_RETURN(tokenizer_files::BpeFiles files, tokenizer_files::read_openai(bpe_gz_path));
  XRS_ASSIGN_OR_RETURN(std::unique_ptr<Impl> impl, Impl::build(files));
  return Tokenizer(std::move(impl));
}

StatusOr<Tokenizer> Tokenizer::load_hf(const std::string& vocab_json_path,
                                       const std::string& merges_txt_path) {
  XRS_ASSIGN_OR_RETURN(tokenizer_files::BpeFiles files,
                       tokenizer_files::read_hf(vocab_json_path, merges_txt_path));
  XRS_ASSIGN_OR_RETURN(std::unique_ptr<Impl> impl, Impl::build(files));
  return Tokenizer(std::move(impl));
}

StatusOr<Tokenizer> Tokenizer::load_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::not_found(dir + ": not a folder");
  const std::string vocab = (fs::path(dir) / "vocab.json").string();
  const std::string merges = (fs::path(dir) / "merges.txt").string();
  const std::string gz = (fs::path(dir) / "bpe_simple_vocab_16e6.txt.gz").string();
  const bool has_vocab = fs::exists(vocab, ec);
  const bool has_merges = fs::exists(merges, ec);
  if (has_vocab && has_merges) return load_hf(vocab, merges);
  if (fs::exists(gz, ec)) return load_openai(gz);
  if (has_vocab != has_merges) {
    return Status::not_found(
        dir + ": has " +
        (has_vocab ? "vocab.json but no merges.txt" : "merges.txt but no vocab.json"));
  }
  return Status::not_found(dir +
                           ": no tokenizer (looked for vocab.json + merges.txt and "
                           "bpe_simple_vocab_16e6.txt.gz)");
}

StatusOr<std::vector<int32_t>> Tokenizer::encode(std::string_view text) const {
  if (text.size() > kMaxTextBytes) {
    return Status::invalid_argument("text is too long to tokenize: " + std::to_string(text.size()) +
                                    " bytes, at most " + std::to_string(kMaxTextBytes));
  }
  XRS_ASSIGN_OR_RETURN(std::u32string u32, clip_text::utf8_to_u32(text));
  const std::u32string cleaned = clip_text::clean(u32);
  std::vector<int32_t> ids;
  for (std::u32string_view piece : clip_text::pretokenize(cleaned)) {
    const std::string bytes = clip_text::u32_to_utf8(piece);
    // The reference's BPE cache starts with the two special tokens, which map to themselves.
    if (bytes == kStartSymbol) {
      ids.push_back(impl_->start_id);
    } else if (bytes == kEndSymbol) {
      ids.push_back(impl_->end_id);
    } else {
      impl_->bpe(bytes, ids);
    }
  }
  return ids;
}

StatusOr<std::vector<int32_t>> Tokenizer::tokenize(std::string_view text, bool truncate,
                                                   int context_length) const {
  if (context_length < 1) {
    return Status::invalid_argument("context length must be at least 1, got " +
                                    std::to_string(context_length));
  }
  XRS_ASSIGN_OR_RETURN(std::vector<int32_t> ids, encode(text));
  const auto length = static_cast<size_t>(context_length);
  if (ids.size() + 2 > length && !truncate) {
    return Status::invalid_argument("text is too long for context length " +
                                    std::to_string(context_length) + ": " +
                                    std::to_string(ids.size() + 2) + " tokens with start and end");
  }
  std::vector<int32_t> tokens(length, 0);
  tokens[0] = impl_->start_id;
  const size_t kept = std::min(ids.size(), length - 1);
  std::copy(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(kept), tokens.begin() + 1);
  // tokens[:context_length] with the last one made the end token (on truncation), else the end
  // token right after the ids.
  tokens[std::min(kept + 1, length - 1)] = impl_->end_id;
  return tokens;
}

int32_t Tokenizer::start_token() const {
  return impl_->start_id;
}
int32_t Tokenizer::end_token() const {
  return impl_->end_id;
}
int32_t Tokenizer::vocab_size() const {
  return impl_->vocab_size;
}

}  // namespace xrs
