#include "common.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "dataset/config.h"

namespace xrs::app {

int report_error(const Status& status, bool usage) {
  std::fprintf(stderr, "xray-search: error: %s\n", status.message().c_str());
  return usage ? kExitUsage : kExitFailure;
}

void print_json(const nlohmann::json& j, bool pretty) {
  // Invalid UTF-8 in user input (file names, texts) is replaced rather than thrown on.
  std::cout << j.dump(pretty ? 2 : -1, ' ', false, nlohmann::json::error_handler_t::replace)
            << '\n';
}

void add_precision_option(CLI::App& cmd, std::string& precision, const std::string& help_default) {
  cmd.add_option("--precision", precision,
                 "image tower arithmetic: fp32 (exact), bf16 or int8 (docs/PERFORMANCE.md); " +
                     help_default)
      ->check(CLI::IsMember({"fp32", "bf16", "int8"}));
}

StatusOr<std::optional<kernels::Precision>> parse_precision_option(const std::string& precision) {
  if (precision.empty()) return std::optional<kernels::Precision>();
  XRS_ASSIGN_OR_RETURN(kernels::Precision p, kernels::parse_precision(precision));
  return std::optional<kernels::Precision>(p);
}

std::string default_model_path() {
  const char* env = std::getenv("XRAY_MODEL");
  if (env != nullptr && *env != '\0') return env;
  return "models/ViT-B-32";
}

void add_dataset_options(CLI::App& cmd, DatasetCliOptions& options) {
  cmd.add_option("--categories", options.categories,
                 "allowed categories, comma-separated (default: chest,dental,hand or the config)")
      ->delimiter(',');
  cmd.add_option("--config", options.config,
                 "dataset rules file (JSON; default DATA_DIR/xray-search.json when present)");
}

StatusOr<DatasetConfig> load_dataset_rules(const std::string& data_dir,
                                           const DatasetCliOptions& o) {
  return o.config.empty() ? load_dataset_config_for(data_dir) : load_dataset_config(o.config);
}

Status apply_cli_categories(const DatasetCliOptions& o, DatasetConfig& config) {
  if (o.categories.empty()) return Status::ok();
  config.categories = o.categories;
  return check_dataset_config(config).with_context("--categories");
}

}  // namespace xrs::app
