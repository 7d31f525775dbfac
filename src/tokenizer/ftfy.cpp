// The deterministic part of ftfy.fix_text (ftfy 6.x, default TextFixerConfig). See text_clean.h
// and docs/TOKENIZER.md for what is left out (mojibake repair).
#include <utf8proc.h>

#include <algorithm>
#include <iterator>

#include "tokenizer/text_clean.h"

namespace xrs::clip_text {
namespace {

// ftfy's fix_text splits text into segments of at most this many code points.
constexpr size_t kMaxSegment = 1000000;

// fix_latin_ligatures: ftfy's list (Dutch ij, Afrikaans 'n, the Serbo-Croatian digraphs and
// the typographic ligatures U+FB00..U+FB06), each with what it is made of.
struct Ligature {
  char32_t from;
  std::u32string_view to;
};
constexpr Ligature kLigatures[] = {
    {0x0132, U"IJ"},      {0x0133, U"ij"},      {0x0149, U"\u02BCn"}, {0x01C4, U"D\u017D"},
    {0x01C5, U"D\u017E"}, {0x01C6, U"d\u017E"}, {0x01C7, U"LJ"},      {0x01C8, U"Lj"},
    {0x01C9, U"lj"},      {0x01CA, U"NJ"},      {0x01CB, U"Nj"},      {0x01CC, U"nj"},
    {0x01F1, U"DZ"},      {0x01F2, U"Dz"},      {0x01F3, U"dz"},      {0xFB00, U"ff"},
    {0xFB01, U"fi"},      {0xFB02, U"fl"},      {0xFB03, U"ffi"},     {0xFB04, U"ffl"},
    {0xFB05, U"\u017Ft"}, {0xFB06, U"st"},
};

// uncurl_quotes, the last of the per-character fixers.
void append_uncurled(std::u32string& out, char32_t c) {
  if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) {
    out.push_back(U'\'');
  } else if (c >= 0x201C && c <= 0x201F) {
    out.push_back(U'"');
  } else {
    out.push_back(c);
  }
}

// fix_character_width: U+3000 becomes a space, U+FF01..U+FFEF their NFKC form.
void append_width_fixed(std::u32string& out, char32_t c) {
  if (c == 0x3000) {
    append_uncurled(out, U' ');
  } else if (c >= 0xFF01 && c <= 0xFFEF) {
    const char32_t one[1] = {c};
    for (char32_t d : normalize(std::u32string_view(one, 1), /*compat=*/true)) {
      append_uncurled(out, d);
    }
  } else {
    append_uncurled(out, c);
  }
}

// fix_c1_controls, fix_latin_ligatures, fix_character_width and uncurl_quotes, in ftfy's order:
// each maps single characters, so applying them character by character is the same.
std::u32string map_characters(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    c = c1_as_windows1252(c);  // fix_c1_controls
    const Ligature* lig = std::end(kLigatures);
    if ((c >= 0x132 && c <= 0x1F3) || (c >= 0xFB00 && c <= 0xFB06)) {
      lig = std::find_if(std::begin(kLigatures), std::end(kLigatures),
                         [c](const Ligature& l) { return l.from == c; });
    }
    if (lig != std::end(kLigatures)) {
      for (char32_t d : lig->to) append_width_fixed(out, d);
    } else {
      append_width_fixed(out, c);
    }
  }
  return out;
}

// fix_line_breaks: "\r\n", then '\r', U+2028, U+2029 and U+0085, become '\n'.
std::u32string fix_line_breaks(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out.push_back(c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85 ? U'\n' : c);
  }
  return out;
}

// remove_terminal_escapes: ESC '[' (decimal digits | ';')* [A-Za-z]. Python's \d is any Nd.
std::u32string remove_terminal_escapes(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text[i] == 0x1B && i + 1 < text.size() && text[i + 1] == '[') {
      size_t k = i + 2;
      while (k < text.size() && (text[k] == ';' || utf8proc_category(static_cast<utf8proc_int32_t>(
                                                       text[k])) == UTF8PROC_CATEGORY_ND)) {
        ++k;
      }
      if (k < text.size() && text[k] < 0x80 &&
          ((text[k] | 0x20) >= 'a' && (text[k] | 0x20) <= 'z')) {
        i = k + 1;
        continue;
      }
    }
    out.push_back(text[i++]);
  }
  return out;
}

// remove_control_chars: C0 controls other than \t \n \f \r, DEL, the deprecated Arabic format
// controls U+206A..U+206F, the BOM U+FEFF and U+FFF9..U+FFFC.
bool is_removed_control(char32_t c) {
  return (c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
         (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

// Which fixers after unescape_html can change `text`: most text needs none of them, and the
// fixers' outputs never need an earlier-flagged fixer that was not flagged (an ANSI escape that
// forms once another is removed starts with ESC, a control character: flagged already).
enum Fixes : unsigned {
  kMapCharacters = 1,
  kLineBreaks = 2,
  kTerminalEscapes = 4,
  kControls = 8,
  kNormalize = 16,
};

unsigned needed_fixes(std::u32string_view text) {
  unsigned mask = 0;
  for (char32_t c : text) {
    if (c < 0x80) {
      if (c == '\r') mask |= kLineBreaks;
      if (c == 0x1B) mask |= kTerminalEscapes;
      if (is_removed_control(c)) mask |= kControls;
      continue;
    }
    if (c <= 0x9F || (c >= 0x132 && c <= 0x1F3) || (c >= 0xFB00 && c <= 0xFB06) || c == 0x2BC ||
        (c >= 0x2018 && c <= 0x201F) || c == 0x3000 || (c >= 0xFF01 && c <= 0xFFEF)) {
      mask |= kMapCharacters;
    }
    if (c == 0x85 || c == 0x2028 || c == 0x2029) mask |= kLineBreaks;
    if (is_removed_control(c)) mask |= kControls;
    if (c >= 0x300) mask |= kNormalize;
  }
  return mask;
}

std::u32string fix_segment(std::u32string text, bool unescape_html) {
  // ftfy's fix_and_explain: apply every fixer, repeat until nothing changes.
  while (true) {
    const std::u32string original = text;
    if (unescape_html && text.find(U'&') != std::u32string::npos) {
      text = ftfy_unescape_html(text);
    }
    const unsigned fixes = needed_fixes(text);
    if (fixes & kMapCharacters) text = map_characters(text);
    if (fixes & kLineBreaks) text = fix_line_breaks(text);
    if (fixes & kTerminalEscapes) text = remove_terminal_escapes(text);
    if (fixes & kControls) {
      text.erase(std::remove_if(text.begin(), text.end(), is_removed_control), text.end());
    }
    if (fixes & (kMapCharacters | kNormalize)) text = normalize(text);
    if (text == original) return text;
  }
}

}  // namespace

std::u32string ftfy_fix_text(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  // "auto" HTML unescaping stops at the first segment containing '<' (ftfy keeps the changed
  // configuration for the rest of the text).
  bool unescape_html = true;
  for (size_t pos = 0; pos < text.size();) {
    const size_t newline = text.find(U'\n', pos);
    size_t end = newline == std::u32string_view::npos ? text.size() : newline + 1;
    end = std::min(end, pos + kMaxSegment);
    const std::u32string_view segment = text.substr(pos, end - pos);
    if (segment.find(U'<') != std::u32string_view::npos) unescape_html = false;
    out += fix_segment(std::u32string(segment), unescape_html);
    pos = end;
  }
  return out;
}

}  // namespace xrs::clip_text
