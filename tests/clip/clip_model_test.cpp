// ClipModel end to end: image file → embedding and text → embedding against the reference, every
// weight file of a model agreeing, and damaged models refused with errors naming the tensor.
#include "clip/clip_model.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "clip/checkpoint/tensor_archive.h"
#include "clip/model_settings.h"
#include "clip/ops.h"
#include "clip/prompt_ensemble.h"
#include "core/file_util.h"
#include "imaging/decode.h"
#include "reference_util.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

namespace fs = std::filesystem;
using testing::relative_error;

std::string model_dir(const std::string& name) {
  return testing::fixtures_dir() + "/" + name;
}

std::vector<float> reference_rows(const std::string& model, const std::string& tensor) {
  auto ref = TensorArchive::open(model_dir(model) + "/reference.safetensors");
  EXPECT_TRUE(ref.is_ok());
  if (!ref.is_ok()) return {};
  return testing::reference_floats(**ref, tensor);
}

std::vector<std::string> lines(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(f, line);) out.push_back(line);
  return out;
}

TEST(ClipModelTest, ImageFilesAndTextsEmbedLikeTheReference) {
  XRS_REQUIRE_FIXTURES();
  std::ifstream mf(testing::fixtures_dir() + "/manifest.json");
  const nlohmann::json manifest = nlohmann::json::parse(mf);
  for (const std::string name : {"tiny-openai-b32", "tiny-laion-b16"}) {
    auto model = ClipModel::load(model_dir(name));
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    const int E = (*model)->hparams().embed_dim;
    const auto order = manifest["models"][name]["image_order"].get<std::vector<std::string>>();
    std::vector<float> expected = reference_rows(name, "image_embeds");
    for (size_t i = 0; i < order.size(); ++i) {
      auto image = decode_image_file(testing::fixtures_dir() + "/images/" + order[i]);
      ASSERT_TRUE(image.is_ok()) << image.status().to_string();
      auto e = (*model)->embed_image(*image);
      ASSERT_TRUE(e.is_ok()) << e.status().to_string();
      std::vector<float> want(expected.begin() + i * E, expected.begin() + (i + 1) * E);
      l2_normalize_rows(want.data(), 1, E);
      EXPECT_LE(relative_error(e->data(), want.data(), E), 1e-4) << name << " " << order[i];
    }
    std::vector<float> text_expected = reference_rows(name, "text_embeds");
    std::vector<std::string> cases = lines(testing::fixtures_dir() + "/tokenizer_cases.jsonl");
    for (size_t i = 0; i < cases.size(); ++i) {
      const std::string text = nlohmann::json::parse(cases[i])["text"];
      auto e = (*model)->embed_text(text);
      ASSERT_TRUE(e.is_ok()) << e.status().to_string();
      std::vector<float> want(text_expected.begin() + i * E, text_expected.begin() + (i + 1) * E);
      l2_normalize_rows(want.data(), 1, E);
      EXPECT_LE(relative_error(e->data(), want.data(), E), 1e-4) << name << " text " << i;
    }
  }
}

// embed_texts (one batched pass) against OpenAI's reference rows, and a prompt ensemble against
// the normalised mean of the reference rows of its prompts: "a {}" on "chest x-ray" is fixture
// case 1 ("a chest X-ray", the same tokens), "{}" is case 0.
TEST(ClipModelTest, BatchedTextsAndPromptEnsemblesFollowTheReference) {
  XRS_REQUIRE_FIXTURES();
  std::vector<std::string> texts;
  for (const std::string& line : lines(testing::fixtures_dir() + "/tokenizer_cases.jsonl")) {
    texts.push_back(nlohmann::json::parse(line)["text"]);
  }
  ASSERT_GE(texts.size(), 2u);
  ASSERT_EQ(texts[0], "chest x-ray");
  ASSERT_EQ(texts[1], "a chest X-ray");
  for (const std::string name : {"tiny-openai-b32", "tiny-laion-b16"}) {
    auto model = ClipModel::load(model_dir(name));
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    const int E = (*model)->hparams().embed_dim;
    std::vector<float> want = reference_rows(name, "text_embeds");
    ASSERT_EQ(want.size(), texts.size() * E);
    l2_normalize_rows(want.data(), static_cast<int>(texts.size()), E);
    auto batch = (*model)->embed_texts(texts);
    ASSERT_TRUE(batch.is_ok()) << batch.status().to_string();
    ASSERT_EQ(batch->size(), want.size());
    for (size_t i = 0; i < texts.size(); ++i) {
      EXPECT_LE(relative_error(batch->data() + i * E, want.data() + i * E, E), 1e-4)
          << name << " text " << i;
    }
    const std::vector<std::string> templates = {"{}", "a {}"};
    auto ensemble = (*model)->embed_text_ensemble("chest x-ray", templates);
    ASSERT_TRUE(ensemble.is_ok()) << ensemble.status().to_string();
    std::vector<double> mean(E);
    double norm = 0;
    for (int j = 0; j < E; ++j) {
      mean[j] = double(want[j]) + double(want[E + j]);
      norm += mean[j] * mean[j];
    }
    std::vector<float> expected(E);
    for (int j = 0; j < E; ++j) expected[j] = static_cast<float>(mean[j] / std::sqrt(norm));
    EXPECT_LE(relative_error(ensemble->data(), expected.data(), E), 1e-4) << name;
    // The same through PromptEnsemble (cached template prefixes: "<start>" and "<start> a").
    auto cached = PromptEnsemble::create(**model, templates);
    ASSERT_TRUE(cached.is_ok()) << cached.status().to_string();
    auto fast = (*cached)->embed("chest x-ray");
    ASSERT_TRUE(fast.is_ok()) << fast.status().to_string();
    EXPECT_LE(relative_error(fast->data(), expected.data(), E), 1e-4) << name;
    // Without templates the ensemble is the plain query.
    auto plain = (*model)->embed_text_ensemble("chest x-ray", {});
    ASSERT_TRUE(plain.is_ok());
    EXPECT_LE(relative_error(plain->data(), want.data(), E), 1e-4) << name;
  }
}

// PromptEnsemble against the definition over embed_text (checked against the reference above):
// prefixes of several lengths, words after "{}", a template glued to the query (BPE merges across
// "{}", so that prompt runs whole), queries of one to many words, one cut at the context length.
TEST(ClipModelTest, PromptEnsembleEqualsTheMeanOfItsWholePrompts) {
  XRS_REQUIRE_FIXTURES();
  const std::vector<std::string> templates = {
      "a chest radiograph of {}",
      "{} x-ray",
      "an x-ray showing {}, frontal view",
      "x{}",
      "{}",
      "a photo of a {} in a hospital, as seen on a plain film radiograph"};
  std::string very_long;
  for (int i = 0; i < 40; ++i) very_long += "effusion ";
  for (const std::string name : {"tiny-openai-b32", "tiny-laion-b16"}) {
    auto model = ClipModel::load(model_dir(name));
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    const int E = (*model)->hparams().embed_dim;
    auto ensemble = PromptEnsemble::create(**model, templates);
    ASSERT_TRUE(ensemble.is_ok()) << ensemble.status().to_string();
    for (const std::string& text :
         {std::string("hand"), std::string("pleural effusion"), std::string("Ray"),
          std::string("left-sided pneumothorax after a fall, AP view"), very_long}) {
      std::vector<double> sum(E, 0.0);
      for (const std::string& t : templates) {
        auto e = (*model)->embed_text(apply_prompt_template(t, text));
        ASSERT_TRUE(e.is_ok());
        for (int j = 0; j < E; ++j) sum[j] += (*e)[j];
      }
      double norm = 0;
      for (double v : sum) norm += v * v;
      std::vector<float> want(E);
      for (int j = 0; j < E; ++j) want[j] = static_cast<float>(sum[j] / std::sqrt(norm));
      auto got = (*ensemble)->embed(text);
      ASSERT_TRUE(got.is_ok()) << got.status().to_string();
      EXPECT_LE(relative_error(got->data(), want.data(), E), 2e-5) << name << " '" << text << "'";
    }
  }
  auto model = ClipModel::load(model_dir("tiny-openai-b32"));
  ASSERT_TRUE(model.is_ok());
  EXPECT_EQ(PromptEnsemble::create(**model, {"no placeholder"}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ClipModelTest, EveryWeightFileOfAModelGivesTheSameEmbeddings) {
  XRS_REQUIRE_FIXTURES();
  const std::string dir = model_dir("tiny-openai-b32");
  auto image = decode_image_file(testing::fixtures_dir() + "/images/cxr-actm-0001.png");
  ASSERT_TRUE(image.is_ok());
  std::vector<std::vector<float>> embeddings;
  for (const std::string file :
       {"open_clip_model.safetensors", "model.safetensors", "tiny-openai-b32.pt"}) {
    auto model = ClipModel::load(dir + "/" + file);
    ASSERT_TRUE(model.is_ok()) << file << ": " << model.status().to_string();
    auto img = (*model)->embed_image(*image);
    auto txt = (*model)->embed_text("PA chest radiograph with pleural effusion");
    ASSERT_TRUE(img.is_ok() && txt.is_ok()) << file;
    img->insert(img->end(), txt->begin(), txt->end());
    embeddings.push_back(*img);
  }
  for (size_t i = 1; i < embeddings.size(); ++i) {
    EXPECT_LE(relative_error(embeddings[i].data(), embeddings[0].data(), embeddings[0].size()),
              1e-5);
  }
}

// The fixture tiny-laion-b16 where ../shared has it, else the committed model.
TEST(ClipModelTest, BatchesAndThreadsGiveTheSameResultAsOneByOne) {
  auto model = ClipModel::load(testing::have_fixtures() ? model_dir("tiny-laion-b16")
                                                        : testing::committed_model_dir());
  ASSERT_TRUE(model.is_ok());
  const ClipModel& m = **model;
  const int S = m.hparams().image_size, E = m.hparams().embed_dim, n = 7;
  std::vector<float> pixels(size_t(n) * 3 * S * S);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = std::sin(0.001f * i) * 2.0f;
  std::vector<float> batch(size_t(n) * E), single(E);
  for (int threads : {1, 2, 3}) {
    set_compute_threads(threads);
    ASSERT_TRUE(m.encode_images(pixels, n, batch).is_ok());
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(
          m.encode_images({&pixels[size_t(i) * 3 * S * S], size_t(3) * S * S}, 1, single).is_ok());
      EXPECT_LE(relative_error(&batch[size_t(i) * E], single.data(), E), 1e-5) << threads;
    }
  }
  set_compute_threads(2);
  // Several threads sharing one model.
  std::vector<std::thread> workers;
  std::vector<double> errors(4);
  std::vector<float> want(E);
  ASSERT_TRUE(m.encode_images({pixels.data(), size_t(3) * S * S}, 1, want).is_ok());
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      std::vector<float> out(E);
      for (int r = 0; r < 3; ++r) {
        if (!m.encode_images({pixels.data(), size_t(3) * S * S}, 1, out).is_ok()) {
          errors[t] = 1;
          return;
        }
        errors[t] = std::max(errors[t], relative_error(out.data(), want.data(), E));
      }
    });
  }
  for (auto& w : workers) w.join();
  for (double e : errors) EXPECT_LE(e, 1e-5);
}

TEST(ClipModelTest, BadArgumentsAreRefused) {
  auto model = ClipModel::load(testing::test_model_dir());
  ASSERT_TRUE(model.is_ok());
  const ClipHParams& h = (*model)->hparams();
  std::vector<float> out(size_t(h.embed_dim));
  std::vector<float> pixels(10);
  EXPECT_EQ((*model)->encode_images(pixels, 1, out).code(), StatusCode::kInvalidArgument);
  std::vector<int32_t> tokens(size_t(h.context_length), 0);
  tokens[0] = std::min(49406, h.vocab_size - 1);  // CLIP's start token, else the last id
  tokens[1] = 60000;                              // outside the vocabulary
  Status s = (*model)->encode_texts(tokens, 1, out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("60000"), std::string::npos);
  EXPECT_EQ(ClipModel::load("/nonexistent/model").status().code(), StatusCode::kNotFound);
}

// Writes a safetensors file holding `tensors` (name → (shape, float32 values)).
void write_safetensors(
    const std::string& path,
    const std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& [name, t] : tensors) {
    size_t begin = data.size();
    data.append(reinterpret_cast<const char*>(t.second.data()), t.second.size() * 4);
    header[name] = {{"dtype", "F32"}, {"shape", t.first}, {"data_offsets", {begin, data.size()}}};
  }
  std::string h = header.dump();
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = char((uint64_t(h.size()) >> (8 * i)) & 0xff);
  ASSERT_TRUE(write_file_atomic(path, bytes + h + data).is_ok());
}

TEST(ClipModelTest, DamagedCheckpointsNameTheTensorAtFault) {
  XRS_REQUIRE_FIXTURES();
  auto source = TensorArchive::open(model_dir("tiny-openai-b32") + "/open_clip_model.safetensors");
  ASSERT_TRUE(source.is_ok());
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>> tensors;
  for (const auto& [name, view] : (*source)->tensors()) {
    std::vector<float> values(view.numel());
    ASSERT_TRUE(TensorArchive::to_float(view, values).is_ok());
    tensors[name] = {view.shape, values};
  }
  const std::string dir = testing::scratch_dir("clip_model_damaged");
  struct Case {
    const char* label;
    std::function<void(decltype(tensors)&)> damage;
    const char* expected;
  };
  const Case cases[] = {
      {"missing", [](auto& t) { t.erase("visual.transformer.resblocks.1.mlp.c_fc.bias"); },
       "'visual.transformer.resblocks.1.mlp.c_fc.bias' is missing"},
      {"misshaped",
       [](auto& t) {
         auto& p = t["visual.proj"];
         p.first = {64, 64};
         p.second.resize(64 * 64);
       },
       "'visual.proj' has shape [64, 64], expected [128, 32]"},
      {"no_clip", [](auto& t) { t.erase("visual.conv1.weight"); }, "not a CLIP checkpoint"},
  };
  for (const Case& c : cases) {
    auto damaged = tensors;
    c.damage(damaged);
    const std::string path = dir + "/" + c.label + ".safetensors";
    write_safetensors(path, damaged);
    auto r = ClipModel::load(path);
    ASSERT_FALSE(r.is_ok()) << c.label;
    EXPECT_NE(r.status().message().find(c.expected), std::string::npos)
        << c.label << ": " << r.status().message();
    EXPECT_NE(r.status().message().find(c.label), std::string::npos) << "names the file";
  }
  // A config that contradicts the weights.
  const std::string cfg_dir = dir + "/bad_config";
  fs::create_directories(cfg_dir);
  write_safetensors(cfg_dir + "/open_clip_model.safetensors", tensors);
  ASSERT_TRUE(write_file_atomic(cfg_dir + "/open_clip_config.json",
                                R"({"model_cfg":{"embed_dim":64,"vision_cfg":{"width":128}}})")
                  .is_ok());
  auto r = ClipModel::load(cfg_dir);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("embed_dim is 64 but the weights have 32"), std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace xrs
