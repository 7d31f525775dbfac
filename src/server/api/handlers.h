// Internal to the server module: the handlers the route table (route_table.cpp) names, one per
// route, and the helpers they share. Each handler is a pure function of its inputs (plus the
// backend, and the thumbnail cache for previews); docs/API.md describes what each accepts and
// returns.
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

#include "core/strings.h"
#include "server/api/router.h"
#include "server/http_message.h"
#include "server/web_assets.h"
#include "service/search_json.h"
#include "service/search_service.h"

namespace xrs::api {

// A JSON response with `no-store` caching (search results are per-request).
HttpResponse json_response(const nlohmann::json& body, int status = 200);

// The same for a body that is JSON text already.
HttpResponse json_text_response(std::string body, int status = 200);

HttpResponse handle_health(const SearchBackend& backend, const RouterOptions& options,
                           const HttpRequest& request);
HttpResponse handle_openapi(const RouterOptions& options);
// GET /metrics: the Prometheus text exposition of `metrics` (api/metrics.h).
class Metrics;
HttpResponse handle_metrics(const SearchBackend& backend, const Metrics* metrics);
HttpResponse handle_search_text(const SearchBackend& backend, const RouterOptions& options,
                                const HttpRequest& request);
HttpResponse handle_search_image(const SearchBackend& backend, const RouterOptions& options,
                                 const HttpRequest& request);
HttpResponse handle_search_similar(const SearchBackend& backend, const RouterOptions& options,
                                   const HttpRequest& request);
HttpResponse handle_search_embedding(const SearchBackend& backend, const RouterOptions& options,
                                     const HttpRequest& request);
HttpResponse handle_search_combined(const SearchBackend& backend, const RouterOptions& options,
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

// The image as a PNG rendering (cached in `cache`, which may be null), or the stored file when
// options.serve_originals.
HttpResponse handle_image(const SearchBackend& backend, const RouterOptions& options,
                          std::string_view id_text, ThumbnailCache* cache);
// `cache` may be null (no caching).
HttpResponse handle_preview(const SearchBackend& backend, std::string_view id_text,
                            const HttpRequest& request, ThumbnailCache* cache);

// An embedded UI file, with its ETag; 304 when If-None-Match matches.
HttpResponse handle_asset(const WebAsset& asset, const HttpRequest& request);

}  // namespace xrs::api
