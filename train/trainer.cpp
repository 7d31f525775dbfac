#include "trainer.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <numeric>
#include <optional>
#include <random>

#include "core/file_util.h"
#include "data.h"
#include "dataset/config.h"
#include "eval/metrics.h"
#include "eval/retrieval.h"
#include "model.h"
#include "near_duplicates.h"
#include "tokenizer/tokenizer.h"
#include "vocab.h"

namespace xrs::train {
namespace fs = std::filesystem;

std::string state_dir_for(const std::string& out) {
  std::string o = out;
  while (o.size() > 1 && o.back() == '/') o.pop_back();
  return o + ".train-state";
}

namespace {

using Clock = std::chrono::steady_clock;
using TensorMap = std::map<std::string, torch::Tensor>;

std::string key_of(const std::string& name) {
  std::string k = name;
  for (char& c : k) {
    if (c == '.') c = '_';
  }
  return k;
}

torch::Tensor string_tensor(const std::string& s) {
  return torch::from_blob(const_cast<char*>(s.data()), {int64_t(s.size())}, torch::kUInt8).clone();
}
std::string tensor_string(const torch::Tensor& t) {
  torch::Tensor c = t.contiguous();
  return std::string(reinterpret_cast<const char*>(c.data_ptr<uint8_t>()), size_t(c.numel()));
}

std::string fmt_duration(double s) {
  char buf[32];
  const int t = int(std::lround(s));
  if (t >= 3600) {
    std::snprintf(buf, sizeof buf, "%dh%02dm", t / 3600, t / 60 % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dm%02ds", t / 60, t % 60);
  }
  return buf;
}

// Held-out metrics through eval/ (the definitions of `xray-search evaluate`,
// docs/EVALUATION.md). The headline, which picks the best epoch and the WiSE-FT alpha, is
// image→image P@5 + text→image P@5, each the mean over its queries (eval's micro average).
struct Metrics {
  double image_p5 = 0, text_p5 = 0;  // micro P@5: the headline
  eval::Metrics image, text;         // macro averages over the categories, as evaluate reports
  double score() const { return image_p5 + text_p5; }
};

nlohmann::json metrics_json(const eval::Metrics& m) {
  nlohmann::json j;
  for (size_t i = 0; i < eval::kMetricCount; ++i) {
    j[std::string(eval::metric_key(eval::Metric(i)))] = m.v[i];
  }
  return j;
}

// Held-out evaluation from the held-out images' embeddings [n, E] and the category prompts'
// [P, E] (unnormalised), with eval/'s retrieval: image→image leave-one-out among the held-out
// images (relevant: the same category), and each category prompt (a built-in template with the
// category's first word) against the held-out images. k = 5.
StatusOr<Metrics> evaluate(const torch::Tensor& image_embeddings,
                           const torch::Tensor& prompt_embeddings, const TrainData& data,
                           const std::vector<int>& prompt_category) {
  torch::NoGradGuard no_grad;
  namespace F = torch::nn::functional;
  const torch::Tensor img =
      F::normalize(image_embeddings, F::NormalizeFuncOptions().dim(-1)).contiguous();
  const torch::Tensor txt = prompt_embeddings.contiguous();
  const int64_t n = img.size(0), dim = img.size(1);
  std::vector<int64_t> ids(static_cast<size_t>(n));
  std::iota(ids.begin(), ids.end(), 0);
  eval::Corpus corpus;
  corpus.vectors = std::span<const float>(img.data_ptr<float>(), size_t(n * dim));
  corpus.dim = size_t(dim);
  corpus.ids = ids;
  corpus.category_names = data.categories;
  for (int i : data.held_out) corpus.category.push_back(data.examples[i].category);
  eval::RunOptions run;
  run.k = 5;
  run.threads = 1;
  XRS_ASSIGN_OR_RETURN(std::vector<eval::QueryResult> images, eval::image_to_image(corpus, run));
  std::vector<eval::Query> queries(prompt_category.size());
  for (size_t p = 0; p < queries.size(); ++p) {
    const float* row = txt[int64_t(p)].data_ptr<float>();
    queries[p].label = "prompt " + std::to_string(p);
    queries[p].embedding.assign(row, row + dim);
    queries[p].category = prompt_category[p];
  }
  XRS_ASSIGN_OR_RETURN(std::vector<eval::QueryResult> texts,
                       eval::run_queries(corpus, queries, run));
  eval::SummaryOptions summary;
  summary.bootstrap_samples = 0;
  const eval::Summary si = eval::summarize(images, summary);
  const eval::Summary st = eval::summarize(texts, summary);
  Metrics m;
  m.image_p5 = si.micro[eval::Metric::kPk];
  m.text_p5 = st.micro[eval::Metric::kPk];
  m.image = si.macro;
  m.text = st.macro;
  return m;
}

// eval_pixels of examples[rows[begin..begin+m)] as one [m, 3, S, S] tensor.
torch::Tensor eval_batch(const TrainData& data, const std::vector<int>& rows, int begin, int m,
                         int S) {
  torch::Tensor px = torch::empty({m, 3, S, S});
  for (int j = 0; j < m; ++j) {
    const auto& v = data.eval_pixels[rows[begin + j]];
    std::memcpy(px[j].data_ptr<float>(), v.data(), v.size() * sizeof(float));
  }
  return px;
}

// Copies `tensors` into the model's parameters.
void load_tensors(ClipNet& model, const TensorMap& tensors) {
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : model->tensors()) const_cast<torch::Tensor&>(t).copy_(tensors.at(name));
}

// The WiSE-FT sweep: alpha = 0, 0.1, ..., 1.
struct SweepRow {
  double alpha = 0;
  Metrics metrics;
};

double lr_at(int64_t step, int64_t total, int64_t warmup, double base) {
  if (step < warmup) return base * double(step + 1) / double(warmup);
  const double e = double(step - warmup), es = double(std::max<int64_t>(1, total - warmup));
  return 0.5 * (1.0 + std::cos(M_PI * e / es)) * base;
}

std::string model_card(const TrainOptions& o, const TrainData& data, const ClipHParams& h,
                       const nlohmann::json& history, int best_epoch, const Metrics& best,
                       const LearnedVocab& vocab, const std::vector<std::string>& prompts,
                       double seconds, double images_per_second, const InitModel* init, bool cached,
                       const std::vector<SweepRow>& sweep, double alpha, const Metrics& written) {
  std::string s;
  auto line = [&](const std::string& l) { s += l + "\n"; };
  char buf[512];
  line("# Model card: " + fs::path(o.out).filename().string());
  line("");
  if (init != nullptr) {
    line("A CLIP ViT fine-tuned from `" + o.init + "` (" + init->format +
         ") by `xray-search train` (xray-search's own C++ trainer on LibTorch). **Intended use:");
    line("image retrieval only, not diagnosis.**");
  } else {
    line(
        "A CLIP ViT trained from scratch by `xray-search train` (xray-search's own C++ trainer on");
    line("LibTorch). **Intended use: image retrieval only, not diagnosis.** It knows only the");
    line("categories and words of its training captions (below); it is no general-purpose CLIP.");
  }
  line("");
  line("## Command");
  line("");
  line("```");
  line(o.command_line);
  line("```");
  line("");
  line("## Architecture");
  line("");
  line((init != nullptr ? "The `--init` model's: "
                        : "`--arch " + (o.arch.empty() ? std::string("small") : o.arch) + "`: ") +
       h.describe() + "; context " + std::to_string(h.context_length) + " tokens, vocabulary " +
       std::to_string(h.vocab_size) +
       (init != nullptr ? " (the --init model's tokenizer, kept)"
                        : " (byte-level BPE learnt from the captions)") +
       "; weights " + (o.dtype == "f16" ? "float16" : "float32") + ".");
  line("");
  line("## Data");
  line("");
  std::map<std::string, int> licenses;
  std::map<std::string, int> per_cat_train, per_cat_held;
  for (const Example& e : data.examples) {
    ++licenses[e.license.empty() ? "(no license column)" : e.license];
    ++(e.held_out ? per_cat_held : per_cat_train)[data.categories[e.category]];
  }
  line("`" + o.data_dir + "`: " + std::to_string(data.examples.size()) + " images (" +
       std::to_string(data.train.size()) + " training, " + std::to_string(data.held_out.size()) +
       " held out, split by " + (o.group_column.empty() ? "image" : "'" + o.group_column + "'") +
       (data.linked_source.empty()
            ? std::string()
            : "; " + std::to_string(data.linked_groups) + " " + data.linked_source + ", " +
                  std::to_string(data.linked_images) + " images, each group on one side") +
       ").");
  line("");
  line("| category | training | held out |");
  line("| --- | --- | --- |");
  for (const std::string& c : data.categories) {
    line("| " + c + " | " + std::to_string(per_cat_train[c]) + " | " +
         std::to_string(per_cat_held[c]) + " |");
  }
  line("");
  line("Licenses of the images (the `license` column of metadata.csv; the dataset's SOURCES.md");
  line("names each source):");
  line("");
  for (const auto& [l, n] : licenses) line("- " + l + ": " + std::to_string(n));
  line("");
  line("## Recipe");
  line("");
  std::snprintf(buf, sizeof buf,
                "open_clip's: symmetric contrastive loss (same-category pairs in a batch are not "
                "negatives), learnable logit scale clamped to [0, ln 100], AdamW (0.9, 0.98, eps "
                "1e-6, weight decay %g on >=2-D weights), lr %g, warmup then cosine, batch %d, "
                "%d epochs, seed %llu, --trainable %s.",
                o.weight_decay, o.lr, o.batch, o.epochs, (unsigned long long)o.seed,
                o.trainable.c_str());
  line(buf);
  if (cached) {
    line("No augmentation: with --trainable projections the towers' outputs are computed once, on");
    line("the serving preprocessing (resize shorter side, centre crop), and only the projections");
    line("and the logit scale train on them; random crops are not applied.");
  } else {
    line("Augmentation: random resized crop (scale 0.9-1.0, ratio 3/4-4/3) through the engine's");
    line("decoding and Pillow-exact bicubic resampling; no flip. Evaluation uses the serving");
    line("preprocessing exactly (resize shorter side, centre crop).");
  }
  std::snprintf(buf, sizeof buf, "Training took %s (%.1f images/s, %d threads).",
                fmt_duration(seconds).c_str(), images_per_second, o.threads);
  line(buf);
  line("");
  line("## Held-out metrics");
  line("");
  line("Computed by the evaluation module of `xray-search evaluate` (docs/EVALUATION.md), k = 5.");
  line("Image→image: each held-out image queries the other held-out images (leave-one-out); a");
  line("hit is the same category. Text→image: the category prompts below against the held-out");
  line("images. Per epoch: P@5 as the mean over the queries (micro); their sum picks the kept");
  line("epoch" + std::string(sweep.empty() ? "" : " and the WiSE-FT α") + ".");
  line("");
  line("| epoch | loss | image→image P@5 | text→image P@5 |");
  line("| --- | --- | --- | --- |");
  for (const auto& e : history) {
    std::snprintf(buf, sizeof buf, "| %d%s | %.4f | %.3f | %.3f |", e["epoch"].get<int>(),
                  e["epoch"].get<int>() == best_epoch ? " (kept)" : "", e["loss"].get<double>(),
                  e["image_p5"].get<double>(), e["text_p5"].get<double>());
    line(buf);
  }
  line("");
  std::snprintf(buf, sizeof buf, "Kept: epoch %d, image→image P@5 = %.3f, text→image P@5 = %.3f.",
                best_epoch, best.image_p5, best.text_p5);
  line(buf);
  line("");
  if (!sweep.empty()) {
    line("## WiSE-FT");
    line("");
    line("The written weights are (1 - α) · θ_init + α · θ_trained (θ_trained: the kept epoch),");
    line("with the α of the best held-out image→image P@5 + text→image P@5 (ties: the smaller α):");
    line("");
    line("| α | image→image P@5 | text→image P@5 |");
    line("| --- | --- | --- |");
    for (const SweepRow& r : sweep) {
      std::snprintf(buf, sizeof buf, "| %.1f%s | %.3f | %.3f |", r.alpha,
                    r.alpha == alpha ? " (kept)" : "", r.metrics.image_p5, r.metrics.text_p5);
      line(buf);
    }
    line("");
    std::snprintf(buf, sizeof buf,
                  "Written: α = %.1f, image→image P@5 = %.3f, text→image P@5 = %.3f.", alpha,
                  written.image_p5, written.text_p5);
    line(buf);
    line("");
  }
  line("The written model, macro averages over the categories (the headline of `evaluate`):");
  line("");
  line("| | P@1 | P@5 | MAP@R | mAP | MRR |");
  line("| --- | --- | --- | --- | --- | --- |");
  for (const auto& [label, m] :
       {std::pair<const char*, const eval::Metrics&>{"image→image", written.image},
        {"text→image", written.text}}) {
    using eval::Metric;
    std::snprintf(buf, sizeof buf, "| %s | %.3f | %.3f | %.3f | %.3f | %.3f |", label,
                  m[Metric::kP1], m[Metric::kPk], m[Metric::kMapAtR], m[Metric::kMap],
                  m[Metric::kMrr]);
    line(buf);
  }
  line("");
  line("Category prompts: " + [&] {
    std::string p;
    for (const std::string& q : prompts) p += (p.empty() ? "\"" : ", \"") + q + "\"";
    return p;
  }() + ".");
  line("");
  if (init != nullptr) {
    line("## Words it knows");
    line("");
    line("Its tokenizer is the --init model's: it knows what that model knew, and the training");
    line("captions' words were tuned on; the category prompts above are what was measured.");
    return s;
  }
  line("## Words it knows");
  line("");
  line("Each of these caption words is a single token of its vocabulary and was trained on:");
  line("");
  std::string words;
  for (const std::string& w : vocab.words) words += (words.empty() ? "" : ", ") + w;
  line(words + ".");
  line("");
  line(
      "Any other word (anatomy it never saw, findings such as \"fracture\" or \"pneumonia\", left");
  line("and right) is split into pieces it was never trained to relate to images: such queries");
  line("rank at random. Use a general CLIP (ViT-B/32) for those.");
  return s;
}

}  // namespace

Status run_training(const TrainOptions& o) {
  const auto t_start = Clock::now();
  auto log = [&](const std::string& s) {
    if (!o.quiet) std::fprintf(stderr, "%s\n", s.c_str());
  };
  if (!o.init.empty() && !o.arch.empty()) {
    return Status::invalid_argument(
        "--arch and --init exclude each other: the architecture is the --init model's");
  }
  const std::string arch = o.arch.empty() ? "small" : o.arch;
  std::unique_ptr<InitModel> init;
  ClipHParams h;
  if (!o.init.empty()) {
    XRS_ASSIGN_OR_RETURN(InitModel m, load_init_model(o.init));
    init = std::make_unique<InitModel>(std::move(m));
    h = init->hparams;
  } else {
    XRS_ASSIGN_OR_RETURN(h, arch_hparams(arch));
  }
  XRS_ASSIGN_OR_RETURN(Trainable trainable, parse_trainable(o.trainable, h));
  // --trainable projections: the towers are frozen, so their outputs are computed once, on fixed
  // pixels (the serving preprocessing: no random crops).
  const bool fixed_pixels = trainable.kind == Trainable::Kind::kProjections;
  const bool cached = fixed_pixels && !o.no_feature_cache;
  if (o.dtype != "f32" && o.dtype != "f16") {
    return Status::invalid_argument("--dtype: '" + o.dtype + "' is not f32 or f16");
  }
  if (o.epochs < 1 || o.batch < 2 || o.lr <= 0 || o.held_out <= 0 || o.held_out >= 1 ||
      o.threads < 1) {
    return Status::invalid_argument(
        "--epochs >= 1, --batch >= 2, --lr > 0, 0 < --held-out < 1 and --threads >= 1 are needed");
  }
  if (o.out.empty()) return Status::invalid_argument("--out is required");
  std::error_code ec;
  if (fs::exists(o.out, ec) && !o.force) {
    return Status::invalid_argument(o.out +
                                    " exists: choose another --out, or --force to replace "
                                    "it when the run ends");
  }

  // Data and captions.
  DataOptions d;
  d.data_dir = o.data_dir;
  if (!o.config.empty()) {
    XRS_ASSIGN_OR_RETURN(d.config, load_dataset_config(o.config));
  } else {
    XRS_ASSIGN_OR_RETURN(d.config, load_dataset_config_for(o.data_dir));
  }
  if (!o.categories.empty()) {
    d.config.categories = o.categories;
    XRS_RETURN_IF_ERROR(check_dataset_config(d.config));
  }
  d.group_column = o.group_column;
  NearDuplicates near;
  if (!o.near_duplicates.empty()) {
    XRS_ASSIGN_OR_RETURN(near, load_near_duplicates(o.near_duplicates, o.duplicate_min_score));
    d.linked = near.groups;
  } else if (o.duplicate_min_score != 0) {
    return Status::invalid_argument("--duplicate-min-score needs --near-duplicates INDEX");
  }
  d.held_out = o.held_out;
  d.image_size = h.image_size;
  d.preprocess.image_size = h.image_size;
  d.preprocess.mean = h.mean;
  d.preprocess.std = h.std;
  d.threads = o.threads;
  d.eval_pixels_for_all = fixed_pixels;
  if (init) log("xray-search-train: --init " + init->weights + " (" + init->format + ")");
  log("xray-search-train: reading " + o.data_dir);
  XRS_ASSIGN_OR_RETURN(TrainData data, load_train_data(d));
  if (data.held_out.size() < 2) {  // eval/ ranks each held-out image against the others
    return Status::invalid_argument(
        "the split leaves " + std::to_string(data.held_out.size()) +
        " held-out image: at least 2 are needed to evaluate (more images, or a larger --held-out)");
  }
  log("  " + std::to_string(data.examples.size()) +
      " images: " + std::to_string(data.train.size()) + " training, " +
      std::to_string(data.held_out.size()) + " held out");
  if (!o.near_duplicates.empty()) {
    char buf[160];
    std::snprintf(buf, sizeof buf, " at cosine %.4f (%s)", near.min_score,
                  near.threshold_from.c_str());
    data.linked_source = "near-duplicate groups of index `" + o.near_duplicates + "`" + buf;
    log("  " + std::to_string(data.linked_groups) + " near-duplicate groups (" +
        std::to_string(data.linked_images) + " images) kept on one side of the split" + buf);
  }

  // Tokenizer learnt from the captions.
  const std::string state = state_dir_for(o.out);
  fs::create_directories(state, ec);
  if (ec) return Status::io_error(state + ": " + ec.message());
  std::vector<std::string> texts;
  std::vector<std::string> prompts;
  std::vector<int> prompt_category;
  for (size_t c = 0; c < data.categories.size(); ++c) {
    XRS_ASSIGN_OR_RETURN(auto words, caption_words(data.categories[c], d.config.captions));
    for (const std::string& t : builtin_caption_templates()) {
      const size_t at = t.find("{}");
      prompts.push_back(t.substr(0, at) + words[0] + t.substr(at + 2));
      prompt_category.push_back(int(c));
    }
  }
  texts = prompts;
  for (const Example& e : data.examples) {
    for (const std::string& c : e.captions) texts.push_back(c);
  }
  LearnedVocab vocab;
  std::optional<Tokenizer> tok;
  if (init) {  // the init model's tokenizer, kept
    StatusOr<Tokenizer> t = Tokenizer::load_dir(init->dir);
    if (!t.is_ok()) {
      return Status::invalid_argument("--init " + o.init +
                                      ": no tokenizer beside its weights: " + t.status().message());
    }
    if (t->vocab_size() > h.vocab_size) {
      return Status::invalid_argument(
          "--init " + o.init + ": its tokenizer has " + std::to_string(t->vocab_size()) +
          " tokens, its token embedding only " + std::to_string(h.vocab_size));
    }
    tok.emplace(std::move(t).value());
  } else {
    XRS_ASSIGN_OR_RETURN(vocab, learn_vocab(texts, state + "/bootstrap-tokenizer"));
    XRS_RETURN_IF_ERROR(write_vocab(vocab, state + "/tokenizer"));
    XRS_ASSIGN_OR_RETURN(Tokenizer t, Tokenizer::load_hf(state + "/tokenizer/vocab.json",
                                                         state + "/tokenizer/merges.txt"));
    tok.emplace(std::move(t));
    h.vocab_size = tok->vocab_size();
  }
  const int S = h.image_size, C = h.context_length;
  auto tokenize = [&](const std::string& text, int64_t* out) -> Status {
    XRS_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tok->tokenize(text, true, C));
    for (int i = 0; i < C; ++i) out[i] = ids[i];
    return Status::ok();
  };
  // Every caption tokenized once.
  std::vector<std::vector<std::vector<int64_t>>> caption_tokens(data.examples.size());
  for (size_t i = 0; i < data.examples.size(); ++i) {
    for (const std::string& c : data.examples[i].captions) {
      caption_tokens[i].emplace_back(C);
      XRS_RETURN_IF_ERROR(tokenize(c, caption_tokens[i].back().data()));
    }
  }
  torch::Tensor prompt_tokens = torch::empty({int64_t(prompts.size()), C}, torch::kInt64);
  for (size_t p = 0; p < prompts.size(); ++p) {
    XRS_RETURN_IF_ERROR(tokenize(prompts[p], prompt_tokens[p].data_ptr<int64_t>()));
  }

  // Model and optimizer.
  torch::set_num_threads(o.threads);
  torch::manual_seed(o.seed);
  ClipNet model(h);
  if (init) load_tensors(model, init->tensors);
  model->set_trainable(trainable);

  // --trainable projections: every image's (serving preprocessing, no crop) and every distinct
  // caption's and prompt's tower output, once; training and evaluation then only project them.
  torch::Tensor image_cache, caption_cache, prompt_cache;
  std::vector<std::vector<int64_t>> caption_row(data.examples.size());
  if (cached) {
    const auto t0 = Clock::now();
    torch::NoGradGuard no_grad;
    const int n = int(data.examples.size());
    std::vector<int> all(n);
    std::iota(all.begin(), all.end(), 0);
    std::vector<torch::Tensor> parts;
    for (int i = 0; i < n; i += 64) {
      parts.push_back(model->image_features(eval_batch(data, all, i, std::min(64, n - i), S)));
    }
    image_cache = torch::cat(parts);
    std::map<std::vector<int64_t>, int64_t> row_of;
    std::vector<const std::vector<int64_t>*> distinct;
    for (size_t i = 0; i < data.examples.size(); ++i) {
      for (const auto& t : caption_tokens[i]) {
        auto [it, fresh] = row_of.emplace(t, int64_t(distinct.size()));
        if (fresh) distinct.push_back(&it->first);
        caption_row[i].push_back(it->second);
      }
    }
    parts.clear();
    for (size_t i = 0; i < distinct.size(); i += 256) {
      const int64_t m = int64_t(std::min<size_t>(256, distinct.size() - i));
      torch::Tensor t = torch::empty({m, C}, torch::kInt64);
      for (int64_t j = 0; j < m; ++j) {
        std::memcpy(t[j].data_ptr<int64_t>(), distinct[i + j]->data(), C * sizeof(int64_t));
      }
      parts.push_back(model->text_features(t));
    }
    caption_cache = torch::cat(parts);
    prompt_cache = model->text_features(prompt_tokens);
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "  --trainable projections: cached the towers' outputs of %d images and %zu "
                  "captions in %.1f s (serving preprocessing: random crops are not applied)",
                  n, distinct.size(), std::chrono::duration<double>(Clock::now() - t0).count());
    log(buf);
  }
  // The held-out images' and the prompts' embeddings under the model's current weights.
  auto held_out_metrics = [&]() {
    torch::NoGradGuard no_grad;
    torch::Tensor img, txt;
    if (cached) {
      torch::Tensor rows = torch::tensor(
          std::vector<int64_t>(data.held_out.begin(), data.held_out.end()), torch::kInt64);
      img = model->project_image(image_cache.index_select(0, rows));
      txt = model->project_text(prompt_cache);
    } else {
      const int n = int(data.held_out.size());
      std::vector<torch::Tensor> parts;
      for (int i = 0; i < n; i += 64) {
        parts.push_back(
            model->encode_image(eval_batch(data, data.held_out, i, std::min(64, n - i), S)));
      }
      img = torch::cat(parts);
      txt = model->encode_text(prompt_tokens);
    }
    return evaluate(img, txt, data, prompt_category);
  };
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& [name, t] : model->tensors()) {
    if (!t.requires_grad()) continue;
    (t.dim() >= 2 ? decay : no_decay).push_back(t);
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  auto opts = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(o.lr).betas({0.9, 0.98}).eps(1e-6).weight_decay(wd));
  };
  groups.emplace_back(decay, opts(o.weight_decay));
  groups.emplace_back(no_decay, opts(0.0));
  torch::optim::AdamW optimizer(groups, torch::optim::AdamWOptions(o.lr));

  const int64_t train_n = int64_t(data.train.size());
  const int64_t steps_per_epoch =
      std::max<int64_t>(1, train_n / o.batch + (train_n % o.batch >= 2));
  const int64_t total_steps = steps_per_epoch * o.epochs;
  const int64_t warmup = o.warmup >= 0 ? o.warmup : std::max<int64_t>(1, total_steps / 10);

  // The run's identity: a state folder from other options is not resumed.
  nlohmann::json fp = {{"data", o.data_dir},
                       {"config", o.config},
                       {"categories", o.categories},
                       {"arch", init ? std::string() : arch},
                       {"init", o.init},
                       {"trainable", o.trainable},
                       {"epochs", o.epochs},
                       {"batch", o.batch},
                       {"lr", o.lr},
                       {"wd", o.weight_decay},
                       {"warmup", o.warmup},
                       {"seed", o.seed},
                       {"threads", o.threads},
                       {"held_out", o.held_out},
                       {"group", o.group_column},
                       {"near_duplicates", o.near_duplicates},
                       {"duplicate_min_score", near.min_score},
                       {"vocab", h.vocab_size}};
  const std::string fingerprint = fp.dump();
  const std::string ckpt = state + "/checkpoint.pt";
  int first_epoch = 1, best_epoch = 0;
  Metrics best;
  TensorMap best_tensors;
  nlohmann::json history = nlohmann::json::array();
  double train_seconds = 0;
  int64_t images_seen = 0;
  if (fs::exists(ckpt, ec)) {
    torch::serialize::InputArchive ar;
    ar.load_from(ckpt);
    torch::Tensor meta_t;
    ar.read("meta", meta_t);
    const nlohmann::json meta = nlohmann::json::parse(tensor_string(meta_t));
    if (meta["fingerprint"] != fingerprint) {
      return Status::invalid_argument(
          state +
          " holds an interrupted run with other options: run the same command to resume "
          "it, or delete that folder to start again");
    }
    torch::NoGradGuard no_grad;
    for (auto& [name, t] : model->tensors()) {
      torch::Tensor v, b;  // the cache (above) is of the init weights' frozen towers: still valid
      ar.read("p_" + key_of(name), v);
      ar.read("b_" + key_of(name), b);
      const_cast<torch::Tensor&>(t).copy_(v);
      best_tensors[name] = b.clone();
    }
    torch::serialize::InputArchive opt_ar;
    ar.read("optimizer", opt_ar);
    optimizer.load(opt_ar);
    first_epoch = meta["epoch"].get<int>() + 1;
    best_epoch = meta["best_epoch"].get<int>();
    best.image_p5 = meta["best_image_p5"].get<double>();
    best.text_p5 = meta["best_text_p5"].get<double>();
    history = meta["history"];
    train_seconds = meta["seconds"].get<double>();
    images_seen = meta["images"].get<int64_t>();
    log("  resuming after epoch " + std::to_string(first_epoch - 1) + " from " + ckpt);
  }
  log("  model: " + h.describe() + ", vocabulary " + std::to_string(h.vocab_size) + ", " +
      std::to_string(total_steps) + " steps of " + std::to_string(o.batch));

  const double ln100 = std::log(100.0);
  for (int epoch = first_epoch; epoch <= o.epochs; ++epoch) {
    const auto t_epoch = Clock::now();
    std::mt19937_64 rng(o.seed * 1000003ull + uint64_t(epoch));
    std::vector<int> order = data.train;
    std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0;
    int64_t epoch_images = 0;
    auto last_print = Clock::now();
    for (int64_t step = 0; step < steps_per_epoch; ++step) {
      const int64_t begin = step * o.batch;
      const int64_t n = std::min<int64_t>(o.batch, train_n - begin);
      torch::Tensor px, tokens;
      std::vector<int64_t> cats(n), image_rows(n), text_rows(n);
      if (!cached) {
        px = torch::empty({n, 3, S, S});
        tokens = torch::empty({n, C}, torch::kInt64);
      }
      for (int64_t j = 0; j < n; ++j) {
        const int idx = order[begin + j];
        if (fixed_pixels && !cached) {
          const auto& v = data.eval_pixels[idx];
          std::memcpy(px[j].data_ptr<float>(), v.data(), v.size() * sizeof(float));
        } else if (!cached) {
          random_resized_crop(data.cache[idx], S, d.preprocess, rng, px[j].data_ptr<float>());
        }
        const auto& caps = caption_tokens[idx];
        const size_t pick = std::uniform_int_distribution<size_t>(0, caps.size() - 1)(rng);
        if (cached) {
          image_rows[j] = idx, text_rows[j] = caption_row[idx][pick];
        } else {
          std::memcpy(tokens[j].data_ptr<int64_t>(), caps[pick].data(), C * sizeof(int64_t));
        }
        cats[j] = data.examples[idx].category;
      }
      const int64_t global_step = int64_t(epoch - 1) * steps_per_epoch + step;
      const double lr = lr_at(global_step, total_steps, warmup, o.lr);
      for (auto& group : optimizer.param_groups()) {
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      }
      namespace F = torch::nn::functional;
      torch::Tensor img, txt;
      if (cached) {
        auto rows = [&](std::vector<int64_t>& r) {
          return torch::from_blob(r.data(), {n}, torch::kInt64).clone();
        };
        img = model->project_image(image_cache.index_select(0, rows(image_rows)));
        txt = model->project_text(caption_cache.index_select(0, rows(text_rows)));
      } else {
        img = model->encode_image(px);
        txt = model->encode_text(tokens);
      }
      img = F::normalize(img, F::NormalizeFuncOptions().dim(-1));
      txt = F::normalize(txt, F::NormalizeFuncOptions().dim(-1));
      torch::Tensor cat_t = torch::from_blob(cats.data(), {n}, torch::kInt64).clone();
      torch::Tensor same =
          cat_t.unsqueeze(1).eq(cat_t.unsqueeze(0)) & torch::eye(n, torch::kBool).logical_not();
      torch::Tensor logits = model->logit_scale().exp() * torch::matmul(img, txt.t());
      logits = logits.masked_fill(same, -std::numeric_limits<float>::infinity());
      torch::Tensor labels = torch::arange(n, torch::kInt64);
      torch::Tensor loss =
          (F::cross_entropy(logits, labels) + F::cross_entropy(logits.t(), labels)) / 2;
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      {
        torch::NoGradGuard no_grad;
        model->logit_scale().clamp_(0, ln100);
      }
      loss_sum += loss.item<double>();
      epoch_images += n;
      const auto now = Clock::now();
      if (!o.quiet && (std::chrono::duration<double>(now - last_print).count() >= 2.0 ||
                       step + 1 == steps_per_epoch)) {
        last_print = now;
        const double secs = train_seconds + std::chrono::duration<double>(now - t_epoch).count();
        const double ips = double(images_seen + epoch_images) / std::max(1e-9, secs);
        const double left =
            double((o.epochs - epoch) * train_n + (train_n - begin - n)) / std::max(1e-9, ips);
        std::fprintf(stderr, "epoch %d/%d  step %lld/%lld  loss %.4f  %.1f img/s  ETA %s\n", epoch,
                     o.epochs, (long long)step + 1, (long long)steps_per_epoch, loss.item<double>(),
                     ips, fmt_duration(left).c_str());
      }
    }
    train_seconds += std::chrono::duration<double>(Clock::now() - t_epoch).count();
    images_seen += epoch_images;
    XRS_ASSIGN_OR_RETURN(const Metrics m, held_out_metrics());
    const double mean_loss = loss_sum / double(steps_per_epoch);
    history.push_back({{"epoch", epoch},
                       {"loss", mean_loss},
                       {"image_p5", m.image_p5},
                       {"text_p5", m.text_p5},
                       {"image_to_image", metrics_json(m.image)},
                       {"text_to_image", metrics_json(m.text)}});
    const bool better = best_epoch == 0 || m.score() > best.score();
    if (better) {
      best = m, best_epoch = epoch;
      for (const auto& [name, t] : model->tensors()) best_tensors[name] = t.detach().clone();
    }
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "epoch %d/%d  loss %.4f  held-out image->image P@5 %.3f  text->image P@5 %.3f%s",
                  epoch, o.epochs, mean_loss, m.image_p5, m.text_p5, better ? "  (best)" : "");
    log(buf);

    // Checkpoint: written beside, then renamed over the last one.
    nlohmann::json meta = {{"fingerprint", fingerprint},   {"epoch", epoch},
                           {"best_epoch", best_epoch},     {"best_image_p5", best.image_p5},
                           {"best_text_p5", best.text_p5}, {"history", history},
                           {"seconds", train_seconds},     {"images", images_seen}};
    torch::serialize::OutputArchive ar;
    ar.write("meta", string_tensor(meta.dump()));
    for (const auto& [name, t] : model->tensors()) {
      ar.write("p_" + key_of(name), t.detach());
      ar.write("b_" + key_of(name), best_tensors.at(name));
    }
    torch::serialize::OutputArchive opt_ar;
    optimizer.save(opt_ar);
    ar.write("optimizer", opt_ar);
    ar.save_to(ckpt + ".tmp");
    fs::rename(ckpt + ".tmp", ckpt, ec);
    if (ec) return Status::io_error(ckpt + ": " + ec.message());
    if (o.exit_after_epoch == epoch) _exit(137);
  }

  // WiSE-FT (--init runs): the weights between the init model's and the kept epoch's that score
  // best on the held-out split.
  TensorMap written_tensors = best_tensors;
  // The kept epoch's full metrics (a resumed run only kept its headline).
  load_tensors(model, best_tensors);
  XRS_ASSIGN_OR_RETURN(Metrics written, held_out_metrics());
  std::vector<SweepRow> sweep;
  double alpha = 1.0;
  if (init && !o.no_wise_ft) {
    log("WiSE-FT: (1 - a) * init + a * trained, held-out");
    log("  alpha  image->image P@5  text->image P@5");
    for (int k = 0; k <= 10; ++k) {
      const double a = k / 10.0;
      TensorMap mix = wise_ft(init->tensors, best_tensors, a);
      load_tensors(model, mix);
      XRS_ASSIGN_OR_RETURN(const Metrics m, held_out_metrics());
      sweep.push_back({a, m});
      if (k == 0 || m.score() > written.score()) {  // ties: the smaller alpha
        written = m, alpha = a, written_tensors = std::move(mix);
      }
      char buf[120];
      std::snprintf(buf, sizeof buf, "  %.1f    %.3f             %.3f", a, m.image_p5, m.text_p5);
      log(buf);
    }
    char buf[160];
    std::snprintf(buf, sizeof buf, "  kept alpha %.1f", alpha);
    log(buf);
  }

  // The model folder: written into OUT.partial, then renamed to OUT.
  std::string out = o.out;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  const std::string partial = out + ".partial";
  fs::remove_all(partial, ec);
  fs::create_directories(partial, ec);
  if (ec) return Status::io_error(partial + ": " + ec.message());
  XRS_RETURN_IF_ERROR(write_openclip(written_tensors, h, partial, o.dtype == "f16"));
  if (init) {  // the init model's tokenizer files, as Tokenizer::load_dir finds them
    const bool hf = fs::exists(fs::path(init->dir) / "vocab.json", ec) &&
                    fs::exists(fs::path(init->dir) / "merges.txt", ec);
    for (const char* f : hf ? std::vector<const char*>{"vocab.json", "merges.txt"}
                            : std::vector<const char*>{"bpe_simple_vocab_16e6.txt.gz"}) {
      fs::copy_file(fs::path(init->dir) / f, fs::path(partial) / f, ec);
      if (ec) return Status::io_error(init->dir + "/" + f + ": " + ec.message());
    }
  } else {
    XRS_RETURN_IF_ERROR(write_vocab(vocab, partial));
  }
  const double ips = double(images_seen) / std::max(1e-9, train_seconds);
  XRS_RETURN_IF_ERROR(write_file_atomic(
      partial + "/MODEL_CARD.md",
      model_card(o, data, h, history, best_epoch, best, vocab, prompts, train_seconds, ips,
                 init.get(), fixed_pixels, sweep, alpha, written)));
  // The written model's held-out metrics (after WiSE-FT, for --init runs).
  nlohmann::json metrics = {{"best_epoch", best_epoch},
                            {"image_to_image_p5", written.image_p5},
                            {"text_to_image_p5", written.text_p5},
                            {"image_to_image", metrics_json(written.image)},
                            {"text_to_image", metrics_json(written.text)},
                            {"images_per_second", ips},
                            {"train_seconds", train_seconds},
                            {"history", history}};
  if (!sweep.empty()) {
    nlohmann::json rows = nlohmann::json::array();
    for (const SweepRow& r : sweep) {
      rows.push_back({{"alpha", r.alpha},
                      {"image_p5", r.metrics.image_p5},
                      {"text_p5", r.metrics.text_p5},
                      {"score", r.metrics.score()}});
    }
    metrics["wise_ft"] = {{"alpha", alpha}, {"sweep", rows}};
  }
  if (init) metrics["init"] = o.init;
  XRS_RETURN_IF_ERROR(write_file_atomic(partial + "/train_metrics.json", metrics.dump(2) + "\n"));
  const std::string old = out + ".old";
  fs::remove_all(old, ec);
  if (fs::exists(out, ec)) {
    fs::rename(out, old, ec);
    if (ec) return Status::io_error(out + ": " + ec.message());
  }
  fs::rename(partial, out, ec);
  if (ec) return Status::io_error(out + ": " + ec.message());
  fs::remove_all(old, ec);
  fs::remove_all(state, ec);
  char buf[200];
  std::snprintf(
      buf, sizeof buf,
      "wrote %s: epoch %d kept%s (held-out image->image P@5 %.3f, text->image P@5 %.3f), "
      "%s in all",
      out.c_str(), best_epoch,
      !sweep.empty() ? (", WiSE-FT alpha " + std::to_string(alpha).substr(0, 3)).c_str() : "",
      written.image_p5, written.text_p5,
      fmt_duration(std::chrono::duration<double>(Clock::now() - t_start).count()).c_str());
  log(buf);
  return Status::ok();
}

}  // namespace xrs::train
