// Captions for training (xray-search-train): a caption column of metadata.csv, or captions made
// from the category through synonyms and templates.
//
//   "captions": {                                  in DATA_DIR/xray-search.json (dataset/config.h)
//     "column": "report",                          use this metadata.csv column (optional)
//     "synonyms": {"hand": ["wrist"]},             added to the built-in synonyms of a category
//     "templates": ["{} study"]                    added to the built-in templates; "{}" = a word
//   }
//
// Built in: chest → chest, thorax, lung; dental → dental, teeth, tooth, jaw; hand → hand, finger;
// templates "{} x-ray", "{} radiograph", "x-ray of the {}", "radiograph of the {}", "{} film". A
// category without synonyms is its own word. Pure functions; safe from any thread.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace xrs {

struct CaptionConfig {
  std::string column;  // metadata.csv column holding a caption per image; "" = generate
  // Extra words per category (added after the built-in ones, duplicates dropped).
  std::map<std::string, std::vector<std::string>> synonyms;
  // Extra templates (added after the built-in ones); each holds "{}" exactly once.
  std::vector<std::string> templates;
};

// The built-in templates and synonyms (documented above).
const std::vector<std::string>& builtin_caption_templates();
const std::map<std::string, std::vector<std::string>>& builtin_caption_synonyms();

// The words for a category: its built-in synonyms (or the category itself when it has none),
// then the config's, without duplicates. kInvalidArgument for an empty category.
StatusOr<std::vector<std::string>> caption_words(std::string_view category,
                                                 const CaptionConfig& config);

// Every caption of a category: each template (built-in, then the config's) with each word, in
// that order (template-major). kInvalidArgument for an empty category.
StatusOr<std::vector<std::string>> generate_captions(std::string_view category,
                                                     const CaptionConfig& config);

// Checks a config: templates contain "{}" exactly once, words and column names are non-empty.
Status check_caption_config(const CaptionConfig& config);

}  // namespace xrs
