// Internal helpers of the dataset module for comparing names. (Escaping and quoting names in
// messages: core/strings.h, escape_for_message and quote_for_message.)
#pragma once

#include <string>
#include <string_view>

#include "core/strings.h"

namespace xrs::dataset_internal {

// The extension of the last path component, dot included and lower-cased ("A.PNG" → ".png"),
// or "" when it has none ("README", ".hidden").
std::string extension_of(std::string_view name);

}  // namespace xrs::dataset_internal
