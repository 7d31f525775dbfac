#include "clip/benchmark.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "clip/clip_model.h"
#include "clip/ops.h"
#include "clip/prompt_ensemble.h"
#include "imaging/decode.h"
#include "kernels/cpu_features.h"

namespace xrs {

namespace {

// Set by run_benchmark: time the CPU time of the process (all threads) instead of wall time.
bool g_cpu_clock = false;

double now_ms() {
  if (g_cpu_clock) {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
  }
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Mean time of `iters` calls after one warm-up call.
template <typename Fn>
StatusOr<double> time_ms(int iters, Fn fn) {
  XRS_RETURN_IF_ERROR(fn());
  double t0 = now_ms();
  for (int i = 0; i < iters; ++i) XRS_RETURN_IF_ERROR(fn());
  return (now_ms() - t0) / iters;
}

// Multiply-adds of one image through the vision tower: the patch embedding, then per block the
// q/k/v/out projections, the attention scores and weighted sum, and the MLP.
double vision_gmac_per_image(const ClipHParams& h) {
  const double t = h.vision_tokens(), w = h.vision.width, mlp = h.vision.mlp_width;
  const double patches = (t - 1) * h.patch_dim() * w;
  const double block = 4 * t * w * w + 2 * t * t * w + 2 * t * w * mlp;
  return (patches + h.vision.layers * block) / 1e9;
}

// GFLOP/s of the engine's linear() on the vision MLP's shape at this batch (tokens x width by
// width x mlp_width) at the model's precision: the speed of the kernels underneath (a
// multiply-add counts as 2 operations whatever its type), measured on the same threads.
StatusOr<double> measure_gemm_gflops(const ClipHParams& h, int batch, kernels::Precision p) {
  const int m = batch * h.vision_tokens(), k = h.vision.width, n = h.vision.mlp_width;
  std::vector<float> a(size_t(m) * k), b(size_t(n) * k), c(size_t(m) * n);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uni(-1, 1);
  for (float& v : a) v = uni(rng);
  for (float& v : b) v = uni(rng) * 0.05f;
  Mat w{b.data(), n, k, nullptr};
  std::unique_ptr<kernels::PackedWeight> packed;
  if (p != kernels::Precision::kFp32) {
    XRS_ASSIGN_OR_RETURN(packed, kernels::PackedWeight::pack(b.data(), n, k, p));
    w.packed = packed.get();
  }
  auto run = [&] { linear(m, a.data(), k, w, 0.0f, c.data(), n); };
  run();
  const int iters = 5;
  double t0 = now_ms();
  for (int i = 0; i < iters; ++i) run();
  const double seconds = (now_ms() - t0) / 1000 / iters;
  return 2.0 * m * n * k / seconds / 1e9;
}

// Embeds every image file under `dir` with a float32 copy of the model and with `model`, and
// fills the quality figures of `r` (cosine of each pair of normalised embeddings).
Status measure_quality(const std::string& model_path, const ClipModel& model,
                       const std::string& dir, BenchResult& r) {
  namespace fs = std::filesystem;
  XRS_ASSIGN_OR_RETURN(std::unique_ptr<ClipModel> reference, ClipModel::load(model_path));
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) files.push_back(it->path().string());
  }
  if (ec) return Status::io_error(dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  const ClipHParams& h = model.hparams();
  const size_t per_image = size_t(3) * h.image_size * h.image_size;
  std::vector<float> pixels(per_image), a(h.embed_dim), b(h.embed_dim);
  double sum = 0;
  r.quality_min_cosine = 2;
  for (const std::string& file : files) {
    StatusOr<Image> image = decode_image_file(file);
    if (!image.is_ok() || !clip_preprocess(*image, model.preprocess_config(), pixels).is_ok()) {
      ++r.quality_skipped;  // metadata.csv, licences, undecodable files
      continue;
    }
    XRS_RETURN_IF_ERROR(reference->encode_images(pixels, 1, a));
    XRS_RETURN_IF_ERROR(model.encode_images(pixels, 1, b));
    l2_normalize_rows(a.data(), 1, h.embed_dim);
    l2_normalize_rows(b.data(), 1, h.embed_dim);
    double dot = 0;
    for (int i = 0; i < h.embed_dim; ++i) dot += double(a[i]) * b[i];
    sum += dot;
    ++r.quality_images;
    if (dot < r.quality_min_cosine) {
      r.quality_min_cosine = dot;
      r.quality_min_image = file;
    }
  }
  if (r.quality_images == 0) {
    return Status::invalid_argument("bench --quality: no decodable image under " + dir);
  }
  r.quality_mean_cosine = sum / r.quality_images;
  r.quality_pass =
      r.quality_mean_cosine >= kGateMeanCosine && r.quality_min_cosine >= kGateMinCosine;
  return Status::ok();
}

}  // namespace

StatusOr<BenchResult> run_benchmark(const std::string& model_path, const BenchOptions& options) {
  if (options.batch < 1 || options.iters < 1) {
    return Status::invalid_argument("bench: batch and iters must be at least 1");
  }
  if (options.threads > 0) set_compute_threads(options.threads);
  g_cpu_clock = options.cpu_time;
  BenchResult r;
  r.threads = compute_threads();
  r.batch = options.batch;

  double t0 = now_ms();
  ClipLoadOptions load;
  load.precision = options.precision;
  XRS_ASSIGN_OR_RETURN(std::unique_ptr<ClipModel> model, ClipModel::load(model_path, load));
  r.load_ms = now_ms() - t0;
  const ClipHParams& h = model->hparams();
  r.model = h.describe();
  r.cpu = kernels::cpu_features().describe();
  r.precision = model->info().precision;
  r.kernels = model->info().kernels;
  if (options.precision != kernels::Precision::kFp32 && !options.quality_dir.empty()) {
    XRS_RETURN_IF_ERROR(measure_quality(model_path, *model, options.quality_dir, r));
  }

  std::vector<float> out(size_t(options.batch) * h.embed_dim);
  if (!options.text_only) {
    const size_t per_image = size_t(3) * h.image_size * h.image_size;
    std::vector<float> pixels(per_image * options.batch);
    std::mt19937 rng(0);
    std::normal_distribution<float> normal;
    for (float& v : pixels) v = normal(rng);
    XRS_ASSIGN_OR_RETURN(r.image_ms_batch1, time_ms(3 * options.iters, [&] {
                           return model->encode_images({pixels.data(), per_image}, 1,
                                                       {out.data(), size_t(h.embed_dim)});
                         }));
    XRS_ASSIGN_OR_RETURN(double batch_ms, time_ms(options.iters, [&] {
                           return model->encode_images(pixels, options.batch, out);
                         }));
    r.image_per_s_batch = options.batch * 1000.0 / batch_ms;
    r.vision_gflop_per_image = 2 * vision_gmac_per_image(h);
    XRS_ASSIGN_OR_RETURN(r.sgemm_gflops, measure_gemm_gflops(h, options.batch, options.precision));
    r.fraction_of_sgemm = r.image_per_s_batch * r.vision_gflop_per_image / r.sgemm_gflops;
  }

  // The peer's query: start, "a photo of a", end (ids from CLIP's vocabulary, padded to 77). A
  // model with another vocabulary (a project-trained one) times the same words through its own
  // tokenizer.
  std::vector<int32_t> tokens(h.context_length, 0);
  const int32_t query[] = {49406, 3944, 320, 1674, 530, 49407};
  if (h.vocab_size > 49407 && h.context_length >= 6) {
    std::copy(std::begin(query), std::end(query), tokens.begin());
  } else if (model->tokenizer() != nullptr) {
    XRS_ASSIGN_OR_RETURN(tokens,
                         model->tokenizer()->tokenize("a photo of a", true, h.context_length));
  } else {
    return Status::unsupported(
        "bench: the model has neither CLIP's 49408-token vocabulary nor a tokenizer to form its "
        "text query with");
  }
  XRS_ASSIGN_OR_RETURN(r.text_ms_query, time_ms(3 * options.iters, [&] {
                         return model->encode_texts(tokens, 1, {out.data(), size_t(h.embed_dim)});
                       }));

  if (model->tokenizer() != nullptr) {
    const std::vector<std::string> templates = {
        "a chest radiograph of {}",  "an x-ray showing {}",           "a radiograph with {}",
        "a plain film showing {}",   "an x-ray image of {}",          "a frontal radiograph of {}",
        "a radiology image with {}", "a photo of an x-ray showing {}"};
    const std::string& text = options.text;
    XRS_ASSIGN_OR_RETURN(std::unique_ptr<PromptEnsemble> ensemble,
                         PromptEnsemble::create(*model, templates));
    auto timed = [&](auto&& embed) -> StatusOr<double> {
      return time_ms(3 * options.iters, [&]() -> Status { return embed().status(); });
    };
    XRS_ASSIGN_OR_RETURN(r.text_ms_typed, timed([&] { return model->embed_text(text); }));
    XRS_ASSIGN_OR_RETURN(r.text_ms_ensemble8, timed([&] { return ensemble->embed(text); }));
    XRS_ASSIGN_OR_RETURN(r.text_ms_ensemble8_uncached,
                         timed([&] { return model->embed_text_ensemble(text, templates); }));
  }

  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  r.peak_rss_mb = usage.ru_maxrss / 1024.0;
  return r;
}

}  // namespace xrs
