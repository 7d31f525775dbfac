// The caller of a request as the security layer established it, and the scopes a token grants.
// Plain values; safe to copy between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace xrs::security {

// What a token may do (docs/SECURITY.md, "Scopes"): a bit set.
enum class Scope : uint8_t {
  kSearch = 1,  // the search routes
  kImages = 2,  // indexed images and their previews
  kAdmin = 4,   // anything that changes the server's state, and operational routes
};
using Scopes = uint8_t;
inline constexpr Scopes kNoScopes = 0;
inline constexpr Scopes kAllScopes = 7;

constexpr Scopes scope_bit(Scope s) {
  return static_cast<Scopes>(s);
}
constexpr bool has_scope(Scopes scopes, Scope s) {
  return (scopes & scope_bit(s)) != 0;
}

// "search", "images", "admin".
std::string_view scope_name(Scope scope);
// "search,images" (in that order), "" for none.
std::string scopes_text(Scopes scopes);
// A comma-separated list of scope names, or "all"; kInvalidArgument naming an unknown or repeated
// name, or an empty list.
StatusOr<Scopes> parse_scopes(std::string_view text);

struct Principal {
  std::string name;  // the token's name; empty for an anonymous caller
  Scopes scopes = kNoScopes;

  bool authenticated() const { return !name.empty(); }
};

}  // namespace xrs::security
