// Helpers shared by the route handlers, the health route and the UI files.
#include <cstdint>

#include "server/api/handlers.h"

#include "server/api/metrics.h"

namespace xrs::api {

HttpResponse json_response(const nlohmann::json& body, int status) {
  return json_text_response(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                            status);
}

HttpResponse json_text_response(std::string body, int status) {
  HttpResponse response;
  response.status = status;
  response.content_type = "application/json";
  response.body = std::move(body);
  response.set_header("Cache-Control", "no-store");
  return response;
}

HttpResponse handle_metrics(const SearchBackend& backend, const Metrics* metrics) {
  HttpResponse response;
  response.status = 200;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = metrics != nullptr ? metrics->render(backend.info()) : std::string();
  response.set_header("Cache-Control", "no-store");
  return response;
}

HttpResponse handle_health(const SearchBackend& backend, const RouterOptions& options,
                           const HttpRequest& request) {
  const BackendInfo info = backend.info();
  nlohmann::json body = {
      {"status", "ok"},
      {"images", info.images},
      {"dim", info.dim},
      {"model", info.model},
      {"categories", info.categories},
      {"prompt_templates", info.prompt_templates},
      {"auth_required", auth_enabled(options)},
      {"originals", options.serve_originals},
      {"index",
       {{"generation", info.generation},
        {"catalog_id", info.catalog_id},
        {"read_only", info.read_only},
        {"reloads", info.reloads}}},
      {"image_batching",
       {{"enabled", info.image_batching.enabled},
        {"max_batch_size", info.image_batching.max_batch_size},
        {"max_delay_ms", info.image_batching.max_delay_ms},
        {"batches", info.image_batching.batches},
        {"queries", info.image_batching.queries},
        {"largest_batch", info.image_batching.largest},
        {"mean_batch_size", info.image_batching.mean_batch_size()}}},
      {"limits",
       {{"k_default", kDefaultK},
        {"k_max", kMaxK},
        {"offset_max", kMaxOffset},
        {"text_min_score", round_score(info.text_min_score)},
        {"image_min_score", round_score(info.image_min_score)},
        {"duplicate_min_score", round_score(info.duplicate_min_score)},
        {"max_query_chars", options.max_query_chars},
        {"max_upload_bytes", options.max_upload_bytes},
        {"requests_per_s", options.rate_limit.requests_per_s},
        {"request_burst", options.rate_limit.burst},
        {"uploads_per_client", options.rate_limit.uploads_per_client}}},
  };
  // Who the caller is, when it sent a valid token: lets the UI check a token and its scopes.
  if (request.principal.authenticated()) {
    nlohmann::json scopes = nlohmann::json::array();
    for (security::Scope s :
         {security::Scope::kSearch, security::Scope::kImages, security::Scope::kAdmin}) {
      if (security::has_scope(request.principal.scopes, s)) {
        scopes.push_back(std::string(security::scope_name(s)));
      }
    }
    body["principal"] = {{"name", request.principal.name}, {"scopes", scopes}};
  }
  return json_response(body);
}

HttpResponse handle_asset(const WebAsset& asset, const HttpRequest& request) {
  HttpResponse response;
  response.set_header("ETag", std::string(asset.etag));
  // Revalidate every time: a new build changes the files behind the same URLs.
  response.set_header("Cache-Control", "no-cache");
  auto if_none_match = request.header("If-None-Match");
  // The header may list several tags ("a", "b") or be "*"; a weak W/"a" matches too.
  if (if_none_match &&
      (if_none_match->find(asset.etag) != std::string_view::npos || *if_none_match == "*")) {
    response.status = 304;
    return response;
  }
  response.content_type = std::string(asset.content_type);
  response.body = std::string(asset.bytes);
  return response;
}

}  // namespace xrs::api
