// The engine benchmark behind `xray-search bench`, measured the same way as the peer benchmark
// (../shared/tools/peer_bench_pytorch.py) so that the two print comparable numbers: random
// normal pixels, one warm-up call, then the mean of `iters` calls for a batch, 3 * iters calls
// for one image and for one short text query.
#pragma once

#include <string>

#include "core/status.h"

namespace xrs {

struct BenchOptions {
  int batch = 32;
  int iters = 3;
  int threads = 0;  // 0: all cores
};

struct BenchResult {
  int threads = 0;
  int batch = 0;
  double load_ms = 0;            // ClipModel::load, cold or warm page cache as the OS has it
  double image_ms_batch1 = 0;    // one image
  double image_per_s_batch = 0;  // images per second at `batch`
  double text_ms_query = 0;      // one query of 6 tokens (start + 4 words + end)
  // With a tokenizer beside the weights (else 0): one text query "pleural effusion" as typed
  // (ClipModel::embed_text, tokenizing included), through a prompt ensemble of 8 radiology
  // templates with their prefixes cached (PromptEnsemble), and the same 8 whole prompts in one
  // batch (ClipModel::embed_text_ensemble, no cache).
  double text_ms_typed = 0;
  double text_ms_ensemble8 = 0;
  double text_ms_ensemble8_uncached = 0;
  double peak_rss_mb = 0;  // the process's peak resident memory
  // The float32 ceiling: GFLOP per image of the vision tower (2 x multiply-adds of its matrix
  // products), what one large sgemm of the tower's MLP shape reaches on the same threads, and
  // image_per_s_batch as a fraction of sgemm_gflops / vision_gflop_per_image.
  double vision_gflop_per_image = 0;
  double sgemm_gflops = 0;
  double fraction_of_sgemm = 0;
  std::string model;  // hparams().describe()
};

StatusOr<BenchResult> run_benchmark(const std::string& model_path, const BenchOptions& options);

}  // namespace xrs
