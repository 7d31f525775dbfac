// The engine benchmark behind `xray-search bench`, measured the same way as the peer benchmark
// (../shared/tools/peer_bench_pytorch.py) so that the two print comparable numbers: random
// normal pixels, one warm-up call, then the mean of `iters` calls for a batch, 3 * iters calls
// for one image and for one short text query.
#pragma once

#include <string>

#include "core/status.h"
#include "kernels/gemm.h"

namespace xrs {

struct BenchOptions {
  int batch = 32;
  int iters = 3;
  int threads = 0;  // 0: all cores
  // The image tower's precision (ClipLoadOptions). For bf16/int8, `quality_dir` (every image file
  // under it) is embedded at float32 and at this precision, and the cosines are the quality gate.
  kernels::Precision precision = kernels::Precision::kFp32;
  std::string quality_dir;
  // Only the text-query figures (text_ms_*): no image is embedded, no product measured.
  bool text_only = false;
  // Times are the CPU time of the process (all its threads) instead of wall time: comparisons on
  // a busy host, where waiting for a core would count.
  bool cpu_time = false;
  // The text query of text_ms_typed and the ensemble figures (its token count sets the rows).
  std::string text = "pleural effusion";
};

// The quality gate of a lower-precision tier against float32 (docs/PERFORMANCE.md): mean cosine
// >= 0.995 and every image >= 0.98.
constexpr double kGateMeanCosine = 0.995;
constexpr double kGateMinCosine = 0.98;

struct BenchResult {
  int threads = 0;
  int batch = 0;
  double load_ms = 0;            // ClipModel::load, cold or warm page cache as the OS has it
  double image_ms_batch1 = 0;    // one image
  double image_per_s_batch = 0;  // images per second at `batch`
  double text_ms_query = 0;      // one query of 6 tokens (start + 4 words + end)
  // With a tokenizer beside the weights (else 0): one text query (BenchOptions::text, "pleural
  // effusion") as typed (ClipModel::embed_text, tokenizing included), through a prompt ensemble of
  // 8 radiology templates with their prefixes cached (PromptEnsemble), and the same 8 whole prompts
  // in one batch (ClipModel::embed_text_ensemble, no cache).
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
  std::string model;      // hparams().describe()
  std::string cpu;        // kernels::cpu_features().describe()
  std::string precision;  // "fp32", "bf16", "int8"
  std::string kernels;    // what runs the image tower's linear layers (ModelInfo::kernels)
  // Quality gate (bf16/int8 with a quality_dir): images compared, mean and minimum cosine of
  // the tier's embedding to float32's, the image with the minimum, and whether the gate holds.
  int quality_images = 0;
  int quality_skipped = 0;  // files that did not decode
  double quality_mean_cosine = 0;
  double quality_min_cosine = 0;
  std::string quality_min_image;
  bool quality_pass = false;
};

StatusOr<BenchResult> run_benchmark(const std::string& model_path, const BenchOptions& options);

}  // namespace xrs
