// Helpers shared by the subcommands: error reporting, exit codes, JSON output.
// Exit codes: 0 success, 1 failure, 2 usage error (DESIGN.md §3).
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "core/status.h"
#include "dataset/dataset.h"
#include "kernels/gemm.h"

namespace xrs::app {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Prints "xray-search: error: <message>" on stderr; returns kExitFailure, or kExitUsage for
// kInvalidArgument statuses that come from the command line itself (`usage` = true).
int report_error(const Status& status, bool usage = false);

// Writes one JSON document (or one JSON line) to stdout.
void print_json(const nlohmann::json& j, bool pretty = false);

// The model used when --model is not given: $XRAY_MODEL, else models/ViT-B-32.
std::string default_model_path();

// --precision fp32|bf16|int8 (kernels/gemm.h): the image tower's arithmetic. `help_default`
// ends the help text ("default fp32", "default: the index's").
void add_precision_option(CLI::App& cmd, std::string& precision, const std::string& help_default);
// The parsed option; nullopt when it was not given. A bad value is a usage error.
StatusOr<std::optional<kernels::Precision>> parse_precision_option(const std::string& precision);

// Options shared by the commands that read a dataset.
struct DatasetCliOptions {
  std::vector<std::string> categories;  // --categories a,b,c (overrides the config file)
  std::string config;                   // --config FILE (default: DATA_DIR/xray-search.json)
};
void add_dataset_options(CLI::App& cmd, DatasetCliOptions& options);
// The dataset rules: defaults, then the config file (--config, else DATA_DIR/xray-search.json).
// A failure here belongs to the dataset, not to the command line.
StatusOr<DatasetConfig> load_dataset_rules(const std::string& data_dir, const DatasetCliOptions& o);
// Then --categories over those rules; a failure is a usage error.
Status apply_cli_categories(const DatasetCliOptions& o, DatasetConfig& config);

// Every subcommand registers itself with one of these. Each sets `exit_code` when it runs.
void setup_embed(CLI::App& app, int& exit_code);
void setup_tokenize(CLI::App& app, int& exit_code);
void setup_preprocess(CLI::App& app, int& exit_code);
void setup_model(CLI::App& app, int& exit_code);
// `model fetch` and `model verify` (cmd_model_fetch.cpp), added to the `model` command.
void add_model_fetch_commands(CLI::App& model_cmd, int& exit_code);
// `dataset fetch` (cmd_dataset_fetch.cpp).
void setup_dataset(CLI::App& app, int& exit_code);
void setup_bench(CLI::App& app, int& exit_code);
// `train`: execs xray-search-train (next to this binary) with the remaining arguments; returns
// only when it cannot (kExitFailure, having said why).
int exec_train(int argc, char** argv);
void setup_train(CLI::App& app);
void setup_validate(CLI::App& app, int& exit_code);
void setup_index(CLI::App& app, int& exit_code);
void setup_merge(CLI::App& app, int& exit_code);
void setup_search(CLI::App& app, int& exit_code);
void setup_evaluate(CLI::App& app, int& exit_code);
void setup_export(CLI::App& app, int& exit_code);
void setup_duplicates(CLI::App& app, int& exit_code);
void setup_serve(CLI::App& app, int& exit_code);
void setup_token(CLI::App& app, int& exit_code);

}  // namespace xrs::app
