// Python's html.unescape and ftfy's unescape_html fixer, on code points. See text_clean.h.
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include "tokenizer/text_clean.h"

namespace xrs::clip_text {
namespace {

struct HtmlEntity {
  std::string_view name;   // without the leading '&'; with ';' where the name has one
  std::string_view value;  // UTF-8
};

#include "tokenizer/html_entity_table.inc"

std::optional<std::string_view> find_entity(const HtmlEntity* begin, const HtmlEntity* end,
                                            std::string_view name) {
  const HtmlEntity* it = std::lower_bound(
      begin, end, name, [](const HtmlEntity& e, std::string_view n) { return e.name < n; });
  if (it == end || it->name != name) return std::nullopt;
  return it->value;
}

// The ASCII spelling of `name`, or nothing when it has other characters (no entity name does).
std::optional<std::string> ascii(std::u32string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char32_t c : name) {
    if (c >= 0x80) return std::nullopt;
    out.push_back(static_cast<char>(c));
  }
  return out;
}

std::optional<std::string_view> find_html5(std::u32string_view name) {
  const std::optional<std::string> a = ascii(name);
  if (!a) return std::nullopt;
  return find_entity(std::begin(kHtml5Entities), std::end(kHtml5Entities), *a);
}

void append_utf8(std::u32string& out, std::string_view utf8) {
  // The table's values are valid UTF-8 (generated from Python strings).
  StatusOr<std::u32string> cps = utf8_to_u32(utf8);
  if (cps.is_ok()) out += *cps;
}

bool is_ascii_digit(char32_t c) {
  return c >= '0' && c <= '9';
}
bool is_ascii_hex(char32_t c) {
  return is_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_ascii_alnum(char32_t c) {
  return is_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
int hex_value(char32_t c) {
  if (is_ascii_digit(c)) return static_cast<int>(c - '0');
  return static_cast<int>((c | 0x20) - 'a' + 10);
}

// html._replace_charref for a number: what "&#N;" becomes (empty for the removed code points).
void append_charref(std::u32string& out, char32_t num) {
  if (num == 0) {
    out.push_back(0xFFFD);
  } else if (num == 0x0D) {
    out.push_back(0x0D);
  } else if (num >= 0x80 && num <= 0x9F) {
    out.push_back(c1_as_windows1252(num));
  } else if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
    out.push_back(0xFFFD);
  } else if ((num >= 0x01 && num <= 0x08) || num == 0x0B || (num >= 0x0E && num <= 0x1F) ||
             num == 0x7F || (num >= 0xFDD0 && num <= 0xFDEF) || (num & 0xFFFE) == 0xFFFE) {
    // removed
  } else {
    out.push_back(num);
  }
}

// Length of the reference html.unescape's pattern matches at text[i] == '&' (0: none), with what
// it stands for appended to `out` when it matches.
size_t unescape_one(std::u32string_view text, size_t i, std::u32string& out) {
  const size_t n = text.size();
  size_t j = i + 1;
  if (j < n && text[j] == '#') {
    const bool hex = j + 1 < n && (text[j + 1] == 'x' || text[j + 1] == 'X');
    size_t k = j + (hex ? 2 : 1);
    const size_t digits_begin = k;
    char32_t num = 0;
    // Saturates past U+10FFFF: any larger number has the same replacement.
    while (k < n && (hex ? is_ascii_hex(text[k]) : is_ascii_digit(text[k]))) {
      const char32_t d = static_cast<char32_t>(hex ? hex_value(text[k]) : int(text[k] - '0'));
      num = std::min<char32_t>(num * (hex ? 16 : 10) + d, 0x110000);
      ++k;
    }
    if (k == digits_begin) return 0;
    if (k < n && text[k] == ';') ++k;
    append_charref(out, num);
    return k - i;
  }
  // A name: 1..32 characters other than \t \n \f space < & # ;, then an optional ';'.
  size_t k = j;
  while (k < n && k - j < 32) {
    const char32_t c = text[k];
    if (c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' ||
        c == ';') {
      break;
    }
    ++k;
  }
  if (k == j) return 0;
  if (k < n && text[k] == ';') ++k;
  const std::u32string_view name = text.substr(j, k - j);
  if (std::optional<std::string_view> v = find_html5(name)) {
    append_utf8(out, *v);
    return k - i;
  }
  for (size_t len = name.size() - 1; len >= 2; --len) {
    if (std::optional<std::string_view> v = find_html5(name.substr(0, len))) {
      append_utf8(out, *v);
      out.append(name.substr(len));
      return k - i;
    }
  }
  return 0;  // left as it is
}

}  // namespace

char32_t c1_as_windows1252(char32_t c) {
  // Windows-1252's characters for the bytes 0x80..0x9F; its five undefined bytes stay C1 controls.
  static constexpr char32_t kTable[32] = {
      0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};
  return c >= 0x80 && c <= 0x9F ? kTable[c - 0x80] : c;
}

std::u32string html_unescape(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t len = text[i] == '&' ? unescape_one(text, i, out) : 0;
    if (len == 0) {
      out.push_back(text[i]);
      len = 1;
    }
    i += len;
  }
  return out;
}

std::u32string ftfy_unescape_html(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    // ftfy's HTML_ENTITY_RE: &#?[0-9A-Za-z]{1,24};
    size_t len = 0;
    if (text[i] == '&') {
      const size_t j = i + 1 + (i + 1 < n && text[i + 1] == '#' ? 1 : 0);
      size_t k = j;
      while (k < n && k - j <= 24 && is_ascii_alnum(text[k])) ++k;
      if (k > j && k - j <= 24 && k < n && text[k] == ';') len = k + 1 - i;
    }
    if (len == 0) {
      out.push_back(text[i++]);
      continue;
    }
    const std::u32string_view entity = text.substr(i, len);
    const std::optional<std::string> name = ascii(entity.substr(1));
    std::optional<std::string_view> value;
    if (entity[1] != '#') {
      value = find_entity(std::begin(kHtml5Entities), std::end(kHtml5Entities), *name);
      if (!value) {
        value = find_entity(std::begin(kFtfyUpperEntities), std::end(kFtfyUpperEntities), *name);
      }
    }
    if (value) {
      append_utf8(out, *value);
    } else if (entity[1] == '#') {
      // A numeric reference counts only when html.unescape consumes all of it, ';' included.
      const std::u32string decoded = html_unescape(entity);
      out += decoded.find(U';') == std::u32string::npos ? decoded : std::u32string(entity);
    } else {
      out += entity;
    }
    i += len;
  }
  return out;
}

}  // namespace xrs::clip_text
