// The search response document of the HTTP API (docs/API.md), for other front ends that must
// print the same thing (`xray-search search --json`).
#pragma once

#include <string>
#include <string_view>

#include "service/search_service.h"

namespace xrs {

// {"results":[{rank,id,image_name,category,score,url,preview_url,path,source_url}],"took_ms",
//  "min_score","query":{"type","k","category"}}; `indent` < 0 gives one line.
std::string search_response_json(const SearchResponse& response, std::string_view query_type,
                                 const SearchOptions& options, int indent = -1);

}  // namespace xrs
