// xray-search index DATA_DIR --model M --index IDX [--batch N] [--rebuild] [--shard K/N]
//                    [--vector-index SPEC]
// Validates, then embeds new and changed images; progress on stderr, a summary at the end.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>

#include "clip/clip_model.h"
#include "clip/ops.h"
#include "common.h"
#include "index/vector_index.h"
#include "pipeline/indexer.h"
#include "progress.h"

namespace xrs::app {

namespace {

struct IndexCmdOptions {
  std::string precision;
  std::string data_dir;
  std::string model;
  std::string index_dir;
  DatasetCliOptions dataset;
  int batch = 32;
  int threads = 0;
  std::string shard;
  std::string vector_index;
  bool rebuild = false;
  bool json = false;
};

std::atomic<bool> g_interrupted{false};

// The first interrupt lets the current batch finish (it is committed, nothing is lost); a second
// one ends the process at once through the default action (the catalog is still consistent:
// every batch is one transaction). Only async-signal-safe calls here.
extern "C" void on_interrupt(int sig) {
  if (g_interrupted.exchange(true)) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  static const char kMessage[] =
      "\nxray-search: interrupted; finishing the current batch (interrupt again to stop now)\n";
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
}

// A progress bar on a terminal; plain lines (at most one per 5 s) otherwise.
class ProgressPrinter {
 public:
  void operator()(const IndexProgress& p) {
    const char* phase = p.phase == IndexProgress::Phase::kHashing ? "checking" : "embedding";
    if (p.phase == IndexProgress::Phase::kDone) {
      line_.finish();
      return;
    }
    std::string rate;
    if (line_.tty()) {
      const int width = 30;
      const int filled = p.total ? static_cast<int>(width * p.done / p.total) : width;
      if (p.per_second > 0) {
        rate =
            strfmt("  %.1f img/s  ETA %s   ", p.per_second, format_duration(p.eta_seconds).c_str());
      }
      line_.draw(
          strfmt("%-9s [%s] %zu/%zu", phase, progress_bar(filled, width).c_str(), p.done, p.total) +
              rate,
          p.done == p.total);
      return;
    }
    if (!line_.plain_due(p.done == p.total || p.done == 0)) return;
    if (p.per_second > 0) {
      rate = strfmt(" (%.1f img/s, ETA %s)", p.per_second, format_duration(p.eta_seconds).c_str());
    }
    line_.print(strfmt("xray-search: %s %zu/%zu", phase, p.done, p.total) + rate);
  }

 private:
  ProgressLine line_{std::chrono::seconds(5)};
};

nlohmann::json summary_json(const IndexSummary& s, const std::string& index_dir) {
  nlohmann::json skipped = nlohmann::json::array();
  for (const SkippedImage& k : s.skipped) {
    skipped.push_back({{"image_name", k.image_name}, {"file", k.file}, {"reason", k.reason}});
  }
  return {{"index", index_dir},
          {"added", s.added},
          {"updated", s.updated},
          {"renamed", s.renamed},
          {"metadata", s.metadata},
          {"removed", s.removed},
          {"unchanged", s.unchanged},
          {"total", s.total},
          {"embedded", s.embedded},
          {"seconds", s.seconds},
          {"embed_seconds", s.embed_seconds},
          {"skipped", skipped},
          {"shard", s.shard.sharded() ? nlohmann::json(s.shard.to_string()) : nlohmann::json()},
          {"dataset_images", s.dataset_images}};
}

int run_index_cmd(const IndexCmdOptions& o) {
  if (o.threads > 0) set_compute_threads(o.threads);
  // A rules file that cannot be used is a failure naming the file; only a bad --categories
  // value is a usage error.
  StatusOr<DatasetConfig> config = load_dataset_rules(o.data_dir, o.dataset);
  if (!config.is_ok()) return report_error(config.status());
  if (Status s = apply_cli_categories(o.dataset, *config); !s.is_ok()) return report_error(s, true);
  ShardSpec shard;
  if (!o.shard.empty()) {
    StatusOr<ShardSpec> parsed = parse_shard(o.shard);
    if (!parsed.is_ok()) return report_error(parsed.status(), true);
    shard = *parsed;
  }
  if (!o.vector_index.empty()) {
    if (Status s = parse_vector_index_spec(o.vector_index).status(); !s.is_ok()) {
      return report_error(s, true);
    }
  }
  StatusOr<std::optional<kernels::Precision>> precision = parse_precision_option(o.precision);
  if (!precision.is_ok()) return report_error(precision.status(), true);
  ClipLoadOptions load;
  load.precision = precision->value_or(kernels::Precision::kFp32);
  StatusOr<std::unique_ptr<ClipModel>> model = ClipModel::load(o.model, load);
  if (!model.is_ok()) return report_error(model.status());

  ProgressPrinter printer;
  IndexOptions options;
  options.data_dir = o.data_dir;
  options.index_dir = o.index_dir;
  options.model_path = o.model;
  options.batch = o.batch;
  options.dataset = *config;
  options.rebuild = o.rebuild;
  options.shard = shard;
  options.vector_index = o.vector_index;
  options.cancel = &g_interrupted;
  options.on_progress = [&printer](const IndexProgress& p) { printer(p); };
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  StatusOr<IndexSummary> summary = run_index(**model, options);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (!summary.is_ok()) return report_error(summary.status());
  const IndexSummary& s = *summary;
  if (o.json) {
    print_json(summary_json(s, o.index_dir), true);
  } else {
    std::fprintf(stderr,
                 "xray-search: index %s: %zu images (%zu added, %zu updated, %zu renamed, %zu "
                 "metadata changes, %zu removed, %zu unchanged, %zu skipped) in %.1f s",
                 o.index_dir.c_str(), s.total, s.added, s.updated, s.renamed, s.metadata, s.removed,
                 s.unchanged, s.skipped.size(), s.seconds);
    if (s.embedded > 0 && s.embed_seconds > 0) {
      std::fprintf(stderr, "; embedded %zu at %.1f images/s", s.embedded,
                   s.embedded / s.embed_seconds);
    }
    std::fputc('\n', stderr);
    if (s.shard.sharded()) {
      std::fprintf(stderr, "  shard %s: %zu of the dataset's %zu images\n",
                   s.shard.to_string().c_str(), s.total, s.dataset_images);
    }
    for (const SkippedImage& k : s.skipped) {
      std::fprintf(stderr, "  skipped %s: %s\n",
                   k.file.empty() ? k.image_name.c_str() : k.file.c_str(), k.reason.c_str());
    }
    for (const Problem& w : s.warnings) {
      std::fprintf(stderr, "  warning: %s\n", w.message.c_str());
    }
  }
  return kExitOk;
}

}  // namespace

void setup_index(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<IndexCmdOptions>();
  o->model = default_model_path();
  CLI::App* cmd = app.add_subcommand(
      "index",
      "Validate a dataset and embed its new or changed images into an index (incremental, "
      "safe to interrupt)");
  cmd->add_option("data_dir", o->data_dir, "dataset folder")->required();
  cmd->add_option("--model,-m", o->model, "model folder or weights file ($XRAY_MODEL)")
      ->capture_default_str();
  add_precision_option(*cmd, o->precision,
                       "default fp32; an index keeps the precision it was built with");
  cmd->add_option("--index", o->index_dir, "index folder (created if absent)")->required();
  add_dataset_options(*cmd, o->dataset);
  cmd->add_option("--batch", o->batch, "images per batch")
      ->check(CLI::Range(1, 512))
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "compute threads (0: all cores)")
      ->check(CLI::Range(0, 256));
  cmd->add_option("--vector-index", o->vector_index,
                  "vector index that search and serve build, recorded in the index: auto (exact "
                  "below 250,000 images, else ivf), exact, f16 (half the memory, exact ranking of "
                  "rounded vectors), ivf, ivf-pq (compressed, e.g. ivf-pq:m=64,nbits=8,nprobe=32) "
                  "or hnsw; see docs/INDEX_FORMAT.md");
  cmd->add_option("--shard", o->shard,
                  "index only shard K of N (0 <= K < N) of the dataset, by a stable hash of each "
                  "image name; combine the shard indexes with `merge`");
  cmd->add_flag("--rebuild", o->rebuild,
                "re-embed everything when the index was built with another model (or shard)");
  cmd->add_flag("--json", o->json, "print the summary as JSON on stdout");
  cmd->callback([o, &exit_code] { exit_code = run_index_cmd(*o); });
}

}  // namespace xrs::app
