// CLIP's text cleaning and pre-tokenization, step by step: the parts of OpenAI's
// simple_tokenizer.py that run before BPE, on Unicode code points (std::u32string, like Python's
// str). Tokenizer::encode composes them; they are exposed so that tests can compare each step
// with Python itself.
//
//   clean(text) = lower(whitespace_clean(strip(html_unescape(html_unescape(ftfy_fix_text(text))))))
//   pretokenize(clean(text)) = the pieces that BPE encodes
//
// Character classes come from libutf8proc's Unicode tables (Unicode 15.0 for libutf8proc 2.8;
// Python 3.11 uses 14.0: characters new in 15.0 may be classified differently there).
// All functions are pure and thread-safe. Every function that takes text accepts any code points
// except surrogates (utf8_to_u32 never produces them).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace xrs::clip_text {

// Strict UTF-8 (Python's bytes.decode('utf-8')): overlong forms, surrogates, code points above
// U+10FFFF and truncated sequences are kInvalidArgument naming the byte offset.
StatusOr<std::u32string> utf8_to_u32(std::string_view utf8);
std::string u32_to_utf8(std::u32string_view text);
// (Decoding one code point and finding the first malformed byte: core/strings.h.)

// ---- character classes
// ---------------------------------------------------------------------------
bool is_letter(char32_t c);       // \p{L}: general category Lu, Ll, Lt, Lm or Lo
bool is_number(char32_t c);       // \p{N}: Nd, Nl or No
bool is_white_space(char32_t c);  // the `regex` module's \s: the Unicode White_Space property
bool is_py_space(char32_t c);     // Python's str.isspace(): White_Space plus U+001C..U+001F

// ---- the steps, in the order CLIP applies them
// ---------------------------------------------------

// ftfy.fix_text(text) with its default configuration, less the mojibake detection and repair
// (ftfy's `fix_encoding`, a heuristic): see docs/TOKENIZER.md. Lines (split after '\n', or every
// 1,000,000 code points) are fixed one at a time, each until it no longer changes, by:
// unescape_html (ftfy's own: only entities ending in ';', plus upper-case Latin names; only until
// the first line that contains '<'), C1 controls read as Windows-1252, Latin ligatures split,
// full-width/half-width forms and U+3000 replaced by their NFKC forms, curly quotes straightened,
// line breaks (CRLF, CR, U+2028, U+2029, U+0085) made '\n', ANSI terminal escapes removed, control
// characters removed, and NFC.
std::u32string ftfy_fix_text(std::u32string_view text);

// ftfy's unescape_html fixer alone (one pass).
std::u32string ftfy_unescape_html(std::u32string_view text);

// Python's html.unescape: named references from the HTML5 list (longest prefix for the legacy
// names without ';', such as "&amp" or "&notit;"), decimal and hexadecimal references with HTML5's
// rules for invalid numbers (0x80..0x9F as Windows-1252, surrogates and numbers past U+10FFFF as
// U+FFFD, noncharacters and most controls removed).
std::u32string html_unescape(std::u32string_view text);

// U+0080..U+009F as the Windows-1252 characters of those bytes (the five undefined ones stay),
// as both HTML5's numeric references and ftfy's fix_c1_controls read them; other characters
// unchanged.
char32_t c1_as_windows1252(char32_t c);

// Canonical composition (NFC); `compat` gives NFKC.
std::u32string normalize(std::u32string_view text, bool compat = false);

// str.strip(): removes is_py_space characters at both ends.
std::u32string py_strip(std::u32string_view text);

// whitespace_clean: runs of is_white_space characters become one ' ', then py_strip.
std::u32string whitespace_clean(std::u32string_view text);

// Python 3's str.lower(): full lower-case mapping ('İ' becomes "i̇"), capital sigma as final
// sigma 'ς' at the end of a word (Python's Final_Sigma rule with Cased and Case_Ignorable).
std::u32string py_lower(std::u32string_view text);

// All of the above: whitespace_clean(basic_clean(text)).lower().
std::u32string clean(std::u32string_view text);

// re.findall of CLIP's pattern (regex module, IGNORECASE) on cleaned text:
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// The pieces are views into `text`. Under IGNORECASE the literals also match case variants
// ("'ſ" is a contraction) and the negated class excludes characters with a letter among their
// case variants (U+0345), which therefore belong to no piece, like white space.
std::vector<std::u32string_view> pretokenize(std::u32string_view text);

}  // namespace xrs::clip_text
