// DatasetConfig from a JSON file (DATA_DIR/xray-search.json or a path given by the user).
//
//   {
//     "categories": ["chest", "dental", "hand"],
//     "extensions": [".png", ".jpg", ".jpeg", ".dcm"],
//     "max_pixels": 178956970,
//     "unlisted_files": "error",         // or "warning"
//     "private_columns": ["mrn"],        // kept out of the index, the API and export
//     "captions": {"column": "report", "synonyms": {"hand": ["wrist"]}, "templates": ["{} study"]},
//     "group_column": "patient_id"       // evaluate: a query's own group is left out
//   }                                   // captions: for xray-search-train only (dataset/captions.h)
//
// Every key is optional; an absent key keeps the value of the `base` config. Unknown keys are
// errors (a misspelt key must not be silently ignored). docs/VALIDATION.md describes the file.
// Pure functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "dataset/dataset.h"

namespace xrs {

// Checks a config (however it was built): categories non-empty, distinct and plain folder names;
// extensions distinct, starting with '.', of a decodable type; max_pixels >= 1; threads 1..256.
// kInvalidArgument naming the field otherwise. Extensions are compared in lower case.
Status check_dataset_config(const DatasetConfig& config);

// Parses JSON text; `origin` names it in messages. kInvalidArgument with "<origin>: ..." for
// malformed JSON, a wrong type, an unknown key or a value check_dataset_config refuses.
// Extensions in the result are lower-cased.
StatusOr<DatasetConfig> parse_dataset_config(std::string_view json, const std::string& origin,
                                             DatasetConfig base = {});

// Reads a config file. kNotFound when it does not exist, kResourceExhausted past 1 MiB, and
// the errors of parse_dataset_config.
StatusOr<DatasetConfig> load_dataset_config(const std::string& path, DatasetConfig base = {});

// DATA_DIR/xray-search.json when that file exists, else `base` unchanged.
StatusOr<DatasetConfig> load_dataset_config_for(const std::string& data_dir,
                                                DatasetConfig base = {});

}  // namespace xrs
