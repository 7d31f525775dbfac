// xray-search-train: the training run (no LibTorch in this header). docs/TRAINING.md.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace xrs::train {

struct TrainOptions {
  std::string data_dir;
  std::string out;                      // the model folder written at the end (atomically)
  std::string config;                   // dataset config (default DATA_DIR/xray-search.json)
  std::vector<std::string> categories;  // overrides the config's
  std::string arch;  // "" = small; not with --init (the architecture is the init model's)
  std::string init;  // --init MODEL: start from a model the engine loads, keep its tokenizer
  std::string trainable = "all";
  int epochs = 20;
  int batch = 64;
  double lr = 5e-4;
  double weight_decay = 0.2;
  int warmup = -1;  // steps; -1 = 10% of all steps
  uint64_t seed = 0;
  int threads = 2;
  double held_out = 0.2;
  std::string group_column;
  std::string near_duplicates;     // an index of the dataset: its near-duplicate groups
  double duplicate_min_score = 0;  // their threshold; <= 0: the model's, else 0.97
  std::string dtype = "f32";       // of the written weights: f32 or f16
  bool force = false;              // replace an existing --out
  bool no_wise_ft = false;         // --init runs: write the kept epoch as is, no WiSE-FT sweep
  std::string command_line;        // for the model card
  int exit_after_epoch = 0;        // tests: _exit(137) after this epoch's checkpoint (a kill)
  // tests: --trainable projections without the feature cache (the towers run every step on the
  // same fixed pixels), to check that the cache changes nothing but the speed.
  bool no_feature_cache = false;
  bool quiet = false;
};

// Trains and writes the model folder. Progress on stderr. Resumes from OUT.train-state/ when a
// run with the same options was interrupted there.
Status run_training(const TrainOptions& options);

// The state folder of a run: OUT + ".train-state".
std::string state_dir_for(const std::string& out);

}  // namespace xrs::train
