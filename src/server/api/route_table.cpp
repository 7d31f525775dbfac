// The route table (route_table.h) and path matching.
#include "server/api/route_table.h"

#include "server/api/handlers.h"
#include "server/api/router.h"
#include "server/web_assets.h"

namespace xrs::api {
namespace {

// Only the embedded files: anything else at the top level is an unknown route (404).
bool is_ui_file(std::string_view path) {
  return path != "/" && find_web_asset(path) != nullptr;
}

// Public: the UI and /api/health (monitors and the UI's start-up need no token). Everything else
// needs a token when the server has tokens: any valid one for the API description, scope
// "search" for queries, "images" for indexed images and previews, "admin" for routes that change
// the server's state (none yet).
const Route kRoutes[] = {
    {"/", Method::kGet, BodyKind::kNone, nullptr, kPublic, "",
     [](const RouteContext& c) { return handle_asset(*find_web_asset(c.request.path), c.request); },
     R"json({
       "summary": "The web UI (index.html)", "operationId": "ui",
       "responses": {
         "200": {"description": "HTML page", "headers": {"ETag": {"schema": {"type": "string"}}},
                 "content": {"text/html": {"schema": {"type": "string"}}}},
         "304": {"description": "Not modified (If-None-Match matched the ETag)"}
       }
     })json"},
    {"/{file}", Method::kGet, BodyKind::kNone, nullptr, kPublic, "",
     [](const RouteContext& c) { return handle_asset(*find_web_asset(c.request.path), c.request); },
     R"json({
       "summary": "A file of the web UI", "operationId": "uiFile",
       "parameters": [{"name": "file", "in": "path", "required": true, "schema": {"type": "string", "enum": []}}],
       "responses": {
         "200": {"description": "The file, with its content type and an ETag",
                 "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
         "304": {"description": "Not modified"},
         "404": {"$ref": "#/components/responses/NotFound"}
       }
     })json",
     is_ui_file},
    {"/api/health", Method::kGet, BodyKind::kNone, nullptr, kPublic, "",
     [](const RouteContext& c) { return handle_health(c.backend, c.options, c.request); },
     R"json({
       "summary": "Liveness, index size, model, categories and limits", "operationId": "health",
       "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}}
     })json"},
    {"/api/openapi.json", Method::kGet, BodyKind::kNone, nullptr, kAnyToken, "",
     [](const RouteContext& c) { return handle_openapi(c.options); },
     R"json({
       "summary": "This document", "operationId": "openapi",
       "responses": {
         "200": {"description": "OpenAPI 3.0 document", "content": {"application/json": {"schema": {"type": "object"}}}},
         "401": {"$ref": "#/components/responses/Unauthorized"}
       }
     })json"},
    {"/metrics", Method::kGet, BodyKind::kNone, nullptr, kAnyToken, "",
     [](const RouteContext& c) { return handle_metrics(c.backend, c.metrics); },
     R"json({
       "summary": "Prometheus metrics (text format 0.0.4): requests by route and status, search latency histograms by query type, upload bytes, index size, model", "operationId": "metrics",
       "responses": {
         "200": {"description": "Prometheus text exposition", "content": {"text/plain": {"schema": {"type": "string"}}}},
         "401": {"$ref": "#/components/responses/Unauthorized"}
       }
     })json"},
    {"/api/search/text", Method::kPost, BodyKind::kJson, &RouterOptions::max_json_bytes,
     kSearchScope, "search.text",
     [](const RouteContext& c) { return handle_search_text(c.backend, c.options, c.request); },
     R"json({
       "summary": "Images matching a text description", "operationId": "searchText",
       "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TextSearchRequest"}}}},
       "responses": {
         "200": {"$ref": "#/components/responses/SearchResults"},
         "400": {"$ref": "#/components/responses/BadRequest"},
         "401": {"$ref": "#/components/responses/Unauthorized"},
         "405": {"$ref": "#/components/responses/MethodNotAllowed"},
         "413": {"$ref": "#/components/responses/PayloadTooLarge"},
         "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
         "500": {"$ref": "#/components/responses/Internal"},
         "503": {"$ref": "#/components/responses/Unavailable"}
       }
     })json"},
    {"/api/search/image", Method::kPost, BodyKind::kMultipart, &RouterOptions::max_upload_bytes,
     kSearchScope, "search.image",
     [](const RouteContext& c) { return handle_search_image(c.backend, c.options, c.request); },
     R"json({
       "summary": "Images similar to an uploaded image (PNG, JPEG or DICOM)", "operationId": "searchImage",
       "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"$ref": "#/components/schemas/ImageSearchForm"}}}},
       "responses": {
         "200": {"$ref": "#/components/responses/SearchResults"},
         "400": {"$ref": "#/components/responses/BadRequest"},
         "401": {"$ref": "#/components/responses/Unauthorized"},
         "405": {"$ref": "#/components/responses/MethodNotAllowed"},
         "413": {"$ref": "#/components/responses/PayloadTooLarge"},
         "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
         "422": {"$ref": "#/components/responses/UnprocessableImage"},
         "500": {"$ref": "#/components/responses/Internal"},
         "503": {"$ref": "#/components/responses/Unavailable"}
       }
     })json"},
    {"/api/search/similar", Method::kPost, BodyKind::kJson, &RouterOptions::max_json_bytes,
     kSearchScope, "search.similar",
     [](const RouteContext& c) { return handle_search_similar(c.backend, c.options, c.request); },
     R"json({
       "summary": "Images similar to an indexed image", "operationId": "searchSimilar",
       "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SimilarSearchRequest"}}}},
       "responses": {
         "200": {"$ref": "#/components/responses/SearchResults"},
         "400": {"$ref": "#/components/responses/BadRequest"},
         "401": {"$ref": "#/components/responses/Unauthorized"},
         "404": {"$ref": "#/components/responses/NotFound"},
         "405": {"$ref": "#/components/responses/MethodNotAllowed"},
         "413": {"$ref": "#/components/responses/PayloadTooLarge"},
         "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
         "500": {"$ref": "#/components/responses/Internal"},
         "503": {"$ref": "#/components/responses/Unavailable"}
       }
     })json"},
    {"/api/search/embedding", Method::kPost, BodyKind::kJson, &RouterOptions::max_json_bytes,
     kSearchScope, "search.embedding",
     [](const RouteContext& c) { return handle_search_embedding(c.backend, c.options, c.request); },
     R"json({
       "summary": "Images closest to a query embedding computed elsewhere (the model's dimension)", "operationId": "searchEmbedding",
       "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EmbeddingSearchRequest"}}}},
       "responses": {
         "200": {"$ref": "#/components/responses/SearchResults"},
         "400": {"$ref": "#/components/responses/BadRequest"},
         "401": {"$ref": "#/components/responses/Unauthorized"},
         "405": {"$ref": "#/components/responses/MethodNotAllowed"},
         "413": {"$ref": "#/components/responses/PayloadTooLarge"},
         "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
         "500": {"$ref": "#/components/responses/Internal"}
       }
     })json"},
    {"/api/search/combined", Method::kPost, BodyKind::kJsonOrMultipart,
     &RouterOptions::max_json_bytes, kSearchScope, "search.combined",
     [](const RouteContext& c) { return handle_search_combined(c.backend, c.options, c.request); },
     R"json({
       "summary": "Images closest to a weighted sum of texts, indexed images, uploaded images and embeddings", "operationId": "searchCombined",
       "requestBody": {"required": true, "content": {
         "application/json": {"schema": {"$ref": "#/components/schemas/CombinedSearchRequest"}},
         "multipart/form-data": {"schema": {"$ref": "#/components/schemas/CombinedSearchForm"}}}},
       "responses": {
         "200": {"$ref": "#/components/responses/SearchResults"},
         "400": {"$ref": "#/components/responses/BadRequest"},
         "401": {"$ref": "#/components/responses/Unauthorized"},
         "404": {"$ref": "#/components/responses/NotFound"},
         "405": {"$ref": "#/components/responses/MethodNotAllowed"},
         "413": {"$ref": "#/components/responses/PayloadTooLarge"},
         "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
         "422": {"$ref": "#/components/responses/UnprocessableImage"},
         "500": {"$ref": "#/components/responses/Internal"},
         "503": {"$ref": "#/components/responses/Unavailable"}
       }
     })json"},
    {"/api/images/{id}", Method::kGet, BodyKind::kNone, nullptr, kImagesScope, "image.open",
     [](const RouteContext& c) {
       return handle_image(c.backend, c.options, c.param("id"), c.thumbnails);
     },
     R"json({
       "summary": "The indexed image as a PNG rendering (DICOM windowed as for indexing); the stored file only when the server runs with --serve-originals", "operationId": "image",
       "parameters": [{"$ref": "#/components/parameters/ImageId"}],
       "responses": {
         "200": {"description": "A PNG; with --serve-originals the stored file's bytes, its type from its content",
                 "content": {"image/png": {"schema": {"type": "string", "format": "binary"}},
                             "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                             "application/dicom": {"schema": {"type": "string", "format": "binary"}}}},
         "400": {"$ref": "#/components/responses/BadRequest"},
         "401": {"$ref": "#/components/responses/Unauthorized"},
         "404": {"$ref": "#/components/responses/NotFound"},
         "405": {"$ref": "#/components/responses/MethodNotAllowed"},
         "500": {"$ref": "#/components/responses/Internal"}
       }
     })json"},
    {"/api/images/{id}/preview", Method::kGet, BodyKind::kNone, nullptr, kImagesScope,
     "image.preview",
     [](const RouteContext& c) {
       return handle_preview(c.backend, c.param("id"), c.request, c.thumbnails);
     },
     R"json({
       "summary": "A JPEG thumbnail of the indexed image (DICOM and 16-bit images windowed to 8 bits)", "operationId": "imagePreview",
       "parameters": [
         {"$ref": "#/components/parameters/ImageId"},
         {"name": "size", "in": "query", "required": false, "description": "Longest side in pixels; smaller images are not enlarged",
          "schema": {"type": "integer", "minimum": 16, "maximum": 1024, "default": 512}}
       ],
       "responses": {
         "200": {"description": "JPEG thumbnail", "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
         "400": {"$ref": "#/components/responses/BadRequest"},
         "401": {"$ref": "#/components/responses/Unauthorized"},
         "404": {"$ref": "#/components/responses/NotFound"},
         "405": {"$ref": "#/components/responses/MethodNotAllowed"},
         "500": {"$ref": "#/components/responses/Internal"}
       }
     })json"},
};

}  // namespace

std::span<const Route> routes() {
  return kRoutes;
}

std::string_view RouteContext::param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return {};
}

std::string_view allow_header_value(Method method) {
  return method == Method::kPost ? "POST" : "GET, HEAD";
}

std::string_view openapi_method(Method method) {
  return method == Method::kPost ? "post" : "get";
}

bool method_matches(Method method, std::string_view request_method) {
  return method == Method::kPost ? request_method == "POST"
                                 : (request_method == "GET" || request_method == "HEAD");
}

bool match_path(std::string_view pattern, std::string_view path, PathParams* params) {
  if (!pattern.starts_with('/') || !path.starts_with('/')) return false;
  pattern.remove_prefix(1);
  path.remove_prefix(1);
  PathParams found;
  while (true) {
    const size_t p_end = std::min(pattern.find('/'), pattern.size());
    const size_t s_end = std::min(path.find('/'), path.size());
    const std::string_view want = pattern.substr(0, p_end);
    const std::string_view got = path.substr(0, s_end);
    if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
      if (got.empty()) return false;
      found.emplace_back(want.substr(1, want.size() - 2), got);
    } else if (want != got) {
      return false;
    }
    const bool pattern_done = p_end == pattern.size();
    const bool path_done = s_end == path.size();
    if (pattern_done || path_done) {
      if (pattern_done != path_done) return false;
      break;
    }
    pattern.remove_prefix(p_end + 1);
    path.remove_prefix(s_end + 1);
  }
  if (params != nullptr) *params = std::move(found);
  return true;
}

std::vector<PathMatch> match_routes(std::string_view path) {
  std::vector<PathMatch> out;
  for (const Route& route : kRoutes) {
    PathParams params;
    if (!match_path(route.path, path, &params)) continue;
    if (route.accepts != nullptr && !route.accepts(path)) continue;
    out.push_back({&route, std::move(params)});
  }
  return out;
}

}  // namespace xrs::api
