// Helpers shared by the subcommands: error reporting, exit codes, JSON output.
// Exit codes: 0 success, 1 failure, 2 usage error (DESIGN.md §3).
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <string>

#include "core/status.h"

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

// Every subcommand registers itself with one of these. Each sets `exit_code` when it runs.
void setup_embed(CLI::App& app, int& exit_code);
void setup_tokenize(CLI::App& app, int& exit_code);
void setup_preprocess(CLI::App& app, int& exit_code);
void setup_model(CLI::App& app, int& exit_code);
void setup_bench(CLI::App& app, int& exit_code);

}  // namespace xrs::app
