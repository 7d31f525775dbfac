// The HTTP API and web UI as a pure function of a request: ApiRouter maps an HttpRequest to an
// HttpResponse, calling only SearchBackend. The routes are the table in route_table.h (one entry
// each: method, path pattern, body kind and limit, access, handler, OpenAPI operation);
// docs/API.md is the user's description of every route, GET /api/openapi.json (generated from
// the table) the machine-readable one.
//
// HEAD is accepted wherever GET is. Other methods on a known path get 405 with Allow; unknown
// paths 404. Every response carries add_security_headers(); errors are JSON (http_message.h).
//
// Security (docs/SECURITY.md): with tokens (RouterOptions::api_token and/or ::tokens), every
// route whose Access needs a token, and every unknown /api/ path, needs "Authorization: Bearer
// <token>": 401 without a valid one (before 404/405, so that routes do not reveal themselves),
// 403 when the token lacks the route's scope. Each client (the token's name, else the address)
// has a request rate under /api/ and a number of uploads in flight (RouterOptions::rate_limit):
// 429 with Retry-After past them. Requests to audited routes (Route::audit), and every 401, 403
// and 429, are written to the audit log when there is one.
//
// Every response is counted in the metrics (GET /metrics, api/metrics.h).
//
// Thread-safety: all methods are const and may be called from many threads at once; the preview
// cache and the rate limiter inside are guarded by their own mutexes. The backend must outlive
// the router.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "server/api/route_table.h"
#include "server/http_message.h"
#include "server/security/audit_log.h"
#include "server/security/auth.h"
#include "server/security/rate_limit.h"
#include "service/search_service.h"

namespace xrs {

struct RouterOptions {
  // One token with every scope, called "api-token" in the logs (the --api-token-file token).
  std::string api_token;
  // Named tokens with scopes (a token file); may be null. With neither, no authentication.
  std::shared_ptr<const security::Authenticator> tokens;
  security::RateLimitOptions rate_limit;      // default: no limits
  std::shared_ptr<security::AuditLog> audit;  // null: no audit log
  // Serve indexed DICOM files as they are stored (with their patient data) instead of a PNG
  // rendering: `serve --serve-originals` only (docs/SECURITY.md, "De-identification").
  bool serve_originals = false;
  size_t max_upload_bytes = 32 * 1024 * 1024;  // multipart bodies (413 past it)
  size_t max_json_bytes = 64 * 1024;           // JSON bodies (413 past it)
  size_t max_query_chars = 1000;               // text queries, in Unicode code points (400 past it)
  size_t preview_cache_bytes = 64 * 1024 * 1024;  // LRU cache of rendered thumbnails; 0 = none
};

// The name the logs give the RouterOptions::api_token token.
inline constexpr char kApiTokenName[] = "api-token";

// True when requests need a token (api_token set, or tokens non-empty).
bool auth_enabled(const RouterOptions& options);

constexpr int kDefaultPreviewSize = 512;
constexpr int kMinPreviewSize = 16;
constexpr int kMaxPreviewSize = 1024;

class ApiRouter {
 public:
  ApiRouter(const SearchBackend& backend, RouterOptions options);
  ~ApiRouter();
  ApiRouter(const ApiRouter&) = delete;
  ApiRouter& operator=(const ApiRouter&) = delete;

  // A request accepted for its route: what admit() found, held until the response is sent
  // (it holds the client's upload slot).
  struct Admission {
    const api::Route* route = nullptr;
    api::PathParams params;  // views into the request's path
    security::RateLimiter::UploadSlot upload;
    bool multipart = false;  // the body is multipart/form-data (an upload)
  };

  // Everything about `request` that needs only the method, path, query and headers: the
  // principal (set into request.principal), the rate limit, route (404), method (405), scope
  // (401/403), Content-Type (415) and the client's upload slot. Returns the Admission, or the
  // rejection (already audited and with the security headers). The transport calls this before
  // reading a body, so that an unauthenticated or throttled client cannot make the server buffer
  // an upload. Counts against the client's rate: call once per request.
  std::variant<Admission, HttpResponse> admit(HttpRequest& request) const;

  // The most body bytes the admitted request may send (Route::body_limit: max_upload_bytes for
  // multipart uploads, max_json_bytes for JSON bodies, 0 for the rest); the transport stops
  // reading past it.
  size_t body_limit(const Admission& admission) const;

  // The response for an admitted request (its body read). Never throws; a bug becomes a 500
  // JSON error. Writes the audit line of audited routes.
  HttpResponse serve(const HttpRequest& request, const Admission& admission) const;

  // admit() + serve(), for callers without a socket (tests, the fuzzer).
  HttpResponse handle(HttpRequest request) const;

  const RouterOptions& options() const { return options_; }

 private:
  HttpResponse reject(const HttpRequest& request, const api::Route* route,
                      HttpResponse response) const;
  void audit(const HttpRequest& request, const api::Route* route,
             const HttpResponse& response) const;

  const SearchBackend& backend_;
  RouterOptions options_;
  std::unique_ptr<api::ThumbnailCache> thumbnails_;
  security::Authenticator auth_;  // api_token and tokens together
  std::unique_ptr<security::RateLimiter> limiter_;
  std::unique_ptr<api::Metrics> metrics_;  // GET /metrics
};

}  // namespace xrs
