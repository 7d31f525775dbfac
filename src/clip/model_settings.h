// ModelSettings: what a model folder may say about how to search with it, in
// MODEL_DIR/xray-search-model.json (docs/MODEL_FORMATS.md, "Search settings"):
//
//   {
//     "text_min_score": 0.21,          // default threshold of text queries   (else 0.25)
//     "image_min_score": 0.88,         // default threshold of image queries  (else 0.95)
//     "duplicate_min_score": 0.98,     // near-duplicate threshold            (else 0.97)
//     "prompt_templates": ["a chest radiograph of {}", "an x-ray showing {}"],
//     "evaluation": {...}              // free-form: what `evaluate --write-model-config` measured
//   }
//
// Every key is optional; unknown keys are errors (a misspelt key must not be silently ignored).
// `xray-search evaluate --write-model-config` writes the thresholds it suggests; SearchService
// (search, serve and /api/health) and evaluate use them as defaults. The prompt templates are
// read and checked here (their use for text queries is issue 9's item 3). Pure functions and
// plain values; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace xrs {

inline constexpr char kModelSettingsFileName[] = "xray-search-model.json";

struct ModelSettings {
  std::optional<float> text_min_score;   // -1..1
  std::optional<float> image_min_score;  // -1..1
  // Two images are near-duplicates at this cosine similarity or above: the default of
  // `duplicates`, of collapsing results and of evaluate's near-duplicate groups. (0, 1].
  std::optional<float> duplicate_min_score;
  // Each holds "{}" (where the query text goes) exactly once.
  std::vector<std::string> prompt_templates;
  std::string path;  // the file read, "" when there was none
};

// Parses the file's text; `origin` names it in messages. kInvalidArgument "<origin>: ..." for
// malformed JSON, a wrong type, a score outside -1..1 (duplicate_min_score: outside (0, 1]), a
// template without exactly one "{}", an unknown key.
StatusOr<ModelSettings> parse_model_settings(std::string_view json, const std::string& origin);

// The settings file of a model path: MODEL_DIR/xray-search-model.json for a folder, the file of
// that name beside a weights file otherwise.
std::string model_settings_path(const std::string& model_path);

// Reads the settings of a model path; empty settings (path "") when the file does not exist.
// Errors: those of parse_model_settings, kIoError / kResourceExhausted (over 1 MiB) reading it.
StatusOr<ModelSettings> load_model_settings(const std::string& model_path);

// Sets text_min_score and image_min_score (a NaN one is left as it is) and the "evaluation"
// object in the settings file of `model_path`, keeping every other key; creates the file when
// absent. Written atomically. Errors: those of load_model_settings and of the write.
Status write_model_thresholds(const std::string& model_path, float text_min_score,
                              float image_min_score, const std::string& evaluation_json);

// `tmpl` with the first "{}" replaced by `text`.
std::string apply_prompt_template(std::string_view tmpl, std::string_view text);

}  // namespace xrs
