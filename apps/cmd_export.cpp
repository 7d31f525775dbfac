// xray-search export --index IDX --out PREFIX  → PREFIX.npy (N x dim float32) + PREFIX.csv
#include <memory>

#include "common.h"
#include "index/export.h"

namespace xrs::app {

namespace {

struct ExportOptions {
  std::string index_dir;
  std::string out;
};

int run_export(const ExportOptions& o) {
  const std::string npy = o.out + ".npy", csv = o.out + ".csv";
  Status s = export_embeddings(o.index_dir, npy, csv);
  if (!s.is_ok()) return report_error(s);
  std::fprintf(stderr, "xray-search: wrote %s and %s\n", npy.c_str(), csv.c_str());
  return kExitOk;
}

}  // namespace

void setup_export(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ExportOptions>();
  CLI::App* cmd = app.add_subcommand(
      "export", "Write an index's embeddings as NumPy .npy plus a metadata .csv (same row order)");
  cmd->add_option("--index", o->index_dir, "index folder")->required();
  cmd->add_option("--out,-o", o->out, "output path prefix (writes PREFIX.npy and PREFIX.csv)")
      ->required();
  cmd->callback([o, &exit_code] { exit_code = run_export(*o); });
}

}  // namespace xrs::app
