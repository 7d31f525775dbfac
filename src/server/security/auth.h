// Who is calling: API tokens with names and scopes (docs/SECURITY.md, "Tokens").
//
// A token file holds one token per line, as its SHA-256 digest, never the token itself:
//
//   # name          scopes          digest
//   reading-room    search,images   sha256:3f1c...  (64 lower-case hex digits)
//   monitoring      search          sha256:9ab0...
//
// Blank lines and lines starting with '#' are ignored. A name is 1-64 characters of
// [A-Za-z0-9._-]; scopes are a comma-separated list of "search", "images", "admin" (or "all").
// `xray-search token create` writes such lines. Tokens are random (256 bits from the OS), so an
// unsalted SHA-256 cannot be reversed by guessing; a stolen token file gives no token away.
//
// Checking a token: its SHA-256 is compared with every stored digest, each comparison without an
// early exit and the loop without a break, so the time taken depends only on the number of
// tokens: never on how much of a token matched or which entry it is.
//
// Thread-safety: an Authenticator is immutable once built; authenticate() may be called from any
// number of threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "server/security/principal.h"

namespace xrs::security {

// The digest of a token as stored in a token file: "sha256:<64 hex digits>".
std::string token_digest_text(std::string_view token);

// A new random token: "xrs_" and 43 base64url characters (32 bytes from getrandom()).
// kUnavailable when the OS has no randomness to give.
StatusOr<std::string> generate_token();

// One line of a token file ("<name> <scopes> sha256:<hex>", without newline).
std::string token_file_line(std::string_view name, Scopes scopes, std::string_view token);

// Checks a token name: 1-64 characters of [A-Za-z0-9._-] (kInvalidArgument naming it otherwise).
Status check_token_name(std::string_view name);

class Authenticator {
 public:
  // No tokens: enabled() is false and every request is anonymous.
  Authenticator() = default;

  // Parses token file text; `origin` names it in messages ("<origin>:<line>: ..."). Errors
  // (kInvalidArgument): a malformed line, a bad name, an unknown scope, a digest that is not
  // "sha256:" and 64 hex digits, a name or digest used twice.
  static StatusOr<Authenticator> parse(std::string_view text, const std::string& origin);
  // parse() of a file (at most 1 MiB); kNotFound when it does not exist.
  static StatusOr<Authenticator> load(const std::string& path);

  // Adds a token given in plain text (the single --api-token-file / $XRAY_API_TOKEN token); it is
  // hashed at once and not kept. kInvalidArgument for an empty token or a name or token already
  // present.
  Status add_token(std::string_view name, std::string_view token, Scopes scopes);

  // True when at least one token is configured (then routes that need a token check for one).
  bool enabled() const { return !entries_.empty(); }
  size_t size() const { return entries_.size(); }

  // The principal an Authorization header value stands for: kNone without a header, kInvalid for
  // another scheme or an unknown token, kValid with the token's name and scopes otherwise.
  enum class Outcome { kNone, kValid, kInvalid };
  struct Result {
    Outcome outcome = Outcome::kNone;
    Principal principal;  // set when kValid
  };
  Result authenticate(std::optional<std::string_view> authorization) const;

 private:
  struct Entry {
    std::string name;
    Scopes scopes = 0;
    std::string digest;  // 64 lower-case hex digits
  };
  Status add_entry(Entry entry);

  std::vector<Entry> entries_;
};

}  // namespace xrs::security
