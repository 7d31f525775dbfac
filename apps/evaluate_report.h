// `evaluate --report DIR`: one self-contained HTML page (DIR/report.html: no script, no CDN, the
// thumbnails inlined as data: URIs) with the metrics tables, the score histograms as inline SVG
// and, for a few queries per category, the top results as thumbnails marked relevant or not.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/status.h"
#include "eval/metrics.h"
#include "index/catalog.h"

namespace xrs::app {

struct ReportInput {
  const nlohmann::ordered_json* doc = nullptr;  // evaluate's JSON document of one index
  const std::vector<eval::QueryResult>* image_results = nullptr;  // one per row of `rows`
  const std::vector<eval::QueryResult>* text_results = nullptr;   // may be empty
  const std::vector<ImageRecord>* rows = nullptr;                 // the index's images, by id
  std::string data_dir;  // where the images are ("" or missing: no thumbnails, only names)
  size_t queries_per_category = 3;
};

// Writes DIR/report.html (creating DIR). Thumbnails that cannot be read or decoded are shown as
// their names. Errors: kIoError writing the page.
Status write_evaluation_report(const std::string& dir, const ReportInput& input);

}  // namespace xrs::app
