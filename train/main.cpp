// xray-search-train: trains a CLIP model on a dataset folder (docs/TRAINING.md). Run directly or
// as `xray-search train ...`. The only program that links LibTorch.
#include <CLI/CLI.hpp>

#include <unistd.h>
#include <cstdio>
#include <cstdlib>

#include "trainer.h"

int main(int argc, char** argv) {
  // OpenMP threads spinning beside OpenBLAS's cost ~3x (../shared/research/libtorch.md); the
  // policy must be in the environment before the OpenMP runtime starts, so re-execute once.
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    execv("/proc/self/exe", argv);  // on failure, go on as we are
  }
  xrs::train::TrainOptions o;
  CLI::App app{
      "xray-search train: train a CLIP model on a dataset folder (OpenCLIP output folder, "
      "retrieval only, not for diagnosis). docs/TRAINING.md"};
  app.name("xray-search train");
  app.add_option("data_dir", o.data_dir, "dataset folder (metadata.csv + raw/)")->required();
  app.add_option("--out", o.out, "model folder to write (atomically, at the end)")->required();
  app.add_option("--arch", o.arch,
                 "architecture: tiny, small (default), ViT-B-32; not with --init");
  app.add_option("--init", o.init,
                 "start from this model (any folder or file the engine loads) and keep its "
                 "tokenizer; ends with a WiSE-FT sweep on the held-out split");
  app.add_option("--trainable", o.trainable,
                 "projections (towers' outputs cached once, no random crops) | last-N-blocks | all")
      ->capture_default_str();
  app.add_option("--epochs", o.epochs, "epochs")->capture_default_str();
  app.add_option("--batch", o.batch, "batch size")->capture_default_str();
  app.add_option("--lr", o.lr, "peak learning rate")->capture_default_str();
  app.add_option("--wd", o.weight_decay, "AdamW weight decay (>= 2-D weights)")
      ->capture_default_str();
  app.add_option("--warmup", o.warmup, "warmup steps (default: 10% of the steps)");
  app.add_option("--seed", o.seed, "seed (same seed, data and threads: same weights)")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "threads")->capture_default_str();
  app.add_option("--held-out", o.held_out, "fraction held out for evaluation")
      ->capture_default_str();
  app.add_option("--group-column", o.group_column,
                 "split by this metadata.csv column (e.g. a patient id) instead of by image");
  app.add_option("--near-duplicates", o.near_duplicates,
                 "keep the near-duplicate groups of this index (of the same dataset, any model) "
                 "on one side of the split");
  app.add_option("--duplicate-min-score", o.duplicate_min_score,
                 "their cosine threshold (default: the index model's duplicate_min_score, else "
                 "0.97)");
  app.add_option("--dtype", o.dtype, "weights written: f32 or f16")->capture_default_str();
  app.add_option("--config", o.config, "dataset config (default DATA_DIR/xray-search.json)");
  app.add_option("--categories", o.categories, "categories (overrides the config)")->delimiter(',');
  app.add_flag("--force", o.force, "replace --out when the run ends");
  app.add_flag("--no-wise-ft", o.no_wise_ft,
               "with --init: write the best epoch's weights as they are (no WiSE-FT sweep)");
  app.add_flag("--quiet", o.quiet, "no progress");
  app.add_option("--exit-after-epoch", o.exit_after_epoch, "tests: exit as if killed")->group("");
  app.add_flag("--no-feature-cache", o.no_feature_cache, "tests: projections without the cache")
      ->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  o.command_line = "xray-search train";
  for (int i = 1; i < argc; ++i) o.command_line += std::string(" ") + argv[i];
  xrs::Status s = xrs::train::run_training(o);
  if (!s.is_ok()) {
    std::fprintf(stderr, "xray-search train: error: %s\n", s.message().c_str());
    return s.code() == xrs::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}
