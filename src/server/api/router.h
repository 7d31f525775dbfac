// The HTTP API and web UI as a pure function of a request: ApiRouter maps an HttpRequest to an
// HttpResponse, calling only SearchBackend. The routes are the table in route_table.h (one entry
// each: method, path pattern, body kind and limit, access, handler, OpenAPI operation);
// docs/API.md is the user's description of every route, GET /api/openapi.json (generated from
// the table) the machine-readable one.
//
// HEAD is accepted wherever GET is. Other methods on a known path get 405 with Allow; unknown
// paths 404. Every response carries add_security_headers(); errors are JSON (http_message.h).
// With RouterOptions::api_token set, every route whose Access needs a token (all of /api/ but
// /api/health), and every unknown /api/ path, needs "Authorization: Bearer <token>" (401
// otherwise, before 404/405, so that routes do not reveal themselves; compared in constant time).
//
// Thread-safety: all methods are const and may be called from many threads at once; the preview
// cache inside is guarded by its own mutex. The backend must outlive the router.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "server/api/route_table.h"
#include "server/http_message.h"
#include "service/search_service.h"

namespace xrs {

struct RouterOptions {
  std::string api_token;                       // empty: no authentication
  size_t max_upload_bytes = 32 * 1024 * 1024;  // multipart bodies (413 past it)
  size_t max_json_bytes = 64 * 1024;           // JSON bodies (413 past it)
  size_t max_query_chars = 1000;               // text queries, in Unicode code points (400 past it)
  size_t preview_cache_bytes = 64 * 1024 * 1024;  // LRU cache of rendered thumbnails; 0 = none
};

constexpr int kDefaultPreviewSize = 512;
constexpr int kMinPreviewSize = 16;
constexpr int kMaxPreviewSize = 1024;

class ApiRouter {
 public:
  ApiRouter(const SearchBackend& backend, RouterOptions options);
  ~ApiRouter();
  ApiRouter(const ApiRouter&) = delete;
  ApiRouter& operator=(const ApiRouter&) = delete;

  // The response for `request`. Never throws; a bug becomes a 500 JSON error.
  HttpResponse handle(const HttpRequest& request) const;

  // The part of handle() that needs only the method, path, query and headers: authentication,
  // unknown route (404), wrong method (405), wrong Content-Type for a POST (415). Returns the
  // rejection, or nullopt when the body should be read. The socket layer calls this before
  // reading a body, so that an unauthenticated client cannot make the server buffer an upload.
  std::optional<HttpResponse> precheck(const HttpRequest& request) const;

  // The most body bytes `request`'s route accepts (its Route::body_limit: max_upload_bytes for
  // image uploads, max_json_bytes for JSON routes, 0 for the rest); the socket layer stops
  // reading past it.
  size_t body_limit(const HttpRequest& request) const;

  const RouterOptions& options() const { return options_; }

 private:
  // The route for `request`, or the rejection (401, 404, 405, 415).
  struct Selected {
    const api::Route* route = nullptr;
    api::PathParams params;
  };
  std::variant<Selected, HttpResponse> select(const HttpRequest& request) const;
  HttpResponse dispatch(const HttpRequest& request) const;

  const SearchBackend& backend_;
  RouterOptions options_;
  std::unique_ptr<api::ThumbnailCache> thumbnails_;
};

}  // namespace xrs
