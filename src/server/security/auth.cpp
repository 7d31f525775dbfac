#include "server/security/auth.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/file_util.h"
#include "core/sha256.h"
#include "core/strings.h"

namespace xrs::security {
namespace {

constexpr std::string_view kDigestPrefix = "sha256:";
constexpr size_t kDigestHexDigits = 64;
constexpr uint64_t kMaxTokenFileBytes = 1 << 20;

bool is_lower_hex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Equal-length strings compared without an early exit.
bool same_digest(std::string_view a, std::string_view b) {
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) diff |= static_cast<unsigned>(a[i] ^ b[i]);
  return diff == 0;
}

// The whitespace-separated fields of a line.
std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace

std::string_view scope_name(Scope scope) {
  switch (scope) {
    case Scope::kSearch:
      return "search";
    case Scope::kImages:
      return "images";
    case Scope::kAdmin:
      return "admin";
  }
  return "?";
}

std::string scopes_text(Scopes scopes) {
  std::string out;
  for (Scope s : {Scope::kSearch, Scope::kImages, Scope::kAdmin}) {
    if (!has_scope(scopes, s)) continue;
    if (!out.empty()) out += ',';
    out += scope_name(s);
  }
  return out;
}

StatusOr<Scopes> parse_scopes(std::string_view text) {
  if (text == "all") return kAllScopes;
  Scopes scopes = kNoScopes;
  size_t start = 0;
  while (true) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view name = text.substr(start, comma - start);
    Scopes bit = kNoScopes;
    for (Scope s : {Scope::kSearch, Scope::kImages, Scope::kAdmin}) {
      if (name == scope_name(s)) bit = scope_bit(s);
    }
    if (bit == kNoScopes) {
      return Status::invalid_argument("unknown scope " + quote_for_message(name) +
                                      " (scopes: search, images, admin, or all)");
    }
    if ((scopes & bit) != 0) {
      return Status::invalid_argument("scope " + std::string(name) + " is listed twice");
    }
    scopes |= bit;
    if (comma == text.size()) break;
    start = comma + 1;
  }
  return scopes;
}

std::string token_digest_text(std::string_view token) {
  return std::string(kDigestPrefix) + sha256_hex(token);
}

StatusOr<std::string> generate_token() {
  uint8_t bytes[32];
  size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::unavailable(std::string("cannot get random bytes from the OS: ") +
                                 std::strerror(errno));
    }
    got += static_cast<size_t>(n);
  }
  return "xrs_" +
         base64url_encode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

std::string token_file_line(std::string_view name, Scopes scopes, std::string_view token) {
  return std::string(name) + ' ' + scopes_text(scopes) + ' ' + token_digest_text(token);
}

Status check_token_name(std::string_view name) {
  const bool ok_chars = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
  if (name.empty() || name.size() > 64 || !ok_chars) {
    return Status::invalid_argument("token name " + quote_for_message(name) +
                                    " is not 1-64 characters of letters, digits, '.', '_', '-'");
  }
  return Status::ok();
}

Status Authenticator::add_entry(Entry entry) {
  XRS_RETURN_IF_ERROR(check_token_name(entry.name));
  for (const Entry& e : entries_) {
    if (e.name == entry.name) {
      return Status::invalid_argument("token name " + entry.name + " is used twice");
    }
    if (e.digest == entry.digest) {
      return Status::invalid_argument("tokens " + e.name + " and " + entry.name +
                                      " are the same token");
    }
  }
  entries_.push_back(std::move(entry));
  return Status::ok();
}

Status Authenticator::add_token(std::string_view name, std::string_view token, Scopes scopes) {
  if (token.empty()) return Status::invalid_argument("the API token is empty");
  return add_entry({std::string(name), scopes, sha256_hex(token)});
}

StatusOr<Authenticator> Authenticator::parse(std::string_view text, const std::string& origin) {
  Authenticator auth;
  size_t line_no = 0;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto fields = fields_of(line);
    if (fields.empty() || fields[0].starts_with('#')) continue;
    const std::string where = origin + ":" + std::to_string(line_no) + ": ";
    if (fields.size() != 3) {
      return Status::invalid_argument(where +
                                      "expected '<name> <scopes> sha256:<hex digest>', got " +
                                      std::to_string(fields.size()) + " fields");
    }
    auto scopes = parse_scopes(fields[1]);
    if (!scopes.is_ok()) return scopes.status().with_context(where.substr(0, where.size() - 2));
    const std::string_view digest = fields[2];
    if (!digest.starts_with(kDigestPrefix) ||
        digest.size() != kDigestPrefix.size() + kDigestHexDigits ||
        !is_lower_hex(digest.substr(kDigestPrefix.size()))) {
      return Status::invalid_argument(
          where +
          "the digest must be 'sha256:' and 64 lower-case hex digits (a token file holds "
          "digests, never tokens; 'xray-search token create' writes the line)");
    }
    Status added = auth.add_entry(
        {std::string(fields[0]), *scopes, std::string(digest.substr(kDigestPrefix.size()))});
    if (!added.is_ok()) return added.with_context(where.substr(0, where.size() - 2));
  }
  return auth;
}

StatusOr<Authenticator> Authenticator::load(const std::string& path) {
  XRS_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxTokenFileBytes));
  return parse(text, path);
}

Authenticator::Result Authenticator::authenticate(
    std::optional<std::string_view> authorization) const {
  if (!authorization) return {};
  constexpr std::string_view kScheme = "bearer ";
  if (!istarts_with(*authorization, kScheme)) return {Outcome::kInvalid, {}};
  std::string_view token = authorization->substr(kScheme.size());
  while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  const std::string digest = sha256_hex(token);
  const Entry* match = nullptr;
  for (const Entry& e : entries_) {
    // No break: every entry is compared, so the time does not tell which one matched.
    if (same_digest(digest, e.digest)) match = &e;
  }
  if (match == nullptr || token.empty()) return {Outcome::kInvalid, {}};
  return {Outcome::kValid, Principal{match->name, match->scopes}};
}

}  // namespace xrs::security
