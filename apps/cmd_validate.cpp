// xray-search validate DATA_DIR [--categories a,b,c] [--config FILE] [--no-decode] [--json]
// Exit 0 when valid, 1 when not (every problem is listed), 2 for a usage error.
#include <cstdio>
#include <memory>

#include "common.h"
#include "dataset/config.h"
#include "dataset/report.h"
#include "dataset/validate.h"

namespace xrs::app {

namespace {

struct ValidateOptions {
  std::string data_dir;
  DatasetCliOptions dataset;
  bool no_decode = false;
  bool json = false;
};

int print_report(const ValidateOptions& o, const ValidationReport& report) {
  if (o.json) {
    std::printf("%s\n", render_report_json(report, 2).c_str());
  } else {
    std::fputs(render_report_text(report).c_str(), report.valid() ? stdout : stderr);
    std::fprintf(report.valid() ? stdout : stderr,
                 "%s: %s: %d rows, %d images checked (%s), %d errors, %d warnings\n",
                 o.data_dir.c_str(), report.valid() ? "valid" : "INVALID", report.rows,
                 report.images_checked, report.decoded ? "decoded" : "headers only",
                 report.error_count(), report.warning_count());
  }
  return report.valid() ? kExitOk : kExitFailure;
}

// The report of a dataset whose rules file cannot be used: that one dataset-scope problem.
ValidationReport config_problem(const ValidateOptions& o, const Status& status) {
  ValidationReport report;
  report.data_dir = o.data_dir;
  Problem p;
  p.code = "invalid_config";
  p.severity = Severity::kError;
  p.scope = ProblemScope::kDataset;
  p.file = o.dataset.config.empty() ? std::string(kDatasetConfigFileName) : o.dataset.config;
  p.message = status.message();
  report.problems.push_back(std::move(p));
  return report;
}

int run_validate(const ValidateOptions& o) {
  // The rules file belongs to the dataset: one that cannot be used makes the dataset invalid
  // (exit 1, reported like any other problem); only a bad --categories value is a usage error.
  StatusOr<DatasetConfig> config = load_dataset_rules(o.data_dir, o.dataset);
  if (!config.is_ok()) return print_report(o, config_problem(o, config.status()));
  if (Status s = apply_cli_categories(o.dataset, *config); !s.is_ok()) return report_error(s, true);
  config->decode_images = !o.no_decode;
  return print_report(o, validate_dataset(o.data_dir, *config));
}

}  // namespace

void setup_validate(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ValidateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "validate",
      "Check a dataset folder (metadata.csv + raw/<category>/<image>) and list every "
      "problem; exit 1 when invalid");
  cmd->add_option("data_dir", o->data_dir, "dataset folder")->required();
  add_dataset_options(*cmd, o->dataset);
  cmd->add_flag("--no-decode", o->no_decode, "check image headers only (faster)");
  cmd->add_flag("--json", o->json, "print the report as JSON");
  cmd->callback([o, &exit_code] { exit_code = run_validate(*o); });
}

}  // namespace xrs::app
