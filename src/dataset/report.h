// Renderings of a ValidationReport for people and for programs (docs/VALIDATION.md).
//
// Text: one line per problem, "<where>: <code>: <message>", where <where> is
// "metadata.csv:<line>" for problems with a line, else the file (escaped like names in
// messages), and is left out (with its ": ") for problems about no file (invalid_config,
// missing_data_dir):
//   metadata.csv:17: duplicate_image_name: image 'a.png' is already listed on line 3
//   raw/hand/x.png: unlisted_file: raw/hand/x.png is not listed in metadata.csv
// Warnings carry "warning: " before the code. No trailing summary: the caller adds one.
//
// JSON: one object,
//   {"valid":false,"fatal":false,"data_dir":"...","rows":540,"images_checked":540,
//    "decoded":true,"errors":1,"warnings":0,
//    "problems":[{"code":"...","severity":"error","scope":"image","file":"...","line":17,
//                 "column":"image_name","image_name":"a.png","message":"..."}]}
// Bytes that are not UTF-8 (file names are arbitrary bytes) become U+FFFD.
// Pure functions; safe from any thread.
#pragma once

#include <string>

#include "dataset/dataset.h"

namespace xrs {

std::string render_problem_text(const Problem& problem);
// All problems, each line ending in '\n'; "" for a report without problems.
std::string render_report_text(const ValidationReport& report);
// The JSON document (compact when indent < 0), without a trailing newline.
std::string render_report_json(const ValidationReport& report, int indent = -1);

}  // namespace xrs
