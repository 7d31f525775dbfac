// xray-search merge SHARD_IDX... --index IDX [--json]
// Combines shard indexes (`index --shard K/N`) into one index; index/merge.h has the rules.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "common.h"
#include "index/merge.h"

namespace xrs::app {

namespace {

struct MergeCmdOptions {
  std::vector<std::string> inputs;
  std::string index_dir;
  bool json = false;
};

std::atomic<bool> g_interrupted{false};

extern "C" void on_merge_interrupt(int sig) {
  if (g_interrupted.exchange(true)) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  static const char kMessage[] =
      "\nxray-search: interrupted; finishing the current batch (interrupt again to stop now)\n";
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
}

int run_merge_cmd(const MergeCmdOptions& o) {
  MergeOptions options;
  options.inputs = o.inputs;
  options.index_dir = o.index_dir;
  options.cancel = &g_interrupted;
  // Test hook (tests/e2e/shard_merge_test.cpp): XRS_MERGE_TEST_BATCH rows per transaction and
  // XRS_MERGE_TEST_KILL_AFTER_COMMITS=N ends the process with SIGKILL after the N-th commit.
  if (const char* b = std::getenv("XRS_MERGE_TEST_BATCH")) {
    options.batch = static_cast<size_t>(std::max(1L, std::atol(b)));
  }
  const long kill_after = std::getenv("XRS_MERGE_TEST_KILL_AFTER_COMMITS") != nullptr
                              ? std::atol(std::getenv("XRS_MERGE_TEST_KILL_AFTER_COMMITS"))
                              : 0;
  long commits = 0;
  options.on_commit = [&](size_t written, size_t to_write) {
    if (!o.json && isatty(STDERR_FILENO)) {
      std::fprintf(stderr, "\rxray-search: merging %zu/%zu", written, to_write);
    }
    if (kill_after > 0 && ++commits >= kill_after) std::raise(SIGKILL);
  };
  std::signal(SIGINT, on_merge_interrupt);
  std::signal(SIGTERM, on_merge_interrupt);
  StatusOr<MergeSummary> summary = merge_indexes(options);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (!o.json && isatty(STDERR_FILENO)) std::fputc('\n', stderr);
  if (!summary.is_ok()) return report_error(summary.status());
  const MergeSummary& s = *summary;
  if (o.json) {
    print_json({{"index", o.index_dir},
                {"inputs", s.inputs},
                {"shards", s.shard_count},
                {"added", s.added},
                {"updated", s.updated},
                {"removed", s.removed},
                {"unchanged", s.unchanged},
                {"total", s.total},
                {"warnings", s.warnings},
                {"seconds", s.seconds}},
               true);
  } else {
    std::fprintf(stderr,
                 "xray-search: merged %zu %s into %s: %zu images (%zu added, %zu updated, %zu "
                 "removed, %zu unchanged) in %.1f s\n",
                 s.inputs, s.shard_count > 0 ? "shards" : "indexes", o.index_dir.c_str(), s.total,
                 s.added, s.updated, s.removed, s.unchanged, s.seconds);
    for (const std::string& w : s.warnings) std::fprintf(stderr, "  warning: %s\n", w.c_str());
  }
  return kExitOk;
}

}  // namespace

void setup_merge(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<MergeCmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "merge",
      "Combine shard indexes (index --shard K/N) into one index (incremental, safe to "
      "interrupt); refuses mixed models, overlapping or missing shards");
  cmd->add_option("shards", o->inputs, "shard index folders")->required();
  cmd->add_option("--index", o->index_dir, "the merged index folder (created if absent)")
      ->required();
  cmd->add_flag("--json", o->json, "print the summary as JSON on stdout");
  cmd->callback([o, &exit_code] { exit_code = run_merge_cmd(*o); });
}

}  // namespace xrs::app
