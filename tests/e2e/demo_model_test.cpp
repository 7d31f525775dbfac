// The out-of-the-box experience (issue 10): the committed project-trained model
// (models/xray-small) indexed over the committed demo set (datasets/xray-demo) ranks the right
// category first for text queries in its words and for an example image. Needs nothing from
// ../shared and no network.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "e2e/subprocess.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

using json = nlohmann::json;
using testing::describe;
using testing::ProcessResult;
using testing::run_cli;

const std::string kModel = std::string(XRS_SOURCE_DIR) + "/models/xray-small";
const std::string kData = std::string(XRS_SOURCE_DIR) + "/datasets/xray-demo";

class DemoModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::scratch_dir("demo-model"));
    index_result_ = new ProcessResult(run_cli(
        {"index", kData, "--model", kModel, "--index", *dir_ + "/idx"}, std::chrono::seconds(240)));
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete index_result_;
  }
  void SetUp() override { ASSERT_EQ(index_result_->exit_code, 0) << describe(*index_result_); }

  // The top 10 categories of a query (no score threshold).
  static std::vector<std::string> top_categories(std::vector<std::string> query) {
    std::vector<std::string> args = {"search", "--index", *dir_ + "/idx", "--json",
                                     "--k",    "10",      "--min-score",  "-1"};
    args.insert(args.end(), query.begin(), query.end());
    const ProcessResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    std::vector<std::string> out;
    if (r.exit_code != 0) return out;
    const json doc = json::parse(r.out);
    for (const json& hit : doc["results"]) out.push_back(hit["category"]);
    return out;
  }

  static std::string* dir_;
  static ProcessResult* index_result_;
};

std::string* DemoModelTest::dir_ = nullptr;
ProcessResult* DemoModelTest::index_result_ = nullptr;

TEST_F(DemoModelTest, CommittedFilesAreThere) {
  for (const char* f : {"open_clip_model.safetensors", "open_clip_config.json", "vocab.json",
                        "merges.txt", "MODEL_CARD.md"}) {
    EXPECT_TRUE(std::filesystem::exists(kModel + "/" + f)) << f;
  }
  // Within the size the issue allows (float16, at most 25 MB), and the demo set under 15 MB.
  EXPECT_LE(std::filesystem::file_size(kModel + "/open_clip_model.safetensors"), 25u << 20);
  uintmax_t bytes = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(kData)) {
    if (e.is_regular_file()) bytes += e.file_size();
  }
  EXPECT_LT(bytes, 15u << 20);
}

TEST_F(DemoModelTest, TextQueriesRankTheirCategoryFirst) {
  for (const auto& [query, category] :
       std::vector<std::pair<std::string, std::string>>{{"chest x-ray", "chest"},
                                                        {"dental x-ray", "dental"},
                                                        {"radiograph of the teeth", "dental"},
                                                        {"thorax radiograph", "chest"}}) {
    const std::vector<std::string> got = top_categories({"--text", query});
    ASSERT_EQ(got.size(), 10u) << query;
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_EQ(got[i], category) << query << " rank " << i + 1;
  }
}

TEST_F(DemoModelTest, AnExampleImageFindsItsKind) {
  for (const auto& [image, category] : std::vector<std::pair<std::string, std::string>>{
           {"/raw/dental/dent-ufba-0001.jpg", "dental"},
           {"/raw/chest/cxr-mhh-0001.png", "chest"}}) {
    const std::vector<std::string> got = top_categories({"--image", kData + image});
    ASSERT_EQ(got.size(), 10u) << image;
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_EQ(got[i], category) << image << " rank " << i + 1;
  }
}

}  // namespace
}  // namespace xrs
