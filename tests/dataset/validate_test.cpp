// One test per validation rule, each on a dataset built in a scratch directory; every test
// compares the whole list of problems (code, file, line, image), so that nothing extra is
// reported either. Image-content rules are in validate_images_test.cpp.
#include "dataset/validate.h"

#include <gtest/gtest.h>

#include "test_dataset.h"

namespace xrs {
namespace {

using testing::make_png;
using testing::problem_keys;
using testing::ScratchDataset;
using Keys = std::vector<std::string>;

constexpr char kHeader[] = "image_name,source_url,category\n";

DatasetConfig fast_config() {
  DatasetConfig c;
  c.decode_images = true;
  return c;
}

// Three good images, one per category.
void write_good_images(const ScratchDataset& d) {
  d.write("raw/chest/c1.png", make_png(8, 6, 1));
  d.write("raw/dental/d1.png", make_png(5, 5, 2));
  d.write("raw/hand/h1.png", make_png(3, 9, 3));
}

TEST(ValidateTest, PrivateColumnsAreCheckedButLeftOutOfEntries) {
  ScratchDataset d("private_columns");
  d.csv(
      "image_name,source_url,category,mrn,license\n"
      "c1.png,https://pacs.example/acc-123,chest,MRN-0042,CC-BY\n"
      "d1.png,https://x/d1,dental,MRN-0043,\n"
      "h1.png,https://x/h1,hand,MRN-0044,MIT\n");
  write_good_images(d);
  DatasetConfig config = fast_config();
  config.private_columns = {"mrn", "source_url"};
  ValidationReport r = validate_dataset(d.dir(), config);
  EXPECT_EQ(problem_keys(r), Keys{});
  ASSERT_EQ(r.entries.size(), 3u);
  for (const DatasetEntry& e : r.entries) {
    EXPECT_EQ(e.source_url, "") << e.image_name;
    EXPECT_EQ(e.extra.count("mrn"), 0u) << e.image_name;
    EXPECT_EQ(e.extra.count("license"), 1u) << e.image_name;
  }
  // Private columns still have to be well-formed: source_url stays a required column.
  d.csv("image_name,source_url,category\nc1.png,,chest\n");
  EXPECT_FALSE(validate_dataset(d.dir(), config).valid());
}

TEST(ValidateTest, CleanDatasetIsValidAndKeepsExtraColumns) {
  ScratchDataset d("clean");
  d.csv(
      "image_name,source_url,category,license\n"
      "c1.png,https://x/c1,chest,CC-BY\n"
      "d1.png,https://x/d1,dental,\n"
      "h1.png,https://x/h1,hand,MIT\n");
  write_good_images(d);
  // Hidden files and folders are not images of the dataset.
  d.write("raw/chest/.DS_Store", "junk");
  d.write("raw/.git/objects/ab", "junk");
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  EXPECT_EQ(problem_keys(r), Keys{});
  EXPECT_TRUE(r.valid());
  EXPECT_FALSE(r.fatal());
  EXPECT_EQ(r.rows, 3);
  EXPECT_EQ(r.images_checked, 3);
  EXPECT_TRUE(r.decoded);
  EXPECT_EQ(r.columns,
            (std::vector<std::string>{"image_name", "source_url", "category", "license"}));
  ASSERT_EQ(r.entries.size(), 3u);
  const DatasetEntry& e = r.entries[0];
  EXPECT_EQ(e.image_name, "c1.png");
  EXPECT_EQ(e.category, "chest");
  EXPECT_EQ(e.source_url, "https://x/c1");
  EXPECT_EQ(e.relative_path, "raw/chest/c1.png");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.extra, (std::map<std::string, std::string>{{"license", "CC-BY"}}));
  EXPECT_EQ(r.entries[1].extra.at("license"), "");
  EXPECT_EQ(r.entries[2].line, 4);
}

TEST(ValidateTest, MissingDataDirAndMissingMetadata) {
  ValidationReport r = validate_dataset("/nonexistent/xrs-data", fast_config());
  EXPECT_EQ(problem_keys(r), Keys{"missing_data_dir :0"});
  EXPECT_TRUE(r.fatal());

  ScratchDataset d("no_metadata");
  write_good_images(d);
  r = validate_dataset(d.dir(), fast_config());
  EXPECT_EQ(problem_keys(r), Keys{"missing_metadata metadata.csv:0"});
  EXPECT_TRUE(r.fatal());
  EXPECT_NE(r.problems[0].message.find("metadata.csv does not exist"), std::string::npos);
}

TEST(ValidateTest, MetadataThatIsAFolderIsUnreadable) {
  ScratchDataset d("metadata_dir");
  d.mkdir("metadata.csv");
  EXPECT_EQ(problem_keys(validate_dataset(d.dir(), fast_config())),
            Keys{"unreadable_metadata metadata.csv:0"});
}

TEST(ValidateTest, EmptyMetadataFile) {
  ScratchDataset d("empty_csv");
  d.csv("");
  write_good_images(d);
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  EXPECT_EQ(problem_keys(r), Keys{"csv_empty metadata.csv:1"});
  EXPECT_TRUE(r.fatal());
}

TEST(ValidateTest, HeaderOnlyIsAWarning) {
  ScratchDataset d("header_only");
  d.csv(kHeader);
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  EXPECT_EQ(problem_keys(r), Keys{"empty_dataset metadata.csv:0"});
  EXPECT_EQ(r.problems[0].severity, Severity::kWarning);
  EXPECT_TRUE(r.valid());
  EXPECT_FALSE(r.fatal());
  EXPECT_EQ(r.rows, 0);
}

TEST(ValidateTest, BomAndCrlfAreAccepted) {
  ScratchDataset d("bom_crlf");
  d.csv(
      "\xEF\xBB\xBFimage_name,source_url,category\r\nc1.png,u,chest\r\nd1.png,u,dental\r\n"
      "h1.png,u,hand");
  write_good_images(d);
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  EXPECT_EQ(problem_keys(r), Keys{});
  EXPECT_EQ(r.entries.size(), 3u);
}

TEST(ValidateTest, EmbeddedNewlineAcceptedAndLaterLinesRight) {
  ScratchDataset d("embedded_newline");
  d.csv(
      "image_name,source_url,category,notes\n"
      "c1.png,u,chest,\"two\nlines, with a comma\"\n"
      "d1.png,u,dental,x\n"
      "h1.png,u,hand,y\n"
      "c1.png,u,chest,z\n");
  write_good_images(d);
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  EXPECT_EQ(problem_keys(r), Keys{"duplicate_image_name metadata.csv:6 c1.png"});
  EXPECT_EQ(r.problems[0].message, "image 'c1.png' is already listed on line 2");
  ASSERT_EQ(r.entries.size(), 3u);
  EXPECT_EQ(r.entries[0].extra.at("notes"), "two\nlines, with a comma");
  EXPECT_EQ(r.entries[1].line, 4);
  EXPECT_EQ(r.entries[2].line, 5);
}

TEST(ValidateTest, CsvSyntaxErrorsAreDatasetProblems) {
  ScratchDataset d("csv_syntax");
  d.csv(std::string(kHeader) + "c1.png,u,ch\"est\nd1.png,u,dental\nh1.png,\"u,hand\n");
  write_good_images(d);
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  // The row with the stray quote is dropped (its file is then unlisted), the unterminated quote
  // ends parsing (h1.png's row is never read).
  EXPECT_EQ(problem_keys(r),
            (Keys{"csv_syntax metadata.csv:2", "csv_syntax metadata.csv:4",
                  "unlisted_file raw/chest/c1.png:0", "unlisted_file raw/hand/h1.png:0"}));
  EXPECT_TRUE(r.fatal());
  EXPECT_EQ(r.problems[0].scope, ProblemScope::kDataset);
  EXPECT_EQ(r.problems[2].scope, ProblemScope::kImage);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].image_name, "d1.png");
}

TEST(ValidateTest, WrongFieldCount) {
  ScratchDataset d("field_count");
  d.csv(std::string(kHeader) + "c1.png,u,chest\nd1.png,u,dental,extra\nh1.png,u,hand\n");
  write_good_images(d);
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  EXPECT_EQ(problem_keys(r),
            (Keys{"csv_field_count metadata.csv:3", "unlisted_file raw/dental/d1.png:0"}));
  EXPECT_TRUE(r.fatal());
}

TEST(ValidateTest, InvalidUtf8) {
  ScratchDataset d("not_utf8");
  d.csv(std::string(kHeader) + "c1.png,u,chest\nd1.png,caf\xE9,dental\nh1.png,u,hand\n");
  write_good_images(d);
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  EXPECT_EQ(problem_keys(r),
            (Keys{"not_utf8 metadata.csv:3", "unlisted_file raw/dental/d1.png:0"}));
  EXPECT_NE(r.problems[0].message.find("metadata.csv line 3, byte 11: invalid UTF-8"),
            std::string::npos);
}

TEST(ValidateTest, DuplicateAndEmptyColumns) {
  ScratchDataset d("dup_columns");
  d.csv("image_name,source_url,category,category,\nc1.png,u,chest,chest,x\n");
  d.write("raw/chest/c1.png", make_png(2, 2));
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  EXPECT_EQ(problem_keys(r),
            (Keys{"duplicate_column metadata.csv:1", "empty_column metadata.csv:1"}));
  EXPECT_TRUE(r.fatal());
}

TEST(ValidateTest, MissingColumns) {
  ScratchDataset d("missing_columns");
  d.csv("image_name, category,url\nc1.png,chest,u\n");
  write_good_images(d);
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  // Rows cannot be read without their columns, and so files are not compared with them.
  EXPECT_EQ(problem_keys(r),
            (Keys{"missing_column metadata.csv:1", "missing_column metadata.csv:1"}));
  EXPECT_EQ(r.problems[0].column, "category");
  EXPECT_NE(r.problems[0].message.find("(but has ' category')"), std::string::npos);
  EXPECT_EQ(r.problems[1].column, "source_url");
  EXPECT_TRUE(r.fatal());
  EXPECT_TRUE(r.entries.empty());
}

TEST(ValidateTest, EmptyRequiredFields) {
  ScratchDataset d("empty_fields");
  d.csv(std::string(kHeader) + "c1.png,,chest\n,u,dental\nh1.png,u,\n");
  write_good_images(d);
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  EXPECT_EQ(problem_keys(r),
            (Keys{"empty_field metadata.csv:2 c1.png", "empty_field metadata.csv:3",
                  "empty_field metadata.csv:4 h1.png", "unlisted_file raw/dental/d1.png:0",
                  "unlisted_file raw/hand/h1.png:0"}));
  EXPECT_EQ(r.problems[0].column, "source_url");
  EXPECT_EQ(r.problems[1].column, "image_name");
  EXPECT_EQ(r.problems[1].message, "the row has an empty image_name");
  EXPECT_FALSE(r.fatal());
  EXPECT_TRUE(r.entries.empty());
}

TEST(ValidateTest, DuplicateImageNamesNameTheFirstLine) {
  ScratchDataset d("duplicates");
  d.csv(std::string(kHeader) +
        "c1.png,u,chest\nd1.png,u,dental\nc1.png,u2,chest\nh1.png,u,hand\nc1.png,u3,hand\n");
  write_good_images(d);
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  EXPECT_EQ(problem_keys(r), (Keys{"duplicate_image_name metadata.csv:4 c1.png",
                                   "duplicate_image_name metadata.csv:6 c1.png"}));
  EXPECT_EQ(r.problems[0].message, "image 'c1.png' is already listed on line 2");
  EXPECT_EQ(r.problems[1].message, "image 'c1.png' is already listed on line 2");
  // The first occurrence stays usable.
  ASSERT_EQ(r.entries.size(), 3u);
  EXPECT_EQ(r.entries[0].source_url, "u");
}

TEST(ValidateTest, UnknownCategoriesAreCaseSensitive) {
  ScratchDataset d("unknown_category");
  d.csv(std::string(kHeader) + "c1.png,u,Chest\nd1.png,u,dental\nh1.png,u,skull\n");
  write_good_images(d);
  d.write("raw/Chest/c1.png", make_png(2, 2));
  d.write("raw/skull/h1.png", make_png(2, 2));
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  // The rows' files exist where the rows say; the files in the right folders are unlisted.
  EXPECT_EQ(
      problem_keys(r),
      (Keys{"unknown_category metadata.csv:2 c1.png", "unknown_category metadata.csv:4 h1.png",
            "unlisted_file raw/chest/c1.png:0", "unlisted_file raw/hand/h1.png:0"}));
  EXPECT_EQ(r.problems[0].message,
            "image 'c1.png' has category 'Chest', which is not one of chest, dental, hand "
            "(categories are case-sensitive)");
  DatasetConfig custom = fast_config();
  custom.categories = {"Chest", "dental", "skull", "chest", "hand"};
  EXPECT_EQ(problem_keys(validate_dataset(d.dir(), custom)),
            (Keys{"unlisted_file raw/chest/c1.png:0", "unlisted_file raw/hand/h1.png:0"}));
}

TEST(ValidateTest, CategoryPathTricksAreRejectedWithoutTouchingFiles) {
  ScratchDataset d("unsafe_category");
  d.csv(std::string(kHeader) +
        "c1.png,u,../raw/chest\nd1.png,u,dental/..\nh1.png,u,/etc\nx.png,u,.\n");
  write_good_images(d);
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  EXPECT_EQ(problem_keys(r),
            (Keys{"unsafe_category metadata.csv:2 c1.png", "unsafe_category metadata.csv:3 d1.png",
                  "unsafe_category metadata.csv:4 h1.png", "unsafe_category metadata.csv:5 x.png",
                  "unlisted_file raw/chest/c1.png:0", "unlisted_file raw/dental/d1.png:0",
                  "unlisted_file raw/hand/h1.png:0"}));
  EXPECT_EQ(r.problems[0].message,
            "category '../raw/chest' is not a plain folder name: it contains '/'");
  EXPECT_EQ(r.problems[3].message,
            "category '.' is not a plain folder name: it has a '.' component");
}

TEST(ValidateTest, ExtensionsAreCaseInsensitiveAndConfigurable) {
  ScratchDataset d("extensions");
  d.csv(std::string(kHeader) + "c1.PNG,u,chest\nd1.gif,u,dental\nh1,u,hand\n");
  d.write("raw/chest/c1.PNG", make_png(4, 4));
  d.write("raw/dental/d1.gif", "GIF89a");
  d.write("raw/hand/h1", make_png(4, 4));
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  EXPECT_EQ(problem_keys(r),
            (Keys{"bad_extension metadata.csv:3 d1.gif", "bad_extension metadata.csv:4 h1"}));
  EXPECT_EQ(r.problems[0].message,
            "image 'd1.gif' has extension '.gif'; allowed: .png, .jpg, .jpeg, .dcm");
  EXPECT_EQ(r.problems[1].message, "image 'h1' has no extension; allowed: .png, .jpg, .jpeg, .dcm");
  EXPECT_EQ(r.images_checked, 1);
  DatasetConfig jpeg_only = fast_config();
  jpeg_only.extensions = {".jpg"};
  EXPECT_EQ(problem_keys(validate_dataset(d.dir(), jpeg_only)),
            (Keys{"bad_extension metadata.csv:2 c1.PNG", "bad_extension metadata.csv:3 d1.gif",
                  "bad_extension metadata.csv:4 h1"}));
}

TEST(ValidateTest, ImageNamesThatLeaveTheFolderAreRejected) {
  ScratchDataset d("unsafe_names");
  std::string csv = std::string(kHeader) +
                    "../../secret.png,u,chest\n"
                    "/etc/passwd.png,u,chest\n"
                    "sub\\..\\x.png,u,chest\n"
                    "sub/../x.png,u,chest\n"
                    "a//b.png,u,chest\n"
                    "\"new\nline.png\",u,chest\n";
  csv += std::string("nul\0.png,u,dental\n", 18);
  csv += "sub/ok.png,u,hand\n";
  d.csv(csv);
  d.write("secret.png", make_png(2, 2));
  d.write("raw/hand/sub/ok.png", make_png(2, 2));
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  EXPECT_EQ(
      problem_keys(r),
      (Keys{"unsafe_name metadata.csv:2 ../../secret.png",
            "unsafe_name metadata.csv:3 /etc/passwd.png",
            "unsafe_name metadata.csv:4 sub\\..\\x.png", "unsafe_name metadata.csv:5 sub/../x.png",
            "unsafe_name metadata.csv:6 a//b.png", "unsafe_name metadata.csv:7 new\nline.png",
            "unsafe_name metadata.csv:9 " + std::string("nul\0.png", 8)}));
  EXPECT_EQ(r.problems[0].message,
            "image name '../../secret.png' could leave its folder: it has a '..' component");
  EXPECT_EQ(r.problems[1].message,
            "image name '/etc/passwd.png' could leave its folder: it is an absolute path");
  EXPECT_EQ(r.problems[2].message,
            "image name 'sub\\\\..\\\\x.png' could leave its folder: it contains a backslash");
  EXPECT_EQ(r.problems[4].message,
            "image name 'a//b.png' could leave its folder: it has an empty path component ('//' or "
            "a trailing '/')");
  // Control characters are escaped in messages, so a name cannot forge report lines.
  EXPECT_EQ(r.problems[5].message,
            "image name 'new\\nline.png' could leave its folder: it contains a control character");
  EXPECT_EQ(r.problems[6].message,
            "image name 'nul\\x00.png' could leave its folder: it contains a control character");
  // A name with a subfolder that stays inside raw/<category>/ is fine.
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].relative_path, "raw/hand/sub/ok.png");
}

TEST(ValidateTest, SymlinksMustStayInsideRaw) {
  ScratchDataset d("symlinks");
  d.csv(std::string(kHeader) +
        "escape.png,u,chest\ninside.png,u,chest\nbroken.png,u,dental\nh1.png,u,hand\n");
  d.write("outside/escape.png", make_png(2, 2));
  d.write("outside/hand/h1.png", make_png(2, 2));
  d.write("raw/dental/real.png", make_png(2, 2));
  d.symlink("../../outside/escape.png", "raw/chest/escape.png");
  d.symlink("../dental/real.png", "raw/chest/inside.png");
  d.symlink("gone.png", "raw/dental/broken.png");
  d.symlink("../outside/hand", "raw/hand");  // a whole category folder elsewhere
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  EXPECT_EQ(problem_keys(r),
            (Keys{"unsafe_link raw/chest/escape.png:2 escape.png",
                  "missing_file raw/dental/broken.png:4 broken.png",
                  "unsafe_link raw/hand/h1.png:5 h1.png", "unlisted_file raw/dental/real.png:0"}));
  EXPECT_NE(r.problems[0].message.find("outside raw/"), std::string::npos);
  EXPECT_EQ(r.problems[1].message,
            "raw/dental/broken.png is a symbolic link whose target does not exist");
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].image_name, "inside.png");
}

TEST(ValidateTest, MissingAndUnlistedFiles) {
  ScratchDataset d("missing_unlisted");
  d.csv(std::string(kHeader) + "c1.png,u,chest\nd1.png,u,dental\nh1.png,u,hand\n");
  d.write("raw/chest/c1.png", make_png(2, 2));
  d.write("raw/hand/h1.png", make_png(2, 2));
  d.write("raw/hand/h2.png", make_png(2, 2));
  d.write("raw/skull/s1.png", make_png(2, 2));
  d.write("raw/loose.png", make_png(2, 2));
  d.write("raw/chest/notes.txt", "not an image, still not listed");
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  EXPECT_EQ(problem_keys(r),
            (Keys{"missing_file raw/dental/d1.png:3 d1.png", "unlisted_file raw/chest/notes.txt:0",
                  "unlisted_file raw/hand/h2.png:0", "unlisted_file raw/loose.png:0",
                  "unlisted_file raw/skull/s1.png:0"}));
  EXPECT_EQ(r.problems[0].message, "raw/dental/d1.png does not exist");
  EXPECT_EQ(r.problems[3].message,
            "raw/loose.png is not listed in metadata.csv (files belong in raw/<category>/)");
  EXPECT_EQ(r.problems[4].message,
            "raw/skull/s1.png is not listed in metadata.csv (and 'skull' is not a known "
            "category)");
  EXPECT_FALSE(r.fatal());
  EXPECT_EQ(r.entries.size(), 2u);

  DatasetConfig lenient = fast_config();
  lenient.unlisted_files_are_errors = false;
  ValidationReport w = validate_dataset(d.dir(), lenient);
  EXPECT_EQ(w.error_count(), 1);
  EXPECT_EQ(w.warning_count(), 4);
}

TEST(ValidateTest, MissingRawFolder) {
  ScratchDataset d("no_raw");
  d.csv(std::string(kHeader) + "c1.png,u,chest\nd1.png,u,dental\n");
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  EXPECT_EQ(problem_keys(r), Keys{"missing_raw_dir raw:0"});
  EXPECT_EQ(r.problems[0].message,
            "the image folder raw/ does not exist, so none of the 2 images can be read");
  EXPECT_TRUE(r.fatal());
  EXPECT_TRUE(r.entries.empty());
}

TEST(ValidateTest, InvalidConfigIsReported) {
  ScratchDataset d("bad_config");
  d.csv(kHeader);
  DatasetConfig c = fast_config();
  c.categories = {"chest", "../up"};
  ValidationReport r = validate_dataset(d.dir(), c);
  EXPECT_EQ(problem_keys(r), Keys{"invalid_config :0"});
  EXPECT_TRUE(r.fatal());
}

// Six different problems, one of each kind, all reported by one call, in line order.
TEST(ValidateTest, EverythingIsReportedAtOnce) {
  ScratchDataset d("six_problems");
  d.csv(std::string(kHeader) +
        "c1.png,u,chest\n"
        "c1.png,u,chest\n"    // duplicate_image_name
        "d1.bmp,u,dental\n"   // bad_extension
        "h1.png,u,feet\n"     // unknown_category
        "../h2.png,u,hand\n"  // unsafe_name
        "h3.png,u,hand\n");   // missing_file
  d.write("raw/chest/c1.png", make_png(2, 2));
  d.write("raw/dental/d1.bmp", "BM");
  d.write("raw/feet/h1.png", make_png(2, 2));
  d.write("raw/hand/extra.png", make_png(2, 2));  // unlisted_file
  ValidationReport r = validate_dataset(d.dir(), fast_config());
  EXPECT_EQ(
      problem_keys(r),
      (Keys{"duplicate_image_name metadata.csv:3 c1.png", "bad_extension metadata.csv:4 d1.bmp",
            "unknown_category metadata.csv:5 h1.png", "unsafe_name metadata.csv:6 ../h2.png",
            "missing_file raw/hand/h3.png:7 h3.png", "unlisted_file raw/hand/extra.png:0"}));
  EXPECT_FALSE(r.fatal());
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].image_name, "c1.png");
}

TEST(ValidateTest, ReportDoesNotDependOnThreads) {
  ScratchDataset d("threads");
  std::string csv = kHeader;
  for (int i = 0; i < 60; ++i) {
    const std::string name = "img" + std::to_string(i) + ".png";
    csv += name + ",u,chest\n";
    if (i % 7 == 3) continue;  // missing
    d.write("raw/chest/" + name, i % 5 == 1 ? testing::jpeg_start() : make_png(3, 3, i));
  }
  d.csv(csv);
  DatasetConfig one = fast_config();
  one.threads = 1;
  DatasetConfig many = fast_config();
  many.threads = 8;
  ValidationReport a = validate_dataset(d.dir(), one);
  ValidationReport b = validate_dataset(d.dir(), many);
  EXPECT_EQ(problem_keys(a), problem_keys(b));
  EXPECT_EQ(a.problems.size(), 9u + 11u);  // missing, JPEG bytes named .png
  for (size_t i = 1; i < a.problems.size(); ++i) {
    EXPECT_LT(a.problems[i - 1].line, a.problems[i].line);
  }
  ASSERT_EQ(a.entries.size(), b.entries.size());
  for (size_t i = 0; i < a.entries.size(); ++i) {
    EXPECT_EQ(a.entries[i].image_name, b.entries[i].image_name);
  }
}

}  // namespace
}  // namespace xrs
