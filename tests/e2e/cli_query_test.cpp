// The CLI's query kinds beyond text/image/id, end to end through the built binary: query by
// embedding (search --embedding, JSON and .npy) and combined queries (search --term). References
// are computed independently: the embeddings come from `xray-search embed`, the .npy files are
// written by NumPy
// (/usr/bin/python3), and answers are compared with the text/image query that produced the
// embedding, or a NumPy weighted sum over `embed` output and the index's `export`. Tests needing
// NumPy skip, saying so, when it is missing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/subprocess.h"
#include "pipeline/dataset_copy.h"

namespace xrs {
namespace {

using json = nlohmann::json;
using testing::describe;
using testing::ProcessResult;
using testing::run_cli;
using testing::run_process;

constexpr const char* kPython = "/usr/bin/python3";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Why NumPy cannot be used here, or "" when it can.
std::string numpy_missing() {
  if (!std::filesystem::exists(kPython)) return std::string(kPython) + " is absent";
  const ProcessResult r = run_process({kPython, "-c", "import numpy"});
  return r.exit_code == 0 ? "" : std::string(kPython) + " has no numpy: " + r.err;
}

#define REQUIRE_NUMPY()                                          \
  do {                                                           \
    if (const std::string why = numpy_missing(); !why.empty()) { \
      GTEST_SKIP() << "skipped: " << why;                        \
    }                                                            \
  } while (0)

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

class CliQueryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new testing::DatasetCopy(testing::make_dataset_copy("cli-query", 5));
    dir_ = new std::string(testing::scratch_dir("cli-query-work"));
    index_result_ =
        new ProcessResult(run_cli({"index", data_->dir(), "--model", testing::tiny_model_dir(),
                                   "--index", *dir_ + "/idx", "--json"}));
  }
  static void TearDownTestSuite() {
    delete data_;
    delete dir_;
    delete index_result_;
  }
  void SetUp() override {
    XRS_REQUIRE_DATASET();
    ASSERT_EQ(index_result_->exit_code, 0) << describe(*index_result_);
  }

  static std::string index() { return *dir_ + "/idx"; }
  static std::string file(const std::string& name) { return *dir_ + "/" + name; }

  // `xray-search embed` output: one JSON object per input (images first, then texts).
  static std::vector<json> embed(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"embed", "--model", testing::tiny_model_dir()};
    argv.insert(argv.end(), args.begin(), args.end());
    const ProcessResult r = run_cli(argv);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    std::vector<json> lines;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) lines.push_back(json::parse(line));
    }
    return lines;
  }

  static json search_json(std::vector<std::string> args) {
    args.insert(args.begin(), {"search", "--index", index(), "--json", "--k", "20"});
    const ProcessResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return r.exit_code == 0 ? json::parse(r.out) : json();
  }

  // Same images in the same order with the same scores.
  static void expect_same_results(const json& got, const json& want, const std::string& what) {
    ASSERT_TRUE(got.contains("results")) << what;
    ASSERT_EQ(got["results"].size(), want["results"].size()) << what;
    ASSERT_FALSE(want["results"].empty()) << what;
    for (size_t i = 0; i < want["results"].size(); ++i) {
      EXPECT_EQ(got["results"][i]["id"], want["results"][i]["id"]) << what << " rank " << i + 1;
      EXPECT_NEAR(got["results"][i]["score"].get<double>(),
                  want["results"][i]["score"].get<double>(), 2e-6)
          << what << " rank " << i + 1;
    }
  }

  static testing::DatasetCopy* data_;
  static std::string* dir_;
  static ProcessResult* index_result_;
};

testing::DatasetCopy* CliQueryTest::data_ = nullptr;
std::string* CliQueryTest::dir_ = nullptr;
ProcessResult* CliQueryTest::index_result_ = nullptr;

TEST_F(CliQueryTest, EmbeddingQueryEqualsTheQueryThatProducedIt) {
  REQUIRE_NUMPY();
  const std::string image = data_->file(data_->rows()[3]);
  const auto lines = embed({"--image", image, "--text", "hand x-ray"});
  ASSERT_EQ(lines.size(), 2u);
  const json& image_e = lines[0]["embedding"];
  const json& text_e = lines[1]["embedding"];

  const json by_text = search_json({"--text", "hand x-ray", "--min-score", "-1"});
  const json by_image = search_json({"--image", image, "--include-self", "--min-score", "-1"});

  // JSON: a bare array, and embed's own output line.
  write_text(file("text.json"), text_e.dump());
  write_text(file("text-line.json"), lines[1].dump());
  write_text(file("image.json"), image_e.dump());
  for (const char* f : {"text.json", "text-line.json"}) {
    json got = search_json({"--embedding", file(f), "--min-score", "-1"});
    expect_same_results(got, by_text, f);
    EXPECT_EQ(got["query"]["type"], "embedding");
  }
  expect_same_results(search_json({"--embedding", file("image.json"), "--min-score", "-1"}),
                      by_image, "image.json");

  // .npy written by NumPy: float32 (d,), float64 (1, d).
  const std::string script =
      "import json, sys, numpy as np\n"
      "e = json.load(open(sys.argv[1]))\n"
      "np.save(sys.argv[2], np.asarray(e, dtype=np.float32))\n"
      "np.save(sys.argv[3], np.asarray([e], dtype=np.float64))\n";
  for (const std::string kind : {"text", "image"}) {
    const ProcessResult py = run_process({kPython, "-c", script, file(kind + ".json"),
                                          file(kind + "32.npy"), file(kind + "64.npy")});
    ASSERT_EQ(py.exit_code, 0) << describe(py);
    for (const std::string suffix : {"32.npy", "64.npy"}) {
      expect_same_results(search_json({"--embedding", file(kind + suffix), "--min-score", "-1"}),
                          kind == "text" ? by_text : by_image, kind + suffix);
    }
  }
  // The default threshold of an embedding query is the image one, and is stated.
  const json dflt = search_json({"--embedding", file("text.json")});
  EXPECT_NEAR(dflt["min_score"].get<double>(), 0.95, 1e-9);
}

TEST_F(CliQueryTest, BadEmbeddingFilesAreRefusedClearly) {
  REQUIRE_NUMPY();
  const auto lines = embed({"--text", "chest"});
  ASSERT_EQ(lines.size(), 1u);
  const size_t dim = lines[0]["embedding"].size();
  json shorter = lines[0]["embedding"];
  shorter.erase(shorter.begin());
  write_text(file("short.json"), shorter.dump());
  write_text(file("strings.json"), R"(["a", "b"])");
  write_text(file("broken.json"), "[0.1, 0.2");
  write_text(file("zeros.json"), json(std::vector<double>(dim, 0.0)).dump());
  const std::string script =
      "import sys, numpy as np\n"
      "d = int(sys.argv[1])\n"
      "a = np.ones(d, dtype=np.float32); a[3] = np.nan; np.save(sys.argv[2], a)\n"
      "b = np.ones(d, dtype=np.float32); b[0] = np.inf; np.save(sys.argv[3], b)\n"
      "np.save(sys.argv[4], np.ones((2, d), dtype=np.float32))\n"
      "np.save(sys.argv[5], np.ones(d, dtype=np.int32))\n";
  const ProcessResult py = run_process({kPython, "-c", script, std::to_string(dim), file("nan.npy"),
                                        file("inf.npy"), file("two.npy"), file("int.npy")});
  ASSERT_EQ(py.exit_code, 0) << describe(py);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"short.json", "has " + std::to_string(dim - 1) +
                         " values; the index's model has dimension " + std::to_string(dim)},
      {"strings.json", "value 0 (0-based) is not a number"},
      {"broken.json", "not valid JSON"},
      {"zeros.json", "all zeros"},
      {"nan.npy", "value 3 (0-based) is not a finite number"},
      {"inf.npy", "value 0 (0-based) is not a finite number"},
      {"two.npy", "one embedding"},
      {"int.npy", "float32"},
      {"missing.npy", "missing.npy"},
  };
  for (const auto& [name, message] : cases) {
    const ProcessResult r = run_cli({"search", "--index", index(), "--embedding", file(name)});
    EXPECT_NE(r.exit_code, 0) << name;
    EXPECT_TRUE(contains(r.err, message)) << name << ": " << describe(r);
    EXPECT_TRUE(r.out.empty()) << name;
  }
  const ProcessResult both =
      run_cli({"search", "--index", index(), "--embedding", file("short.json"), "--text", "chest"});
  EXPECT_NE(both.exit_code, 0);
  EXPECT_TRUE(contains(both.err, "exactly one of")) << describe(both);
}

// The reference: NumPy over `embed` output (the terms) and `export` output (the index), with
// the indexed images used as terms (by id, or by identical bytes) left out.
constexpr const char* kCombineScript = R"py(
import csv, hashlib, json, sys
import numpy as np
terms = json.load(open(sys.argv[1]))      # [[weight, embedding or null, id or null], ...]
X = np.load(sys.argv[2] + ".npy").astype(np.float64)
rows = list(csv.DictReader(open(sys.argv[2] + ".csv", newline="")))
ids = [int(r["id"]) for r in rows]
excluded = set(int(e) for e in json.load(open(sys.argv[3])))
q = np.zeros(X.shape[1])
for weight, emb, idx in terms:
    e = np.asarray(emb, dtype=np.float64) if emb is not None else X[ids.index(idx)]
    q += weight * e / np.linalg.norm(e)
q /= np.linalg.norm(q)
scores = (X / np.linalg.norm(X, axis=1, keepdims=True)) @ q
order = sorted((i for i in range(len(ids)) if ids[i] not in excluded),
               key=lambda i: (-scores[i], ids[i]))
print(json.dumps([[ids[i], float(scores[i])] for i in order[:20]]))
)py";

TEST_F(CliQueryTest, CombinedQueryEqualsTheWeightedSumComputedByNumPy) {
  REQUIRE_NUMPY();
  const ProcessResult exported = run_cli({"export", "--index", index(), "--out", file("export")});
  ASSERT_EQ(exported.exit_code, 0) << describe(exported);
  const testing::DatasetRow& term_image = data_->rows()[1];
  const std::string image = data_->file(term_image);
  const auto lines = embed({"--image", image, "--text", "hand x-ray", "--text", "chest"});
  ASSERT_EQ(lines.size(), 3u);
  // The id term: an indexed image other than the image term.
  const json first = search_json({"--text", "dental", "--min-score", "-1"});
  int64_t id_term = -1;
  for (const auto& hit : first["results"]) {
    if (hit["image_name"] != term_image.image_name) {
      id_term = hit["id"];
      break;
    }
  }
  ASSERT_GE(id_term, 0);
  int64_t image_id = -1;
  const json self = search_json({"--image", image, "--include-self", "--min-score", "-1"});
  for (const auto& hit : self["results"]) {
    if (hit["image_name"] == term_image.image_name) image_id = hit["id"];
  }
  ASSERT_GE(image_id, 0);

  const json terms = json::array({json::array({2.0, lines[1]["embedding"], nullptr}),
                                  json::array({1.0, lines[0]["embedding"], nullptr}),
                                  json::array({-1.0, lines[2]["embedding"], nullptr}),
                                  json::array({0.5, nullptr, id_term})});
  write_text(file("terms.json"), terms.dump());
  write_text(file("excluded.json"), json::array({id_term, image_id}).dump());
  const ProcessResult py = run_process(
      {kPython, "-c", kCombineScript, file("terms.json"), file("export"), file("excluded.json")});
  ASSERT_EQ(py.exit_code, 0) << describe(py);
  const json want = json::parse(py.out);
  ASSERT_EQ(want.size(), data_->rows().size() - 2);  // all indexed but the 2 used as terms

  const json got =
      search_json({"--term", "2:hand x-ray", "--term", image, "--term=-1:text:chest", "--term",
                   "0.5:id:" + std::to_string(id_term), "--min-score", "-1"});
  EXPECT_EQ(got["query"]["type"], "combined");
  EXPECT_EQ(got["query"]["terms"], 4);
  EXPECT_EQ(got["min_score_rule"], "given");
  ASSERT_EQ(got["results"].size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got["results"][i]["score"].get<double>(), want[i][1].get<double>(), 2e-6) << i;
    if (got["results"][i]["id"] != want[i][0]) {  // only near-ties may swap
      EXPECT_NEAR(want[i][1].get<double>(),
                  want[i + (i + 1 < want.size() ? 1 : -1)][1].get<double>(), 2e-6)
          << i;
    }
    EXPECT_EQ(got["results"][i]["rank"], i + 1);
  }
  // The same terms as explicit embeddings (JSON files of embed's output) give the same answer.
  write_text(file("hand.json"), lines[1]["embedding"].dump());
  const json same = search_json({"--term", "2:embedding:" + file("hand.json"), "--term",
                                 "image:" + image, "--term=-1:chest", "--term",
                                 "0.5:id:" + std::to_string(id_term), "--min-score", "-1"});
  ASSERT_EQ(same["results"].size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(same["results"][i]["score"].get<double>(), want[i][1].get<double>(), 2e-6) << i;
  }

  // The threshold rule: the text default when a term is text, else the image default.
  const json with_text =
      search_json({"--term", "hand x-ray", "--term", "id:" + std::to_string(id_term)});
  EXPECT_NEAR(with_text["min_score"].get<double>(), 0.25, 1e-9);
  EXPECT_EQ(with_text["min_score_rule"], "the text default, as a term is text");
  const json no_text = search_json({"--term", "id:" + std::to_string(id_term), "--term", image});
  EXPECT_NEAR(no_text["min_score"].get<double>(), 0.95, 1e-9);
  EXPECT_EQ(no_text["min_score_rule"], "the image default, as no term is text");
}

TEST_F(CliQueryTest, BadCombinationsAreRefusedClearly) {
  const auto lines = embed({"--text", "chest"});
  ASSERT_EQ(lines.size(), 1u);
  json shorter = lines[0]["embedding"];
  shorter.erase(shorter.begin());
  write_text(file("short-term.json"), shorter.dump());
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--term", "2x:hand"}, "malformed weight '2x'"},
      {{"--term", "0:hand"}, "malformed weight '0'"},
      {{"--term", "1e99:hand"}, "malformed weight '1e99'"},
      {{"--term", "id:123456"}, "term 1: no indexed image has id 123456"},
      {{"--term", "hand", "--term", "id:x"}, "the id must be a non-negative integer"},
      {{"--term", "hand", "--term", "embedding:" + file("short-term.json")},
       "term 2: the embedding has " + std::to_string(shorter.size()) + " values"},
      {{"--term", "text: "}, "term 1: the text is empty"},
      {{"--term", "hand x-ray", "--term=-1:hand x-ray"}, "cancel out"},
      {{"--term", "image:" + file("no-such.png")}, "no-such.png"},
  };
  for (const auto& [args, message] : cases) {
    std::vector<std::string> argv = {"search", "--index", index()};
    argv.insert(argv.end(), args.begin(), args.end());
    const ProcessResult r = run_cli(argv);
    EXPECT_NE(r.exit_code, 0) << args[0] << " " << args.back();
    EXPECT_TRUE(contains(r.err, message)) << message << ": " << describe(r);
  }
}

}  // namespace
}  // namespace xrs
