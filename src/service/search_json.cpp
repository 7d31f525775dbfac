#include "service/search_json.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace xrs {

using json = nlohmann::json;

SearchQueryEcho SearchQueryEcho::of(std::string_view type, const SearchOptions& options) {
  SearchQueryEcho echo;
  echo.type = std::string(type);
  echo.k = options.k;
  echo.offset = options.offset;
  echo.category = options.category;
  echo.collapse_duplicates = options.collapse_duplicates;
  echo.raw_text = options.raw_text;
  return echo;
}

double round_score(float score) {
  return std::round(static_cast<double>(score) * 1e6) / 1e6;
}

std::string search_response_json(const SearchResponse& response, const SearchQueryEcho& query,
                                 int indent) {
  json results = json::array();
  for (const SearchHit& hit : response.results) {
    const std::string url = "/api/images/" + std::to_string(hit.id);
    results.push_back({{"rank", hit.rank},
                       {"id", hit.id},
                       {"image_name", hit.image_name},
                       {"category", hit.category},
                       {"score", round_score(hit.score)},
                       {"url", url},
                       {"preview_url", url + "/preview"},
                       {"path", hit.path},
                       {"source_url", hit.source_url}});
    if (query.collapse_duplicates) results.back()["duplicates_hidden"] = hit.duplicates_hidden;
  }
  json echo = {{"type", query.type},
               {"k", query.k},
               {"offset", query.offset},
               {"category", query.category ? json(*query.category) : json()}};
  if (query.id) echo["id"] = *query.id;
  if (query.terms) echo["terms"] = *query.terms;
  if (!query.uploads.empty()) {
    json uploads = json::array();
    for (const SearchQueryEcho::Upload& u : query.uploads) {
      uploads.push_back(
          {{"term", u.term}, {"upload", u.upload}, {"weight", round_score(u.weight)}});
    }
    echo["uploads"] = std::move(uploads);
  }
  if (query.collapse_duplicates) {
    echo["collapse_duplicates"] = round_score(*query.collapse_duplicates);
  }
  if (query.raw_text) echo["raw_text"] = true;
  json doc = {{"results", std::move(results)},
              {"took_ms", std::round(response.took_ms * 100) / 100},
              {"min_score", round_score(response.min_score)},
              {"query", std::move(echo)}};
  if (!response.min_score_rule.empty()) doc["min_score_rule"] = response.min_score_rule;
  if (response.prompt_templates > 0) doc["prompt_templates"] = response.prompt_templates;
  return doc.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace xrs
