#include "server/router.h"

#include <cctype>
#include <exception>
#include <string>
#include <string_view>

#include "core/sha256.h"
#include "server/routes.h"
#include "server/web_assets.h"

namespace xrs {
namespace {

using server_internal::ThumbnailCache;

enum class Route {
  kNone,
  kAsset,
  kHealth,
  kOpenApi,
  kSearchText,
  kSearchImage,
  kSearchSimilar,
  kImage,
  kPreview,
};

struct Match {
  Route route = Route::kNone;
  std::string_view image_id;        // kImage, kPreview
  const WebAsset* asset = nullptr;  // kAsset
};

constexpr std::string_view kImagesPrefix = "/api/images/";

Match match_route(std::string_view path) {
  if (path == "/api/health") return {Route::kHealth, {}, nullptr};
  if (path == "/api/openapi.json") return {Route::kOpenApi, {}, nullptr};
  if (path == "/api/search/text") return {Route::kSearchText, {}, nullptr};
  if (path == "/api/search/image") return {Route::kSearchImage, {}, nullptr};
  if (path == "/api/search/similar") return {Route::kSearchSimilar, {}, nullptr};
  if (path.starts_with(kImagesPrefix)) {
    std::string_view rest = path.substr(kImagesPrefix.size());
    constexpr std::string_view kPreviewSuffix = "/preview";
    Route route = Route::kImage;
    if (rest.ends_with(kPreviewSuffix)) {
      rest.remove_suffix(kPreviewSuffix.size());
      route = Route::kPreview;
    }
    // One non-empty segment: "../../etc/passwd" and friends never match.
    if (rest.empty() || rest.find('/') != std::string_view::npos) return {};
    return {route, rest, nullptr};
  }
  if (const WebAsset* asset = find_web_asset(path)) return {Route::kAsset, {}, asset};
  return {};
}

bool is_post_route(Route route) {
  return route == Route::kSearchText || route == Route::kSearchImage ||
         route == Route::kSearchSimilar;
}

std::string_view allowed_methods(Route route) {
  return is_post_route(route) ? "POST" : "GET, HEAD";
}

bool method_allowed(Route route, std::string_view method) {
  return is_post_route(route) ? method == "POST" : (method == "GET" || method == "HEAD");
}

// The media type of a Content-Type value, without parameters, lower-cased.
std::string media_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  std::string out(type);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
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
  if (header->size() < kScheme.size() || !iequals(header->substr(0, kScheme.size()), kScheme)) {
    return false;
  }
  return token_matches(header->substr(kScheme.size()), token);
}

bool needs_auth(std::string_view path) {
  return path.starts_with("/api/") && path != "/api/health";
}

}  // namespace

ApiRouter::ApiRouter(const SearchBackend& backend, RouterOptions options)
    : backend_(backend), options_(std::move(options)) {
  if (options_.preview_cache_bytes > 0) {
    thumbnails_ = std::make_unique<ThumbnailCache>(options_.preview_cache_bytes);
  }
}

ApiRouter::~ApiRouter() = default;

std::optional<HttpResponse> ApiRouter::precheck(const HttpRequest& request) const {
  std::optional<HttpResponse> rejection = reject_early(request);
  if (rejection) add_security_headers(*rejection);
  return rejection;
}

std::optional<HttpResponse> ApiRouter::reject_early(const HttpRequest& request) const {
  if (!options_.api_token.empty() && needs_auth(request.path) &&
      !authorized(request, options_.api_token)) {
    HttpResponse response =
        error_response(401, "unauthenticated",
                       "this server requires an API token: send 'Authorization: Bearer <token>'");
    response.set_header("WWW-Authenticate", "Bearer realm=\"xray-search\"");
    return response;
  }
  const Match match = match_route(request.path);
  if (match.route == Route::kNone) {
    return error_response(404, "not_found",
                          "no such route: " + server_internal::clip_for_message(request.path));
  }
  if (!method_allowed(match.route, request.method)) {
    HttpResponse response = error_response(
        405, "method_not_allowed",
        "method " + server_internal::clip_for_message(request.method, 16) +
            " is not allowed here; allowed: " + std::string(allowed_methods(match.route)));
    response.set_header("Allow", std::string(allowed_methods(match.route)));
    return response;
  }
  if (is_post_route(match.route)) {
    const std::string type = media_type(request.header("Content-Type").value_or(""));
    const bool upload = match.route == Route::kSearchImage;
    const char* expected = upload ? "multipart/form-data" : "application/json";
    if (type != expected) {
      return error_response(
          415, "unsupported_media_type",
          std::string("send the request as Content-Type: ") + expected +
              (type.empty() ? std::string(" (none was given)")
                            : ", not " + server_internal::clip_for_message(type, 40)));
    }
  }
  return std::nullopt;
}

size_t ApiRouter::body_limit(const HttpRequest& request) const {
  switch (match_route(request.path).route) {
    case Route::kSearchImage:
      return options_.max_upload_bytes;
    case Route::kSearchText:
    case Route::kSearchSimilar:
      return options_.max_json_bytes;
    default:
      return 0;
  }
}

HttpResponse ApiRouter::dispatch(const HttpRequest& request) const {
  if (auto rejection = reject_early(request)) return *std::move(rejection);
  const Match match = match_route(request.path);
  namespace si = server_internal;
  switch (match.route) {
    case Route::kAsset:
      return si::handle_asset(*match.asset, request);
    case Route::kHealth:
      return si::handle_health(backend_, options_);
    case Route::kOpenApi:
      return si::handle_openapi(options_);
    case Route::kSearchText:
      return si::handle_search_text(backend_, options_, request);
    case Route::kSearchImage:
      return si::handle_search_image(backend_, options_, request);
    case Route::kSearchSimilar:
      return si::handle_search_similar(backend_, options_, request);
    case Route::kImage:
      return si::handle_image(backend_, match.image_id);
    case Route::kPreview:
      return si::handle_preview(backend_, match.image_id, request, thumbnails_.get());
    case Route::kNone:
      break;
  }
  return error_response(500, "internal", "unrouted request");  // precheck rejected kNone
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
