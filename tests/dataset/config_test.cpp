#include "dataset/config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/test_paths.h"

namespace xrs {
namespace {

// The error message of a config that must be refused (kInvalidArgument).
std::string refusal(std::string_view json) {
  StatusOr<DatasetConfig> c = parse_dataset_config(json, "cfg.json");
  EXPECT_FALSE(c.is_ok()) << json;
  if (c.is_ok()) return "";
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << json;
  return c.status().message();
}

TEST(DatasetConfigTest, DefaultsAreValid) {
  DatasetConfig c;
  EXPECT_TRUE(check_dataset_config(c).is_ok());
  EXPECT_EQ(c.categories, (std::vector<std::string>{"chest", "dental", "hand"}));
  EXPECT_EQ(c.extensions, (std::vector<std::string>{".png", ".jpg", ".jpeg", ".dcm"}));
  EXPECT_EQ(c.decode.limits.max_pixels, 178'956'970u);
  EXPECT_TRUE(c.unlisted_files_are_errors);
  EXPECT_EQ(c.threads, 2);
}

TEST(DatasetConfigTest, EveryKeyIsRead) {
  StatusOr<DatasetConfig> c = parse_dataset_config(
      R"({"categories":["knee","spine"],"extensions":[".PNG",".dicom"],"max_pixels":1000,)"
      R"("unlisted_files":"warning"})",
      "cfg.json");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->categories, (std::vector<std::string>{"knee", "spine"}));
  EXPECT_EQ(c->extensions, (std::vector<std::string>{".png", ".dicom"}));
  EXPECT_EQ(c->decode.limits.max_pixels, 1000u);
  EXPECT_FALSE(c->unlisted_files_are_errors);
}

TEST(DatasetConfigTest, AbsentKeysKeepTheBase) {
  DatasetConfig base;
  base.threads = 4;
  base.decode_images = false;
  StatusOr<DatasetConfig> c = parse_dataset_config(R"({"categories":["a"]})", "x", base);
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->categories, (std::vector<std::string>{"a"}));
  EXPECT_EQ(c->extensions.size(), 4u);
  EXPECT_EQ(c->threads, 4);
  EXPECT_FALSE(c->decode_images);
}

TEST(DatasetConfigTest, ErrorsNameTheFileAndField) {
  EXPECT_EQ(refusal("{"), "cfg.json: not valid JSON");
  EXPECT_EQ(refusal("[1]"), "cfg.json: must be a JSON object");
  EXPECT_EQ(refusal(R"({"categorie":["a"]})"),
            "cfg.json: unknown key 'categorie' (known: captions, categories, extensions, "
            "group_column, max_pixels, private_columns, unlisted_files)");
  EXPECT_EQ(refusal(R"({"categories":"chest"})"),
            "cfg.json: \"categories\" must be an array of strings");
  EXPECT_EQ(refusal(R"({"categories":["chest",3]})"),
            "cfg.json: \"categories\" must hold only strings, not 3");
  EXPECT_EQ(refusal(R"({"categories":[]})"),
            "cfg.json: categories: at least one category is needed");
  EXPECT_EQ(refusal(R"({"categories":["chest","chest"]})"),
            "cfg.json: categories: 'chest' is listed twice");
  EXPECT_EQ(refusal(R"({"categories":["../etc"]})"),
            "cfg.json: categories: '../etc' is not a plain folder name: it contains '/'");
  EXPECT_EQ(refusal(R"({"categories":[".."]})"),
            "cfg.json: categories: '..' is not a plain folder name: it has a '..' component");
  EXPECT_EQ(refusal(R"({"extensions":["png"]})"),
            "cfg.json: extensions: 'png' must start with '.' (like \".png\")");
  EXPECT_EQ(refusal(R"({"extensions":[".gif"]})"),
            "cfg.json: extensions: '.gif' is not an image type xray-search decodes (.png, .jpg, "
            ".jpeg, .dcm, .dicom)");
  EXPECT_EQ(refusal(R"({"extensions":[".png",".PNG"]})"),
            "cfg.json: extensions: '.png' is listed twice");
  EXPECT_EQ(refusal(R"({"max_pixels":0})"), "cfg.json: \"max_pixels\" must be a positive integer");
  EXPECT_EQ(refusal(R"({"max_pixels":-5})"), "cfg.json: \"max_pixels\" must be a positive integer");
  EXPECT_EQ(refusal(R"({"max_pixels":1.5})"),
            "cfg.json: \"max_pixels\" must be a positive integer");
  EXPECT_EQ(refusal(R"({"unlisted_files":"ignore"})"),
            "cfg.json: \"unlisted_files\" must be \"error\" or \"warning\"");
  // Bytes that are not UTF-8 are malformed JSON, not a crash.
  EXPECT_EQ(refusal("{\"categories\":[\"\xFF\"]}"), "cfg.json: not valid JSON");
}

TEST(DatasetConfigTest, PrivateColumns) {
  auto c = parse_dataset_config(R"({"private_columns": ["mrn", "source_url"]})", "cfg.json");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->private_columns, (std::vector<std::string>{"mrn", "source_url"}));
  for (const char* bad : {R"({"private_columns": ["image_name"]})",
                          R"({"private_columns": ["category"]})", R"({"private_columns": [""]})",
                          R"({"private_columns": ["a", "a"]})", R"({"private_columns": "mrn"})"}) {
    auto r = parse_dataset_config(bad, "cfg.json");
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_NE(r.status().message().find("private_columns"), std::string::npos)
        << r.status().to_string();
  }
}

TEST(DatasetConfigTest, GroupColumn) {
  auto c = parse_dataset_config(R"({"group_column": "patient_id"})", "cfg.json");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->group_column, "patient_id");
  EXPECT_EQ(DatasetConfig().group_column, "");
  for (const char* bad : {R"({"group_column": "category"})", R"({"group_column": "image_name"})",
                          R"({"group_column": 3})"}) {
    auto r = parse_dataset_config(bad, "cfg.json");
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_NE(r.status().message().find("group_column"), std::string::npos)
        << r.status().to_string();
  }
}

TEST(DatasetConfigTest, CheckRefusesBadThreadCounts) {
  DatasetConfig c;
  c.threads = 0;
  EXPECT_EQ(check_dataset_config(c).message(), "threads: must be between 1 and 256, not 0");
}

TEST(DatasetConfigTest, LoadsFromTheDataDirectoryWhenPresent) {
  const std::string dir = testing::scratch_dir("dataset_config");
  DatasetConfig base;
  base.categories = {"x"};
  StatusOr<DatasetConfig> absent = load_dataset_config_for(dir, base);
  ASSERT_TRUE(absent.is_ok());
  EXPECT_EQ(absent->categories, (std::vector<std::string>{"x"}));

  std::ofstream(dir + "/xray-search.json") << R"({"categories": ["chest", "knee"]})";
  StatusOr<DatasetConfig> present = load_dataset_config_for(dir, base);
  ASSERT_TRUE(present.is_ok()) << present.status().to_string();
  EXPECT_EQ(present->categories, (std::vector<std::string>{"chest", "knee"}));

  std::ofstream(dir + "/xray-search.json") << R"({"categories": 1})";
  StatusOr<DatasetConfig> bad = load_dataset_config_for(dir);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(),
            dir + "/xray-search.json: \"categories\" must be an array of strings");

  StatusOr<DatasetConfig> missing = load_dataset_config(dir + "/nope.json");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace xrs
