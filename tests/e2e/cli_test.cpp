// The command line end to end, through the built binary: help and exit codes, error messages,
// `validate`, `index`, `search --json` (checked against a brute-force search over the catalog),
// the model guard, and `export` (checked with NumPy and Python's csv module).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/subprocess.h"
#include "pipeline/dataset_copy.h"

namespace xrs {
namespace {

using testing::describe;
using testing::ProcessResult;
using testing::run_cli;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The dataset and index every test here reads (built once, through the CLI).
class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // 12 images: 4 of each of ../shared's 3 categories, else 6 of each of the demo set's 2.
    data_ =
        new testing::DatasetCopy(testing::make_dataset_copy("cli", testing::per_category_for(12)));
    index_dir_ = new std::string(testing::scratch_dir("cli-index") + "/idx");
    index_result_ =
        new ProcessResult(run_cli({"index", data_->dir(), "--model", testing::tiny_model_dir(),
                                   "--index", *index_dir_, "--batch", "5", "--json"}));
  }
  static void TearDownTestSuite() {
    delete data_;
    delete index_dir_;
    delete index_result_;
  }
  void SetUp() override {
    XRS_REQUIRE_DATASET();
    ASSERT_EQ(index_result_->exit_code, 0) << describe(*index_result_);
  }

  static testing::DatasetCopy* data_;
  static std::string* index_dir_;
  static ProcessResult* index_result_;
};

testing::DatasetCopy* CliTest::data_ = nullptr;
std::string* CliTest::index_dir_ = nullptr;
ProcessResult* CliTest::index_result_ = nullptr;

// Subcommands named in the top-level help.
std::vector<std::string> listed_subcommands() {
  const ProcessResult r = run_cli({"--help"});
  std::vector<std::string> out;
  const size_t start = r.out.find("Subcommands:");
  if (start == std::string::npos) return out;
  std::istringstream in(r.out.substr(start));
  std::string line;
  std::getline(in, line);
  static const std::regex row(R"(^  ([a-z][a-z-]*)\s)");
  for (std::smatch m; std::getline(in, line);) {
    if (std::regex_search(line, m, row)) out.push_back(m[1]);
  }
  return out;
}

TEST(CliHelpTest, EverySubcommandHasHelpAndExitsZero) {
  const std::vector<std::string> listed = listed_subcommands();
  const std::set<std::string> have(listed.begin(), listed.end());
  for (const char* documented : {"validate", "index", "search", "serve", "export", "embed",
                                 "tokenize", "preprocess", "model", "bench"}) {
    EXPECT_TRUE(have.count(documented)) << documented << " is missing from --help";
  }
  std::vector<std::vector<std::string>> commands = {{"--help"}, {"model", "info", "--help"}};
  for (const std::string& s : listed) commands.push_back({s, "--help"});
  for (const auto& args : commands) {
    const ProcessResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << args[0] << describe(r);
    EXPECT_TRUE(contains(r.out, "Usage:")) << args[0] << r.out;
  }
  const ProcessResult v = run_cli({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_TRUE(contains(v.out, "xray-search")) << v.out;
}

TEST(CliHelpTest, UsageErrorsExitTwo) {
  const std::string idx = testing::scratch_dir("cli-usage");  // never reached
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"frobnicate"},
      {"search", "--index", idx, "--text", "x", "--bogus"},
      {"search", "--index", idx, "--text", "x", "--k", "0"},
      {"search", "--index", idx, "--text", "x", "--k", "21"},
      {"search", "--index", idx, "--text", "x", "--k", "five"},
      {"search", "--index", idx, "--text", "x", "--image", "a.png"},
      {"search", "--index", idx},
      {"search", "--text", "x"},
      {"search", "--index", idx, "--text", "x", "--min-score", "1.5"},
      {"search", "--index", idx, "--text", "x", "--min-score", "nan"},
      {"index", "data"},
      {"index", "--index", idx},
      {"index", "data", "--index", idx, "--batch", "0"},
      {"embed", "--model", "m"},
      {"export", "--index", idx},
      {"preprocess", "a.png"},
      {"tokenize"},
      {"model"},
  };
  for (const auto& args : cases) {
    std::string what;
    for (const std::string& a : args) what += a + " ";
    const ProcessResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << what << describe(r);
    EXPECT_FALSE(r.err.empty()) << what;
    EXPECT_TRUE(r.out.empty() || contains(r.out, "Usage")) << what << r.out;
  }
}

TEST(CliHelpTest, FailuresExitOneNamingTheFile) {
  XRS_REQUIRE_DATASET();
  const std::string dir = testing::scratch_dir("cli-failures");
  const std::string not_image = dir + "/notes.png";
  testing::write_bytes(not_image, "hello, this is text");
  const std::string m = testing::tiny_model_dir();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"search", "--index", dir + "/no-index", "--text", "x"}, dir + "/no-index"},
      {{"export", "--index", dir + "/no-index", "--out", dir + "/e"}, dir + "/no-index"},
      {{"index", dir + "/no-data", "--model", m, "--index", dir + "/i"}, dir + "/no-data"},
      {{"validate", dir + "/no-data"}, dir + "/no-data"},
      {{"embed", "--model", m, "--image", dir + "/missing.png"}, dir + "/missing.png"},
      {{"embed", "--model", m, "--image", not_image}, not_image},
      {{"embed", "--model", dir + "/no-model", "--text", "x"}, dir + "/no-model"},
      {{"model", "info", "--model", dir + "/no-model"}, dir + "/no-model"},
      {{"preprocess", dir + "/missing.png", "--out", dir + "/o.png"}, dir + "/missing.png"},
      {{"preprocess", not_image, "--out", dir + "/o.png"}, not_image},
      {{"tokenize", "--tokenizer", dir + "/no-vocab.txt.gz", "x"}, dir + "/no-vocab.txt.gz"},
  };
  for (const auto& [args, file] : cases) {
    const ProcessResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 1) << args[0] << describe(r);
    EXPECT_TRUE(contains(r.err, "xray-search: error: ") || args[0] == "validate") << r.err;
    EXPECT_TRUE(contains(r.err, file)) << args[0] << " should name " << file << ":\n" << r.err;
  }
}

TEST_F(CliTest, IndexReportsItsSummaryAndProgress) {
  const nlohmann::json s = nlohmann::json::parse(index_result_->out);
  for (const char* key : {"added", "updated", "renamed", "metadata", "removed", "unchanged",
                          "total", "embedded", "seconds", "skipped"}) {
    EXPECT_TRUE(s.contains(key)) << key;
  }
  EXPECT_EQ(s["added"], 12);
  EXPECT_EQ(s["total"], 12);
  EXPECT_EQ(s["embedded"], 12);
  EXPECT_TRUE(s["skipped"].empty());
  EXPECT_TRUE(contains(index_result_->err, "checking")) << index_result_->err;
  EXPECT_TRUE(contains(index_result_->err, "embedding 12/12")) << index_result_->err;
  // Again, in text: nothing to do, summary on stderr, nothing on stdout.
  const ProcessResult again = run_cli(
      {"index", data_->dir(), "--model", testing::tiny_model_dir(), "--index", *index_dir_});
  ASSERT_EQ(again.exit_code, 0) << describe(again);
  EXPECT_TRUE(again.out.empty());
  EXPECT_TRUE(contains(again.err,
                       "12 images (0 added, 0 updated, 0 renamed, 0 metadata changes, "
                       "0 removed, 12 unchanged, 0 skipped)"))
      << again.err;
}

TEST_F(CliTest, SearchJsonIsTheApiDocumentAndEqualsBruteForce) {
  const auto rows = testing::read_catalog(*index_dir_);
  ASSERT_EQ(rows.size(), 12u);
  auto e = testing::tiny_model().embed_text("hand x-ray");
  ASSERT_TRUE(e.is_ok());
  struct Case {
    std::vector<std::string> extra;
    size_t k;
    std::optional<std::string> category;
  };
  for (const Case& c : std::vector<Case>{{{"--k", "7"}, 7, {}},
                                         {{}, 5, {}},
                                         {{"--k", "20", "--category", "dental"}, 20, "dental"}}) {
    std::vector<std::string> args = {"search",     "--index",     *index_dir_, "--text",
                                     "hand x-ray", "--min-score", "-1",        "--json"};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    const ProcessResult r = run_cli(args);
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    const nlohmann::json doc = nlohmann::json::parse(r.out);
    for (const char* key : {"results", "took_ms", "min_score", "query"}) {
      EXPECT_TRUE(doc.contains(key)) << key;
    }
    EXPECT_EQ(doc["min_score"], -1.0);
    EXPECT_EQ(doc["query"]["type"], "text");
    EXPECT_EQ(doc["query"]["k"], c.k);
    EXPECT_GE(doc["took_ms"].get<double>(), 0.0);
    const auto want = testing::brute_force(rows, *e, c.k, -1.0, c.category);
    ASSERT_EQ(doc["results"].size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      const nlohmann::json& h = doc["results"][i];
      for (const char* key : {"rank", "id", "image_name", "category", "score", "url", "preview_url",
                              "path", "source_url"}) {
        EXPECT_TRUE(h.contains(key)) << key;
      }
      EXPECT_EQ(h["rank"], i + 1);
      EXPECT_NEAR(h["score"].get<double>(), want[i].score, 1e-5);
      if (h["id"] != want[i].id) {  // only near-ties may swap
        EXPECT_NEAR(h["score"].get<double>(), want[i].score, 1e-6) << i;
      }
      const ImageRecord& row = rows.at(h["image_name"].get<std::string>());
      EXPECT_EQ(h["id"], row.id);
      EXPECT_EQ(h["category"], row.category);
      EXPECT_EQ(h["path"], row.relative_path);
      EXPECT_EQ(h["source_url"], row.source_url);
      EXPECT_EQ(h["url"], "/api/images/" + std::to_string(row.id));
      if (c.category) {
        EXPECT_EQ(h["category"], *c.category);
      }
    }
  }
}

// --offset pages through the ranking: pages of 5 (offset 0, 5, 10) concatenate to the
// brute-force ranking of all 12 images, ranks continuing, each image once.
TEST_F(CliTest, SearchOffsetPagesConcatenateToTheBruteForceRanking) {
  const auto rows = testing::read_catalog(*index_dir_);
  auto e = testing::tiny_model().embed_text("hand x-ray");
  ASSERT_TRUE(e.is_ok());
  const auto want = testing::brute_force(rows, *e, rows.size(), -1.0);
  ASSERT_EQ(want.size(), 12u);
  std::vector<nlohmann::json> hits;
  for (int offset : {0, 5, 10, 15}) {
    const ProcessResult r =
        run_cli({"search", "--index", *index_dir_, "--text", "hand x-ray", "--min-score", "-1",
                 "--k", "5", "--offset", std::to_string(offset), "--json"});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    const nlohmann::json doc = nlohmann::json::parse(r.out);
    EXPECT_EQ(doc["query"]["offset"], offset);
    EXPECT_EQ(doc["results"].size(), offset < 10 ? 5u : offset == 10 ? 2u : 0u) << offset;
    for (const auto& h : doc["results"]) hits.push_back(h);
  }
  ASSERT_EQ(hits.size(), want.size());
  std::set<int64_t> seen;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(hits[i]["rank"], i + 1);
    EXPECT_NEAR(hits[i]["score"].get<double>(), want[i].score, 1e-5) << i;
    if (hits[i]["id"] != want[i].id) {  // only near-ties may swap
      EXPECT_NEAR(hits[i]["score"].get<double>(), want[i].score, 1e-6) << i;
    }
    EXPECT_TRUE(seen.insert(hits[i]["id"].get<int64_t>()).second) << "repeated at rank " << i + 1;
  }
  const ProcessResult bad =
      run_cli({"search", "--index", *index_dir_, "--text", "hand x-ray", "--offset", "-1"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_TRUE(contains(bad.err, "offset")) << describe(bad);
}
TEST_F(CliTest, ImageAndIdQueriesLeaveTheQueryOut) {
  const auto rows = testing::read_catalog(*index_dir_);
  const testing::DatasetRow& d = data_->rows()[5];
  const ImageRecord& self = rows.at(d.image_name);
  ProcessResult r = run_cli({"search", "--index", *index_dir_, "--image", data_->file(d),
                             "--min-score", "-1", "--k", "20", "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["query"]["type"], "image");
  EXPECT_EQ(doc["results"].size(), 11u);
  for (const auto& h : doc["results"]) EXPECT_NE(h["id"], self.id);

  r = run_cli(
      {"search", "--index", *index_dir_, "--image", data_->file(d), "--include-self", "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["min_score"].get<double>(), 0.95);
  ASSERT_GE(doc["results"].size(), 1u);
  EXPECT_EQ(doc["results"][0]["id"], self.id);

  r = run_cli({"search", "--index", *index_dir_, "--id", std::to_string(self.id), "--min-score",
               "-1", "--k", "3", "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  doc = nlohmann::json::parse(r.out);
  const auto want = testing::brute_force(rows, self.embedding, 3, -1.0, {}, self.id);
  ASSERT_EQ(doc["results"].size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(doc["results"][i]["score"].get<double>(), want[i].score, 1e-5);
  }
  r = run_cli({"search", "--index", *index_dir_, "--id", "999999"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "xray-search: error: no indexed image has id 999999")) << r.err;

  // The table form names the images.
  r = run_cli({"search", "--index", *index_dir_, "--text", "chest", "--min-score", "-1"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "rank")) << r.out;
  r = run_cli({"search", "--index", *index_dir_, "--text", "chest", "--min-score", "1"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "no image scored at or above")) << r.out;
}

TEST_F(CliTest, AnotherModelIsRefusedUntilRebuild) {
  const std::string first = testing::model_name(testing::tiny_model_dir());
  const std::string second = testing::model_name(testing::other_model_dir());
  const std::string idx = testing::scratch_dir("cli-guard") + "/idx";
  ASSERT_EQ(run_cli({"index", data_->dir(), "--model", testing::tiny_model_dir(), "--index", idx})
                .exit_code,
            0);
  ProcessResult r =
      run_cli({"index", data_->dir(), "--model", testing::other_model_dir(), "--index", idx});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "xray-search: error: ")) << r.err;
  EXPECT_TRUE(contains(r.err, first) && contains(r.err, second)) << r.err;
  EXPECT_TRUE(contains(r.err, "--rebuild")) << r.err;

  r = run_cli({"search", "--index", idx, "--model", testing::other_model_dir(), "--text", "x"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, first) && contains(r.err, second)) << r.err;

  r = run_cli({"index", data_->dir(), "--model", testing::other_model_dir(), "--index", idx,
               "--rebuild", "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(nlohmann::json::parse(r.out)["embedded"], 12);
  // The index now records the other model: search uses it without being told.
  r = run_cli({"search", "--index", idx, "--text", "x", "--min-score", "-1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(nlohmann::json::parse(r.out)["results"].size(), 5u);
}

TEST_F(CliTest, AnUnusableDatasetChangesNothing) {
  const std::string dir = testing::scratch_dir("cli-unusable");
  testing::write_bytes(dir + "/data/raw/chest/a.png",
                       testing::read_bytes(data_->file(data_->rows()[0])));
  const ProcessResult r = run_cli(
      {"index", dir + "/data", "--model", testing::tiny_model_dir(), "--index", dir + "/idx"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "metadata.csv")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/idx"));
}

TEST_F(CliTest, ValidateListsEveryProblem) {
  ProcessResult r = run_cli({"validate", data_->dir()});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "valid: 12 rows")) << r.out;

  testing::DatasetCopy bad =
      testing::make_dataset_copy("cli-validate", testing::per_category_for(6));
  ASSERT_EQ(bad.rows().size(), 6u);
  std::filesystem::remove(bad.file(bad.rows()[0]));  // missing_file
  const std::string stray = "raw/" + bad.rows().back().category + "/stray.png";
  testing::write_bytes(bad.dir() + "/" + stray, "x");  // unlisted_file
  testing::DatasetRow feet = bad.rows()[1];
  feet.image_name = "feet.png";
  feet.category = "feet";                   // unknown_category
  testing::DatasetRow dup = bad.rows()[2];  // duplicate_image_name
  testing::DatasetRow bmp = bad.rows()[3];
  bmp.image_name = "scan.bmp";  // bad_extension
  const std::string csv = testing::read_bytes(bad.dir() + "/metadata.csv");
  testing::write_bytes(bad.dir() + "/metadata.csv", csv + feet.image_name + ",u,feet,n\r\n" +
                                                        dup.image_name + ",u," + dup.category +
                                                        ",n\r\n" + bmp.image_name + ",u," +
                                                        bmp.category + ",n\r\n");
  const std::set<std::string> codes = {"missing_file", "unlisted_file", "unknown_category",
                                       "duplicate_image_name", "bad_extension"};
  r = run_cli({"validate", bad.dir()});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  for (const std::string& code : codes) EXPECT_TRUE(contains(r.err, code)) << code << r.err;
  EXPECT_TRUE(contains(r.err, bad.rows()[0].image_name)) << r.err;
  EXPECT_TRUE(contains(r.err, stray)) << r.err;
  EXPECT_TRUE(contains(r.err, "INVALID")) << r.err;

  r = run_cli({"validate", bad.dir(), "--json"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  const nlohmann::json report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["valid"], false);
  std::set<std::string> got;
  for (const auto& p : report["problems"]) got.insert(p["code"].get<std::string>());
  EXPECT_EQ(got, codes);
  // scan.bmp has two: its extension, and (still checked for presence) its missing file.
  EXPECT_EQ(report["errors"], 6);

  // The indexer leaves those images out and indexes the rest.
  r = run_cli({"index", bad.dir(), "--model", testing::tiny_model_dir(), "--index",
               testing::scratch_dir("cli-validate-index"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const nlohmann::json s = nlohmann::json::parse(r.out);
  EXPECT_EQ(s["total"], 5);            // the 6 listed files less the missing one
  EXPECT_EQ(s["skipped"].size(), 6u);  // one entry per problem
}

TEST_F(CliTest, ABrokenRulesFileMakesTheDatasetInvalid) {
  testing::DatasetCopy data = testing::make_dataset_copy("cli-rules", 1);
  testing::write_bytes(data.dir() + "/xray-search.json", R"({"categories": 5})");
  ProcessResult r = run_cli({"validate", data.dir()});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "invalid_config") && contains(r.err, "xray-search.json")) << r.err;
  r = run_cli({"validate", data.dir(), "--json"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  const nlohmann::json report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["valid"], false);
  EXPECT_EQ(report["fatal"], true);
  ASSERT_EQ(report["problems"].size(), 1u);
  EXPECT_EQ(report["problems"][0]["code"], "invalid_config");
  EXPECT_EQ(report["problems"][0]["file"], "xray-search.json");

  const std::string idx = testing::scratch_dir("cli-rules-index") + "/idx";
  r = run_cli({"index", data.dir(), "--model", testing::tiny_model_dir(), "--index", idx});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "xray-search: error: ") && contains(r.err, "xray-search.json"))
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(idx));
  // A bad value on the command line stays a usage error.
  std::filesystem::remove(data.dir() + "/xray-search.json");
  EXPECT_EQ(run_cli({"validate", data.dir(), "--categories", "a/b"}).exit_code, 2);
  EXPECT_EQ(run_cli({"validate", data.dir(), "--config", data.dir() + "/none.json"}).exit_code, 1);
}

TEST_F(CliTest, ExportMatchesTheCatalogInNumpy) {
  if (run_cli({"--version"}).exit_code != 0 ||
      testing::run_process({"/usr/bin/python3", "-c", "import numpy"}).exit_code != 0) {
    GTEST_SKIP() << "skipped: /usr/bin/python3 with numpy is not available";
  }
  const std::string prefix = testing::scratch_dir("cli-export") + "/emb";
  ProcessResult r = run_cli({"export", "--index", *index_dir_, "--out", prefix});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const char* script = R"(
import csv, json, sys
import numpy as np
a = np.load(sys.argv[1] + ".npy")
with open(sys.argv[1] + ".csv", newline="") as f:
    rows = list(csv.reader(f))
print(json.dumps({"dtype": a.dtype.str, "shape": list(a.shape),
                  "data": [float(x) for x in a.ravel()], "rows": rows}))
)";
  r = testing::run_process({"/usr/bin/python3", "-c", script, prefix});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const nlohmann::json got = nlohmann::json::parse(r.out);

  auto catalog = Catalog::open(*index_dir_, Catalog::Mode::kReadOnly);
  ASSERT_TRUE(catalog.is_ok());
  auto rows = (*catalog)->list();
  auto vectors = (*catalog)->load_embeddings();
  ASSERT_TRUE(rows.is_ok() && vectors.is_ok());
  const size_t n = rows->size(), dim = (*catalog)->model().dim;
  EXPECT_EQ(got["dtype"], "<f4");
  EXPECT_EQ(got["shape"], nlohmann::json::array({n, dim}));
  const auto data = got["data"].get<std::vector<double>>();
  ASSERT_EQ(data.size(), n * dim);
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(vectors->ids[i], (*rows)[i].id);
    for (size_t j = 0; j < dim; ++j) {
      ASSERT_EQ(static_cast<float>(data[i * dim + j]), vectors->vectors.row(i)[j]) << i << "," << j;
    }
  }
  ASSERT_EQ(got["rows"].size(), n + 1);
  EXPECT_EQ(got["rows"][0], nlohmann::json::array(
                                {"id", "image_name", "category", "path", "source_url", "sha256"}));
  for (size_t i = 0; i < n; ++i) {
    const ImageRecord& row = (*rows)[i];
    EXPECT_EQ(got["rows"][i + 1],
              nlohmann::json::array({std::to_string(row.id), row.image_name, row.category,
                                     row.relative_path, row.source_url, row.sha256}));
  }
}

}  // namespace
}  // namespace xrs
