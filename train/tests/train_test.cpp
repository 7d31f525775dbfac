// xray-search-train: the engine computes what LibTorch computes on the trained weights, training
// lowers the loss, is deterministic for a seed, resumes after a kill, and refuses bad input.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>

#include "clip/checkpoint/tensor_archive.h"
#include "clip/clip_model.h"
#include "core/file_util.h"
#include "data.h"
#include "dataset/config.h"
#include "e2e/subprocess.h"
#include "imaging/encode.h"
#include "model.h"
#include "support/test_paths.h"
#include "tokenizer/tokenizer.h"
#include "vocab.h"

namespace xrs::train {
namespace {
namespace fs = std::filesystem;
using xrs::testing::describe;
using xrs::testing::ProcessResult;
using xrs::testing::run_process;

std::string temp_dir(const std::string& name) {
  const fs::path p =
      fs::temp_directory_path() / ("xrs_train_test_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

// A small dataset whose categories look different: horizontal stripes (chest), vertical stripes
// (dental), a bright disc (hand), each with noise and its own size.
std::string make_dataset(const std::string& name, int per_category = 10,
                         const std::string& extra_json = "") {
  const std::string dir = temp_dir(name);
  std::string csv = "image_name,source_url,category,license\n";
  std::mt19937 rng(7);
  const std::vector<std::string> cats = {"chest", "dental", "hand"};
  for (size_t c = 0; c < cats.size(); ++c) {
    fs::create_directories(dir + "/raw/" + cats[c]);
    for (int i = 0; i < per_category; ++i) {
      Image img;
      img.width = 48 + 4 * (i % 3);
      img.height = 40 + 4 * (i % 4);
      img.format = PixelFormat::kL;
      img.pixels.resize(size_t(img.width) * img.height);
      for (int y = 0; y < img.height; ++y) {
        for (int x = 0; x < img.width; ++x) {
          int v = 0;
          if (c == 0) v = (y / 4) % 2 ? 220 : 30;
          if (c == 1) v = (x / 4) % 2 ? 220 : 30;
          if (c == 2) {
            const int dx = x - img.width / 2, dy = y - img.height / 2;
            v = dx * dx + dy * dy < 150 ? 230 : 20;
          }
          v += int(rng() % 40) - 20;
          img.row(y)[x] = uint8_t(std::clamp(v, 0, 255));
        }
      }
      const std::string file = cats[c] + std::to_string(i) + ".png";
      auto png = encode_png(img);
      EXPECT_TRUE(png.is_ok());
      EXPECT_TRUE(write_file_atomic(dir + "/raw/" + cats[c] + "/" + file, *png).is_ok());
      csv += file + ",https://example.org/" + file + "," + cats[c] + ",CC-BY-4.0\n";
    }
  }
  EXPECT_TRUE(write_file_atomic(dir + "/metadata.csv", csv).is_ok());
  if (!extra_json.empty()) {
    EXPECT_TRUE(write_file_atomic(dir + "/xray-search.json", extra_json).is_ok());
  }
  return dir;
}

ProcessResult train(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {XRS_TRAIN_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, std::chrono::seconds(240));
}

std::vector<std::string> tiny_args(const std::string& data, const std::string& out,
                                   int epochs = 4) {
  return {data,      "--out",  out,    "--arch", "tiny",      "--epochs", std::to_string(epochs),
          "--batch", "8",      "--lr", "2e-3",   "--threads", "1",        "--held-out",
          "0.25",    "--quiet"};
}

std::string read(const std::string& path) {
  auto s = read_file(path);
  EXPECT_TRUE(s.is_ok()) << path;
  return s.is_ok() ? *s : "";
}

TEST(TrainModel, EngineEqualsLibTorchForward) {
  auto h = arch_hparams("tiny");
  ASSERT_TRUE(h.is_ok());
  h->vocab_size = 100;
  torch::manual_seed(3);
  ClipNet net(*h);
  {  // move the biases and LayerNorms away from their 0/1 initialisation
    torch::NoGradGuard no_grad;
    for (auto& [name, t] : net->tensors()) {
      if (t.dim() == 1) t.add_(torch::randn_like(t) * 0.1);
    }
  }
  const std::string dir = temp_dir("engine");
  ASSERT_TRUE(write_openclip(net->tensors(), *h, dir, /*f16=*/false).is_ok());
  auto model = ClipModel::load(dir);
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  EXPECT_EQ((*model)->hparams().image_size, 32);
  EXPECT_EQ((*model)->hparams().text.heads, 2);

  const int n = 3, S = 32, C = h->context_length;
  torch::Tensor px = torch::randn({n, 3, S, S});
  std::vector<float> engine_img(size_t(n) * h->embed_dim);
  ASSERT_TRUE(
      (*model)
          ->encode_images(std::span<const float>(px.data_ptr<float>(), px.numel()), n, engine_img)
          .is_ok());
  torch::Tensor ref_img = net->encode_image(px).detach().contiguous();
  // tokens: start, some words, end (the largest id) at different positions, zeros after
  torch::Tensor tokens = torch::zeros({n, C}, torch::kInt64);
  std::vector<int32_t> tok32(size_t(n) * C, 0);
  for (int b = 0; b < n; ++b) {
    const int len = 3 + 4 * b;
    for (int i = 0; i < len; ++i) {
      const int id = i == 0 ? 98 : i == len - 1 ? 99 : 1 + (7 * i + b) % 90;
      tokens[b][i] = id;
      tok32[size_t(b) * C + i] = id;
    }
  }
  std::vector<float> engine_txt(size_t(n) * h->embed_dim);
  ASSERT_TRUE((*model)->encode_texts(tok32, n, engine_txt).is_ok());
  torch::Tensor ref_txt = net->encode_text(tokens).detach().contiguous();
  double max_img = 0, max_txt = 0, scale = 0;
  for (int i = 0; i < n * h->embed_dim; ++i) {
    max_img = std::max(max_img, double(std::abs(engine_img[i] - ref_img.data_ptr<float>()[i])));
    max_txt = std::max(max_txt, double(std::abs(engine_txt[i] - ref_txt.data_ptr<float>()[i])));
    scale = std::max(scale, double(std::abs(ref_img.data_ptr<float>()[i])));
  }
  EXPECT_GT(scale, 0.05);  // a forward pass that is not all zeros
  EXPECT_LE(max_img, 1e-4);
  EXPECT_LE(max_txt, 1e-4);
}

TEST(TrainModel, TrainableValues) {
  auto h = arch_hparams("tiny");
  ASSERT_TRUE(h.is_ok());
  EXPECT_TRUE(parse_trainable("all", *h).is_ok());
  EXPECT_TRUE(parse_trainable("projections", *h).is_ok());
  auto t = parse_trainable("last-2-blocks", *h);
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(t->blocks, 2);
  for (const char* bad : {"last-3-blocks", "last-0-blocks", "last--blocks", "everything", ""}) {
    auto r = parse_trainable(bad, *h);
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_NE(r.status().message().find("--trainable"), std::string::npos);
  }
  EXPECT_FALSE(arch_hparams("ViT-Z").is_ok());
  h->vocab_size = 50;
  ClipNet net(*h);
  net->set_trainable(*parse_trainable("projections", *h));
  int trainable = 0;
  for (const auto& [name, tensor] : net->tensors()) trainable += tensor.requires_grad();
  EXPECT_EQ(trainable, 3);  // visual.proj, text_projection, logit_scale
}

TEST(TrainVocab, EveryCaptionWordIsOneToken) {
  const std::vector<std::string> texts = {"hand x-ray", "chest radiograph", "x-ray of the teeth",
                                          "PA film of the hand"};
  const std::string dir = temp_dir("vocab");
  auto vocab = learn_vocab(texts, dir + "/boot");
  ASSERT_TRUE(vocab.is_ok()) << vocab.status().message();
  ASSERT_TRUE(write_vocab(*vocab, dir).is_ok());
  auto tok = Tokenizer::load_hf(dir + "/vocab.json", dir + "/merges.txt");
  ASSERT_TRUE(tok.is_ok()) << tok.status().message();
  EXPECT_EQ(tok->end_token(), tok->vocab_size() - 1);  // the text tower pools at the largest id
  // CLIP's splitting: lower case, "x-ray" is "x", "-", "ray": 2 + 1 + 4 words, one token each.
  for (const char* word : {"hand", "chest", "radiograph", "teeth", "pa", "film", "ray"}) {
    auto ids = tok->encode(word);
    ASSERT_TRUE(ids.is_ok());
    EXPECT_EQ(ids->size(), 1u) << word;
  }
  auto ids = tok->encode("x-ray of the hand");
  ASSERT_TRUE(ids.is_ok());
  EXPECT_EQ(ids->size(), 6u);
  auto unknown = tok->encode("pneumonia");  // never seen: byte pieces, still encodable
  ASSERT_TRUE(unknown.is_ok());
  EXPECT_GT(unknown->size(), 1u);
}

TEST(TrainData, RandomResizedCropIsDeterministicAndInRange) {
  Image img;
  img.width = 80, img.height = 60, img.format = PixelFormat::kL;
  img.pixels.assign(size_t(80) * 60, 128);
  std::mt19937_64 a(5), b(5);
  std::vector<float> x(3 * 32 * 32), y(3 * 32 * 32);
  random_resized_crop(img, 32, ClipPreprocessConfig{}, a, x.data());
  random_resized_crop(img, 32, ClipPreprocessConfig{}, b, y.data());
  EXPECT_EQ(x, y);
  // a flat image stays flat: (128/255 - mean) / std in every pixel of channel 0
  EXPECT_NEAR(x[0], (128.0f / 255.0f - 0.48145466f) / 0.26862954f, 1e-5);
  EXPECT_NEAR(x[32 * 32 - 1], x[0], 1e-6);
}

TEST(TrainRun, LossDecreasesSameSeedSameWeightsAndResumeAfterKill) {
  const std::string data = make_dataset("run");
  const std::string out_a = data + "/model-a", out_b = data + "/model-b", out_c = data + "/model-c",
                    out_d = data + "/model-d";
  ProcessResult a = train(tiny_args(data, out_a));
  ASSERT_EQ(a.exit_code, 0) << describe(a);
  for (const char* f : {"open_clip_model.safetensors", "open_clip_config.json", "vocab.json",
                        "merges.txt", "MODEL_CARD.md", "train_metrics.json"}) {
    EXPECT_TRUE(fs::exists(out_a + "/" + f)) << f;
  }
  EXPECT_FALSE(fs::exists(out_a + ".train-state"));
  EXPECT_FALSE(fs::exists(out_a + ".partial"));

  // The loss falls.
  const auto metrics = nlohmann::json::parse(read(out_a + "/train_metrics.json"));
  const auto& history = metrics["history"];
  ASSERT_EQ(history.size(), 4u);
  EXPECT_LT(history.back()["loss"].get<double>(), history.front()["loss"].get<double>() * 0.9)
      << history.dump();

  // Same seed: the same weights, bit for bit.
  ProcessResult b = train(tiny_args(data, out_b));
  ASSERT_EQ(b.exit_code, 0) << describe(b);
  EXPECT_EQ(read(out_a + "/open_clip_model.safetensors"),
            read(out_b + "/open_clip_model.safetensors"));
  // Another seed: other weights.
  auto args_d = tiny_args(data, out_d);
  args_d.insert(args_d.end(), {"--seed", "1"});
  ProcessResult d = train(args_d);
  ASSERT_EQ(d.exit_code, 0) << describe(d);
  EXPECT_NE(read(out_a + "/open_clip_model.safetensors"),
            read(out_d + "/open_clip_model.safetensors"));

  // Killed after epoch 2: no model folder, a checkpoint; run again: resumes, same weights.
  auto killed = tiny_args(data, out_c);
  killed.insert(killed.end(), {"--exit-after-epoch", "2"});
  ProcessResult c1 = train(killed);
  EXPECT_EQ(c1.exit_code, 137) << describe(c1);
  EXPECT_FALSE(fs::exists(out_c));
  EXPECT_TRUE(fs::exists(out_c + ".train-state/checkpoint.pt"));
  auto resumed = tiny_args(data, out_c);
  resumed.pop_back();  // not --quiet: the resume is reported
  ProcessResult c2 = train(resumed);
  ASSERT_EQ(c2.exit_code, 0) << describe(c2);
  EXPECT_NE(c2.err.find("resuming after epoch 2"), std::string::npos) << c2.err;
  EXPECT_NE(c2.err.find("epoch 3/4"), std::string::npos) << c2.err;
  EXPECT_NE(c2.err.find("img/s"), std::string::npos) << c2.err;
  EXPECT_EQ(read(out_a + "/open_clip_model.safetensors"),
            read(out_c + "/open_clip_model.safetensors"));

  // The engine loads the output with its tokenizer; the card names the data's license.
  auto model = ClipModel::load(out_a);
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  ASSERT_NE((*model)->tokenizer(), nullptr);
  EXPECT_TRUE((*model)->embed_text("hand x-ray").is_ok());
  const std::string card = read(out_a + "/MODEL_CARD.md");
  EXPECT_NE(card.find("CC-BY-4.0: 30"), std::string::npos) << card;
  EXPECT_NE(card.find("not diagnosis"), std::string::npos);

  // An existing --out is refused without --force.
  ProcessResult again = train(tiny_args(data, out_a));
  EXPECT_EQ(again.exit_code, 2) << describe(again);
  EXPECT_NE(again.err.find("exists"), std::string::npos) << again.err;
}

TEST(TrainRun, BadInputIsRefusedClearly) {
  const std::string data = make_dataset("bad", 4);
  auto expect_refusal = [&](std::vector<std::string> args, const std::string& needle) {
    ProcessResult r = train(args);
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_NE(r.err.find(needle), std::string::npos) << describe(r);
  };
  auto args = tiny_args(data, data + "/m");
  args.insert(args.end(), {"--categories", "chest,dental,hand,knee"});
  expect_refusal(args, "category 'knee' has no usable images");
  args = tiny_args(data, data + "/m");
  args.insert(args.end(), {"--trainable", "last-5-blocks"});
  expect_refusal(args, "--trainable last-5-blocks: N must be between 1 and 2");
  args = tiny_args(data, data + "/m");
  args.insert(args.end(), {"--trainable", "heads"});
  expect_refusal(args, "--trainable: 'heads' is not one of");
  args = tiny_args(data, data + "/m");
  *std::find(args.begin(), args.end(), "tiny") = "ViT-Z";
  expect_refusal(args, "unknown architecture 'ViT-Z'");

  const std::string with_column =
      make_dataset("column", 4, R"({"captions": {"column": "report"}})");
  expect_refusal(tiny_args(with_column, with_column + "/m"),
                 "captions.column: metadata.csv has no column 'report'");
  EXPECT_FALSE(fs::exists(data + "/m"));
}

TEST(TrainRun, CaptionColumnIsUsed) {
  // A "report" column: each image's caption comes from it; the vocabulary learns its words.
  const std::string data = make_dataset("captions", 10, R"({"captions": {"column": "report"}})");
  std::string csv = read(data + "/metadata.csv");
  std::string rewritten;
  size_t pos = 0;
  bool header = true;
  while (pos < csv.size()) {
    const size_t end = csv.find('\n', pos);
    std::string line = csv.substr(pos, end - pos);
    pos = end + 1;
    if (header) {
      rewritten += line + ",report\n";
      header = false;
      continue;
    }
    const bool chest = line.find(",chest,") != std::string::npos;
    rewritten += line + (chest ? ",frontal thorax exposure\n" : ",skeletal study\n");
  }
  ASSERT_TRUE(write_file_atomic(data + "/metadata.csv", rewritten).is_ok());
  ProcessResult r = train(tiny_args(data, data + "/m", 1));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const std::string card = read(data + "/m/MODEL_CARD.md");
  EXPECT_NE(card.find("exposure"), std::string::npos) << card;
  EXPECT_NE(card.find("skeletal"), std::string::npos) << card;
}

// ---- --init: fine-tuning a model the engine loads ----------------------------------------------

// Every tensor of a weights file as float32, by name.
std::map<std::string, std::vector<float>> weights_of(const std::string& file) {
  std::map<std::string, std::vector<float>> out;
  auto archive = TensorArchive::open(file);
  EXPECT_TRUE(archive.is_ok()) << file;
  if (!archive.is_ok()) return out;
  for (const auto& [name, view] : (*archive)->tensors()) {
    std::vector<float> v(size_t(view.numel()));
    EXPECT_TRUE(TensorArchive::to_float(view, v).is_ok()) << name;
    out[name] = std::move(v);
  }
  return out;
}

// max |a - b| / max |b| over two float arrays.
double relative_error(const float* a, const float* b, size_t n) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < n; ++i) {
    diff = std::max(diff, double(std::abs(a[i] - b[i])));
    scale = std::max(scale, double(std::abs(b[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

TEST(TrainInit, EveryFormatTheEngineLoadsGivesTheEnginesForwardPass) {
  XRS_REQUIRE_FIXTURES();
  const std::string dir = xrs::testing::fixtures_dir() + "/tiny-openai-b32";
  // OpenCLIP folder, OpenAI TorchScript .pt (float16 weights), Hugging Face (q/k/v separate,
  // projections as nn.Linear): the fixture's files hold the same values.
  auto openclip = load_init_model(dir);
  auto pt = load_init_model(dir + "/tiny-openai-b32.pt");
  auto hf = load_init_model(dir + "/model.safetensors");
  ASSERT_TRUE(openclip.is_ok()) << openclip.status().message();
  ASSERT_TRUE(pt.is_ok()) << pt.status().message();
  ASSERT_TRUE(hf.is_ok()) << hf.status().message();
  EXPECT_NE(openclip->format, hf->format);
  EXPECT_NE(openclip->format, pt->format);
  EXPECT_EQ(openclip->hparams.activation, Activation::kQuickGelu);
  EXPECT_EQ(openclip->hparams.vocab_size, 49408);
  ASSERT_EQ(openclip->tensors.size(), hf->tensors.size());
  for (const auto& [name, t] : openclip->tensors) {
    EXPECT_TRUE(torch::equal(t, pt->tensors.at(name))) << name;
    EXPECT_TRUE(torch::equal(t, hf->tensors.at(name))) << name;
  }

  for (const std::string& model_dir : {dir, xrs::testing::fixtures_dir() + "/tiny-laion-b16"}) {
    auto init = load_init_model(model_dir);
    ASSERT_TRUE(init.is_ok()) << init.status().message();
    const ClipHParams& h = init->hparams;
    ClipNet net(h);
    {
      torch::NoGradGuard no_grad;
      for (auto& [name, t] : net->tensors()) {
        const_cast<torch::Tensor&>(t).copy_(init->tensors.at(name));
      }
    }
    auto engine = ClipModel::load(model_dir);
    ASSERT_TRUE(engine.is_ok()) << engine.status().message();
    torch::manual_seed(1);
    const int n = 2, S = h.image_size;
    torch::Tensor px = torch::randn({n, 3, S, S});
    std::vector<float> img(size_t(n) * h.embed_dim);
    ASSERT_TRUE(
        (*engine)
            ->encode_images(std::span<const float>(px.data_ptr<float>(), px.numel()), n, img)
            .is_ok());
    torch::Tensor ref = net->encode_image(px).detach().contiguous();
    EXPECT_LE(relative_error(img.data(), ref.data_ptr<float>(), img.size()), 1e-4) << model_dir;
    auto ids = (*engine)->tokenizer()->tokenize("chest x-ray of a patient", true, h.context_length);
    ASSERT_TRUE(ids.is_ok());
    std::vector<float> txt(size_t(h.embed_dim));
    ASSERT_TRUE((*engine)->encode_texts(*ids, 1, txt).is_ok());
    torch::Tensor tokens = torch::zeros({1, h.context_length}, torch::kInt64);
    for (int i = 0; i < h.context_length; ++i) tokens[0][i] = (*ids)[i];
    torch::Tensor ref_txt = net->encode_text(tokens).detach().contiguous();
    EXPECT_LE(relative_error(txt.data(), ref_txt.data_ptr<float>(), txt.size()), 1e-4) << model_dir;
    // The towers without projections, projected, are the embeddings.
    EXPECT_TRUE(
        torch::allclose(net->project_image(net->image_features(px)), net->encode_image(px)));
  }
}

TEST(TrainInit, WiseFtEndsAreTheWeightsThemselves) {
  torch::manual_seed(2);
  std::map<std::string, torch::Tensor> init = {{"a", torch::randn({4, 3})},
                                               {"b", torch::tensor({-0.0f, 1.5f, 2.0f})}};
  std::map<std::string, torch::Tensor> trained = {{"a", torch::randn({4, 3})},
                                                  {"b", torch::tensor({0.5f, -1.5f, 4.0f})}};
  auto bytes = [](const torch::Tensor& t) {
    torch::Tensor c = t.contiguous();
    return std::string(reinterpret_cast<const char*>(c.data_ptr<float>()),
                       size_t(c.numel()) * sizeof(float));
  };
  auto zero = wise_ft(init, trained, 0.0), one = wise_ft(init, trained, 1.0),
       half = wise_ft(init, trained, 0.5);
  for (const std::string name : {"a", "b"}) {
    EXPECT_EQ(bytes(zero.at(name)), bytes(init.at(name))) << name;  // -0 stays -0
    EXPECT_EQ(bytes(one.at(name)), bytes(trained.at(name))) << name;
    EXPECT_TRUE(torch::allclose(half.at(name), (init.at(name) + trained.at(name)) / 2)) << name;
  }
}

std::vector<std::string> init_args(const std::string& data, const std::string& out,
                                   const std::string& init, int epochs = 3) {
  return {data,          "--out",     out,
          "--init",      init,        "--trainable",
          "projections", "--epochs",  std::to_string(epochs),
          "--batch",     "8",         "--lr",
          "2e-3",        "--threads", "1",
          "--held-out",  "0.25",      "--quiet"};
}

std::string committed_model() {
  return xrs::testing::source_dir() + "/models/xray-small";
}

TEST(TrainInit, ProjectionsTrainOnCachedTowersAndOnlyTheProjectionsChange) {
  XRS_REQUIRE_PATH(committed_model() + "/open_clip_model.safetensors");
  const std::string data = make_dataset("init");
  const std::string out = data + "/m", out_wise = data + "/m-wise";
  auto args = init_args(data, out, committed_model());
  args.push_back("--no-wise-ft");
  ProcessResult r = train(args);
  ASSERT_EQ(r.exit_code, 0) << describe(r);

  // The loss falls on the cached features.
  const auto metrics = nlohmann::json::parse(read(out + "/train_metrics.json"));
  const auto& history = metrics["history"];
  ASSERT_EQ(history.size(), 3u);
  EXPECT_LT(history.back()["loss"].get<double>(), history.front()["loss"].get<double>())
      << history.dump();
  EXPECT_FALSE(metrics.contains("wise_ft"));
  // The held-out metrics of the evaluation module; the kept epoch is the first with the largest
  // image→image P@5 + text→image P@5, and the written model's metrics are that epoch's.
  int kept = 0;
  double best_score = -1;
  for (const auto& e : history) {
    for (const char* dir : {"image_to_image", "text_to_image"}) {
      for (const char* key : {"p@1", "p@k", "r_precision", "map_at_r", "map", "mrr"}) {
        ASSERT_TRUE(e[dir].contains(key)) << e.dump();
        EXPECT_GE(e[dir][key].get<double>(), 0.0);
        EXPECT_LE(e[dir][key].get<double>(), 1.0);
      }
    }
    const double score = e["image_p5"].get<double>() + e["text_p5"].get<double>();
    if (score > best_score) best_score = score, kept = e["epoch"].get<int>();
  }
  EXPECT_EQ(metrics["best_epoch"].get<int>(), kept);
  EXPECT_EQ(metrics["image_to_image_p5"], history[kept - 1]["image_p5"]);
  EXPECT_EQ(metrics["text_to_image"], history[kept - 1]["text_to_image"]);

  // Every tensor but the two projections and the logit scale is the init model's, exactly.
  const auto before = weights_of(committed_model() + "/open_clip_model.safetensors");
  const auto after = weights_of(out + "/open_clip_model.safetensors");
  ASSERT_EQ(before.size(), after.size());
  int changed = 0;
  for (const auto& [name, v] : before) {
    ASSERT_TRUE(after.count(name)) << name;
    const bool trainable =
        name == "visual.proj" || name == "text_projection" || name == "logit_scale";
    if (!trainable) {
      EXPECT_EQ(v, after.at(name)) << name;
    } else {
      changed += v != after.at(name);
    }
  }
  EXPECT_GE(changed, 2);  // both projections moved
  // The init model's tokenizer, kept; the engine loads the result.
  EXPECT_EQ(read(committed_model() + "/vocab.json"), read(out + "/vocab.json"));
  EXPECT_EQ(read(committed_model() + "/merges.txt"), read(out + "/merges.txt"));
  auto model = ClipModel::load(out);
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  EXPECT_TRUE((*model)->embed_text("hand x-ray").is_ok());
  const std::string card = read(out + "/MODEL_CARD.md");
  EXPECT_NE(card.find("random crops are not applied"), std::string::npos) << card;
  EXPECT_NE(card.find("fine-tuned from"), std::string::npos) << card;
  EXPECT_NE(card.find("| P@1 | P@5 | MAP@R | mAP | MRR |"), std::string::npos) << card;

  // With WiSE-FT: 11 alphas, the kept one the first argmax of the reported score.
  ProcessResult w = train(init_args(data, out_wise, committed_model()));
  ASSERT_EQ(w.exit_code, 0) << describe(w);
  const auto wm = nlohmann::json::parse(read(out_wise + "/train_metrics.json"));
  ASSERT_TRUE(wm.contains("wise_ft")) << wm.dump();
  const auto& sweep = wm["wise_ft"]["sweep"];
  ASSERT_EQ(sweep.size(), 11u);
  double best = -1, best_alpha = -1;
  for (size_t k = 0; k < sweep.size(); ++k) {
    EXPECT_NEAR(sweep[k]["alpha"].get<double>(), k / 10.0, 1e-12);
    const double score = sweep[k]["image_p5"].get<double>() + sweep[k]["text_p5"].get<double>();
    EXPECT_NEAR(sweep[k]["score"].get<double>(), score, 1e-12);
    if (score > best) best = score, best_alpha = sweep[k]["alpha"].get<double>();
  }
  EXPECT_EQ(wm["wise_ft"]["alpha"].get<double>(), best_alpha);
  EXPECT_NEAR(wm["image_to_image_p5"].get<double>() + wm["text_to_image_p5"].get<double>(), best,
              1e-12);
  // The same epochs trained: the written weights are the sweep's mix of init and trained.
  const auto trained = weights_of(out + "/open_clip_model.safetensors");
  const auto mixed = weights_of(out_wise + "/open_clip_model.safetensors");
  for (const auto& [name, v] : before) {
    const auto& t = trained.at(name);
    const auto& m = mixed.at(name);
    for (size_t i = 0; i < v.size(); ++i) {
      EXPECT_NEAR(m[i], (1 - best_alpha) * v[i] + best_alpha * t[i], 1e-5) << name;
      if (std::abs(m[i] - ((1 - best_alpha) * v[i] + best_alpha * t[i])) > 1e-5) break;
    }
  }
  EXPECT_NE(read(out_wise + "/MODEL_CARD.md").find("## WiSE-FT"), std::string::npos);
}

TEST(TrainRun, FeatureCacheGivesTheLossCurveOfRunningTheTowers) {
  // --trainable projections without --init (a random tiny model): with the cache, and with the
  // towers run every step on the same fixed pixels. Same batches, same captions: the same losses
  // up to float rounding, and the same held-out metrics.
  const std::string data = make_dataset("cache");
  auto args = tiny_args(data, data + "/cached", 3);
  args.insert(args.end(), {"--trainable", "projections"});
  auto uncached = tiny_args(data, data + "/uncached", 3);
  uncached.insert(uncached.end(), {"--trainable", "projections", "--no-feature-cache"});
  ProcessResult a = train(args);
  ASSERT_EQ(a.exit_code, 0) << describe(a);
  ProcessResult b = train(uncached);
  ASSERT_EQ(b.exit_code, 0) << describe(b);
  const auto ha = nlohmann::json::parse(read(data + "/cached/train_metrics.json"))["history"];
  const auto hb = nlohmann::json::parse(read(data + "/uncached/train_metrics.json"))["history"];
  ASSERT_EQ(ha.size(), 3u);
  ASSERT_EQ(hb.size(), 3u);
  for (size_t e = 0; e < ha.size(); ++e) {
    const double la = ha[e]["loss"].get<double>(), lb = hb[e]["loss"].get<double>();
    EXPECT_NEAR(la, lb, 1e-4 * std::max(1.0, std::abs(lb))) << "epoch " << e + 1;
    EXPECT_EQ(ha[e]["image_p5"], hb[e]["image_p5"]) << "epoch " << e + 1;
  }
  // The same projections trained (the towers are the same random init in both).
  const auto wa = weights_of(data + "/cached/open_clip_model.safetensors");
  const auto wb = weights_of(data + "/uncached/open_clip_model.safetensors");
  ASSERT_EQ(wa.size(), wb.size());
  for (const auto& [name, v] : wa) {
    EXPECT_LE(relative_error(v.data(), wb.at(name).data(), v.size()), 1e-4) << name;
  }
}

TEST(TrainInit, BadInitIsRefusedClearly) {
  const std::string data = make_dataset("badinit", 4);
  auto expect_refusal = [&](std::vector<std::string> args, const std::string& needle) {
    ProcessResult r = train(args);
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_NE(r.err.find(needle), std::string::npos) << describe(r);
  };
  expect_refusal(init_args(data, data + "/m", "/nonexistent-model"),
                 "--init /nonexistent-model: not a model the engine can load");
  const std::string junk = temp_dir("junk-model");
  ASSERT_TRUE(write_file_atomic(junk + "/open_clip_model.safetensors", "not safetensors").is_ok());
  expect_refusal(init_args(data, data + "/m", junk), "not a model the engine can load");
  if (fs::exists(committed_model() + "/open_clip_model.safetensors")) {
    auto args = init_args(data, data + "/m", committed_model());
    *std::find(args.begin(), args.end(), "projections") = "last-5-blocks";
    expect_refusal(args, "--trainable last-5-blocks: N must be between 1 and 4");
    args = init_args(data, data + "/m", committed_model());
    args.insert(args.end(), {"--arch", "tiny"});
    expect_refusal(args, "--arch and --init exclude each other");
  }
  EXPECT_FALSE(fs::exists(data + "/m"));
}

// The split with linked groups: images joined through a shared group-column value or a linked
// (near-duplicate) group, or a chain of both, land on one side, the side of the part's smallest
// key; every other image keeps its own key's side, as without links.
TEST(TrainData, LinkedGroupsStayOnOneSideOfTheSplit) {
  const std::string dir = make_dataset("linked", 10);
  // A "patient" column: chest0/chest1 share p1, dental0/dental1 share p2; the rest have none.
  std::string csv = read(dir + "/metadata.csv");
  std::string out;
  size_t line_start = 0;
  for (size_t at; (at = csv.find('\n', line_start)) != std::string::npos; line_start = at + 1) {
    const std::string line = csv.substr(line_start, at - line_start);
    const std::string name = line.substr(0, line.find(','));
    std::string patient = name == "image_name" ? "patient" : "";
    if (name == "chest0.png" || name == "chest1.png") patient = "p1";
    if (name == "dental0.png" || name == "dental1.png") patient = "p2";
    out += line + "," + patient + "\n";
  }
  ASSERT_TRUE(write_file_atomic(dir + "/metadata.csv", out).is_ok());
  DataOptions o;
  o.data_dir = dir;
  auto config = load_dataset_config_for(dir);
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  o.config = *config;
  o.group_column = "patient";
  o.held_out = 0.4;
  o.image_size = 32;
  o.preprocess.image_size = 32;
  o.threads = 1;
  auto key_of = [](const std::string& name) {
    if (name == "chest0.png" || name == "chest1.png") return std::string("p1");
    if (name == "dental0.png" || name == "dental1.png") return std::string("p2");
    return name;
  };
  auto plain = load_train_data(o);
  ASSERT_TRUE(plain.is_ok()) << plain.status().to_string();
  for (const Example& e : plain->examples) {
    EXPECT_EQ(e.held_out, is_held_out(key_of(e.image_name), o.held_out)) << e.image_name;
  }
  // Links: chest1 ~ hand3 (chains p1 to hand3), hand3 ~ hand7, and a pair that the plain split
  // separates (found here), plus names the dataset lacks (ignored).
  std::vector<std::string> names;
  for (const Example& e : plain->examples) names.push_back(e.image_name);
  std::vector<std::string> separated;
  for (const std::string& a : names) {
    for (const std::string& b : names) {
      if (separated.empty() && key_of(a) == a && key_of(b) == b && a != "hand3.png" &&
          b != "hand3.png" && a != "hand7.png" && b != "hand7.png" && is_held_out(a, o.held_out) &&
          !is_held_out(b, o.held_out)) {
        separated = {a, b};
      }
    }
  }
  ASSERT_EQ(separated.size(), 2u) << "no held-out/training pair to link";
  o.linked = {{"chest1.png", "hand3.png"},
              {"hand7.png", "hand3.png", "nope.png"},
              separated,
              {"absent-a.png", "absent-b.png"}};
  auto linked = load_train_data(o);
  ASSERT_TRUE(linked.is_ok()) << linked.status().to_string();
  EXPECT_EQ(linked->linked_groups, 3);
  EXPECT_EQ(linked->linked_images, 2 + 2 + 2);
  std::map<std::string, bool> side;
  for (const Example& e : linked->examples) side[e.image_name] = e.held_out;
  // Part {chest0, chest1, hand3, hand7}: smallest key of "p1", "hand3.png", "hand7.png".
  const bool part =
      is_held_out(std::min({std::string("p1"), std::string("hand3.png"), std::string("hand7.png")}),
                  o.held_out);
  for (const char* n : {"chest0.png", "chest1.png", "hand3.png", "hand7.png"}) {
    EXPECT_EQ(side[n], part) << n;
  }
  EXPECT_EQ(side[separated[0]], side[separated[1]]);
  EXPECT_EQ(side[separated[0]], is_held_out(std::min(separated[0], separated[1]), o.held_out));
  for (const std::string& n : names) {
    if (n == "chest0.png" || n == "chest1.png" || n == "hand3.png" || n == "hand7.png" ||
        n == separated[0] || n == separated[1]) {
      continue;
    }
    EXPECT_EQ(side[n], is_held_out(key_of(n), o.held_out)) << n;
  }
  // The lists of examples agree with the flags.
  for (int i : linked->held_out) EXPECT_TRUE(linked->examples[size_t(i)].held_out);
  for (int i : linked->train) EXPECT_FALSE(linked->examples[size_t(i)].held_out);
  EXPECT_EQ(linked->held_out.size() + linked->train.size(), linked->examples.size());
}

// --near-duplicates INDEX: the trainer keeps the index's near-duplicate groups (as `xray-search
// duplicates` lists them at the same threshold) on one side and says how many; refuses a
// threshold that joins most of the index, a missing index, and --duplicate-min-score alone.
TEST(TrainRun, NearDuplicatesFromAnIndex) {
  XRS_REQUIRE_FIXTURES();
  const std::string data = make_dataset("neardup", 6);
  // Exact copies of one image per category.
  std::string csv = read(data + "/metadata.csv");
  for (const char* c : {"chest", "dental", "hand"}) {
    const std::string name = std::string(c) + "0.png";
    const std::string copy = std::string("copy-") + c + "0.png";
    ASSERT_TRUE(
        write_file_atomic(data + "/raw/" + c + "/" + copy, read(data + "/raw/" + c + "/" + name))
            .is_ok());
    csv += copy + ",https://example.org/" + copy + "," + c + ",CC-BY-4.0\n";
  }
  ASSERT_TRUE(write_file_atomic(data + "/metadata.csv", csv).is_ok());
  const std::string idx = data + "-idx";
  ProcessResult indexed =
      run_process({XRS_CLI_PATH, "index", data, "--model",
                   xrs::testing::fixtures_dir() + "/tiny-openai-b32", "--index", idx});
  ASSERT_EQ(indexed.exit_code, 0) << describe(indexed);
  const std::string t = "0.99999";
  ProcessResult listed =
      run_process({XRS_CLI_PATH, "duplicates", "--index", idx, "--min-score", t, "--json"});
  ASSERT_EQ(listed.exit_code, 0) << describe(listed);
  const nlohmann::json groups = nlohmann::json::parse(listed.out)["groups"];
  // Exactly the planted pairs (the tiny model keeps these distinct images below t).
  ASSERT_EQ(groups.size(), 3u) << listed.out;
  for (const auto& g : groups) {
    ASSERT_EQ(g["images"].size(), 2u) << listed.out;
    EXPECT_EQ(g["images"][1].get<std::string>(), "copy-" + g["images"][0].get<std::string>());
  }
  auto args = tiny_args(data, data + "/m", 1);
  args.erase(std::find(args.begin(), args.end(), "--quiet"));
  args.insert(args.end(), {"--near-duplicates", idx, "--duplicate-min-score", t});
  ProcessResult r = train(args);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("3 near-duplicate groups (6 images) kept on one side of the split"),
            std::string::npos)
      << describe(r);
  EXPECT_NE(read(data + "/m/MODEL_CARD.md").find("3 near-duplicate groups of index"),
            std::string::npos);
  // A threshold that joins everything, no index, a threshold without an index.
  args = tiny_args(data, data + "/m2", 1);
  args.insert(args.end(), {"--near-duplicates", idx, "--duplicate-min-score", "0.01"});
  r = train(args);
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_NE(r.err.find("the threshold is too low"), std::string::npos) << describe(r);
  args = tiny_args(data, data + "/m2", 1);
  args.insert(args.end(), {"--near-duplicates", data + "/no-index"});
  r = train(args);
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_NE(r.err.find("--near-duplicates " + data + "/no-index"), std::string::npos)
      << describe(r);
  args = tiny_args(data, data + "/m2", 1);
  args.insert(args.end(), {"--duplicate-min-score", "0.9"});
  r = train(args);
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_NE(r.err.find("--duplicate-min-score needs --near-duplicates"), std::string::npos)
      << describe(r);
  EXPECT_FALSE(fs::exists(data + "/m2"));
}

TEST(TrainCli, XraySearchTrainRunsTheTrainer) {
  ProcessResult r = run_process({XRS_CLI_PATH, "train", "--help"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("--trainable"), std::string::npos) << describe(r);
  ProcessResult bad =
      run_process({XRS_CLI_PATH, "train", "/nonexistent-dataset", "--out", "/tmp/x"});
  EXPECT_EQ(bad.exit_code, 2) << describe(bad);
}

}  // namespace
}  // namespace xrs::train
