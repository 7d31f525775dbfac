#include "fetch/url.h"

#include <algorithm>
#include <cctype>

#include "core/strings.h"

namespace xrs {

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

Status bad_url(std::string_view url, std::string_view why) {
  return Status::invalid_argument("URL '" + std::string(url) + "': " + std::string(why));
}

}  // namespace

StatusOr<UrlParts> parse_url(std::string_view url) {
  for (const char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) return bad_url(url, "contains a space or control character");
  }
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) return bad_url(url, "has no scheme (https://)");
  UrlParts parts;
  parts.scheme = ascii_lower(url.substr(0, sep));
  if (!std::all_of(parts.scheme.begin(), parts.scheme.end(), [](unsigned char c) {
        return std::isalnum(c) != 0 || c == '+' || c == '-' || c == '.';
      })) {
    return bad_url(url, "has an invalid scheme");
  }
  const std::string_view rest = url.substr(sep + 3);
  const size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (authority.find('@') != std::string_view::npos) {
    return bad_url(url, "carries credentials (user@host); they are not accepted in URLs");
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad_url(url, "has an unclosed '[' in its host");
    parts.host = ascii_lower(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad_url(url, "has text after its IPv6 host");
      port = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    parts.host = ascii_lower(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (parts.host.empty()) return bad_url(url, "has no host");
  if (!port.empty() && !all_digits(port)) return bad_url(url, "has an invalid port");
  std::string_view path = "/";
  if (end != std::string_view::npos && rest[end] == '/') {
    path = rest.substr(end);
    path = path.substr(0, path.find_first_of("?#"));
  }
  parts.path.assign(path.begin(), path.end());
  return parts;
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  if (host.substr(0, 4) != "127.") return false;
  // A dotted quad 127.a.b.c with decimal parts in 0..255.
  int parts = 0;
  size_t begin = 0;
  while (begin <= host.size()) {
    size_t end = host.find('.', begin);
    if (end == std::string_view::npos) end = host.size();
    const std::string_view part = host.substr(begin, end - begin);
    if (!all_digits(part) || part.size() > 3 || std::stoi(std::string(part)) > 255) return false;
    ++parts;
    begin = end + 1;
  }
  return parts == 4;
}

Status check_download_url(std::string_view url, bool allow_http_loopback) {
  XRS_ASSIGN_OR_RETURN(UrlParts parts, parse_url(url));
  if (parts.scheme == "https") return Status::ok();
  if (parts.scheme == "http") {
    if (allow_http_loopback && is_loopback_host(parts.host)) return Status::ok();
    return bad_url(url, allow_http_loopback
                            ? "plain http is accepted only for a loopback host; use https"
                            : "plain http is refused; use https");
  }
  return bad_url(url, "scheme '" + parts.scheme + "' is not supported; use https");
}

std::string github_blob_to_raw(std::string_view url) {
  constexpr std::string_view kPrefixes[] = {"https://github.com/", "http://github.com/",
                                            "https://www.github.com/"};
  std::string_view rest;
  bool matched = false;
  for (std::string_view prefix : kPrefixes) {
    if (url.substr(0, prefix.size()) == prefix) {
      rest = url.substr(prefix.size());
      matched = true;
      break;
    }
  }
  if (!matched) return std::string(url);
  // OWNER/REPO/blob/REF/PATH...: four non-empty components before a non-empty path.
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    if (rest.substr(q) != "?raw=true") return std::string(url);
    rest = rest.substr(0, q);
  }
  if (rest.find('#') != std::string_view::npos) return std::string(url);
  size_t pos = 0;
  std::string_view comps[4];
  for (std::string_view& comp : comps) {
    const size_t slash = rest.find('/', pos);
    if (slash == std::string_view::npos) return std::string(url);
    comp = rest.substr(pos, slash - pos);
    if (comp.empty()) return std::string(url);
    pos = slash + 1;
  }
  const std::string_view path = rest.substr(pos);
  if (comps[2] != "blob" || path.empty()) return std::string(url);
  return "https://raw.githubusercontent.com/" + std::string(comps[0]) + "/" +
         std::string(comps[1]) + "/" + std::string(comps[3]) + "/" + std::string(path);
}

}  // namespace xrs
