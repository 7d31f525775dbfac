// Turns fuzz input into an HttpRequest (server/http_message.h), the way the socket layer would
// hand one to ApiRouter. The input is written like an HTTP/1.1 request, so that seeds are
// readable and mutations stay meaningful:
//
//   METHOD TARGET[ anything]            TARGET = path[?query]; the path is percent-decoded, the
//   Name: value                         query split at '&' and '=' and decoded ('+' is a space)
//   ...                                 (lines end with LF or CRLF)
//                                       a blank line, then the body
//   body...
//
// A body whose Content-Type is multipart/form-data with a boundary is split into form parts
// (Content-Disposition name and filename, Content-Type, content) and not kept as `body`; parts
// that are cut off are dropped, as a server would drop them. Anything malformed is taken
// leniently: this never fails.
#pragma once

#include <string_view>

#include "server/http_message.h"

namespace xrs::fuzz {

HttpRequest parse_request_text(std::string_view text);

// Percent-decodes `text` ("%41" → "A"); '+' becomes a space when `plus_is_space`. Malformed
// escapes are kept as they are.
std::string percent_decode(std::string_view text, bool plus_is_space);

}  // namespace xrs::fuzz
