// xray-search-train: the engine computes what LibTorch computes on the trained weights, training
// lowers the loss, is deterministic for a seed, resumes after a kill, and refuses bad input.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>

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
  const std::string data = make_dataset("captions", 6, R"({"captions": {"column": "report"}})");
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
