// xray-search dataset fetch METADATA.csv --out DATA_DIR [--parallel 4] [--json]
// Downloads every source_url into DATA_DIR/raw/<category>/<image_name>; exit 1 if any failed.
#include <chrono>
#include <memory>

#include "common.h"
#include "fetch/dataset_fetch.h"
#include "fetch_cli.h"
#include "progress.h"

namespace xrs::app {

namespace {

struct DatasetFetchCliOptions {
  std::string metadata;
  std::string out;
  int parallel = 4;
  bool json = false;
  DownloadCliOptions download;
};

// Counts on one redrawn line on a terminal; otherwise a line every 5 s. The first failures are
// printed as they happen either way (offline, every row fails alike).
class DatasetProgressPrinter {
 public:
  static constexpr int kMaxFailureLines = 20;

  void operator()(const DatasetFetchItem& item, int done, int total) {
    counts_[static_cast<int>(item.outcome)]++;
    if (item.outcome == FetchOutcome::kFailed && counts_[2] <= kMaxFailureLines) {
      line_.print(strfmt("xray-search: failed: line %d %s: %s", item.line, item.image_name.c_str(),
                         item.reason.c_str()));
      if (counts_[2] == kMaxFailureLines) {
        line_.print(
            "xray-search: (further failures are counted, not listed; --json lists every one)");
      }
    }
    const std::string text = strfmt("[%d/%d] %d downloaded, %d skipped, %d failed", done, total,
                                    counts_[0], counts_[1], counts_[2]);
    if (line_.tty()) {
      line_.draw(text + "  ", done == total);
    } else if (line_.plain_due(done == total)) {
      line_.print(text);
    }
  }

 private:
  ProgressLine line_{std::chrono::seconds(5)};
  int counts_[3] = {0, 0, 0};  // by FetchOutcome
};

int run_dataset_fetch(const DatasetFetchCliOptions& o) {
  DatasetFetchOptions options;
  options.download = download_options(o.download);
  options.download.max_bytes = 512ull << 20;  // no X-ray image is anywhere near this
  options.parallel = o.parallel;
  DatasetProgressPrinter printer;
  StatusOr<DatasetFetchReport> report = fetch_dataset(
      o.metadata, o.out, options, [&printer](const DatasetFetchItem& item, int done, int total) {
        printer(item, done, total);
      });
  if (!report.is_ok()) return report_error(report.status());
  if (o.json) {
    nlohmann::json items = nlohmann::json::array();
    for (const DatasetFetchItem& it : report->items) {
      items.push_back({{"line", it.line},
                       {"image_name", it.image_name},
                       {"category", it.category},
                       {"url", it.url},
                       {"path", it.relative_path},
                       {"outcome", std::string(fetch_outcome_name(it.outcome))},
                       {"reason", it.reason},
                       {"bytes", it.bytes}});
    }
    print_json({{"out_dir", report->out_dir},
                {"downloaded", report->downloaded},
                {"skipped", report->skipped},
                {"failed", report->failed},
                {"items", items}},
               true);
  }
  std::fprintf(stderr, "xray-search: %s: %d downloaded, %d skipped (already intact), %d failed%s\n",
               o.out.c_str(), report->downloaded, report->skipped, report->failed,
               report->failed > 0 ? "; run again to retry the failed ones" : "");
  return report->ok() ? kExitOk : kExitFailure;
}

}  // namespace

void setup_dataset(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("dataset", "Get a dataset's images");
  cmd->require_subcommand(1);
  auto o = std::make_shared<DatasetFetchCliOptions>();
  CLI::App* fetch = cmd->add_subcommand(
      "fetch",
      "Download the images a metadata.csv lists into DATA_DIR/raw/<category>/<image_name> "
      "(skips intact files, resumes partial ones); exit 1 if any failed");
  fetch->add_option("metadata", o->metadata, "metadata.csv (image_name, source_url, category)")
      ->required();
  fetch->add_option("--out,-o", o->out, "dataset folder to fill")->required();
  fetch->add_option("--parallel,-j", o->parallel, "simultaneous downloads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  fetch->add_flag("--json", o->json, "print the per-file report as JSON");
  add_download_options(*fetch, o->download);
  fetch->callback([o, &exit_code] { exit_code = run_dataset_fetch(*o); });
}

}  // namespace xrs::app
