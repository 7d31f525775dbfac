// URLs for downloads: which ones xray-search may fetch, and the GitHub "blob" → raw rewrite.
//
// Policy: downloads use https. Plain http is accepted only for a loopback host (127.0.0.0/8,
// ::1, localhost) and only when the caller allows it (the tests' local servers, a mirror on the
// same machine); every redirect hop is checked against the same policy. Pure functions: safe
// from any thread.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace xrs {

struct UrlParts {
  std::string scheme;  // lower case: "https"
  std::string host;    // lower case, without brackets for IPv6: "::1"
  std::string path;    // "/a/b.png" (percent-escapes kept), "/" when absent
};

// Splits an absolute URL. kInvalidArgument naming the URL when it has no scheme or host, holds
// whitespace or control characters, or carries user:password credentials.
StatusOr<UrlParts> parse_url(std::string_view url);

// Whether `host` (as parse_url returns it) names this machine: localhost, 127.x.y.z or ::1.
bool is_loopback_host(std::string_view host);

// OK when `url` may be fetched: https, or http to a loopback host when `allow_http_loopback`.
// kInvalidArgument otherwise, naming the URL and the rule.
Status check_download_url(std::string_view url, bool allow_http_loopback);

// A GitHub page URL for a file, https://github.com/OWNER/REPO/blob/REF/PATH (optionally
// "?raw=true"), as the URL of its bytes, https://raw.githubusercontent.com/OWNER/REPO/REF/PATH.
// Any other URL is returned unchanged.
std::string github_blob_to_raw(std::string_view url);

}  // namespace xrs
