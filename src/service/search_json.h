// The search response document (docs/API.md, "Search"): the one JSON rendering of a
// SearchResponse, shared by the HTTP API and `xray-search search --json` so that both print the
// same thing. Lives in the service so that the CLI does not link the HTTP server.
//
//   {"results":[{"rank","id","image_name","category","score","url","preview_url","path",
//                "source_url"[,"duplicates_hidden"]}, ...],
//    "took_ms", "min_score"[, "min_score_rule"][, "prompt_templates"],
//    "query":{"type","k","offset","category"[,"id"][,"terms"][,"uploads"]
//    [,"collapse_duplicates"][,"raw_text"]}}
// (duplicates_hidden and collapse_duplicates only when the search collapsed near-duplicates.)
// "prompt_templates" (text and combined queries): how many of the model's prompt templates each
// text went through; absent when the text was embedded as typed.
//
// Scores are rounded to 6 decimals (round_score), took_ms to 2. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/search_service.h"

namespace xrs {

// The request as the response's "query" object repeats it.
struct SearchQueryEcho {
  std::string type;  // "text", "image", "similar"
  int k = kDefaultK;
  int offset = 0;
  std::optional<std::string> category;
  std::optional<int64_t> id;    // the query image's id ("similar")
  std::optional<size_t> terms;  // how many terms ("combined")
  // The terms of a combined query that are uploaded images: the term's index in "terms", the
  // file part it names, its weight (the bytes are never echoed).
  struct Upload {
    size_t term = 0;
    std::string upload;
    float weight = 1;
  };
  std::vector<Upload> uploads;
  std::optional<float> collapse_duplicates;  // the collapse threshold, when collapsing
  bool raw_text = false;                     // SearchOptions::raw_text (echoed only when true)

  static SearchQueryEcho of(std::string_view type, const SearchOptions& options);
};

// A float score for JSON: rounded to 6 decimals (float precision), so that 0.3f reads 0.3 and
// not 0.30000001192092896.
double round_score(float score);

// The document as text; `indent` < 0 gives one line. Invalid UTF-8 in names is replaced (U+FFFD).
std::string search_response_json(const SearchResponse& response, const SearchQueryEcho& query,
                                 int indent = -1);

}  // namespace xrs
