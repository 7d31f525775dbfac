// Reading bpe_simple_vocab_16e6.txt.gz, vocab.json and merges.txt. See vocab_files.h.
#include "tokenizer/vocab_files.h"

#include <zlib.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/file_util.h"
#include "core/strings.h"
#include "tokenizer/text_clean.h"

namespace xrs::tokenizer_files {
namespace {

// bytes_to_unicode's byte order: the printable bytes keep their code point, in this order...
bool is_printable_byte(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

// ...then the other 68 bytes, ascending, take U+0100, U+0101, ...
std::vector<uint8_t> bytes_in_vocab_order() {
  std::vector<uint8_t> order;
  for (int b = 0; b < 256; ++b) {
    if (is_printable_byte(b)) order.push_back(static_cast<uint8_t>(b));
  }
  for (int b = 0; b < 256; ++b) {
    if (!is_printable_byte(b)) order.push_back(static_cast<uint8_t>(b));
  }
  return order;
}

std::string where(const std::string& path, int line) {
  return path + ":" + std::to_string(line);
}

// One merge line: exactly two symbols separated by (Python str.split) white space. `line` is
// valid UTF-8.
StatusOr<MergeRule> parse_merge(const std::string& path, int line_no, std::string_view line) {
  std::vector<std::string_view> fields;
  size_t field_begin = std::string_view::npos;
  char32_t c = 0;
  for (size_t i = 0; i <= line.size();) {
    const size_t len = i < line.size() ? utf8_decode(line, i, &c) : 1;
    const bool space = i == line.size() || clip_text::is_py_space(c);
    if (space && field_begin != std::string_view::npos) {
      fields.push_back(line.substr(field_begin, i - field_begin));
      field_begin = std::string_view::npos;
    } else if (!space && field_begin == std::string_view::npos) {
      field_begin = i;
    }
    i += len;
  }
  if (fields.size() != 2) {
    return Status::corruption(where(path, line_no) + ": a merge must be two symbols, found " +
                              std::to_string(fields.size()) + " fields: '" +
                              std::string(line.substr(0, 80)) + "'");
  }
  return MergeRule{std::string(fields[0]), std::string(fields[1]), line_no};
}

// Python decodes the whole file strictly; so do we, naming the line of the first bad byte.
Status check_utf8(const std::string& path, std::string_view bytes) {
  const size_t bad = utf8_error_offset(bytes);
  if (bad == std::string_view::npos) return Status::ok();
  const auto line =
      1 + std::count(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bad), '\n');
  return Status::corruption(where(path, static_cast<int>(line)) +
                            ": not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
}

// The first `max_lines` lines of `text` split at '\n' (Python's str.split('\n')).
std::vector<std::string_view> split_lines(std::string_view text, size_t max_lines) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (lines.size() < max_lines) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      lines.push_back(text.substr(pos));
      break;
    }
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

}  // namespace

std::string byte_symbol(uint8_t b) {
  char32_t c = b;
  if (!is_printable_byte(b)) {
    c = 0x100;
    for (int x = 0; x < b; ++x) c += is_printable_byte(x) ? 0 : 1;
  }
  return clip_text::u32_to_utf8(std::u32string_view(&c, 1));
}

StatusOr<std::string> gunzip(const std::string& path, std::string_view data, uint64_t max_bytes) {
  if (data.empty()) return Status::corruption(path + ": empty file, expected gzip data");
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    return Status::internal(path + ": zlib inflateInit2 failed");
  }
  std::string out;
  // The last member's trailer holds its size mod 2^32: a good first guess at the output size.
  if (data.size() >= 18) {
    uint32_t isize = 0;
    for (int k = 0; k < 4; ++k)
      isize |= uint32_t{static_cast<uint8_t>(data[data.size() - 4 + k])} << (8 * k);
    out.reserve(std::min<uint64_t>(isize, max_bytes));
  }
  Status status;
  size_t pos = 0;
  int members = 0;
  char buf[1 << 16];
  // One gzip member per pass; after each, NUL padding may follow, then only another member.
  while (status.is_ok() && pos < data.size()) {
    if (members > 0 && data[pos] == '\0') {
      ++pos;
      continue;
    }
    if (data.size() - pos < 2 || static_cast<uint8_t>(data[pos]) != 0x1F ||
        static_cast<uint8_t>(data[pos + 1]) != 0x8B) {
      status = Status::corruption(path + ": not a gzip file (bad magic at byte " +
                                  std::to_string(pos) + ")");
      break;
    }
    ++members;
    inflateReset(&zs);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + pos));
    zs.avail_in = static_cast<uInt>(std::min<size_t>(data.size() - pos, UINT32_MAX));
    int rc = Z_OK;
    while (rc == Z_OK) {
      zs.next_out = reinterpret_cast<Bytef*>(buf);
      zs.avail_out = sizeof(buf);
      rc = inflate(&zs, Z_NO_FLUSH);
      out.append(buf, sizeof(buf) - zs.avail_out);
      if (out.size() > max_bytes) {
        status = Status::resource_exhausted(path + ": decompresses to more than " +
                                            std::to_string(max_bytes) + " bytes");
        break;
      }
    }
    if (!status.is_ok()) break;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      status = Status::corruption(path +
                                  ": truncated gzip data (ended before the end of the "
                                  "compressed stream)");
    } else if (rc != Z_STREAM_END) {
      status = Status::corruption(path + ": corrupt gzip data (" +
                                  std::string(zs.msg ? zs.msg : "zlib error") + ")");
    }
    pos = static_cast<size_t>(reinterpret_cast<const char*>(zs.next_in) - data.data());
  }
  inflateEnd(&zs);
  if (!status.is_ok()) return status;
  return out;
}

StatusOr<BpeFiles> read_openai(const std::string& bpe_gz_path) {
  XRS_ASSIGN_OR_RETURN(std::string compressed, read_file(bpe_gz_path, kMaxFileBytes));
  XRS_ASSIGN_OR_RETURN(std::string raw, gunzip(bpe_gz_path, compressed, kMaxFileBytes));
  XRS_RETURN_IF_ERROR(check_utf8(bpe_gz_path, raw));
  const std::vector<std::string_view> lines = split_lines(raw, kOpenAiMerges + 1);
  // simple_tokenizer reads lines[1 : 48895]; line 0 is the "#version" header.
  if (lines.size() < static_cast<size_t>(kOpenAiMerges) + 1) {
    return Status::corruption(
        bpe_gz_path + ": truncated: " + std::to_string(lines.size() > 0 ? lines.size() - 1 : 0) +
        " merge lines, expected at least " + std::to_string(kOpenAiMerges));
  }
  BpeFiles files;
  files.vocab_path = bpe_gz_path;
  files.merges_path = bpe_gz_path;
  files.merges.reserve(kOpenAiMerges);
  for (int i = 1; i <= kOpenAiMerges; ++i) {
    XRS_ASSIGN_OR_RETURN(MergeRule rule, parse_merge(bpe_gz_path, i + 1, lines[i]));
    files.merges.push_back(std::move(rule));
  }
  std::vector<std::string> vocab;
  vocab.reserve(2 * 256 + files.merges.size() + 2);
  const std::vector<uint8_t> order = bytes_in_vocab_order();
  for (uint8_t b : order) vocab.push_back(byte_symbol(b));
  for (uint8_t b : order) vocab.push_back(byte_symbol(b) + "</w>");
  for (const MergeRule& m : files.merges) vocab.push_back(m.first + m.second);
  vocab.push_back("<|startoftext|>");
  vocab.push_back("<|endoftext|>");
  // dict(zip(vocab, range(len(vocab)))): a repeated symbol keeps its last id.
  files.encoder.reserve(vocab.size());
  for (size_t id = 0; id < vocab.size(); ++id) {
    files.encoder.insert_or_assign(std::move(vocab[id]), static_cast<int32_t>(id));
  }
  files.vocab_size = static_cast<int32_t>(vocab.size());
  return files;
}

StatusOr<BpeFiles> read_hf(const std::string& vocab_json_path, const std::string& merges_txt_path) {
  BpeFiles files;
  files.vocab_path = vocab_json_path;
  files.merges_path = merges_txt_path;
  XRS_ASSIGN_OR_RETURN(std::string json_text, read_file(vocab_json_path, kMaxFileBytes));
  nlohmann::json vocab;
  try {
    vocab = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    return Status::corruption(vocab_json_path + ": not valid JSON: " + e.what());
  }
  if (!vocab.is_object() || vocab.empty()) {
    return Status::corruption(vocab_json_path + ": expected a non-empty JSON object of symbol: id");
  }
  std::vector<bool> used;
  files.encoder.reserve(vocab.size());
  for (const auto& [symbol, id] : vocab.items()) {
    // Ids index the embedding table: bounded, so that a damaged file cannot ask for a huge one.
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= (1 << 24)) {
      return Status::corruption(vocab_json_path + ": symbol '" + symbol + "': id " + id.dump() +
                                " is not an integer in [0, 16777216)");
    }
    const auto n = static_cast<size_t>(id.get<int64_t>());
    if (n >= used.size()) used.resize(n + 1, false);
    if (used[n]) {
      return Status::corruption(vocab_json_path + ": id " + std::to_string(n) +
                                " is given to two symbols (one is '" + symbol + "')");
    }
    used[n] = true;
    files.encoder.emplace(symbol, static_cast<int32_t>(n));
  }
  files.vocab_size = static_cast<int32_t>(used.size());

  XRS_ASSIGN_OR_RETURN(std::string merges_raw, read_file(merges_txt_path, kMaxFileBytes));
  XRS_RETURN_IF_ERROR(check_utf8(merges_txt_path, merges_raw));
  std::vector<std::string_view> lines = split_lines(merges_raw, SIZE_MAX);
  auto blank = [](std::string_view l) {
    return l.find_first_not_of(" \t\r\v\f") == std::string_view::npos;
  };
  while (!lines.empty() && blank(lines.back())) lines.pop_back();
  const size_t first = !lines.empty() && lines[0].substr(0, 8) == "#version" ? 1 : 0;
  if (lines.size() <= first) return Status::corruption(merges_txt_path + ": no merges");
  for (size_t i = first; i < lines.size(); ++i) {
    XRS_ASSIGN_OR_RETURN(MergeRule rule,
                         parse_merge(merges_txt_path, static_cast<int>(i + 1), lines[i]));
    files.merges.push_back(std::move(rule));
  }
  return files;
}

}  // namespace xrs::tokenizer_files
