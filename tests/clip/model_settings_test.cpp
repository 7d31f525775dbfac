// clip/model_settings.h: parsing (every key, every refusal), the file's place beside a model
// folder or weights file, absent files, and write_model_thresholds keeping the other keys.
#include "clip/model_settings.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "support/test_paths.h"

namespace xrs {
namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ModelSettings, ParsesEveryKey) {
  auto s = parse_model_settings(
      R"({"text_min_score": 0.2, "image_min_score": -0.5, "duplicate_min_score": 0.985,
          "prompt_templates": ["a {} x-ray",
          "an x-ray showing {}"], "evaluation": {"index": "idx"}})",
      "m.json");
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_FLOAT_EQ(*s->text_min_score, 0.2f);
  EXPECT_FLOAT_EQ(*s->image_min_score, -0.5f);
  EXPECT_FLOAT_EQ(*s->duplicate_min_score, 0.985f);
  EXPECT_EQ(s->prompt_templates, (std::vector<std::string>{"a {} x-ray", "an x-ray showing {}"}));
  EXPECT_EQ(s->path, "m.json");
  auto empty = parse_model_settings("{}", "m.json");
  ASSERT_TRUE(empty.is_ok());
  EXPECT_FALSE(empty->text_min_score);
  EXPECT_FALSE(empty->image_min_score);
  EXPECT_FALSE(empty->duplicate_min_score);
  EXPECT_EQ(apply_prompt_template("an x-ray showing {}", "a fracture"),
            "an x-ray showing a fracture");
}

TEST(ModelSettings, RefusesBadFiles) {
  const std::pair<const char*, const char*> cases[] = {
      {"{", "not valid JSON"},
      {"[]", "must be a JSON object"},
      {R"({"text_min_score": 1.5})", "\"text_min_score\" must be a number from -1 to 1"},
      {R"({"image_min_score": "0.9"})", "\"image_min_score\" must be a number from -1 to 1"},
      {R"({"duplicate_min_score": 0})", "\"duplicate_min_score\" must be a number in (0, 1]"},
      {R"({"duplicate_min_score": 1.01})", "\"duplicate_min_score\" must be a number in (0, 1]"},
      {R"({"duplicate_min_score": true})", "\"duplicate_min_score\" must be a number in (0, 1]"},
      {R"({"prompt_templates": "a {}"})", "must be an array of strings"},
      {R"({"prompt_templates": ["no placeholder"]})", "must hold \"{}\" exactly once"},
      {R"({"prompt_templates": ["{} and {}"]})", "must hold \"{}\" exactly once"},
      {R"({"evaluation": 3})", "\"evaluation\" must be an object"},
      {R"({"text_min_scor": 0.2})", "unknown key \"text_min_scor\""},
  };
  for (const auto& [text, part] : cases) {
    auto s = parse_model_settings(text, "m.json");
    ASSERT_FALSE(s.is_ok()) << text;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(s.status().message().find(std::string("m.json: ")), std::string::npos) << text;
    EXPECT_NE(s.status().message().find(part), std::string::npos) << s.status().to_string();
  }
}

TEST(ModelSettings, FileBesideTheModelAndWrites) {
  const std::string dir = testing::scratch_dir("model-settings");
  EXPECT_EQ(model_settings_path(dir), dir + "/" + kModelSettingsFileName);
  EXPECT_EQ(model_settings_path(dir + "/weights.safetensors"), dir + "/" + kModelSettingsFileName);
  auto none = load_model_settings(dir);
  ASSERT_TRUE(none.is_ok()) << none.status().to_string();
  EXPECT_EQ(none->path, "");
  EXPECT_FALSE(none->text_min_score);

  // Created when absent.
  ASSERT_TRUE(write_model_thresholds(dir, 0.125f, 0.5f, R"({"index": "a"})").is_ok());
  auto written = load_model_settings(dir);
  ASSERT_TRUE(written.is_ok()) << written.status().to_string();
  EXPECT_EQ(written->path, model_settings_path(dir));
  EXPECT_FLOAT_EQ(*written->text_min_score, 0.125f);
  EXPECT_FLOAT_EQ(*written->image_min_score, 0.5f);

  // Other keys kept; a NaN threshold leaves the stored one.
  std::ofstream(model_settings_path(dir))
      << R"({"prompt_templates": ["a {}"], "text_min_score": 0.3,
      "image_min_score": 0.9})";
  ASSERT_TRUE(write_model_thresholds(dir, std::numeric_limits<float>::quiet_NaN(), 0.75f,
                                     R"({"index": "b"})")
                  .is_ok());
  const nlohmann::json doc = nlohmann::json::parse(read(model_settings_path(dir)));
  EXPECT_EQ(doc["prompt_templates"], nlohmann::json({"a {}"}));
  EXPECT_FLOAT_EQ(doc["text_min_score"].get<float>(), 0.3f);
  EXPECT_FLOAT_EQ(doc["image_min_score"].get<float>(), 0.75f);
  EXPECT_EQ(doc["evaluation"]["index"], "b");

  // A broken file is reported, not replaced.
  std::ofstream(model_settings_path(dir)) << "{broken";
  const Status s = write_model_thresholds(dir, 0.1f, 0.2f, "{}");
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("not valid JSON"), std::string::npos) << s.to_string();
  EXPECT_EQ(read(model_settings_path(dir)), "{broken");
  EXPECT_FALSE(load_model_settings(dir).is_ok());
}

}  // namespace
}  // namespace xrs
