// Fuzz target: the dataset config file (dataset/config.h parse_dataset_config).
//
// Input: the JSON text of an xray-search.json. Checked: a failure is kInvalidArgument and its
// message starts with the origin; a config that parses passes check_dataset_config, has
// lower-case extensions, and parses back to itself from the JSON it would be written as.
#include <nlohmann/json.hpp>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dataset/config.h"
#include "fuzz_support.h"

namespace {

const std::string kOrigin = "fuzz.json";

std::string to_json(const xrs::DatasetConfig& config) {
  nlohmann::json doc = {{"categories", config.categories},
                        {"extensions", config.extensions},
                        {"max_pixels", config.decode.limits.max_pixels},
                        {"unlisted_files", config.unlisted_files_are_errors ? "error" : "warning"}};
  return doc.dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const xrs::StatusOr<xrs::DatasetConfig> config = xrs::parse_dataset_config(text, kOrigin);
  xrs::fuzz::note("config: " + config.status().to_string());
  if (!config.is_ok()) {
    const xrs::Status& status = config.status();
    XRS_FUZZ_CHECK(status.code() == xrs::StatusCode::kInvalidArgument, status.to_string());
    XRS_FUZZ_CHECK(status.message().starts_with(kOrigin + ": "), status.message());
    return 0;
  }
  const xrs::Status checked = xrs::check_dataset_config(*config);
  XRS_FUZZ_CHECK(checked.is_ok(), checked.to_string());
  for (const std::string& extension : config->extensions) {
    for (char c : extension) {
      XRS_FUZZ_CHECK(!std::isupper(static_cast<unsigned char>(c)), extension);
    }
  }
  const xrs::StatusOr<xrs::DatasetConfig> again =
      xrs::parse_dataset_config(to_json(*config), kOrigin);
  XRS_FUZZ_CHECK(again.is_ok(), again.status().to_string());
  XRS_FUZZ_CHECK(again->categories == config->categories, "categories differ after a round trip");
  XRS_FUZZ_CHECK(again->extensions == config->extensions, "extensions differ after a round trip");
  XRS_FUZZ_CHECK(again->decode.limits.max_pixels == config->decode.limits.max_pixels,
                 "max_pixels differs after a round trip");
  XRS_FUZZ_CHECK(again->unlisted_files_are_errors == config->unlisted_files_are_errors,
                 "unlisted_files differs after a round trip");
  return 0;
}
