// The engine's subcommands end to end, through the built binary: `embed`, `tokenize`,
// `preprocess` and `model info`, against the reference fixtures (OpenAI's implementation,
// manifest.json), and `embed` on the DICOM specimens.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "clip/checkpoint/tensor_archive.h"
#include "e2e/subprocess.h"
#include "imaging/decode.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

using testing::describe;
using testing::run_cli;

std::string model_dir(const std::string& name) {
  return testing::fixtures_dir() + "/" + name;
}

nlohmann::json manifest() {
  std::ifstream in(testing::fixtures_dir() + "/manifest.json");
  return nlohmann::json::parse(in);
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

// Reference rows of a float tensor in the model's reference.safetensors.
std::vector<float> reference(const std::string& model, const std::string& tensor) {
  auto ref = TensorArchive::open(model_dir(model) + "/reference.safetensors");
  EXPECT_TRUE(ref.is_ok()) << ref.status().to_string();
  const TensorView* v = ref.is_ok() ? (*ref)->find(tensor) : nullptr;
  EXPECT_NE(v, nullptr) << tensor;
  if (v == nullptr) return {};
  std::vector<float> out(v->numel());
  EXPECT_TRUE(TensorArchive::to_float(*v, out).is_ok());
  return out;
}

std::vector<uint8_t> reference_u8(const std::string& model, const std::string& tensor) {
  auto ref = TensorArchive::open(model_dir(model) + "/reference.safetensors");
  EXPECT_TRUE(ref.is_ok());
  const TensorView* v = ref.is_ok() ? (*ref)->find(tensor) : nullptr;
  EXPECT_TRUE(v != nullptr && v->dtype == DType::kU8 && v->is_contiguous()) << tensor;
  if (v == nullptr) return {};
  const auto* p = reinterpret_cast<const uint8_t*>(v->data.data());
  return std::vector<uint8_t>(p, p + v->data.size());
}

double norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  return std::sqrt(s);
}

// max |a - b| / max |b| (the fixtures' tolerance measure).
double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::fabs(double(a[i]) - b[i]));
    den = std::max(den, std::fabs(double(b[i])));
  }
  return num / den;
}

std::vector<float> normalised_row(const std::vector<float>& m, size_t row, size_t dim) {
  std::vector<float> r(m.begin() + row * dim, m.begin() + (row + 1) * dim);
  const double n = norm(r);
  for (float& x : r) x = static_cast<float>(x / n);
  return r;
}

std::vector<nlohmann::json> tokenizer_cases() {
  std::ifstream in(testing::fixtures_dir() + "/tokenizer_cases.jsonl");
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

TEST(CliEmbedTest, ImagesFirstThenTextsNormalisedAndEqualToTheReference) {
  XRS_REQUIRE_FIXTURES();
  const std::string model = "tiny-openai-b32";
  const auto order = manifest()["models"][model]["image_order"].get<std::vector<std::string>>();
  const auto cases = tokenizer_cases();
  const size_t dim = 32;
  // Arguments interleaved on purpose: the output still lists images first, each in given order.
  const std::vector<size_t> images = {11, 3, 14}, texts = {0, 5};
  std::vector<std::string> args = {"embed", "--model", model_dir(model)};
  args.insert(args.end(), {"--text", cases[texts[0]]["text"]});
  for (size_t i : images)
    args.insert(args.end(), {"--image", testing::fixtures_dir() + "/images/" + order[i]});
  args.insert(args.end(), {"--text", cases[texts[1]]["text"]});
  const testing::ProcessResult r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), images.size() + texts.size()) << r.out;

  const std::vector<float> image_ref = reference(model, "image_embeds");
  const std::vector<float> text_ref = reference(model, "text_embeds");
  for (size_t j = 0; j < lines.size(); ++j) {
    const bool is_image = j < images.size();
    const nlohmann::json& line = lines[j];
    EXPECT_EQ(line["kind"], is_image ? "image" : "text");
    const auto e = line["embedding"].get<std::vector<float>>();
    ASSERT_EQ(e.size(), dim);
    EXPECT_NEAR(norm(e), 1.0, 1e-5) << j;
    if (is_image) {
      const size_t i = images[j];
      EXPECT_EQ(line["input"], testing::fixtures_dir() + "/images/" + order[i]);
      EXPECT_LE(relative_error(e, normalised_row(image_ref, i, dim)), 1e-4) << order[i];
    } else {
      const size_t t = texts[j - images.size()];
      EXPECT_EQ(line["input"], cases[t]["text"]);
      EXPECT_LE(relative_error(e, normalised_row(text_ref, t, dim)), 1e-4) << cases[t]["text"];
    }
  }
}

TEST(CliEmbedTest, DicomSpecimensEmbed) {
  XRS_REQUIRE_FIXTURES();
  const std::string special = testing::shared_dir() + "/datasets/xray-special";
  XRS_REQUIRE_PATH(special);
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(special)) {
    if (e.path().extension() == ".dcm") files.push_back(e.path().string());
  }
  ASSERT_GE(files.size(), 3u);
  for (const std::string& f : files) {
    const testing::ProcessResult r =
        run_cli({"embed", "--model", model_dir("tiny-openai-b32"), "--image", f});
    ASSERT_EQ(r.exit_code, 0) << f << describe(r);
    const auto lines = json_lines(r.out);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0]["input"], f);
    const auto e = lines[0]["embedding"].get<std::vector<float>>();
    EXPECT_EQ(e.size(), 32u);
    EXPECT_NEAR(norm(e), 1.0, 1e-5) << f;
  }
}

TEST(CliTokenizeTest, EveryFixtureCaseEqualsClipTokenize) {
  XRS_REQUIRE_FIXTURES();
  const auto cases = tokenizer_cases();
  ASSERT_GT(cases.size(), 10u);
  // "--" ends the options: texts may start with '-'.
  std::vector<std::string> args = {"tokenize", "--tokenizer",
                                   testing::fixtures_dir() + "/bpe_simple_vocab_16e6.txt.gz", "--"};
  for (const auto& c : cases) args.push_back(c["text"]);
  const testing::ProcessResult r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), cases.size());
  size_t truncated = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(lines[i]["text"], cases[i]["text"]) << i;
    EXPECT_EQ(lines[i]["tokens"], cases[i]["tokens_truncated"]) << cases[i]["text"];
    EXPECT_EQ(lines[i]["truncated"], cases[i]["too_long"]) << cases[i]["text"];
    truncated += cases[i]["too_long"].get<bool>();
  }
  EXPECT_GT(truncated, 0u) << "the fixtures should hold texts longer than 77 tokens";
  // The Hugging Face files give the same tokens.
  const testing::ProcessResult hf = run_cli(
      {"tokenize", "--tokenizer", testing::fixtures_dir() + "/vocab.json", "--", "A chest X-ray"});
  ASSERT_EQ(hf.exit_code, 0) << describe(hf);
  EXPECT_EQ(json_lines(hf.out)[0]["tokens"], cases[1]["tokens_truncated"]);
}

TEST(CliPreprocessTest, WritesThePixelsTheReferenceSees) {
  XRS_REQUIRE_FIXTURES();
  const std::string out_dir = testing::scratch_dir("cli-preprocess");
  for (const auto& [model, size] : std::vector<std::pair<std::string, int>>{
           {"tiny-openai-b32", 224}, {"tiny-laion-b16", 112}}) {
    const auto order = manifest()["models"][model]["image_order"].get<std::vector<std::string>>();
    for (const std::string& name : order) {
      const std::string out = out_dir + "/" + model + "-" + name + ".png";
      const testing::ProcessResult r =
          run_cli({"preprocess", "--size", std::to_string(size),
                   testing::fixtures_dir() + "/images/" + name, "--out", out});
      ASSERT_EQ(r.exit_code, 0) << name << describe(r);
      auto image = decode_image_file(out);
      ASSERT_TRUE(image.is_ok()) << image.status().to_string();
      ASSERT_EQ(image->width, size);
      ASSERT_EQ(image->height, size);
      ASSERT_EQ(image->channels(), 3) << name;
      const std::vector<uint8_t> want = reference_u8(model, "pixels_u8." + name);
      ASSERT_EQ(want.size(), size_t(size) * size * 3);
      int worst = 0;
      for (size_t i = 0; i < want.size(); ++i) {
        worst = std::max(worst, std::abs(int(image->pixels[i]) - int(want[i])));
      }
      EXPECT_LE(worst, 1) << model << " " << name;
    }
  }
}

TEST(CliModelInfoTest, EveryWeightFileDescribesTheSameModel) {
  XRS_REQUIRE_FIXTURES();
  const nlohmann::json m = manifest();
  struct File {
    std::string model, file, format;
  };
  const std::vector<File> files = {
      {"tiny-openai-b32", "open_clip_model.safetensors", "safetensors"},
      {"tiny-openai-b32", "model.safetensors", "safetensors"},
      {"tiny-openai-b32", "tiny-openai-b32.pt", "torchscript"},
      {"tiny-laion-b16", "open_clip_model.safetensors", "safetensors"}};
  std::map<std::string, int64_t> parameters;
  for (const File& f : files) {
    const testing::ProcessResult r =
        run_cli({"model", "info", "--model", model_dir(f.model) + "/" + f.file, "--json"});
    ASSERT_EQ(r.exit_code, 0) << f.file << describe(r);
    const nlohmann::json info = nlohmann::json::parse(r.out);
    EXPECT_EQ(info["format"], f.format) << f.file;
    EXPECT_EQ(info["sha256"], m["models"][f.model]["files"][f.file]) << f.file;
    EXPECT_EQ(info["weights"], model_dir(f.model) + "/" + f.file);
    const std::string dtypes = info["dtypes"];
    EXPECT_FALSE(dtypes.empty()) << f.file;
    const auto [it, first] = parameters.emplace(f.model, info["parameters"].get<int64_t>());
    EXPECT_EQ(info["parameters"].get<int64_t>(), it->second) << f.file;
    EXPECT_GT(it->second, 0);
    EXPECT_EQ(info["architecture"]["embed_dim"], m["models"][f.model]["config"]["embed"]);
    EXPECT_EQ(info["architecture"]["image_size"], m["models"][f.model]["config"]["res"]);
  }
  // The fixtures' README: float32 OpenCLIP file, float16 (+ float32) in the others.
  EXPECT_EQ(nlohmann::json::parse(
                run_cli({"model", "info", "--model",
                         model_dir("tiny-openai-b32") + "/open_clip_model.safetensors", "--json"})
                    .out)["dtypes"],
            "F32");
  const testing::ProcessResult text =
      run_cli({"model", "info", "--model", model_dir("tiny-openai-b32")});
  ASSERT_EQ(text.exit_code, 0) << describe(text);
  EXPECT_NE(text.out.find("parameters:"), std::string::npos) << text.out;
}

}  // namespace
}  // namespace xrs
