// Internal to the server module: the handlers ApiRouter dispatches to, one per route, and the
// helpers they share. Each handler is a pure function of its inputs (plus the backend, and the
// thumbnail cache for previews); docs/API.md describes what each accepts and returns.
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "server/http_message.h"
#include "server/router.h"
#include "server/web_assets.h"
#include "service/search_service.h"

namespace xrs::server_internal {

// A JSON response with `no-store` caching (search results are per-request).
HttpResponse json_response(const nlohmann::json& body, int status = 200);

// A float score for JSON: rounded to 6 decimals (float precision), so that 0.3f reads 0.3 and
// not 0.30000001192092896.
inline double json_score(float score) {
  return std::round(static_cast<double>(score) * 1e6) / 1e6;
}

// The search response document (docs/API.md): results, took_ms, min_score and `query`, the echo
// of the request that search_query_echo() makes.
nlohmann::json search_response_document(const SearchResponse& response, nlohmann::json query);
nlohmann::json search_query_echo(std::string_view type, const SearchOptions& options);

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool is_valid_utf8(std::string_view text);
// The number of code points of well-formed UTF-8 `text`.
size_t utf8_length(std::string_view text);
// `text` cut to at most `max_bytes` bytes for quoting in a message, with "..." when cut.
std::string clip_for_message(std::string_view text, size_t max_bytes = 60);

HttpResponse handle_health(const SearchBackend& backend, const RouterOptions& options);
HttpResponse handle_openapi(const RouterOptions& options);
HttpResponse handle_search_text(const SearchBackend& backend, const RouterOptions& options,
                                const HttpRequest& request);
HttpResponse handle_search_image(const SearchBackend& backend, const RouterOptions& options,
                                 const HttpRequest& request);
HttpResponse handle_search_similar(const SearchBackend& backend, const RouterOptions& options,
                                   const HttpRequest& request);

// An image id from a path segment: decimal digits only. kInvalidArgument for anything else
// ("-1", "1abc", "..", ""), kNotFound for numbers past int64 (no such image can exist).
StatusOr<int64_t> parse_image_id(std::string_view text);

// Rendered thumbnails by (image id, size), least recently used evicted past a byte budget.
// Thread-safe (one mutex guards everything).
class ThumbnailCache {
 public:
  explicit ThumbnailCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}
  std::optional<std::string> get(int64_t id, int size);
  void put(int64_t id, int size, std::string jpeg);

 private:
  using Key = std::pair<int64_t, int>;
  struct Entry {
    Key key;
    std::string jpeg;
  };

  const size_t capacity_;
  std::mutex mutex_;
  std::list<Entry> entries_;  // most recently used first
  std::map<Key, std::list<Entry>::iterator> index_;
  size_t bytes_ = 0;
};

HttpResponse handle_image(const SearchBackend& backend, std::string_view id_text);
// `cache` may be null (no caching).
HttpResponse handle_preview(const SearchBackend& backend, std::string_view id_text,
                            const HttpRequest& request, ThumbnailCache* cache);

// An embedded UI file, with its ETag; 304 when If-None-Match matches.
HttpResponse handle_asset(const WebAsset& asset, const HttpRequest& request);

}  // namespace xrs::server_internal
