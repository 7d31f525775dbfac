// Caption generation (dataset/captions.h) and the "captions" key of the dataset config.
#include <gtest/gtest.h>

#include "dataset/captions.h"
#include "dataset/config.h"

namespace xrs {
namespace {

TEST(Captions, BuiltInSynonymsAndTemplates) {
  auto caps = generate_captions("hand", CaptionConfig{});
  ASSERT_TRUE(caps.is_ok()) << caps.status().message();
  // 5 templates x 2 words, template-major, written out by hand.
  const std::vector<std::string> expected = {"hand x-ray",
                                             "finger x-ray",
                                             "hand radiograph",
                                             "finger radiograph",
                                             "x-ray of the hand",
                                             "x-ray of the finger",
                                             "radiograph of the hand",
                                             "radiograph of the finger",
                                             "hand film",
                                             "finger film"};
  EXPECT_EQ(*caps, expected);
}

TEST(Captions, UnknownCategoryIsItsOwnWord) {
  auto caps = generate_captions("knee", CaptionConfig{});
  ASSERT_TRUE(caps.is_ok());
  ASSERT_EQ(caps->size(), 5u);
  EXPECT_EQ((*caps)[0], "knee x-ray");
  EXPECT_EQ((*caps)[4], "knee film");
}

TEST(Captions, ConfigExtendsSynonymsAndTemplates) {
  auto config = parse_dataset_config(
      R"({"captions": {"synonyms": {"hand": ["wrist", "hand"]}, "templates": ["PA film of the {}"]}})",
      "test.json");
  ASSERT_TRUE(config.is_ok()) << config.status().message();
  auto words = caption_words("hand", config->captions);
  ASSERT_TRUE(words.is_ok());
  EXPECT_EQ(*words, (std::vector<std::string>{"hand", "finger", "wrist"}));
  auto caps = generate_captions("hand", config->captions);
  ASSERT_TRUE(caps.is_ok());
  ASSERT_EQ(caps->size(), 6u * 3u);
  EXPECT_EQ(caps->back(), "PA film of the wrist");
  EXPECT_EQ((*caps)[15], "PA film of the hand");
}

TEST(Captions, CaptionColumnIsParsed) {
  auto config = parse_dataset_config(R"({"captions": {"column": "report"}})", "test.json");
  ASSERT_TRUE(config.is_ok()) << config.status().message();
  EXPECT_EQ(config->captions.column, "report");
}

TEST(Captions, BadInput) {
  EXPECT_FALSE(generate_captions("", CaptionConfig{}).is_ok());
  for (const char* bad :
       {R"({"captions": {"templates": ["no placeholder"]}})",
        R"({"captions": {"templates": ["{} and {}"]}})", R"({"captions": {"column": ""}})",
        R"({"captions": {"synonyms": {"hand": [""]}}})", R"({"captions": {"colum": "x"}})",
        R"({"captions": []})"}) {
    auto config = parse_dataset_config(bad, "test.json");
    ASSERT_FALSE(config.is_ok()) << bad;
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(config.status().message().find("captions"), std::string::npos)
        << config.status().message();
  }
}

}  // namespace
}  // namespace xrs
