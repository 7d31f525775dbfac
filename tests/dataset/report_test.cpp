#include "dataset/report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace xrs {
namespace {

ValidationReport sample_report() {
  ValidationReport r;
  r.data_dir = "/data/xray";
  r.rows = 20;
  r.images_checked = 19;
  r.decoded = true;
  r.problems.push_back({"duplicate_image_name", Severity::kError, ProblemScope::kImage,
                        "metadata.csv", 17, "image_name", "a.png",
                        "image 'a.png' is already listed on line 3"});
  r.problems.push_back({"missing_file", Severity::kError, ProblemScope::kImage, "raw/chest/b.png",
                        18, "image_name", "b.png", "raw/chest/b.png does not exist"});
  r.problems.push_back({"unlisted_file", Severity::kWarning, ProblemScope::kImage,
                        "raw/hand/x\xFF.png", 0, "", "",
                        "raw/hand/x\\xFF.png is not listed in metadata.csv"});
  return r;
}

TEST(ReportTest, TextHasOneLinePerProblem) {
  EXPECT_EQ(render_report_text(sample_report()),
            "metadata.csv:17: duplicate_image_name: image 'a.png' is already listed on line 3\n"
            "metadata.csv:18: missing_file: raw/chest/b.png does not exist\n"
            "raw/hand/x\\xFF.png: warning: unlisted_file: raw/hand/x\\xFF.png is not listed in "
            "metadata.csv\n");
  EXPECT_EQ(render_report_text(ValidationReport{}), "");
  Problem config{"invalid_config",
                 Severity::kError,
                 ProblemScope::kDataset,
                 "",
                 0,
                 "",
                 "",
                 "the configuration is invalid: threads: must be between 1 and 256, not 0"};
  EXPECT_EQ(render_problem_text(config),
            "invalid_config: the configuration is invalid: threads: must be between 1 and "
            "256, not 0");
}

TEST(ReportTest, JsonHasEveryField) {
  const std::string text = render_report_json(sample_report());
  EXPECT_EQ(text.find('\n'), std::string::npos);  // compact: one line
  const nlohmann::json j = nlohmann::json::parse(text);
  EXPECT_EQ(j["valid"], false);
  EXPECT_EQ(j["fatal"], false);
  EXPECT_EQ(j["data_dir"], "/data/xray");
  EXPECT_EQ(j["rows"], 20);
  EXPECT_EQ(j["images_checked"], 19);
  EXPECT_EQ(j["decoded"], true);
  EXPECT_EQ(j["errors"], 2);
  EXPECT_EQ(j["warnings"], 1);
  ASSERT_EQ(j["problems"].size(), 3u);
  EXPECT_EQ(j["problems"][0],
            nlohmann::json::parse(R"({"code":"duplicate_image_name","severity":"error",
              "scope":"image","file":"metadata.csv","line":17,"column":"image_name",
              "image_name":"a.png","message":"image 'a.png' is already listed on line 3"})"));
  // The file name's invalid byte became U+FFFD instead of making the document invalid.
  EXPECT_EQ(j["problems"][2]["file"], "raw/hand/x\xEF\xBF\xBD.png");
  EXPECT_EQ(j["problems"][2]["severity"], "warning");
  // The keys come in the documented order.
  EXPECT_EQ(text.rfind("{\"valid\":false,\"fatal\":false,\"data_dir\":", 0), 0u);
}

TEST(ReportTest, ValidFatalAndCounts) {
  ValidationReport r;
  EXPECT_TRUE(r.valid());
  EXPECT_FALSE(r.fatal());
  r.problems.push_back({"empty_dataset", Severity::kWarning, ProblemScope::kDataset, "metadata.csv",
                        0, "", "", "metadata.csv lists no images"});
  EXPECT_TRUE(r.valid());
  EXPECT_FALSE(r.fatal());  // a dataset-scope warning does not make it unusable
  r.problems.push_back({"csv_syntax", Severity::kError, ProblemScope::kDataset, "metadata.csv", 4,
                        "", "", "metadata.csv line 4: ..."});
  EXPECT_FALSE(r.valid());
  EXPECT_TRUE(r.fatal());
  EXPECT_EQ(r.error_count(), 1);
  EXPECT_EQ(r.warning_count(), 1);
  EXPECT_EQ(render_report_json(r, 2).substr(0, 17), "{\n  \"valid\": fals");
}

}  // namespace
}  // namespace xrs
