#include "server/search_json.h"

#include "server/routes.h"

namespace xrs {

namespace server_internal {

nlohmann::json search_query_echo(std::string_view type, const SearchOptions& options) {
  return {{"type", type},
          {"k", options.k},
          {"category", options.category ? nlohmann::json(*options.category) : nlohmann::json()}};
}

nlohmann::json search_response_document(const SearchResponse& response, nlohmann::json query) {
  nlohmann::json results = nlohmann::json::array();
  for (const SearchHit& hit : response.results) {
    const std::string url = "/api/images/" + std::to_string(hit.id);
    results.push_back({{"rank", hit.rank},
                       {"id", hit.id},
                       {"image_name", hit.image_name},
                       {"category", hit.category},
                       {"score", json_score(hit.score)},
                       {"url", url},
                       {"preview_url", url + "/preview"},
                       {"path", hit.path},
                       {"source_url", hit.source_url}});
  }
  return {{"results", std::move(results)},
          {"took_ms", std::round(response.took_ms * 100) / 100},
          {"min_score", json_score(response.min_score)},
          {"query", std::move(query)}};
}

}  // namespace server_internal

std::string search_response_json(const SearchResponse& response, std::string_view query_type,
                                 const SearchOptions& options, int indent) {
  using namespace server_internal;
  return search_response_document(response, search_query_echo(query_type, options))
      .dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace xrs
