// Internal helpers of the dataset module for building messages and comparing names.
#pragma once

#include <string>
#include <string_view>

namespace xrs::dataset_internal {

// `text` made safe to print on one line: control characters and bytes that are not UTF-8 are
// escaped (\n, \t, \x1B, \xFF), as are '\\' and '\'', so that a hostile name cannot forge
// report lines.
std::string escaped(std::string_view text);

// escaped(text) in single quotes.
inline std::string quote_name(std::string_view text) {
  std::string out(1, '\'');
  out += escaped(text);
  out += '\'';
  return out;
}

// ASCII lower case (extensions are ASCII; other bytes are left alone).
std::string ascii_lower(std::string_view text);

// The extension of the last path component, dot included and lower-cased ("A.PNG" → ".png"),
// or "" when it has none ("README", ".hidden").
std::string extension_of(std::string_view name);

}  // namespace xrs::dataset_internal
