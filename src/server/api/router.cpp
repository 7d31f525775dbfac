#include "server/api/router.h"

#include <exception>
#include <string>
#include <string_view>

#include "core/sha256.h"
#include "core/strings.h"
#include "server/api/handlers.h"

namespace xrs {
namespace {

using api::BodyKind;
using api::Route;

// The media type of a Content-Type value, without parameters, lower-cased.
std::string media_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  return ascii_lower(type);
}

// Compares the SHA-256 digests of the two tokens byte by byte without an early exit, so that the
// time taken reveals neither the token's length nor how much of it matched.
bool token_matches(std::string_view given, std::string_view expected) {
  const std::string a = sha256_hex(given);
  const std::string b = sha256_hex(expected);
  unsigned diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned>(a[i] ^ b[i]);
  return diff == 0;
}

bool authorized(const HttpRequest& request, const std::string& token) {
  auto header = request.header("Authorization");
  if (!header) return false;
  constexpr std::string_view kScheme = "bearer ";
  if (!istarts_with(*header, kScheme)) return false;
  return token_matches(header->substr(kScheme.size()), token);
}

// Whether a request for `path` needs the token: when any route of the path does; an unknown path
// does when it is under /api/ (so that a client without the token cannot probe for routes).
bool needs_token(const std::vector<api::PathMatch>& matches, std::string_view path) {
  if (matches.empty()) return path.starts_with("/api/");
  for (const api::PathMatch& m : matches) {
    if (m.route->access.needs_token) return true;
  }
  return false;
}

// "GET, HEAD" / "POST" / "GET, HEAD, POST": the methods of the matched routes, each once.
std::string allowed_methods(const std::vector<api::PathMatch>& matches) {
  std::string out;
  for (api::Method method : {api::Method::kGet, api::Method::kPost}) {
    for (const api::PathMatch& m : matches) {
      if (m.route->method != method) continue;
      out += (out.empty() ? "" : ", ") + std::string(api::allow_header_value(method));
      break;
    }
  }
  return out;
}

}  // namespace

ApiRouter::ApiRouter(const SearchBackend& backend, RouterOptions options)
    : backend_(backend), options_(std::move(options)) {
  if (options_.preview_cache_bytes > 0) {
    thumbnails_ = std::make_unique<api::ThumbnailCache>(options_.preview_cache_bytes);
  }
}

ApiRouter::~ApiRouter() = default;

std::variant<ApiRouter::Selected, HttpResponse> ApiRouter::select(
    const HttpRequest& request) const {
  std::vector<api::PathMatch> matches = api::match_routes(request.path);
  if (!options_.api_token.empty() && needs_token(matches, request.path) &&
      !authorized(request, options_.api_token)) {
    HttpResponse response =
        error_response(401, "unauthenticated",
                       "this server requires an API token: send 'Authorization: Bearer <token>'");
    response.set_header("WWW-Authenticate", "Bearer realm=\"xray-search\"");
    return response;
  }
  if (matches.empty()) {
    return error_response(404, "not_found", "no such route: " + clip_for_message(request.path));
  }
  api::PathMatch* chosen = nullptr;
  for (api::PathMatch& m : matches) {
    if (api::method_matches(m.route->method, request.method)) {
      chosen = &m;
      break;
    }
  }
  if (chosen == nullptr) {
    const std::string allowed = allowed_methods(matches);
    HttpResponse response = error_response(405, "method_not_allowed",
                                           "method " + clip_for_message(request.method, 16) +
                                               " is not allowed here; allowed: " + allowed);
    response.set_header("Allow", allowed);
    return response;
  }
  const Route& route = *chosen->route;
  if (route.body != BodyKind::kNone) {
    const std::string type = media_type(request.header("Content-Type").value_or(""));
    const char* expected =
        route.body == BodyKind::kMultipart ? "multipart/form-data" : "application/json";
    if (type != expected) {
      return error_response(415, "unsupported_media_type",
                            std::string("send the request as Content-Type: ") + expected +
                                (type.empty() ? std::string(" (none was given)")
                                              : ", not " + clip_for_message(type, 40)));
    }
  }
  return Selected{&route, std::move(chosen->params)};
}

std::optional<HttpResponse> ApiRouter::precheck(const HttpRequest& request) const {
  auto selected = select(request);
  if (auto* rejection = std::get_if<HttpResponse>(&selected)) {
    add_security_headers(*rejection);
    return std::move(*rejection);
  }
  return std::nullopt;
}

size_t ApiRouter::body_limit(const HttpRequest& request) const {
  for (const api::PathMatch& m : api::match_routes(request.path)) {
    if (!api::method_matches(m.route->method, request.method)) continue;
    return m.route->body_limit == nullptr ? 0 : options_.*(m.route->body_limit);
  }
  return 0;
}

HttpResponse ApiRouter::dispatch(const HttpRequest& request) const {
  auto selected = select(request);
  if (auto* rejection = std::get_if<HttpResponse>(&selected)) return std::move(*rejection);
  const Selected& s = std::get<Selected>(selected);
  const api::RouteContext context{backend_, options_, request, s.params, thumbnails_.get()};
  return s.route->handler(context);
}

HttpResponse ApiRouter::handle(const HttpRequest& request) const {
  HttpResponse response;
  // The edge of the module: nothing thrown below (bad_alloc, a JSON library surprise) may escape
  // as anything but a 500.
  try {
    response = dispatch(request);
  } catch (const std::exception& e) {
    response = error_response(500, "internal", std::string("internal error: ") + e.what());
  } catch (...) {
    response = error_response(500, "internal", "internal error");
  }
  add_security_headers(response);
  return response;
}

}  // namespace xrs
