// Small string helpers every module needs: ASCII case folding, UTF-8 checking and counting,
// quoting untrusted text in messages, escaping text for HTML and base64 (RFC 4648). Plain functions
// of their arguments; thread-safe.
//
// UTF-8 here is RFC 3629's: shortest form only, no surrogates (U+D800..U+DFFF), nothing past
// U+10FFFF. Every function taking UTF-8 accepts arbitrary bytes without reading past the view.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace xrs {

// ASCII case folding: 'A'..'Z' become 'a'..'z'; every other byte (UTF-8 included) is unchanged,
// whatever the C locale says.
std::string ascii_lower(std::string_view text);
// ASCII case-insensitive equality (header names, media types, URL schemes).
bool iequals(std::string_view a, std::string_view b);
// ASCII case-insensitive `text.starts_with(prefix)`.
bool istarts_with(std::string_view text, std::string_view prefix);

// The code point starting at text[i] (i < text.size()) into *out, returning its length in bytes
// (1..4), or 0 when the sequence there is malformed or cut short (then *out is unchanged).
size_t utf8_decode(std::string_view text, size_t i, char32_t* out);
// Offset of the first byte that does not start a well-formed sequence, or npos when all of
// `text` is well-formed UTF-8.
size_t utf8_error_offset(std::string_view text);
// True when `text` is well-formed UTF-8.
inline bool utf8_valid(std::string_view text) {
  return utf8_error_offset(text) == std::string_view::npos;
}
// The number of code points of well-formed UTF-8 `text` (bytes that are not continuation bytes;
// for malformed text, an upper bound on what a lenient decoder would count).
size_t utf8_length(std::string_view text);

// `text` cut to at most `max_bytes` bytes for quoting in a message, with "..." appended when cut.
// The cut falls on a code point boundary, so well-formed UTF-8 stays well-formed.
std::string clip_for_message(std::string_view text, size_t max_bytes = 60);

// `text` made safe to print on one line of a report or message: control characters and bytes
// that are not well-formed UTF-8 are escaped (\n, \r, \t, otherwise \xHH with upper-case hex), as
// are '\\' and '\''; well-formed non-ASCII characters are kept. A hostile file name can then
// neither forge lines nor break out of the quotes of quote_for_message().
std::string escape_for_message(std::string_view text);
// escape_for_message(text) in single quotes: 'name'.
std::string quote_for_message(std::string_view text);

// `text` made safe for one space-separated field of a log line: every byte outside '!'..'~',
// and '%', becomes %HH (upper-case hex); cut to `max_bytes` input bytes first, with "..." when
// cut. Reversible by percent-decoding (up to the cut).
std::string escape_for_log(std::string_view text, size_t max_bytes = 200);

// `text` safe inside HTML element content and quoted attribute values: & < > " ' become
// &amp; &lt; &gt; &quot; &#39;; every other byte is unchanged.
std::string html_escape(std::string_view text);

// RFC 4648 section 4 base64 of `bytes`, padded with '=' to a multiple of 4 characters (data: URIs).
std::string base64_encode(std::string_view bytes);
// RFC 4648 section 5 base64url ('-' and '_' for '+' and '/'), without padding (tokens in URLs).
std::string base64url_encode(std::string_view bytes);

}  // namespace xrs
