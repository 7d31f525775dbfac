// The HTTP API as one declarative table: every route the server answers is one Route below, and
// everything about routing derives from the table: path matching, 404 and 405 (with Allow), the
// Content-Type check (415), the body limit the transport enforces before buffering, the token
// check, the handler call, and the "paths" of GET /api/openapi.json. Adding a route is adding one
// entry to routes() (route_table.cpp) and its handler; docs/API.md describes it for people.
//
// Paths are patterns of '/'-separated segments: a literal segment matches itself, a "{name}"
// segment matches exactly one non-empty segment and is passed to the handler as a parameter
// ("/api/images/{id}/preview"). The same pattern is the route's OpenAPI path.
//
// Plain static data and pure functions: safe from any thread.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/http_message.h"
#include "server/security/principal.h"
#include "service/search_service.h"

namespace xrs {

struct RouterOptions;

namespace api {

class ThumbnailCache;

enum class Method {
  kGet,  // also answers HEAD
  kPost,
};

// What a route reads as its body: nothing (a body is refused by the transport), a JSON document
// (Content-Type application/json), a multipart/form-data upload, or either of the last two
// (kJsonOrMultipart: a JSON request that may come with uploads, as POST /api/search/combined).
// Multipart requests take the client's upload slot and max_upload_bytes as their body limit.
enum class BodyKind { kNone, kJson, kMultipart, kJsonOrMultipart };

// Who may call a route (docs/SECURITY.md, "Scopes"). When the server has tokens, a route with
// needs_token answers 401 to a request without a valid "Authorization: Bearer <token>", and 403
// when the token lacks one of `scopes` (kNoScopes: any valid token will do). Without tokens every
// route is open (the server refuses to listen beyond loopback that way).
struct Access {
  bool needs_token = true;
  security::Scopes scopes = security::kNoScopes;
};
inline constexpr Access kPublic{false, security::kNoScopes};
inline constexpr Access kAnyToken{true, security::kNoScopes};
inline constexpr Access kSearchScope{true, security::scope_bit(security::Scope::kSearch)};
inline constexpr Access kImagesScope{true, security::scope_bit(security::Scope::kImages)};
inline constexpr Access kAdminScope{true, security::scope_bit(security::Scope::kAdmin)};

// A path parameter: the pattern's {name} and the request's segment.
using PathParams = std::vector<std::pair<std::string_view, std::string_view>>;

// What a handler gets: the backend, the router's options, the request and its path parameters.
class Metrics;

struct RouteContext {
  const SearchBackend& backend;
  const RouterOptions& options;
  const HttpRequest& request;
  const PathParams& params;
  ThumbnailCache* thumbnails;  // may be null (no preview cache)
  const Metrics* metrics;      // may be null (no /metrics)

  // The parameter called `name` (the route's pattern has it; empty otherwise).
  std::string_view param(std::string_view name) const;
};

using Handler = HttpResponse (*)(const RouteContext& context);

struct Route {
  std::string_view path;  // pattern, e.g. "/api/images/{id}"
  Method method;
  BodyKind body;
  // The RouterOptions field holding the most body bytes accepted (nullptr for kNone; for
  // kJsonOrMultipart, the JSON limit: a multipart request has max_upload_bytes).
  size_t RouterOptions::*body_limit;
  Access access;
  // The audit log's event for this route ("search.text", "image.open", ...; docs/SECURITY.md):
  // every request that reaches the route is written there, whatever its outcome. Empty: the
  // route is not audited (the UI, health, the API description).
  std::string_view audit;
  Handler handler;
  // The OpenAPI 3.0 operation object of this route and method, as JSON text (summary,
  // operationId, parameters, requestBody, responses). "security": [] is added for public routes.
  std::string_view openapi;
  // An extra condition on a matched path (the UI's files: only embedded ones); null: none.
  bool (*accepts)(std::string_view path) = nullptr;
};

// Every route, in matching order.
std::span<const Route> routes();

// The method's name in Allow headers and messages ("GET, HEAD" / "POST"), and in OpenAPI ("get").
std::string_view allow_header_value(Method method);
std::string_view openapi_method(Method method);
// Whether `request_method` ("GET", "HEAD", ...) is answered by a route of `method`.
bool method_matches(Method method, std::string_view request_method);

// When `path` matches `pattern`, its parameters (possibly none); else false.
bool match_path(std::string_view pattern, std::string_view path, PathParams* params);

// The routes whose pattern (and extra condition) matches `path`, in table order.
struct PathMatch {
  const Route* route;
  PathParams params;
};
std::vector<PathMatch> match_routes(std::string_view path);

}  // namespace api
}  // namespace xrs
