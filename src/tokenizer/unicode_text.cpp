// UTF-8, character classes, normalization, strip/white space, lower-case and the pre-tokenizer.
// See text_clean.h; the Python behaviour each function reproduces is named there.
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <utility>

#include "core/strings.h"
#include "tokenizer/text_clean.h"

namespace xrs::clip_text {
namespace {

using Range = std::pair<char32_t, char32_t>;

bool in_ranges(char32_t c, const Range* begin, const Range* end) {
  const Range* it =
      std::upper_bound(begin, end, c, [](char32_t v, const Range& r) { return v < r.first; });
  return it != begin && c <= (it - 1)->second;
}

utf8proc_category_t category(char32_t c) {
  return static_cast<utf8proc_category_t>(utf8proc_category(static_cast<utf8proc_int32_t>(c)));
}

// Unicode's Other_Lowercase and Other_Uppercase (PropList.txt): with Lu, Ll and Lt they make the
// Cased property that Python's final-sigma rule reads.
constexpr Range kOtherCased[] = {
    {0x00AA, 0x00AA},   {0x00BA, 0x00BA},   {0x02B0, 0x02B8},   {0x02C0, 0x02C1},
    {0x02E0, 0x02E4},   {0x0345, 0x0345},   {0x037A, 0x037A},   {0x1D2C, 0x1D6A},
    {0x1D78, 0x1D78},   {0x1D9B, 0x1DBF},   {0x2071, 0x2071},   {0x207F, 0x207F},
    {0x2090, 0x209C},   {0x2160, 0x217F},   {0x24B6, 0x24E9},   {0x2C7C, 0x2C7D},
    {0xA69C, 0xA69D},   {0xA770, 0xA770},   {0xA7F8, 0xA7F9},   {0xAB5C, 0xAB5F},
    {0x10780, 0x10780}, {0x10783, 0x10785}, {0x10787, 0x107B0}, {0x107B2, 0x107BA},
    {0x1E030, 0x1E06D}, {0x1F130, 0x1F149}, {0x1F150, 0x1F169}, {0x1F170, 0x1F189},
};

// Word_Break MidLetter, MidNumLet and Single_Quote: with Mn, Me, Cf, Lm and Sk they make the
// Case_Ignorable property.
constexpr char32_t kCaseIgnorablePunct[] = {0x0027, 0x002E, 0x003A, 0x00B7, 0x0387, 0x055F,
                                            0x05F4, 0x2018, 0x2019, 0x2024, 0x2027, 0xFE13,
                                            0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A};

bool is_cased(char32_t c) {
  switch (category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
      return true;
    default:
      return in_ranges(c, std::begin(kOtherCased), std::end(kOtherCased));
  }
}

bool is_case_ignorable(char32_t c) {
  switch (category(c)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK:
      return true;
    default:
      return std::binary_search(std::begin(kCaseIgnorablePunct), std::end(kCaseIgnorablePunct), c);
  }
}

// CPython's handle_capital_sigma: \p{Cased}\p{Case_Ignorable}* Σ !(\p{Case_Ignorable}*\p{Cased}).
bool is_final_sigma(std::u32string_view s, size_t i) {
  size_t j = i;
  while (j > 0 && is_case_ignorable(s[j - 1])) --j;
  if (j == 0 || !is_cased(s[j - 1])) return false;
  size_t k = i + 1;
  while (k < s.size() && is_case_ignorable(s[k])) ++k;
  return k == s.size() || !is_cased(s[k]);
}

char32_t simple_lower(char32_t c) {
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
}

// The regex module compares under IGNORECASE by simple case folding; among the letters of CLIP's
// literal alternatives only 's' has a non-ASCII variant (U+017F LATIN SMALL LETTER LONG S).
bool literal_matches(char32_t t, char p) {
  if (t == static_cast<char32_t>(p)) return true;
  if (p >= 'a' && p <= 'z')
    return t == static_cast<char32_t>(p - 'a' + 'A') || (p == 's' && t == 0x17F);
  return false;
}

size_t match_literal(std::u32string_view text, size_t pos, std::string_view lit) {
  if (text.size() - pos < lit.size()) return 0;
  for (size_t k = 0; k < lit.size(); ++k) {
    if (!literal_matches(text[pos + k], lit[k])) return 0;
  }
  return lit.size();
}

// [^\s\p{L}\p{N}] under IGNORECASE: neither the character nor a case variant of it is in the set.
bool is_other(char32_t c) {
  auto in_set = [](char32_t x) { return is_white_space(x) || is_letter(x) || is_number(x); };
  if (in_set(c)) return false;
  const auto cp = static_cast<utf8proc_int32_t>(c);
  return !in_set(static_cast<char32_t>(utf8proc_toupper(cp))) &&
         !in_set(static_cast<char32_t>(utf8proc_tolower(cp))) &&
         !in_set(static_cast<char32_t>(utf8proc_totitle(cp)));
}

}  // namespace

StatusOr<std::u32string> utf8_to_u32(std::string_view utf8) {
  std::u32string out;
  out.reserve(utf8.size());
  char32_t c = 0;
  for (size_t i = 0; i < utf8.size();) {
    const size_t len = utf8_decode(utf8, i, &c);
    if (len == 0) {
      return Status::invalid_argument("text is not valid UTF-8 (byte offset " + std::to_string(i) +
                                      ")");
    }
    out.push_back(c);
    i += len;
  }
  return out;
}

std::string u32_to_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

bool is_letter(char32_t c) {
  switch (category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return true;
    default:
      return false;
  }
}

bool is_number(char32_t c) {
  switch (category(c)) {
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

bool is_white_space(char32_t c) {
  if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
  if (c < 0x85) return false;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_py_space(char32_t c) {
  return is_white_space(c) || (c >= 0x1C && c <= 0x1F);
}

std::u32string normalize(std::u32string_view text, bool compat) {
  // Text below U+0300 has no decompositions that NFC keeps and nothing that composes.
  if (!compat && std::all_of(text.begin(), text.end(), [](char32_t c) { return c < 0x300; })) {
    return std::u32string(text);
  }
  const std::string utf8 = u32_to_utf8(text);
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(utf8.data());
  const auto len = static_cast<utf8proc_ssize_t>(utf8.size());
  const auto options = static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE |
                                                      (compat ? UTF8PROC_COMPAT : 0));
  // Decomposition grows text at most ~18-fold (utf8proc's bound); ask for the size first.
  utf8proc_ssize_t need = utf8proc_decompose(bytes, len, nullptr, 0, options);
  if (need < 0) return std::u32string(text);  // unreachable: the input is valid UTF-8
  std::u32string buf(static_cast<size_t>(need), U'\0');
  auto* data = reinterpret_cast<utf8proc_int32_t*>(buf.data());
  need = utf8proc_decompose(bytes, len, data, need, options);
  const utf8proc_ssize_t composed = utf8proc_normalize_utf32(
      data, need, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  buf.resize(static_cast<size_t>(composed));
  return buf;
}

std::u32string py_strip(std::u32string_view text) {
  size_t b = 0;
  size_t e = text.size();
  while (b < e && is_py_space(text[b])) ++b;
  while (e > b && is_py_space(text[e - 1])) --e;
  return std::u32string(text.substr(b, e - b));
}

std::u32string whitespace_clean(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (is_white_space(text[i])) {
      out.push_back(U' ');
      while (i < text.size() && is_white_space(text[i])) ++i;
    } else {
      out.push_back(text[i++]);
    }
  }
  return py_strip(out);
}

std::u32string py_lower(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c < 0x80) {
      out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
    } else if (c == 0x3A3) {
      out.push_back(is_final_sigma(text, i) ? 0x3C2 : 0x3C3);
    } else if (c == 0x130) {
      // SpecialCasing.txt's one unconditional multi-character lower-case mapping.
      out.push_back(U'i');
      out.push_back(0x307);
    } else {
      out.push_back(simple_lower(c));
    }
  }
  return out;
}

std::u32string clean(std::u32string_view text) {
  std::u32string s = ftfy_fix_text(text);
  s = html_unescape(html_unescape(s));
  s = py_strip(s);
  return py_lower(whitespace_clean(s));
}

std::vector<std::u32string_view> pretokenize(std::u32string_view text) {
  static constexpr std::array<std::string_view, 9> kLiterals = {
      "<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
  std::vector<std::u32string_view> pieces;
  size_t i = 0;
  while (i < text.size()) {
    size_t len = 0;
    for (std::string_view lit : kLiterals) {
      if ((len = match_literal(text, i, lit)) != 0) break;
    }
    if (len == 0) {
      const char32_t c = text[i];
      if (is_letter(c)) {
        while (i + len < text.size() && is_letter(text[i + len])) ++len;
      } else if (is_number(c)) {
        len = 1;
      } else if (is_other(c)) {
        while (i + len < text.size() && is_other(text[i + len])) ++len;
      }
    }
    if (len == 0) {
      ++i;  // white space, or a character no alternative matches
      continue;
    }
    pieces.push_back(text.substr(i, len));
    i += len;
  }
  return pieces;
}

}  // namespace xrs::clip_text
