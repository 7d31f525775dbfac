// xray-search bench --model M [--batch 32] [--threads N] [--iters 3] [--text-only] [--text T]
// [--cpu-time]
// [--json] Image throughput, one-image latency and text-query latency, with the same keys as the
// peer benchmark (../shared/tools/peer_bench_pytorch.py).
#include <memory>

#include "clip/benchmark.h"
#include "common.h"

namespace xrs::app {

namespace {

struct BenchCmdOptions {
  std::string model;
  BenchOptions bench;
  std::string precision;
  bool json = false;
};

int run_bench(BenchCmdOptions o) {
  StatusOr<std::optional<kernels::Precision>> precision = parse_precision_option(o.precision);
  if (!precision.is_ok()) return report_error(precision.status(), true);
  o.bench.precision = precision->value_or(kernels::Precision::kFp32);
  StatusOr<BenchResult> r = run_benchmark(o.model, o.bench);
  if (!r.is_ok()) return report_error(r.status());
  const std::string batch_key = "image_per_s_batch" + std::to_string(r->batch);
  if (o.json) {
    nlohmann::json j = {{"engine", "xray-search 0.1.0"},
                        {"threads", r->threads},
                        {"image_ms_batch1", r->image_ms_batch1},
                        {batch_key, r->image_per_s_batch},
                        {"text_ms_query", r->text_ms_query},
                        {"text_ms_typed", r->text_ms_typed},
                        {"text_ms_ensemble8", r->text_ms_ensemble8},
                        {"text_ms_ensemble8_uncached", r->text_ms_ensemble8_uncached},
                        {"load_ms", r->load_ms},
                        {"peak_rss_mb", r->peak_rss_mb},
                        {"vision_gflop_per_image", r->vision_gflop_per_image},
                        {"sgemm_gflops", r->sgemm_gflops},
                        {"fraction_of_sgemm", r->fraction_of_sgemm},
                        {"model", r->model},
                        {"cpu", r->cpu},
                        {"precision", r->precision},
                        {"kernels", r->kernels},
                        {"onednn", kernels::onednn_version()}};
    if (r->quality_images > 0) {
      j["quality"] = {{"images", r->quality_images},
                      {"skipped_files", r->quality_skipped},
                      {"mean_cosine", r->quality_mean_cosine},
                      {"min_cosine", r->quality_min_cosine},
                      {"min_image", r->quality_min_image},
                      {"gate_mean", kGateMeanCosine},
                      {"gate_min", kGateMinCosine},
                      {"pass", r->quality_pass}};
    }
    if (o.bench.text_only) {
      for (const char* key :
           {"image_ms_batch1", "vision_gflop_per_image", "sgemm_gflops", "fraction_of_sgemm"}) {
        j.erase(key);
      }
      j.erase(batch_key);
    }
    print_json(j);
    return r->quality_images > 0 && !r->quality_pass ? kExitFailure : kExitOk;
  }
  std::printf("model:            %s\n", r->model.c_str());
  std::printf("cpu:              %s\n", r->cpu.c_str());
  std::printf("precision:        %s (image tower kernels: %s)\n", r->precision.c_str(),
              r->kernels.c_str());
  std::printf("threads:          %d\n", r->threads);
  std::printf("load:             %.1f ms\n", r->load_ms);
  if (!o.bench.text_only) {
    std::printf("image, batch 1:   %.1f ms\n", r->image_ms_batch1);
    std::printf("images, batch %d: %.2f images/s\n", r->batch, r->image_per_s_batch);
    std::printf("  (%.2f GFLOP/image; %s product %.1f GFLOP/s; %.0f%% of that ceiling)\n",
                r->vision_gflop_per_image, r->precision.c_str(), r->sgemm_gflops,
                100 * r->fraction_of_sgemm);
  }
  std::printf("text query:       %.2f ms\n", r->text_ms_query);
  if (r->text_ms_typed > 0) {
    std::printf("text, as typed:   %.2f ms (tokenizing included)\n", r->text_ms_typed);
    std::printf("text, 8 prompts:  %.2f ms (%.2fx as typed; %.2f ms without cached prefixes)\n",
                r->text_ms_ensemble8, r->text_ms_ensemble8 / r->text_ms_typed,
                r->text_ms_ensemble8_uncached);
  }
  std::printf("peak RSS:         %.0f MB\n", r->peak_rss_mb);
  if (r->quality_images > 0) {
    std::printf(
        "quality vs fp32:  %d images, mean cosine %.5f (gate %.3f), min %.5f (gate %.2f, %s): "
        "%s\n",
        r->quality_images, r->quality_mean_cosine, kGateMeanCosine, r->quality_min_cosine,
        kGateMinCosine, r->quality_min_image.c_str(), r->quality_pass ? "PASS" : "FAIL");
    if (!r->quality_pass) return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

void setup_bench(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<BenchCmdOptions>();
  o->model = default_model_path();
  CLI::App* cmd = app.add_subcommand("bench", "Measure embedding speed (images/s, ms per query)");
  cmd->add_option("--model,-m", o->model, "model folder or weights file ($XRAY_MODEL)")
      ->capture_default_str();
  cmd->add_option("--batch", o->bench.batch, "images per batch")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--threads", o->bench.threads, "compute threads (0: all cores)")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  cmd->add_option("--iters", o->bench.iters, "timed repetitions")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  add_precision_option(*cmd, o->precision, "default fp32");
  cmd->add_option("--quality", o->bench.quality_dir,
                  "with bf16/int8: compare every image under DIR with float32 (the quality gate; "
                  "exit 1 when it fails)");
  cmd->add_flag("--text-only", o->bench.text_only,
                "only the text-query latencies (as typed, prompt ensemble of 8): no image");
  cmd->add_option("--text", o->bench.text,
                  "the text query of the as-typed and ensemble timings (its length sets the work)")
      ->capture_default_str();
  cmd->add_flag("--cpu-time", o->bench.cpu_time,
                "report the process's CPU time (all threads) instead of wall time (busy hosts)");
  cmd->add_flag("--json", o->json, "print one JSON object");
  cmd->callback([o, &exit_code] { exit_code = run_bench(*o); });
}

}  // namespace xrs::app
